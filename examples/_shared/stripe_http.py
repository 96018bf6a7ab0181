"""The HTTP client the examples give stripe-python: httpx, for sync and async.

stripe-python's own ``HTTPXClient`` hands httpx the form body as
``data=<str>``, which httpx 0.28 deprecates with a warning on every call.
This one sends the same bytes as ``content=``, through stripe-python's
documented extension point, ``stripe.HTTPClient``.

The async side opens a client per call, so that it never holds connections
bound to an event loop that has gone (a pooled ``httpx.AsyncClient`` must
be closed inside the loop that used it). A high-traffic async app keeps one
``AsyncClient`` per loop and closes it in its lifespan instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import httpx
import stripe

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

__all__ = ["HttpxClient"]


class HttpxClient(stripe.HTTPClient):
    """Give it to ``stripe.StripeClient(http_client=...)``; ``close()`` when done."""

    name = "httpx"

    def __init__(self, *, timeout: float = 30.0) -> None:
        super().__init__()
        self._timeout = timeout
        self._ssl_context = httpx.create_ssl_context()
        self._client = httpx.Client(timeout=timeout, verify=self._ssl_context)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        try:
            response = self._client.request(
                method, url, headers=headers, content=post_data
            )
        except httpx.HTTPError as error:
            raise _connection_error(error) from None
        return response.text, response.status_code, response.headers

    async def request_async(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        async with httpx.AsyncClient(
            timeout=self._timeout, verify=self._ssl_context
        ) as client:
            try:
                response = await client.request(
                    method, url, headers=headers, content=post_data
                )
            except httpx.HTTPError as error:
                raise _connection_error(error) from None
        return response.content, response.status_code, response.headers

    def sleep_async(self, secs: float) -> Awaitable[None]:
        return anyio.sleep(secs)

    def close(self) -> None:
        self._client.close()

    async def close_async(self) -> None:
        """Nothing to close: each async call closed its own client."""


def _connection_error(error: httpx.HTTPError) -> stripe.APIConnectionError:
    # stripe-python retries APIConnectionError with should_retry set.
    return stripe.APIConnectionError(  # type: ignore[no-untyped-call]  # untyped in stripe-python
        f"Could not reach Stripe ({type(error).__name__}).", should_retry=True
    )
