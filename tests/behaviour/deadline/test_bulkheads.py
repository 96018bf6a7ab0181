"""A stalled dependency exhausts its own bulkhead, and nothing else in the process.

Issue 22, finding 4. Each issuer gives Stripe, the rate limiter and the key
ledger a bulkhead of ``max_concurrent_calls`` places; a call holds its place
until it is over, abandoned at the deadline or not. The stalled store is a
listener that accepts and never answers, under a real ``redis.Redis`` (or
``redis.asyncio.Redis``) client without ``socket_timeout``: its calls never
end while the test runs. The process's own safety valve on worker threads
is made small (`small_valve`), so that a store with no bulkhead of its own
would fill it, as 560 requests filled the 512 threads of issue 22. Nothing
here is timed: "at once" is counted (the stalled listener is not called
again, the calls waiting on it are still waiting).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis
import redis.asyncio
import stripe

import issuing_elements._bounded_calls as bounded_calls
from issuing_elements import (
    EphemeralKeyIssuer,
    HttpResponse,
    KeyRequest,
    RateLimit,
    RedisKeyLedger,
    RedisRateLimiter,
)
from issuing_elements._bounded_calls import Bulkhead, acall_within, call_within
from issuing_elements.exceptions import StripeUnavailableError
from issuing_elements.testing import FakeStripe
from socket_stand_ins import SilentServer
from stripe_wire import API_KEY, CARD

JSON = "application/json"
LIMIT = 4
# Long enough for a Stripe call on a loaded machine before the store's turn.
DEADLINE = 2.0
# An async request that waits on the stalled store is cancelled, not timed out.
LONG_DEADLINE = 120.0
# How long to wait for something that must happen (never asserted).
PATIENCE = 30.0
STORES = ["rate limiter", "key ledger"]


@pytest.fixture
def small_valve(monkeypatch: pytest.MonkeyPatch) -> bounded_calls._Workers:
    """A worker pool whose cap has room for one bulkhead and a few calls more."""
    monkeypatch.setattr(bounded_calls, "MAX_THREADS", 3 * LIMIT)
    workers = bounded_calls._Workers()
    monkeypatch.setattr(bounded_calls, "_workers", workers)
    return workers


def allow(user: str, request: KeyRequest) -> bool:
    return user in {"alice", "bob"} and request.card_id == CARD


def port_of(server: SilentServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def on_store(store: str, client: redis.Redis | redis.asyncio.Redis) -> dict[str, Any]:
    """The issuer's keyword that puts *store* on *client*."""
    if store == "rate limiter":
        return {"rate_limiter": RedisRateLimiter(client, per_user=RateLimit(100, 60))}
    return {"key_ledger": RedisKeyLedger(client)}


def body(fake: FakeStripe) -> bytes:
    return json.dumps({"card_id": CARD, "nonce": fake.create_nonce(CARD)}).encode()


def code_of(answer: HttpResponse) -> str:
    if answer.status == 200:
        return "ok"
    code: str = json.loads(answer.body)["error"]["code"]
    return code


def eventually(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + PATIENCE
    while not condition() and time.monotonic() < end:
        time.sleep(0.01)


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "issuing_elements" and r.levelno >= logging.ERROR
    ]


def in_parallel(count: int, ask: Callable[[], HttpResponse]) -> list[HttpResponse]:
    answers: list[HttpResponse] = []
    lock = threading.Lock()

    def one() -> None:
        answer = ask()
        with lock:
            answers.append(answer)

    callers = [threading.Thread(target=one) for _ in range(count)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    return answers


@pytest.mark.parametrize("store", STORES)
def test_a_stalled_store_fills_its_own_bulkhead_and_nothing_else(
    fake: FakeStripe,
    stalled: SilentServer,
    small_valve: bounded_calls._Workers,
    caplog: pytest.LogCaptureFixture,
    store: str,
) -> None:
    first: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        allow,
        deadline=DEADLINE,
        max_concurrent_calls=LIMIT,
        **on_store(store, redis.Redis(port=port_of(stalled))),
    )
    second: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), allow, deadline=DEADLINE
    )

    def ask_first() -> HttpResponse:
        return first.handle("alice", body=body(fake), content_type=JSON)

    # As many as the bulkhead holds: each waits out its deadline on the store.
    held = in_parallel(LIMIT, ask_first)
    eventually(lambda: stalled.accepted >= LIMIT)
    # Then as many again as the whole process has threads for.
    refused = [ask_first() for _ in range(3 * LIMIT)]
    others = [
        second.handle("bob", body=body(fake), content_type=JSON) for _ in range(5)
    ]
    key = second.issue("bob", card_id=CARD, nonce=fake.create_nonce(CARD))
    first.revoke(key.id)  # Stripe alone: the stalled store is not asked

    lines = error_lines(caplog)
    assert (
        {"service_unavailable": LIMIT},
        {"service_unavailable": 3 * LIMIT},
        LIMIT,
        LIMIT,
        3 * LIMIT,
    ) == (
        Counter(map(code_of, held)),
        Counter(map(code_of, refused)),
        stalled.accepted,  # never called again
        sum(line.startswith(f"The {store} (") for line in lines),
        sum(line.startswith(f"Refusing a call to the {store} (") for line in lines),
    )
    assert ([200] * 5, True, [], LIMIT) == (
        [answer.status for answer in others],
        any(k.id == key.id and k.revoked_at is not None for k in fake.keys),
        [line for line in lines if "Stripe" in line],
        small_valve._count - small_valve._idle,  # the threads still blocked
    )


@pytest.mark.parametrize("store", STORES)
def test_a_stalled_async_store_fills_its_own_bulkhead_and_nothing_else(
    fake: FakeStripe,
    stalled: SilentServer,
    caplog: pytest.LogCaptureFixture,
    store: str,
) -> None:
    async def scenario() -> tuple[list[str], list[int], int, int]:
        client = redis.asyncio.Redis(port=port_of(stalled))
        first: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            fake.client(),
            allow,
            deadline=LONG_DEADLINE,
            max_concurrent_calls=LIMIT,
            **on_store(store, client),
        )
        second: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            fake.client(), allow, deadline=LONG_DEADLINE
        )
        held = [
            asyncio.ensure_future(
                first.ahandle("alice", body=body(fake), content_type=JSON)
            )
            for _ in range(LIMIT)
        ]
        end = time.monotonic() + PATIENCE
        while stalled.accepted < LIMIT and time.monotonic() < end:  # noqa: ASYNC110 - a count on another thread, no event
            await asyncio.sleep(0.01)
        refused = [
            code_of(await first.ahandle("alice", body=body(fake), content_type=JSON))
            for _ in range(3)
        ]
        others = [
            (await second.ahandle("bob", body=body(fake), content_type=JSON)).status
            for _ in range(5)
        ]
        key = await second.aissue("bob", card_id=CARD, nonce=fake.create_nonce(CARD))
        await first.arevoke(key.id)
        waiting = sum(not task.done() for task in held)
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        await client.aclose()
        return refused, others, waiting, stalled.accepted

    refused, others, waiting, accepted = asyncio.run(scenario())

    lines = error_lines(caplog)
    assert (["service_unavailable"] * 3, [200] * 5, LIMIT, LIMIT, 3, []) == (
        refused,
        others,
        waiting,  # the calls on the stalled store still wait
        accepted,  # and the store was not called again
        sum(line.startswith(f"Refusing a call to the {store} (") for line in lines),
        [line for line in lines if "Stripe" in line],
    )


def test_a_hung_stripe_fills_its_own_bulkhead_and_nothing_else(
    fake: FakeStripe,
    small_valve: bounded_calls._Workers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with SilentServer() as hung:
        first: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            stripe.StripeClient(API_KEY, base_addresses={"api": hung.url}),
            allow,
            deadline=DEADLINE,
            max_network_retries=0,
            max_concurrent_calls=LIMIT,
        )
        second: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            fake.client(), allow, deadline=DEADLINE
        )

        def ask_first() -> HttpResponse:
            return first.handle("alice", body=body(fake), content_type=JSON)

        held = in_parallel(LIMIT, ask_first)
        eventually(lambda: hung.accepted >= LIMIT)
        refused = [ask_first() for _ in range(3 * LIMIT)]
        others = [
            second.handle("bob", body=body(fake), content_type=JSON).status
            for _ in range(5)
        ]
        accepted = hung.accepted
        busy = small_valve._count - small_valve._idle

    lines = error_lines(caplog)
    assert (
        {"stripe_unavailable": LIMIT},
        {"stripe_unavailable": 3 * LIMIT},
        LIMIT,
        3 * LIMIT,
        [200] * 5,
        LIMIT,
    ) == (
        Counter(map(code_of, held)),
        Counter(map(code_of, refused)),
        accepted,
        sum(line.startswith("Refusing a call to Stripe at once") for line in lines),
        others,
        busy,
    )


# -- the bulkhead itself ---------------------------------------------------------


def test_sequential_calls_find_their_place_free() -> None:
    """A call leaves its bulkhead before its caller wakes: one place is enough."""
    bulkhead = Bulkhead(1)

    answers = [
        call_within(PATIENCE, lambda: "answer", bulkhead=bulkhead) for _ in range(50)
    ]

    assert (["answer"] * 50, 0) == (answers, bulkhead.in_flight)


def test_sequential_async_calls_find_their_place_free() -> None:
    bulkhead = Bulkhead(1)

    async def answer() -> str:
        return "answer"

    async def calls() -> list[str]:
        return [
            await acall_within(PATIENCE, answer, bulkhead=bulkhead) for _ in range(50)
        ]

    assert (["answer"] * 50, 0) == (asyncio.run(calls()), bulkhead.in_flight)


def test_an_abandoned_call_keeps_its_place_until_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bulkhead = Bulkhead(1)
    release = threading.Event()
    with pytest.raises(StripeUnavailableError):
        call_within(0.01, lambda: release.wait(PATIENCE), bulkhead=bulkhead)

    with pytest.raises(StripeUnavailableError) as refused:
        call_within(PATIENCE, lambda: "never called", bulkhead=bulkhead)
    release.set()
    eventually(lambda: bulkhead.in_flight == 0)
    after = call_within(PATIENCE, lambda: "answer", bulkhead=bulkhead)

    assert (PATIENCE, 1, "answer") == (
        refused.value.retry_after,
        sum(
            "1 calls to it are in flight for this issuer" in line
            for line in error_lines(caplog)
        ),
        after,
    )


def test_an_abandoned_async_call_keeps_its_place_until_it_ends() -> None:
    bulkhead = Bulkhead(1)

    async def scenario() -> tuple[int, str]:
        release = asyncio.Event()

        async def hold() -> bool:
            return await release.wait()

        async def answer() -> str:
            return "answer"

        with pytest.raises(StripeUnavailableError):
            await acall_within(0.01, hold, bulkhead=bulkhead)
        with pytest.raises(StripeUnavailableError) as refused:
            await acall_within(PATIENCE, answer, bulkhead=bulkhead)
        release.set()
        end = time.monotonic() + PATIENCE
        while bulkhead.in_flight and time.monotonic() < end:  # noqa: ASYNC110 - a count, no event
            await asyncio.sleep(0.01)
        return refused.value.retry_after, await acall_within(
            PATIENCE, answer, bulkhead=bulkhead
        )

    assert (PATIENCE, "answer") == asyncio.run(scenario())
