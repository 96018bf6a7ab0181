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
from collections.abc import Iterator

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
    """20 requests whose sink sleeps 0.2 s each: the loop keeps ticking meanwhile."""

    def slow_sink(_event: AuditEvent) -> None:
        time.sleep(0.2)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), allow, audit=slow_sink
    )
    bodies = [body(fake) for _ in range(20)]

    async def burst() -> tuple[list[int], float]:
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

    # Run on the loop, one sink call alone would stall it 0.2 s, and twenty 4 s.
    assert ([200] * 20, True) == (statuses, longest_stall < 0.15)


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
