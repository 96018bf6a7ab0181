"""Rate limits per user and per card: one protocol, in memory or in Redis.

Two budgets, spent at two moments. The issuer spends the *user's* budget on
every authenticated, well-formed request, before the authorizer runs, so
that a script walking through card ids is slowed whether or not the cards
are its own. It spends the *card's* budget only on a request the authorizer
allowed: a user who may not see a card cannot spend that card's budget, so
nobody can lock a card they do not hold by asking for it.

Both implementations keep the same exact *sliding log* per user and per
card: the times of its last ``limit`` counted requests. A request is counted
when fewer than ``limit`` of those fall within the last ``window_seconds``;
a refused request is not recorded in the log that refused it, so a client
that waits the returned seconds is served, and each limit means exactly "at
most ``limit`` in any window", never more, at no window boundary.

Why a sliding log rather than a fixed window or a sliding-window counter: a
fixed window lets ``2 * limit`` requests through around each boundary, and a
counter only estimates; the limits that protect card details are small (tens
a minute), so keeping ``limit`` timestamps per key is cheap, and exact
answers make the ``Retry-After`` true.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from . import _redis
from .exceptions import ConfigurationError, ServiceUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

    import redis
    import redis.asyncio

logger = logging.getLogger("issuing_elements")


def _check_limit(_instance: object, _attribute: object, given: int) -> None:
    value: object = given  # the annotation is a promise only callers can break
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"RateLimit.limit must be an int >= 1, not {value!r}")


def _check_window(_instance: object, _attribute: object, given: float) -> None:
    value: object = given  # the annotation is a promise only callers can break
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"RateLimit.window_seconds must be a finite number > 0, not {value!r}"
        )


@attrs.frozen
class RateLimit:
    """At most *limit* requests in any *window_seconds* (a sliding window).

    Attributes:
        limit: How many requests the window allows, at least 1.
        window_seconds: The window's length in seconds, greater than 0.

    Raises:
        ConfigurationError: Either value is out of range.
    """

    limit: int = attrs.field(validator=_check_limit)
    window_seconds: float = attrs.field(validator=_check_window)


class RateLimiter(Protocol):
    """Counts requests against a budget per user and one per card.

    The issuer calls `hit_user` for every authenticated, well-formed request
    before its authorizer runs, and `hit_card` only once the authorizer has
    allowed the request (for an Account Session, the account it names takes
    the card's place). `MemoryRateLimiter` serves one process;
    `RedisRateLimiter` a fleet. An application's own limiter implements the
    four methods below; the issuer refuses, at construction, one that has
    only the ``hit(user_id, card_id)``/``ahit`` of earlier versions.

    Each method returns ``None`` when the request is allowed (and counted),
    else the seconds (greater than 0) until a slot frees: the
    ``Retry-After``, rounded up by the issuer. A limiter whose store fails
    raises `ServiceUnavailableError` (503), and the request is refused;
    unless its ``fail_open`` is ``True``: then the request is allowed,
    with a warning.

    A limiter declares two facts about itself, and the issuer refuses one
    that does not, at construction: ``fail_open`` (as above) and
    ``in_process``, ``True`` only for a limiter that answers at once from
    this process's memory (no I/O); the issuer then calls it as it is,
    with no deadline, no worker thread and no bulkhead.
    """

    #: Whether a failing store allows the request (``True``) or refuses it.
    fail_open: bool
    #: Whether every call answers at once, from this process's memory.
    in_process: bool

    def hit_user(self, user_id: str) -> float | None:
        """Count one request by *user_id*, if the user's limit allows it."""
        ...

    async def ahit_user(self, user_id: str) -> float | None:
        """Same as `hit_user`, but awaitable."""
        ...

    def hit_card(self, card_id: str) -> float | None:
        """Count one allowed request for *card_id*, if the card's limit allows it."""
        ...

    async def ahit_card(self, card_id: str) -> float | None:
        """Same as `hit_card`, but awaitable."""
        ...


_METHODS = ("hit_user", "ahit_user", "hit_card", "ahit_card")


def check_rate_limiter(limiter: object) -> None:
    """Refuse a *limiter* that lacks one of the `RateLimiter` methods.

    Raises:
        ConfigurationError: A method is missing; the message names it.
    """
    missing = [name for name in _METHODS if not callable(getattr(limiter, name, None))]
    earlier = (
        " It has the hit(user_id, card_id) of earlier versions, which counted "
        "the card before the authorizer decided: split it in two."
        if callable(getattr(limiter, "hit", None))
        else ""
    )
    if missing:
        raise ConfigurationError(
            f"rate_limiter must implement {', '.join(_METHODS)} (the RateLimiter "
            f"protocol); {type(limiter).__name__} lacks {', '.join(missing)}.{earlier}"
        )
    check_declared(limiter, "rate_limiter", "RateLimiter", ("fail_open", "in_process"))


def check_declared(
    store: object, argument: str, protocol: str, names: tuple[str, ...]
) -> None:
    """Refuse a store that does not declare each of *names* as a bool.

    Raises:
        ConfigurationError: One is missing or not a bool; the message names
            it, and what to declare.
    """
    for name in names:
        value = getattr(store, name, None)
        if not isinstance(value, bool):
            raise ConfigurationError(
                f"{argument} must declare {name} = True or False (the {protocol} "
                f"protocol); {type(store).__name__}.{name} is "
                f"{'missing' if value is None else repr(value)}. A store that "
                "calls a server declares in_process = False"
                + (
                    ", and fail_open = False to refuse requests when it fails."
                    if name == "fail_open"
                    else "."
                )
            )


def _check_limits(per_user: object, per_card: object) -> None:
    if per_user is None and per_card is None:
        raise ConfigurationError(
            "a rate limiter needs per_user=RateLimit(...), per_card=RateLimit(...) "
            "or both"
        )
    for name, value in (("per_user", per_user), ("per_card", per_card)):
        if value is not None and not isinstance(value, RateLimit):
            raise ConfigurationError(
                f"{name} must be a RateLimit or None, not {type(value).__name__}"
            )


class _Logs:
    """The sliding logs of one budget (users or cards), evicting as time passes.

    ``logs`` is ordered by each key's newest timestamp, oldest first (a key
    moves to the end when a request is recorded), so the keys whose window
    has passed entirely are always at the front and leave in amortized
    constant time. A key whose window has not passed is never dropped: a
    full table refuses a new key instead (see `MemoryRateLimiter`).
    """

    def __init__(self, rate: RateLimit, max_keys: int) -> None:
        self.limit = rate.limit
        self.window = float(rate.window_seconds)
        self.max_keys = max_keys
        self.logs: OrderedDict[str, list[float]] = OrderedDict()

    def retry_in(self, key: str, now: float) -> float | None:
        logs = self.logs
        window = self.window
        # Evict the keys whose whole window has passed: they are at the front.
        while logs:
            newest = next(iter(logs.values()))[-1]
            if newest + window > now:
                break
            logs.popitem(last=False)
        times = logs.get(key)
        if times is None or len(times) < self.limit:
            return None
        left = times[0] + window - now
        return left if left > 0 else None

    def room_in(self, key: str, now: float) -> float | None:
        """``None`` when *key* can be recorded, else the seconds until a key leaves.

        Call after `wait`, which evicted every passed window.
        """
        logs = self.logs
        if key in logs or len(logs) < self.max_keys:
            return None
        return next(iter(logs.values()))[-1] + self.window - now

    def record(self, key: str, now: float) -> None:
        logs = self.logs
        times = logs.pop(key, None)
        if times is None:
            logs[key] = [now]
            return
        times.append(now)
        if len(times) > self.limit:
            del times[0]
        logs[key] = times


class MemoryRateLimiter:
    """A `RateLimiter` for one process: thread-safe and task-safe, bounded.

    Each user and each card has a sliding log of at most ``limit``
    timestamps (see `RateLimit`). A key leaves the table as soon as its
    whole window has passed, so the table holds only the keys seen within
    the last window. Only counted requests create entries: a user's own
    requests add at most one entry to the user table, and a card enters the
    card table only through a request the authorizer allowed.

    A table never forgets a key whose window has not passed, since that
    would hand its budget back in full. Should *max_keys* users (or cards)
    be active within one window, a request from a new one is refused with
    `ServiceUnavailableError` (503) and one ERROR line, until a window
    passes; with *fail_open*, it is allowed uncounted, with a warning.
    Memory is at most about ``max_keys * (260 + 40 * limit)`` bytes per
    table, the ids included: 64 MB measured for the default 100,000 keys
    each holding 10 timestamps, 0.3 MB for a million users at a thousand a
    second with a one-second window (``benchmarks/rate_limiter_memory.py``).

    One lock guards both tables; nothing awaits while holding it, so the
    async methods are safe on an event loop and across threads.

    Args:
        per_user: The limit per user id, or ``None`` for none.
        per_card: The limit per card id, or ``None`` for none. At least one
            of the two is required.
        clock: Seconds on a monotonic clock; tests pass a fake one.
        max_keys: How many users (and, separately, cards) the table holds
            at most.
        fail_open: When a table is full, allow a new user's (or card's)
            request uncounted, with a warning, instead of refusing it
            (503). Off by default.

    Raises:
        ConfigurationError: Neither limit is given, or *max_keys* < 1.
    """

    in_process = True  # answers from this process's memory, at once

    def __init__(
        self,
        *,
        per_user: RateLimit | None = None,
        per_card: RateLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
        fail_open: bool = False,
    ) -> None:
        _check_limits(per_user, per_card)
        given: object = max_keys
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigurationError(f"max_keys must be an int >= 1, not {given!r}")
        self.per_user = per_user
        self.per_card = per_card
        self.max_keys = max_keys
        self.fail_open = fail_open
        self._clock = clock
        self._lock = threading.Lock()
        self._users = None if per_user is None else _Logs(per_user, max_keys)
        self._cards = None if per_card is None else _Logs(per_card, max_keys)

    def __repr__(self) -> str:
        return (
            f"MemoryRateLimiter(per_user={self.per_user!r}, per_card={self.per_card!r})"
        )

    def hit_user(self, user_id: str) -> float | None:
        """See `RateLimiter.hit_user`.

        Raises:
            ServiceUnavailableError: The user table is full, and *fail_open*
                is off.
        """
        return self._hit(self._users, user_id, "user")

    async def ahit_user(self, user_id: str) -> float | None:
        """Same as `hit_user`, but awaitable (it never waits: the table is local)."""
        return self.hit_user(user_id)

    def hit_card(self, card_id: str) -> float | None:
        """See `RateLimiter.hit_card`.

        Raises:
            ServiceUnavailableError: The card table is full, and *fail_open*
                is off.
        """
        return self._hit(self._cards, card_id, "card")

    async def ahit_card(self, card_id: str) -> float | None:
        """Same as `hit_card`, but awaitable (it never waits: the table is local)."""
        return self.hit_card(card_id)

    def _hit(self, logs: _Logs | None, key: str, kind: str) -> float | None:
        if logs is None:
            return None
        with self._lock:
            # Read inside the lock, so that every log stays in time order.
            now = self._clock()
            wait = logs.retry_in(key, now)
            if wait is not None:
                return wait
            frees_in = logs.room_in(key, now)
            if frees_in is None:
                logs.record(key, now)
                return None
        self._full(kind, frees_in)
        return None

    def _full(self, kind: str, frees_in: float) -> None:
        if self.fail_open:
            logger.warning(
                "The memory rate limiter holds max_keys=%d %ss, each within its "
                "window; allowing a new %s's request uncounted (fail_open=True).",
                self.max_keys,
                kind,
                kind,
            )
            return
        logger.error(
            "The memory rate limiter holds max_keys=%d %ss, each within its "
            "window, and forgets none to make room: refusing a new %s's request "
            "(503) for %.3g s. Raise max_keys, or share the limits in Redis "
            "(RedisRateLimiter).",
            self.max_keys,
            kind,
            kind,
            frees_in,
        )
        raise ServiceUnavailableError(
            "The rate limiter is full.", retry_after=math.ceil(frees_in)
        )

    def _sizes(self) -> tuple[int, int]:
        """How many users and cards the tables hold now (for tests and benchmarks)."""
        with self._lock:
            return (
                0 if self._users is None else len(self._users.logs),
                0 if self._cards is None else len(self._cards.logs),
            )


# KEYS[1]: one sliding log, a user's or a card's (a Redis list of
# microsecond timestamps, oldest first). ARGV: its limit and its window in
# microseconds. Returns 0 when allowed (and recorded), else the microseconds
# until a slot frees. TIME is the server's, so the fleet's clocks do not
# matter; redis.replicate_commands makes that legal before Redis 5.
_HIT = """
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local nth = redis.call('LINDEX', KEYS[1], -limit)
if nth then
  local left = tonumber(nth) + window - now
  if left > 0 then return left end
end
redis.call('RPUSH', KEYS[1], string.format('%.0f', now))
redis.call('LTRIM', KEYS[1], -limit, -1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 0
"""


class RedisRateLimiter:
    """A `RateLimiter` shared by every process that uses one Redis.

    The check and the record of a budget are one Lua script (EVALSHA,
    loaded again if the server lost it), so concurrent requests from a whole
    fleet never exceed a limit. It keeps the same exact sliding log as
    `MemoryRateLimiter` (see `RateLimit`), as a Redis list per user and per
    card of at most ``limit`` timestamps from the Redis server's own clock;
    each list expires (PEXPIRE) one window after its last request, so Redis
    holds only the keys active within the last window.

    Key names are *prefix*, then ``u:`` or ``c:``, then the SHA-256 of the
    user or card id: no id, however crafted, reaches another key, and no
    user id is written in clear. Each script touches one key, so the
    limiter works on Redis Cluster as it is.

    Use ``hit_user`` and ``hit_card`` with a ``redis.Redis`` client, and
    ``ahit_user`` and ``ahit_card`` with a ``redis.asyncio.Redis`` one. Give
    the client a ``socket_timeout`` so that a hung Redis fails fast.

    Args:
        redis_client: A ``redis.Redis`` or ``redis.asyncio.Redis``.
        per_user: The limit per user id, or ``None`` for none.
        per_card: The limit per card id, or ``None`` for none. At least one
            of the two is required.
        prefix: Where this limiter's keys live in Redis.
        fail_open: When Redis fails, allow the request (and log a warning)
            instead of raising `ServiceUnavailableError`. Off by default: a
            limit that cannot be counted refuses.

    Raises:
        ConfigurationError: Neither limit is given, the prefix is empty, or
            *redis_client* is not a redis-py client.
    """

    in_process = False  # a call to Redis: bounded by the request's deadline

    def __init__(
        self,
        redis_client: redis.Redis | redis.asyncio.Redis,
        *,
        per_user: RateLimit | None = None,
        per_card: RateLimit | None = None,
        prefix: str = "issuing_elements:rate:",
        fail_open: bool = False,
    ) -> None:
        _check_limits(per_user, per_card)
        self.per_user = per_user
        self.per_card = per_card
        self.prefix: str = _redis.check_prefix(prefix)
        self.fail_open = fail_open
        self._async = _redis.is_async(redis_client, "RedisRateLimiter")
        self._script: Any = redis_client.register_script(_HIT)

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(per_user={self.per_user!r}, "
            f"per_card={self.per_card!r}, prefix={self.prefix!r}, "
            f"fail_open={self.fail_open!r})"
        )

    def hit_user(self, user_id: str) -> float | None:
        """See `RateLimiter.hit_user`.

        Raises:
            ServiceUnavailableError: Redis failed, and *fail_open* is off.
            ConfigurationError: The client is a ``redis.asyncio`` one.
        """
        return self._hit("hit_user", "u", user_id, self.per_user)

    async def ahit_user(self, user_id: str) -> float | None:
        """Same as `hit_user`, but awaits a ``redis.asyncio`` client."""
        return await self._ahit("hit_user", "u", user_id, self.per_user)

    def hit_card(self, card_id: str) -> float | None:
        """See `RateLimiter.hit_card`.

        Raises:
            ServiceUnavailableError: Redis failed, and *fail_open* is off.
            ConfigurationError: The client is a ``redis.asyncio`` one.
        """
        return self._hit("hit_card", "c", card_id, self.per_card)

    async def ahit_card(self, card_id: str) -> float | None:
        """Same as `hit_card`, but awaits a ``redis.asyncio`` client."""
        return await self._ahit("hit_card", "c", card_id, self.per_card)

    def _hit(
        self, method: str, namespace: str, value: str, rate: RateLimit | None
    ) -> float | None:
        if self._async:
            raise _redis.wrong_client("RedisRateLimiter", method, async_client=True)
        if rate is None:
            return None  # no such limit: nothing to ask Redis
        keys, args = self._arguments(namespace, value, rate)
        try:
            with _redis.unavailable("the rate limiter"):
                wait = self._script(keys=keys, args=args)
        except ServiceUnavailableError as error:
            self._failed(error)
            return None
        return _seconds(wait)

    async def _ahit(
        self, method: str, namespace: str, value: str, rate: RateLimit | None
    ) -> float | None:
        if not self._async:
            raise _redis.wrong_client("RedisRateLimiter", method, async_client=False)
        if rate is None:
            return None
        keys, args = self._arguments(namespace, value, rate)
        try:
            with _redis.unavailable("the rate limiter"):
                wait = await self._script(keys=keys, args=args)
        except ServiceUnavailableError as error:
            self._failed(error)
            return None
        return _seconds(wait)

    def _arguments(
        self, namespace: str, value: str, rate: RateLimit
    ) -> tuple[list[str], list[int]]:
        key = _redis.key_name(self.prefix, namespace, value)
        return [key], [rate.limit, max(1, round(rate.window_seconds * 1_000_000))]

    def _failed(self, error: ServiceUnavailableError) -> None:
        if not self.fail_open:
            raise error
        logger.warning("%s; allowing the request (fail_open=True)", error)


def _seconds(microseconds: int) -> float | None:
    return microseconds / 1_000_000 if microseconds > 0 else None
