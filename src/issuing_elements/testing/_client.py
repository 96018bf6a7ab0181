"""The HTTP client that ``FakeStripe.client()`` gives its ``StripeClient``.

stripe-python's own ``HTTPXClient`` would do, but for two things that matter
in a test suite:

- it hands httpx the form body as ``data=<str>``, which httpx 0.28
  deprecates with a warning on every call; under ``filterwarnings = error``
  that warning becomes an ``APIConnectionError``;
- its async side keeps connections in a pool bound to one event loop, so a
  test that calls ``asyncio.run()`` leaves sockets behind unless it closes
  the client inside that loop.

This client sends the same bytes as ``content=``, and opens an async
connection per call, which lives and dies in the caller's event loop. It is
built on stripe-python's documented extension point, ``stripe.HTTPClient``.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import stripe

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping


class FakeStripeHTTPClient(stripe.HTTPClient):
    name = "httpx"

    def __init__(self, *, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout
        # Made once: loading the CA bundle per async call costs a fifth of a
        # second. (The fake speaks plain HTTP; this only keeps httpx quick.)
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
            raise _connection_error(error) from error
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
                raise _connection_error(error) from error
        return response.content, response.status_code, response.headers

    def sleep_async(self, secs: float) -> Awaitable[None]:
        return anyio.sleep(secs)

    def close(self) -> None:
        self._client.close()

    async def close_async(self) -> None:
        """Nothing to close: each async call closes its own connection."""


def _connection_error(error: httpx.HTTPError) -> stripe.APIConnectionError:
    # Worded like stripe-python's own clients, and retryable like theirs.
    message = textwrap.fill(
        "Unexpected error communicating with Stripe. If this problem persists, "
        "let us know at support@stripe.com."
    )
    return stripe.APIConnectionError(  # type: ignore[no-untyped-call]  # stripe: bare
        f"{message}\n\n(Network error: A {type(error).__name__} was raised)",
        should_retry=True,
    )
