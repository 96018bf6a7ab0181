"""What is measured: the library's calls and the raw stripe-python calls they wrap.

Only the public API of ``issuing_elements`` is used, so that the benchmarks
measure whatever the issuer becomes.
"""

from __future__ import annotations

import json
from typing import Any

import stripe

from benchmarks.standin import (
    API_VERSION,
    CARD_ID,
    KEY_BODY,
    KEY_HEADERS,
    NONCE,
    SECRET_KEY,
)
from issuing_elements import EphemeralKeyIssuer, KeyRequest

BODY = json.dumps({"card_id": CARD_ID, "nonce": NONCE}).encode()
CONTENT_TYPE = "application/json"
USER = "bench-user"
PARAMS = {"issuing_card": CARD_ID, "nonce": NONCE}
OPTIONS: stripe.RequestOptions = {"stripe_version": API_VERSION}


class CannedHTTPClient(stripe.HTTPClient):
    """A stripe-python transport that answers in-process with the canned key.

    No network: what remains is stripe-python's own work, and the library's.
    """

    name = "canned"

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, dict[str, str]]:
        return KEY_BODY.decode(), 200, KEY_HEADERS

    async def request_async(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[bytes, int, dict[str, str]]:
        return KEY_BODY, 200, KEY_HEADERS

    def close(self) -> None:
        pass

    async def close_async(self) -> None:
        pass


def allow_all(user: object, request: KeyRequest) -> bool:
    return True


def client(
    url: str | None = None, http_client: stripe.HTTPClient | None = None
) -> stripe.StripeClient:
    """A StripeClient for the stand-in at *url* (or in-process: *url* None)."""
    if url is None:
        http_client = CannedHTTPClient()
        url = "http://127.0.0.1:9"
    return stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": url}, http_client=http_client
    )


def issuer(stripe_client: stripe.StripeClient) -> EphemeralKeyIssuer[str]:
    """The library as an app configures it: defaults but the API version."""
    return EphemeralKeyIssuer(stripe_client, allow_all, api_version=API_VERSION)


class Calls:
    """The four sync and four async calls on one client, ready to time."""

    def __init__(self, stripe_client: stripe.StripeClient) -> None:
        self.stripe_client = stripe_client
        self.issuer = issuer(stripe_client)

    def raw(self) -> object:
        return self.stripe_client.v1.ephemeral_keys.create(
            params=PARAMS, options=OPTIONS
        )

    def issue(self) -> object:
        return self.issuer.issue(USER, card_id=CARD_ID, nonce=NONCE)

    def handle(self) -> object:
        answer = self.issuer.handle(USER, body=BODY, content_type=CONTENT_TYPE)
        assert answer.status == 200, answer.body
        return answer

    async def araw(self) -> object:
        return await self.stripe_client.v1.ephemeral_keys.create_async(
            params=PARAMS, options=OPTIONS
        )

    async def aissue(self) -> object:
        return await self.issuer.aissue(USER, card_id=CARD_ID, nonce=NONCE)

    async def ahandle(self) -> object:
        answer = await self.issuer.ahandle(USER, body=BODY, content_type=CONTENT_TYPE)
        assert answer.status == 200, answer.body
        return answer
