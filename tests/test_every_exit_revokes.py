"""Every exit revokes: a key Stripe issued never outlives a request that leaves.

Cancellation, ``KeyboardInterrupt`` and ``SystemExit`` are not ``Exception``:
they go on propagating, but only once the key that Stripe issued for the
request is revoked. Stripe is FakeStripe, through the real SDK, counting the
keys it issued and revoked; the async runs use both of stripe-python's async
transports.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import pytest
import stripe

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

CARD = "ic_aliceCard"
JSON = "application/json"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as running:
        running.add_card(CARD)
        yield running


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
@pytest.mark.parametrize("twin", ["handle", "ahandle"])
def test_leaving_after_stripe_issued_revokes_the_key_then_goes_on(
    fake: FakeStripe, leaving: type[BaseException], where: str, twin: str
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

    def ask() -> object:
        if twin == "ahandle":
            return asyncio.run(
                issuer.ahandle("alice", body=body(fake), content_type=JSON)
            )
        return issuer.handle("alice", body=body(fake), content_type=JSON)

    with pytest.raises(leaving):
        ask()

    assert (1, []) == (len(fake.keys), live_keys(fake))


class Stalled(MemoryKeyLedger):
    """A ledger whose async write waits until cancelled, saying when it began."""

    def __init__(self, entered: asyncio.Event) -> None:
        super().__init__()
        self.entered = entered

    async def arecord(self, _key: LiveKey) -> None:
        self.entered.set()
        await asyncio.sleep(60)


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
@pytest.mark.parametrize("run", range(3))
def test_an_ahandle_cancelled_while_the_ledger_writes_revokes_the_key(
    fake: FakeStripe, transport: str, run: int
) -> None:
    async def cancelled() -> None:
        ledger = Stalled(asyncio.Event())
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

    started = time.monotonic()
    asyncio.run(cancelled())

    assert (1, [], True) == (
        len(fake.keys),
        live_keys(fake),
        time.monotonic() - started < 10,
    )


def test_a_slow_sync_audit_sink_does_not_hold_the_event_loop(fake: FakeStripe) -> None:
    """20 requests whose sink sleeps 0.5 s each: the loop keeps ticking meanwhile."""

    def slow_sink(_event: AuditEvent) -> None:
        time.sleep(0.5)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), allow, audit=slow_sink
    )
    bodies = [body(fake) for _ in range(20)]
    warm_up = body(fake)

    async def burst() -> tuple[list[int], float]:
        # The first async call sets up its connection pool on the loop: not
        # the sink's doing, so it is made before the heartbeat starts.
        await issuer.ahandle("alice", body=warm_up, content_type=JSON)
        gaps: list[float] = []
        stop = asyncio.Event()

        async def heartbeat() -> None:
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        beating = asyncio.ensure_future(heartbeat())
        answers = await asyncio.gather(
            *(issuer.ahandle("alice", body=b, content_type=JSON) for b in bodies)
        )
        stop.set()
        await beating
        return [answer.status for answer in answers], max(gaps)

    statuses, longest_stall = asyncio.run(burst())

    # Run on the loop, one sink call alone would stall it 0.5 s, and twenty 10 s.
    assert ([200] * 20, True) == (statuses, longest_stall < 0.4)


def test_an_async_sink_is_awaited_by_the_async_methods(fake: FakeStripe) -> None:
    events: list[AuditEvent] = []

    async def sink(event: AuditEvent) -> None:
        await asyncio.sleep(0)
        events.append(event)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        allow,
        audit=sink,  # type: ignore[arg-type]  # an async sink, on purpose
    )

    answer = asyncio.run(issuer.ahandle("alice", body=body(fake), content_type=JSON))

    assert (200, ["granted"]) == (answer.status, [e.outcome for e in events])


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


# -- a key whose answer was lost on the network ---------------------------


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("twin", ["handle", "ahandle"])
def test_a_key_whose_answer_was_lost_is_found_and_revoked(
    fake: FakeStripe, twin: str
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

    if twin == "ahandle":
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
