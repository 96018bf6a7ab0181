"""What is measured: the library's calls and the raw stripe-python calls they wrap.

Only the public API of ``issuing_elements`` is used, so that the benchmarks
measure whatever the issuer becomes.
"""

from __future__ import annotations

import functools
import http.client
import json
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import stripe

from benchmarks.fake import API_VERSION, CARD_ID
from issuing_elements import EphemeralKeyIssuer, KeyRequest
from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from benchmarks.fake import RunningFake

CONTENT_TYPE = "application/json"
USER = "bench-user"
OPTIONS: stripe.RequestOptions = {"stripe_version": API_VERSION}
# What the in-process transports send: their answer is a recording, so the
# nonce never reaches a Stripe that could refuse it for being used twice.
NONCE = "ephkn_pub_benchRecording"


def body(nonce: str) -> bytes:
    """The endpoint's JSON request body for CARD_ID and *nonce*."""
    return json.dumps({"card_id": CARD_ID, "nonce": nonce}).encode()


BODY = body(NONCE)


@functools.cache
def recorded_answer() -> tuple[bytes, dict[str, str]]:
    """One FakeStripe answer to a key request: its body and headers.

    The in-process transports replay it, so that the figures without a
    network hold stripe-python's work and the library's, and no server's.
    The key lives a day: it never looks expired during a run.
    """
    with FakeStripe(key_lifetime=86_400) as fake:
        fake.add_card(CARD_ID)
        form = urlencode({"issuing_card": CARD_ID, "nonce": fake.create_nonce(CARD_ID)})
        address = urlsplit(fake.url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port)
        try:
            connection.request(
                "POST",
                "/v1/ephemeral_keys",
                body=form,
                headers={
                    "Authorization": f"Bearer {fake.api_key}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Stripe-Version": API_VERSION,
                },
            )
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"FakeStripe answered {response.status}: {answer!r}")
            names = ("Content-Type", "Request-Id", "Stripe-Version")
            return answer, {name: response.headers[name] for name in names}
        finally:
            connection.close()


class CannedHTTPClient(stripe.HTTPClient):
    """A stripe-python transport that replays FakeStripe's recorded answer.

    No network: what remains is stripe-python's own work, and the library's.
    """

    name = "canned"

    def __init__(self) -> None:
        super().__init__()
        self._body, self._headers = recorded_answer()

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, dict[str, str]]:
        return self._body.decode(), 200, self._headers

    async def request_async(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[bytes, int, dict[str, str]]:
        return self._body, 200, self._headers

    def close(self) -> None:
        pass

    async def close_async(self) -> None:
        pass


def allow_all(user: object, request: KeyRequest) -> bool:
    return True


def client(
    fake: RunningFake | None = None, http_client: stripe.HTTPClient | None = None
) -> stripe.StripeClient:
    """A StripeClient for *fake* (or in-process, replaying: *fake* None)."""
    if fake is None:
        return stripe.StripeClient(
            "sk_test_fake_benchmarks_in_process",
            base_addresses={"api": "http://127.0.0.1:9"},
            http_client=CannedHTTPClient(),
        )
    return stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.url}, http_client=http_client
    )


def issuer(stripe_client: stripe.StripeClient) -> EphemeralKeyIssuer[str]:
    """The library as an app configures it: defaults but the API version.

    And the calls in flight at once: the transports' 500-call bursts are
    over the default bulkhead (100 calls to Stripe), which would refuse
    the rest at once; an app that expects such bursts raises it so.
    """
    return EphemeralKeyIssuer(
        stripe_client,
        allow_all,
        api_version=API_VERSION,
        max_concurrent_calls=512,  # the most it takes
    )


class Calls:
    """The three sync and three async calls on one client, ready to time.

    Each call trades a nonce of its own: against a FakeStripe, `stock`
    mints them in bulk (and writes the endpoint's body for each) before the
    timed section, and each call takes the next one (a ``deque.popleft``, on
    both sides of every ratio alike); in-process, every call sends
    :data:`NONCE` to the recording.
    """

    def __init__(
        self, stripe_client: stripe.StripeClient, fake: RunningFake | None = None
    ) -> None:
        self.stripe_client = stripe_client
        self.issuer = issuer(stripe_client)
        self.fake = fake
        self._nonces: deque[tuple[str, bytes]] = deque()

    def stock(self, n: int) -> None:
        """Mint *n* more fresh nonces, one for each call to come."""
        if self.fake is not None:
            self._nonces.extend((nonce, body(nonce)) for nonce in self.fake.nonces(n))

    def _next(self) -> tuple[str, bytes]:
        if self.fake is None:
            return NONCE, BODY
        try:
            return self._nonces.popleft()
        except IndexError:
            raise RuntimeError("out of nonces: stock() enough for the calls") from None

    def nonce(self) -> str:
        return self._next()[0]

    def raw(self) -> object:
        params = {"issuing_card": CARD_ID, "nonce": self.nonce()}
        return self.stripe_client.v1.ephemeral_keys.create(
            params=params, options=OPTIONS
        )

    def issue(self) -> object:
        return self.issuer.issue(USER, card_id=CARD_ID, nonce=self.nonce())

    def handle(self) -> object:
        answer = self.issuer.handle(
            USER, body=self._next()[1], content_type=CONTENT_TYPE
        )
        assert answer.status == 200, answer.body
        return answer

    async def araw(self) -> object:
        params = {"issuing_card": CARD_ID, "nonce": self.nonce()}
        return await self.stripe_client.v1.ephemeral_keys.create_async(
            params=params, options=OPTIONS
        )

    async def aissue(self) -> object:
        return await self.issuer.aissue(USER, card_id=CARD_ID, nonce=self.nonce())

    async def ahandle(self) -> object:
        answer = await self.issuer.ahandle(
            USER, body=self._next()[1], content_type=CONTENT_TYPE
        )
        assert answer.status == 200, answer.body
        return answer
