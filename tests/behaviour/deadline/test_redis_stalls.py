"""One deadline for the whole request: a Redis that stalls cannot hold it.

The stalled Redis is a listener that accepts and never answers. The stores
are the real ``RedisRateLimiter`` and ``RedisKeyLedger`` on real redis-py
clients, with and without their own ``socket_timeout``; Stripe is FakeStripe,
counting the keys it issued and revoked. Each test asserts a wall time well
below the fault's own (at least 30 s with ``socket_timeout=30``, before
redis-py's retries, and forever without), and that no key is left live.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis
import redis.asyncio
import stripe

from issuing_elements import (
    EphemeralKeyIssuer,
    KeyRequest,
    MemoryKeyLedger,
    MemoryRateLimiter,
    RateLimit,
    RedisKeyLedger,
    RedisRateLimiter,
)
from issuing_elements.testing import FakeStripe
from socket_stand_ins import SilentServer
from stripe_wire import CARD

JSON = "application/json"
DEADLINE = 1.0
# A margin that holds on a machine at load 8 on 2 cores, and still far below
# the fault's own time: 30 s and redis-py's retries (SOCKET_TIMEOUT), or forever.
MARGIN = 10.0
SOCKET_TIMEOUT = 30


def allow(user: str, request: KeyRequest) -> bool:
    return (user, request.card_id) == ("alice", CARD)


def body(fake: FakeStripe) -> bytes:
    return json.dumps({"card_id": CARD, "nonce": fake.create_nonce(CARD)}).encode()


def port_of(server: SilentServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def sync_redis(server: SilentServer, timeouts: bool) -> redis.Redis:
    options: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT} if timeouts else {}
    return redis.Redis(port=port_of(server), **options)


def async_redis(server: SilentServer, timeouts: bool) -> redis.asyncio.Redis:
    options: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT} if timeouts else {}
    return redis.asyncio.Redis(port=port_of(server), **options)


def code_of(body: bytes) -> str:
    code: str = json.loads(body)["error"]["code"]
    return code


@pytest.mark.parametrize(
    "timeouts", [True, False], ids=["socket_timeout=30", "no socket_timeout"]
)
@pytest.mark.parametrize("store", ["limiter", "ledger"])
def test_a_stalled_redis_is_503_within_the_deadline(
    fake: FakeStripe,
    stalled: SilentServer,
    caplog: pytest.LogCaptureFixture,
    store: str,
    timeouts: bool,
) -> None:
    client = sync_redis(stalled, timeouts)
    options: dict[str, Any] = (
        {"rate_limiter": RedisRateLimiter(client, per_user=RateLimit(5, 60))}
        if store == "limiter"
        else {"key_ledger": RedisKeyLedger(client)}
    )
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), allow, deadline=DEADLINE, **options
    )

    started = time.monotonic()
    answer = issuer.handle("alice", body=body(fake), content_type=JSON)
    took = time.monotonic() - started

    named = "rate limiter" if store == "limiter" else "key ledger"
    slow_lines = [
        r
        for r in caplog.records
        if r.name == "issuing_elements" and f"The {named} (" in r.getMessage()
    ]
    assert (503, "service_unavailable", True, True, [], 1) == (
        answer.status,
        code_of(answer.body),
        "Retry-After" in answer.headers,
        took < DEADLINE + MARGIN,
        [key.id for key in fake.keys if key.revoked_at is None],
        len(slow_lines),
    )


@pytest.mark.parametrize("store", ["limiter", "ledger"])
def test_a_stalled_async_redis_is_503_within_the_deadline(
    fake: FakeStripe, stalled: SilentServer, store: str
) -> None:
    async def ask() -> tuple[int, str, float]:
        client = async_redis(stalled, timeouts=False)
        options: dict[str, Any] = (
            {"rate_limiter": RedisRateLimiter(client, per_user=RateLimit(5, 60))}
            if store == "limiter"
            else {"key_ledger": RedisKeyLedger(client)}
        )
        issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            fake.client(), allow, deadline=DEADLINE, **options
        )
        started = time.monotonic()
        answer = await issuer.ahandle("alice", body=body(fake), content_type=JSON)
        took = time.monotonic() - started
        await client.aclose()
        return answer.status, code_of(answer.body), took

    status, code, took = asyncio.run(ask())

    assert (503, "service_unavailable", True, []) == (
        status,
        code,
        took < DEADLINE + MARGIN,
        [key.id for key in fake.keys if key.revoked_at is None],
    )


def test_a_fail_open_limiter_on_a_stalled_redis_still_answers_by_the_deadline(
    fake: FakeStripe, stalled: SilentServer, caplog: pytest.LogCaptureFixture
) -> None:
    """It would allow, but the stall took the whole deadline: 503, Stripe not asked."""
    limiter = RedisRateLimiter(
        sync_redis(stalled, timeouts=False), per_user=RateLimit(5, 60), fail_open=True
    )
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), allow, deadline=DEADLINE, rate_limiter=limiter
    )

    started = time.monotonic()
    answer = issuer.handle("alice", body=body(fake), content_type=JSON)

    assert (503, True, [], True) == (
        answer.status,
        time.monotonic() - started < DEADLINE + MARGIN,
        list(fake.keys),
        any("spent before calling Stripe" in r.getMessage() for r in caplog.records),
    )


def test_revoke_user_on_a_stalled_ledger_answers_within_its_deadline(
    stalled: SilentServer, fake: FakeStripe
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        allow,
        deadline=DEADLINE,
        key_ledger=RedisKeyLedger(sync_redis(stalled, timeouts=False)),
    )

    started = time.monotonic()
    with pytest.raises(Exception, match="did not answer in time") as refused:
        issuer.revoke_user("alice")

    assert ("ServiceUnavailableError", True) == (
        type(refused.value).__name__,
        time.monotonic() - started < DEADLINE + MARGIN,
    )


def test_the_memory_stores_run_on_the_callers_thread(fake: FakeStripe) -> None:
    """No worker thread, no bound to pay: they answer at once."""
    from issuing_elements._bounded_calls import _workers  # noqa: PLC0415 - a private counter

    # A client whose own timeout bounds the call: Stripe runs inline too.
    http = stripe.HTTPXClient(timeout=1, allow_sync_methods=True)
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(http_client=http),
        allow,
        max_network_retries=0,
        key_ledger=MemoryKeyLedger(),
        rate_limiter=MemoryRateLimiter(per_user=RateLimit(5, 60)),
    )
    before = _workers.submitted

    answer = issuer.handle("alice", body=body(fake), content_type=JSON)
    http.close()  # type: ignore[no-untyped-call]  # stripe-python is untyped here

    assert (200, 0) == (answer.status, _workers.submitted - before)
