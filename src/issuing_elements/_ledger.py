"""The live keys per user and per card, so that all of them can be revoked.

A ledger records each issued key's id, card, user, connected account and
expiry, never its secret nor the nonce it was traded for, and forgets it
when it expires or is revoked: its size follows the keys alive right now.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from . import _redis

if TYPE_CHECKING:
    from collections.abc import Callable

    import redis
    import redis.asyncio


@attrs.frozen
class LiveKey:
    """One issued ephemeral key, as a ledger keeps it: enough to revoke it.

    It holds no secret and no nonce, by design.

    Attributes:
        key_id: Stripe's id of the key (``ephkey_...``).
        card_id: The card the key reveals (``ic_...``).
        user_id: Who the key was issued to, as the issuer's ``user_id``
            function names them.
        stripe_account: The connected account (``acct_...``) that owns the
            key, or ``None`` for the platform.
        expires: When Stripe expires the key, in epoch seconds.
    """

    key_id: str
    card_id: str
    user_id: str
    stripe_account: str | None
    expires: int


class KeyLedger(Protocol):
    """Where the issuer records live keys, to revoke a user's or a card's.

    `MemoryKeyLedger` serves one process; `RedisKeyLedger` a fleet. Reads
    return only unexpired keys (``expires`` later than now), soonest to
    expire first.
    """

    def record(self, key: LiveKey) -> None:
        """Remember *key* until it expires or is forgotten."""
        ...

    def keys_for_user(self, user_id: str) -> list[LiveKey]:
        """The unexpired keys issued to *user_id*."""
        ...

    def keys_for_card(self, card_id: str) -> list[LiveKey]:
        """The unexpired keys issued for *card_id*."""
        ...

    def forget(self, key: LiveKey) -> None:
        """Drop *key* (once revoked); forgetting an unknown key does nothing."""
        ...

    async def arecord(self, key: LiveKey) -> None:
        """Same as `record`, but awaitable."""
        ...

    async def akeys_for_user(self, user_id: str) -> list[LiveKey]:
        """Same as `keys_for_user`, but awaitable."""
        ...

    async def akeys_for_card(self, card_id: str) -> list[LiveKey]:
        """Same as `keys_for_card`, but awaitable."""
        ...

    async def aforget(self, key: LiveKey) -> None:
        """Same as `forget`, but awaitable."""
        ...


def _in_expiry_order(keys: list[LiveKey]) -> list[LiveKey]:
    return sorted(keys, key=lambda key: (key.expires, key.key_id))


class MemoryKeyLedger:
    """A `KeyLedger` for one process: thread-safe, holding only live keys.

    Every call first drops the keys whose ``expires`` has passed (a heap of
    expiries makes that amortized constant time), so memory follows the
    number of keys alive, which the rate limits bound.

    Args:
        clock: Epoch seconds; tests pass a fake one.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, LiveKey] = {}
        self._by_user: dict[str, dict[str, LiveKey]] = {}
        self._by_card: dict[str, dict[str, LiveKey]] = {}
        self._expiries: list[tuple[int, str]] = []

    def __repr__(self) -> str:
        return f"MemoryKeyLedger(<{len(self._keys)} keys>)"

    def record(self, key: LiveKey) -> None:
        """See `KeyLedger.record`. A key that has expired already is ignored."""
        with self._lock:
            now = self._prune()
            self._remove(key.key_id)
            if key.expires <= now:
                return
            self._keys[key.key_id] = key
            self._by_user.setdefault(key.user_id, {})[key.key_id] = key
            self._by_card.setdefault(key.card_id, {})[key.key_id] = key
            heapq.heappush(self._expiries, (key.expires, key.key_id))

    def keys_for_user(self, user_id: str) -> list[LiveKey]:
        """See `KeyLedger.keys_for_user`."""
        with self._lock:
            self._prune()
            return _in_expiry_order(list(self._by_user.get(user_id, {}).values()))

    def keys_for_card(self, card_id: str) -> list[LiveKey]:
        """See `KeyLedger.keys_for_card`."""
        with self._lock:
            self._prune()
            return _in_expiry_order(list(self._by_card.get(card_id, {}).values()))

    def forget(self, key: LiveKey) -> None:
        """See `KeyLedger.forget`."""
        with self._lock:
            self._prune()
            self._remove(key.key_id)

    async def arecord(self, key: LiveKey) -> None:
        """Same as `record`, but awaitable (it never waits: the table is local)."""
        self.record(key)

    async def akeys_for_user(self, user_id: str) -> list[LiveKey]:
        """Same as `keys_for_user`, but awaitable."""
        return self.keys_for_user(user_id)

    async def akeys_for_card(self, card_id: str) -> list[LiveKey]:
        """Same as `keys_for_card`, but awaitable."""
        return self.keys_for_card(card_id)

    async def aforget(self, key: LiveKey) -> None:
        """Same as `forget`, but awaitable."""
        self.forget(key)

    def _prune(self) -> float:
        now = self._clock()
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            expires, key_id = heapq.heappop(expiries)
            key = self._keys.get(key_id)
            # A key recorded again (or forgotten) left an older heap entry.
            if key is not None and key.expires == expires:
                self._remove(key_id)
        return now

    def _remove(self, key_id: str) -> None:
        key = self._keys.pop(key_id, None)
        if key is None:
            return
        for index, name in ((self._by_user, key.user_id), (self._by_card, key.card_id)):
            keys = index[name]
            del keys[key_id]
            if not keys:
                del index[name]


# KEYS: the user's and the card's sorted sets; ARGV: expires, the key's JSON.
# Each set expires with its last key, so Redis forgets an idle user whole.
_RECORD = """
if redis.replicate_commands then redis.replicate_commands() end
local now = redis.call('TIME')[1]
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2])
  local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
  redis.call('EXPIREAT', KEYS[i], last[2])
end
"""

# KEYS: one sorted set. Drops the expired keys (by the server's clock), then
# returns the rest, soonest to expire first.
_READ = """
if redis.replicate_commands then redis.replicate_commands() end
local now = redis.call('TIME')[1]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

_FORGET = """
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
"""


def _member(key: LiveKey) -> str:
    return json.dumps(attrs.asdict(key), sort_keys=True, separators=(",", ":"))


def _live_keys(members: list[bytes | str]) -> list[LiveKey]:
    return [LiveKey(**json.loads(member)) for member in members]


class RedisKeyLedger:
    """A `KeyLedger` shared by every process that uses one Redis.

    Each user and each card is a sorted set of its keys (each member the
    `LiveKey` as JSON, no secret in it) scored by expiry. Writes are one Lua
    script each, so a key is in both sets or in neither; reads drop expired
    members first by the Redis server's clock; and each set expires
    (EXPIREAT) with its last key, so Redis holds only live keys.

    Key names are *prefix*, then ``user:`` or ``card:``, then the SHA-256 of
    the id. On Redis Cluster, put a hash tag in the prefix
    (``"{issuing_elements}:keys:"``) so that a key's two sets share a slot.

    Use the plain methods with a ``redis.Redis`` client and the ``a``
    methods with a ``redis.asyncio.Redis`` one. Any Redis failure raises
    `ServiceUnavailableError`: there is no fail-open, because a key that
    cannot be recorded is a key that cannot be revoked later.

    Args:
        redis_client: A ``redis.Redis`` or ``redis.asyncio.Redis``.
        prefix: Where this ledger's keys live in Redis.

    Raises:
        ConfigurationError: The prefix is empty.
    """

    def __init__(
        self,
        redis_client: redis.Redis | redis.asyncio.Redis,
        *,
        prefix: str = "issuing_elements:keys:",
    ) -> None:
        self.prefix: str = _redis.check_prefix(prefix)
        self._async = _redis.is_async(redis_client)
        self._record: Any = redis_client.register_script(_RECORD)
        self._read: Any = redis_client.register_script(_READ)
        self._forget: Any = redis_client.register_script(_FORGET)

    def __repr__(self) -> str:
        return f"RedisKeyLedger(prefix={self.prefix!r})"

    def record(self, key: LiveKey) -> None:
        """See `KeyLedger.record`.

        Raises:
            ServiceUnavailableError: Redis failed.
            ConfigurationError: The client is a ``redis.asyncio`` one.
        """
        self._check(sync=True, method="record")
        with _redis.unavailable("the key ledger"):
            self._record(keys=self._both(key), args=[key.expires, _member(key)])

    def keys_for_user(self, user_id: str) -> list[LiveKey]:
        """See `KeyLedger.keys_for_user`; raises like `record`."""
        self._check(sync=True, method="keys_for_user")
        with _redis.unavailable("the key ledger"):
            members = self._read(keys=[self._user(user_id)])
        return _live_keys(members)

    def keys_for_card(self, card_id: str) -> list[LiveKey]:
        """See `KeyLedger.keys_for_card`; raises like `record`."""
        self._check(sync=True, method="keys_for_card")
        with _redis.unavailable("the key ledger"):
            members = self._read(keys=[self._card(card_id)])
        return _live_keys(members)

    def forget(self, key: LiveKey) -> None:
        """See `KeyLedger.forget`; raises like `record`."""
        self._check(sync=True, method="forget")
        with _redis.unavailable("the key ledger"):
            self._forget(keys=self._both(key), args=[_member(key)])

    async def arecord(self, key: LiveKey) -> None:
        """Same as `record`, but awaits a ``redis.asyncio`` client."""
        self._check(sync=False, method="record")
        with _redis.unavailable("the key ledger"):
            await self._record(keys=self._both(key), args=[key.expires, _member(key)])

    async def akeys_for_user(self, user_id: str) -> list[LiveKey]:
        """Same as `keys_for_user`, but awaits a ``redis.asyncio`` client."""
        self._check(sync=False, method="keys_for_user")
        with _redis.unavailable("the key ledger"):
            members = await self._read(keys=[self._user(user_id)])
        return _live_keys(members)

    async def akeys_for_card(self, card_id: str) -> list[LiveKey]:
        """Same as `keys_for_card`, but awaits a ``redis.asyncio`` client."""
        self._check(sync=False, method="keys_for_card")
        with _redis.unavailable("the key ledger"):
            members = await self._read(keys=[self._card(card_id)])
        return _live_keys(members)

    async def aforget(self, key: LiveKey) -> None:
        """Same as `forget`, but awaits a ``redis.asyncio`` client."""
        self._check(sync=False, method="forget")
        with _redis.unavailable("the key ledger"):
            await self._forget(keys=self._both(key), args=[_member(key)])

    def _check(self, *, sync: bool, method: str) -> None:
        if sync == self._async:
            raise _redis.wrong_client(
                "RedisKeyLedger", method, async_client=self._async
            )

    def _user(self, user_id: str) -> str:
        return _redis.key_name(self.prefix, "user", user_id)

    def _card(self, card_id: str) -> str:
        return _redis.key_name(self.prefix, "card", card_id)

    def _both(self, key: LiveKey) -> list[str]:
        return [self._user(key.user_id), self._card(key.card_id)]
