"""Every exit revokes: a key Stripe issued never outlives a request that leaves.

Cancellation, ``KeyboardInterrupt`` and ``SystemExit`` are not ``Exception``:
they go on propagating, but only once the key that Stripe issued for the
request is revoked; so is the key of a request whose audit sink fails on the
grant, or whose answer from Stripe was lost. Stripe is FakeStripe, through
the real SDK, counting the keys it issued and revoked (or pytest-httpserver,
where the wire is the point); the async runs use both of stripe-python's
async transports. Beside this module, ``test_handle_never_raises.py``: a key
that cannot be handed out is revoked. Late keys (issued after the deadline)
are revoked in ``behaviour/deadline/``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
import stripe
from pytest_httpserver import HTTPServer

from doors_and_twins import WEB, Twin
from issuing_elements import (
    AuditEvent,
    EphemeralKeyIssuer,
    IssuedKey,
    KeyRequest,
    LiveKey,
    MemoryKeyLedger,
)
from issuing_elements.testing import FakeStripe
from socket_stand_ins import HangUpServer
from stripe_wire import CARD, KEY_ID, NONCE, key_object, owner_of

JSON = "application/json"


def allow(user: str, request: KeyRequest) -> bool:
    return (user, request.card_id) == ("alice", CARD)


def body(fake: FakeStripe) -> bytes:
    return json.dumps({"card_id": CARD, "nonce": fake.create_nonce(CARD)}).encode()


def live_keys(fake: FakeStripe) -> list[str]:
    return [key.id for key in fake.keys if key.revoked_at is None]


class Leaving(MemoryKeyLedger):
    """A ledger whose write raises *leaving*, as an interrupt would arrive there."""

    def __init__(self, leaving: BaseException) -> None:
        super().__init__()
        self.leaving = leaving

    def record(self, _key: LiveKey) -> None:
        raise self.leaving

    async def arecord(self, _key: LiveKey) -> None:
        raise self.leaving


LEAVINGS = [
    pytest.param(KeyboardInterrupt, id="KeyboardInterrupt"),
    pytest.param(SystemExit, id="SystemExit"),
    pytest.param(asyncio.CancelledError, id="CancelledError"),
]


@pytest.mark.parametrize("leaving", LEAVINGS)
@pytest.mark.parametrize("where", ["elements", "audit", "ledger"])
def test_leaving_after_stripe_issued_revokes_the_key_then_goes_on(
    fake: FakeStripe, leaving: type[BaseException], where: str, twin: Twin
) -> None:
    def elements(_user: str, _key: IssuedKey) -> list[object]:
        raise leaving

    def audit(event: AuditEvent) -> None:
        if event.outcome == "granted":
            raise leaving

    options: dict[str, object] = {
        "elements": {"elements": elements},
        "audit": {"audit": audit},
        "ledger": {"key_ledger": Leaving(leaving())},
    }[where]
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        allow,
        **options,  # type: ignore[arg-type]  # one keyword per case
    )

    with pytest.raises(leaving):
        WEB.knock(issuer, twin, nonce=fake.create_nonce(CARD))

    assert (1, []) == (len(fake.keys), live_keys(fake))


class Stalled(MemoryKeyLedger):
    """A ledger whose async write waits until cancelled, saying when it began.

    ``cancelled`` says whether the cancellation reached the write: a write
    shielded from it, or waited out, would end its minute's wait instead.
    """

    def __init__(self, entered: asyncio.Event) -> None:
        super().__init__()
        self.entered = entered
        self.cancelled = False

    async def arecord(self, _key: LiveKey) -> None:
        self.entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
@pytest.mark.parametrize("run", range(3))
def test_an_ahandle_cancelled_while_the_ledger_writes_revokes_the_key(
    fake: FakeStripe, transport: str, run: int
) -> None:
    ledger = Stalled(asyncio.Event())

    async def cancelled() -> None:
        http = (
            stripe.AIOHTTPClient()
            if transport == "aiohttp"
            else stripe.HTTPXClient(allow_sync_methods=True)
        )
        issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            fake.client(http_client=http), allow, key_ledger=ledger
        )
        task = asyncio.ensure_future(
            issuer.ahandle("alice", body=body(fake), content_type=JSON)
        )
        await asyncio.wait_for(ledger.entered.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await http.close_async()  # type: ignore[no-untyped-call]  # untyped here

    asyncio.run(cancelled())

    assert (1, [], True) == (len(fake.keys), live_keys(fake), ledger.cancelled)


def test_the_sync_methods_refuse_an_async_sink_and_revoke_the_key(
    fake: FakeStripe,
) -> None:
    async def sink(_event: AuditEvent) -> None:
        await asyncio.sleep(0)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        allow,
        audit=sink,  # type: ignore[arg-type]  # an async sink, on purpose
    )

    answer = issuer.handle("alice", body=body(fake), content_type=JSON)

    assert (500, 1, []) == (answer.status, len(fake.keys), live_keys(fake))


# -- an audit sink that fails on the grant ---------------------------------


def failing_sink(_event: AuditEvent) -> None:
    raise OSError("disk full")


def test_a_failing_sink_on_a_grant_revokes_the_key_and_answers_500(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, twin: Twin
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object()
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: True}), audit=failing_sink
    )

    response = WEB.knock(issuer, twin, nonce=NONCE)

    assert (500, ["POST", "DELETE"]) == (
        response.status,
        [request.method for request, _ in httpserver.log],
    )


# -- a key whose answer was lost on the network ---------------------------


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def test_a_key_whose_answer_was_lost_is_found_and_revoked(
    fake: FakeStripe, twin: Twin
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), allow, max_network_retries=0
    )
    fake.drop_next(after_processing=True)  # Stripe issues the key; the answer is lost

    async def ahandle() -> int:
        answer = await issuer.ahandle("alice", body=body(fake), content_type=JSON)
        # The search runs as a task of this loop: let it finish here.
        await asyncio.to_thread(wait_until, lambda: live_keys(fake) == [])
        return answer.status

    if twin.is_async:
        status = asyncio.run(ahandle())
    else:
        status = issuer.handle("alice", body=body(fake), content_type=JSON).status

    assert (503, 1, True) == (
        status,
        len(fake.keys),
        wait_until(lambda: live_keys(fake) == []),
    )


def test_a_key_that_cannot_be_found_again_is_logged_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with HangUpServer() as server:
        client = stripe.StripeClient(
            "sk_test_fakeKeyForLostAnswers",
            base_addresses={"api": server.url},
            http_client=stripe.HTTPXClient(timeout=2, allow_sync_methods=True),
        )
        issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            client, allow, max_network_retries=0
        )
        answer = issuer.handle(
            "alice",
            body=json.dumps({"card_id": CARD, "nonce": "ephkn_pub_lost"}).encode(),
            content_type=JSON,
            headers={"X-Request-Id": "req-lost-42"},
        )

        def logged() -> bool:
            return any(
                "was lost" in record.getMessage()
                and "req-lost-42" in record.getMessage()
                and "issuing-elements-" in record.getMessage()
                for record in caplog.records
            )

        found = wait_until(logged)

    assert (503, 2, True) == (answer.status, len(server.heads), found)
