"""Never run: mypy checks this file (``make typecheck``) to pin the public types
of the rate limiters and the key ledgers.

Each ``# type: ignore[code]`` marks a line that must stay a type error.
"""

from __future__ import annotations

import redis
import redis.asyncio
from typing_extensions import assert_type

from issuing_elements import (
    KeyLedger,
    LiveKey,
    MemoryKeyLedger,
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RedisKeyLedger,
    RedisRateLimiter,
)


async def valid_usage(client: redis.Redis, async_client: redis.asyncio.Redis) -> None:
    per_user = RateLimit(limit=10, window_seconds=60)
    limiters: list[RateLimiter] = [
        MemoryRateLimiter(per_user=per_user, per_card=RateLimit(30, 60.0)),
        RedisRateLimiter(client, per_user=per_user, fail_open=True),
        RedisRateLimiter(async_client, per_card=per_user, prefix="{app}:rate:"),
    ]
    assert_type(limiters[0].hit_user("alice"), "float | None")
    assert_type(limiters[0].hit_card("ic_1"), "float | None")
    assert_type(await limiters[2].ahit_user("alice"), "float | None")
    assert_type(await limiters[2].ahit_card("ic_1"), "float | None")
    MemoryRateLimiter(per_user=per_user, max_keys=1_000, fail_open=True)

    key = LiveKey("ephkey_1", "ic_1", "alice", None, 1_800_000_000)
    ledgers: list[KeyLedger] = [
        MemoryKeyLedger(),
        RedisKeyLedger(client),
        RedisKeyLedger(async_client, prefix="{app}:keys:"),
    ]
    ledgers[0].record(key)
    assert_type(ledgers[1].keys_for_user("alice"), list[LiveKey])
    assert_type(await ledgers[2].akeys_for_card("ic_1"), list[LiveKey])
    await ledgers[2].aforget(key)
    assert_type(ledgers[0].mark_revoked(user_id="alice"), float)
    assert_type(await ledgers[2].amark_revoked(card_id="ic_1"), float)
    assert_type(
        ledgers[1].revoked_since(user_id="alice", card_id="ic_1", since=0.0), bool
    )
    assert_type(
        await ledgers[2].arevoked_since(user_id="alice", card_id="ic_1", since=1), bool
    )
    RedisKeyLedger(client, clock=lambda: 1_800_000_000.0)


def invalid_usage(client: redis.Redis) -> None:
    RateLimit(10)  # type: ignore[call-arg]
    RateLimit("10", 60)  # type: ignore[arg-type]
    MemoryRateLimiter(RateLimit(1, 1))  # type: ignore[call-arg]
    RedisRateLimiter(client, per_user=10)  # type: ignore[arg-type]
    RedisKeyLedger("redis://localhost")  # type: ignore[arg-type]
    MemoryKeyLedger().mark_revoked("alice")  # type: ignore[call-arg]
    MemoryKeyLedger().revoked_since(user_id="alice", since=0.0)  # type: ignore[call-arg]
    LiveKey("ephkey_1", "ic_1", "alice", None, "soon")  # type: ignore[arg-type]
