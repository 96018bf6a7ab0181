"""The live keys per user and per card, so that all of them can be revoked.

A ledger records each issued key's id, card, user, connected account and
expiry, never its secret nor the nonce it was traded for, and forgets it
when it expires or is revoked: its size follows the keys alive right now.

It also keeps tombstones: "user U (or card C) was revoked at time T". A bulk
revocation lays its tombstone first, then reads the live keys and revokes
them; a request that issues a key records it first, then asks whether a
tombstone for its user or card was laid since the request began. Whichever
of the two comes second sees the other's write, so every key issued by a
request in flight during the revocation is revoked by one of them.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from . import _redis
from .exceptions import ConfigurationError

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


# How long a tombstone is kept. A request checks for tombstones laid since it
# began, and no request outlives the issuer's longest deadline (300 s); twice
# that leaves room for the slowest request plus the clock skew and the time
# a revocation itself takes, while the ledger stays as small as the number of
# revocations in ten minutes.
TOMBSTONE_SECONDS = 600


class KeyLedger(Protocol):
    """Where the issuer records live keys, to revoke a user's or a card's.

    `MemoryKeyLedger` serves one process; `RedisKeyLedger` a fleet. Reads
    return only unexpired keys (``expires`` later than now), soonest to
    expire first.

    Tombstones (`mark_revoked`, `revoked_since`) tell a request in flight
    that its user or card was revoked after it began. Their times are the
    ledger's clock, which a request compares with its own start time, so
    every process that shares a ledger must keep its clock within the
    issuer's margin (1 s) of the others'.

    A ledger declares ``in_process``: ``True`` only for one that answers at
    once from this process's memory (no I/O), which the issuer then calls
    as it is, with no deadline, no worker thread and no bulkhead. The
    issuer refuses, at construction, a ledger that does not declare it. A
    ledger never fails open: one that fails refuses the request (503).
    """

    #: Whether every call answers at once, from this process's memory.
    in_process: bool

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

    def mark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        """Lay a tombstone for *user_id* or *card_id* (exactly one), now.

        The tombstone is kept `TOMBSTONE_SECONDS`; if two are laid for the
        same user or card, the later time is kept.

        Returns:
            The tombstone's time, in epoch seconds by the ledger's clock.

        Raises:
            ConfigurationError: Both or neither of *user_id* and *card_id*.
        """
        ...

    def revoked_since(self, *, user_id: str, card_id: str, since: float) -> bool:
        """Whether a tombstone for *user_id* or *card_id* was laid at or after
        *since* (epoch seconds), and is still kept."""
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

    async def amark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        """Same as `mark_revoked`, but awaitable."""
        ...

    async def arevoked_since(self, *, user_id: str, card_id: str, since: float) -> bool:
        """Same as `revoked_since`, but awaitable."""
        ...


def _in_expiry_order(keys: list[LiveKey]) -> list[LiveKey]:
    return sorted(keys, key=lambda key: (key.expires, key.key_id))


def _revoked_subject(
    owner: str, user_id: str | None, card_id: str | None
) -> tuple[str, str]:
    """``("user", id)`` or ``("card", id)``: what a tombstone is for."""
    if (user_id is None) == (card_id is None):
        raise ConfigurationError(
            f"{owner}.mark_revoked takes exactly one of user_id= and card_id="
        )
    subject = ("user", user_id) if card_id is None else ("card", card_id)
    if not isinstance(subject[1], str):
        raise ConfigurationError(
            f"{owner}.mark_revoked needs {subject[0]}_id as a str, "
            f"not {type(subject[1]).__name__}"
        )
    return subject[0], subject[1]


class MemoryKeyLedger:
    """A `KeyLedger` for one process: thread-safe, holding only live keys.

    Every call first drops the keys whose ``expires`` has passed (a heap of
    expiries makes that amortized constant time), so memory follows the
    number of keys alive, which the rate limits bound. Tombstones are
    dropped the same way, `TOMBSTONE_SECONDS` after they were laid.

    Args:
        clock: Epoch seconds; tests pass a fake one.
    """

    in_process = True  # answers from this process's memory, at once

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, LiveKey] = {}
        self._by_user: dict[str, dict[str, LiveKey]] = {}
        self._by_card: dict[str, dict[str, LiveKey]] = {}
        self._expiries: list[tuple[int, str]] = []
        self._tombstones: dict[tuple[str, str], float] = {}
        self._tombstone_expiries: list[tuple[float, str, str]] = []

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

    def mark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        """See `KeyLedger.mark_revoked`; the time is this ledger's clock."""
        subject = _revoked_subject("MemoryKeyLedger", user_id, card_id)
        with self._lock:
            now = self._prune()
            laid = self._tombstones.get(subject)
            if laid is None or now > laid:
                self._tombstones[subject] = now
                kind, name = subject
                heapq.heappush(
                    self._tombstone_expiries, (now + TOMBSTONE_SECONDS, kind, name)
                )
            return now

    def revoked_since(self, *, user_id: str, card_id: str, since: float) -> bool:
        """See `KeyLedger.revoked_since`."""
        with self._lock:
            self._prune()
            laid = (
                self._tombstones.get(("user", user_id)),
                self._tombstones.get(("card", card_id)),
            )
            return any(at is not None and at >= since for at in laid)

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

    async def amark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        """Same as `mark_revoked`, but awaitable."""
        return self.mark_revoked(user_id=user_id, card_id=card_id)

    async def arevoked_since(self, *, user_id: str, card_id: str, since: float) -> bool:
        """Same as `revoked_since`, but awaitable."""
        return self.revoked_since(user_id=user_id, card_id=card_id, since=since)

    def _prune(self) -> float:
        now = self._clock()
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            expires, key_id = heapq.heappop(expiries)
            key = self._keys.get(key_id)
            # A key recorded again (or forgotten) left an older heap entry.
            if key is not None and key.expires == expires:
                self._remove(key_id)
        tombstones = self._tombstone_expiries
        while tombstones and tombstones[0][0] <= now:
            _, kind, name = heapq.heappop(tombstones)
            laid = self._tombstones.get((kind, name))
            # A later tombstone for the same subject left this entry behind.
            if laid is not None and laid + TOMBSTONE_SECONDS <= now:
                del self._tombstones[kind, name]
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

# KEYS: one tombstone; ARGV: its time (epoch seconds, as text), how long to
# keep it. Of two racing revocations the later time stays, kept that long
# from the last one.
_MARK = """
local laid = redis.call('GET', KEYS[1])
local time = ARGV[1]
if laid and tonumber(laid) > tonumber(time) then time = laid end
redis.call('SET', KEYS[1], time, 'EX', ARGV[2])
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

    A tombstone is one string key (*prefix*, then ``revoked:``, then
    ``user:`` or ``card:``, then the SHA-256 of the id) holding the time of
    the latest revocation, which Redis drops `TOMBSTONE_SECONDS` later. That
    time is *clock*, the calling process's clock, not the Redis server's:
    a request compares it with its own start time, so every process that
    shares the ledger must keep its clock within the issuer's margin (1 s)
    of the others' (NTP does).

    Key names are *prefix*, then ``user:`` or ``card:``, then the SHA-256 of
    the id. On Redis Cluster, put a hash tag in the prefix
    (``"{issuing_elements}:keys:"``) so that a key's two sets, and a
    user's and a card's tombstones, share a slot.

    Use the plain methods with a ``redis.Redis`` client and the ``a``
    methods with a ``redis.asyncio.Redis`` one. Any Redis failure raises
    `ServiceUnavailableError`: there is no fail-open, because a key that
    cannot be recorded is a key that cannot be revoked later.

    Args:
        redis_client: A ``redis.Redis`` or ``redis.asyncio.Redis``.
        prefix: Where this ledger's keys live in Redis.
        clock: Epoch seconds, for the tombstones' times; tests pass a fake
            one.

    Raises:
        ConfigurationError: The prefix is empty, or *redis_client* is not a
            redis-py client.
    """

    in_process = False  # a call to Redis: bounded by the request's deadline

    def __init__(
        self,
        redis_client: redis.Redis | redis.asyncio.Redis,
        *,
        prefix: str = "issuing_elements:keys:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prefix: str = _redis.check_prefix(prefix)
        self._async = _redis.is_async(redis_client, "RedisKeyLedger")
        self._clock = clock
        self._client: Any = redis_client
        self._mark: Any = redis_client.register_script(_MARK)
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

    def mark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        """See `KeyLedger.mark_revoked`; raises like `record`."""
        self._check(sync=True, method="mark_revoked")
        name, now = self._tombstone(user_id, card_id)
        with _redis.unavailable("the key ledger"):
            self._mark(keys=[name], args=[repr(now), TOMBSTONE_SECONDS])
        return now

    def revoked_since(self, *, user_id: str, card_id: str, since: float) -> bool:
        """See `KeyLedger.revoked_since`: one MGET; raises like `record`."""
        self._check(sync=True, method="revoked_since")
        with _redis.unavailable("the key ledger"):
            laid = self._client.mget(self._tombstones(user_id, card_id))
        return _laid_since(laid, since)

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

    async def amark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        """Same as `mark_revoked`, but awaits a ``redis.asyncio`` client."""
        self._check(sync=False, method="mark_revoked")
        name, now = self._tombstone(user_id, card_id)
        with _redis.unavailable("the key ledger"):
            await self._mark(keys=[name], args=[repr(now), TOMBSTONE_SECONDS])
        return now

    async def arevoked_since(self, *, user_id: str, card_id: str, since: float) -> bool:
        """Same as `revoked_since`, but awaits a ``redis.asyncio`` client."""
        self._check(sync=False, method="revoked_since")
        with _redis.unavailable("the key ledger"):
            laid = await self._client.mget(self._tombstones(user_id, card_id))
        return _laid_since(laid, since)

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

    def _tombstone(self, user_id: str | None, card_id: str | None) -> tuple[str, float]:
        kind, name = _revoked_subject("RedisKeyLedger", user_id, card_id)
        return _redis.key_name(self.prefix, f"revoked:{kind}", name), self._clock()

    def _tombstones(self, user_id: str, card_id: str) -> list[str]:
        return [
            _redis.key_name(self.prefix, "revoked:user", user_id),
            _redis.key_name(self.prefix, "revoked:card", card_id),
        ]


def _laid_since(laid: list[bytes | str | None], since: float) -> bool:
    return any(at is not None and float(at) >= since for at in laid)
