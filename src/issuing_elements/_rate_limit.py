"""Rate limits per user and per card: one protocol, in memory or in Redis.

Both implementations keep the same exact *sliding log*: for each user and
each card, the times of its last ``limit`` allowed requests. A request is
allowed when fewer than ``limit`` of those fall within the last
``window_seconds``; it is then recorded in both logs at once. A refused
request records nothing, in either log: it consumed no key, so a client that
waits the returned seconds is served, and the limit means exactly "at most
``limit`` keys per window", never more, at no window boundary.

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
    """Counts requests per user and per card, and says when to refuse one.

    `MemoryRateLimiter` serves one process; `RedisRateLimiter` a fleet.
    """

    def hit(self, user_id: str, card_id: str) -> float | None:
        """Count one request by *user_id* for *card_id*, if both limits allow it.

        Every call is checked against the user's limit and the card's limit
        together: one request counts for both, or, when either limit
        refuses it, for neither.

        Returns:
            ``None`` when the request is allowed (and counted), else the
            seconds (greater than 0) until a slot frees: the ``Retry-After``,
            rounded up by the issuer.
        """
        ...

    async def ahit(self, user_id: str, card_id: str) -> float | None:
        """Same as `hit`, but awaitable."""
        ...


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
    """The sliding logs of one limit (users or cards), evicting as time passes.

    ``logs`` is ordered by each key's newest timestamp, oldest first (a key
    moves to the end when a request is recorded), so the keys whose window
    has passed entirely are always at the front and leave in amortized
    constant time.
    """

    def __init__(self, rate: RateLimit, max_keys: int) -> None:
        self.limit = rate.limit
        self.window = float(rate.window_seconds)
        self.max_keys = max_keys
        self.logs: OrderedDict[str, list[float]] = OrderedDict()

    def wait(self, key: str, now: float) -> float | None:
        self._evict_passed(now)
        times = self.logs.get(key)
        if times is None or len(times) < self.limit:
            return None
        left = times[0] + self.window - now
        return left if left > 0 else None

    def record(self, key: str, now: float) -> None:
        times = self.logs.pop(key, [])
        times.append(now)
        if len(times) > self.limit:
            del times[0]
        self.logs[key] = times
        if len(self.logs) > self.max_keys:
            self.logs.popitem(last=False)

    def _evict_passed(self, now: float) -> None:
        logs = self.logs
        while logs:
            times = next(iter(logs.values()))
            if times[-1] + self.window > now:
                return
            logs.popitem(last=False)


class MemoryRateLimiter:
    """A `RateLimiter` for one process: thread-safe and task-safe, bounded.

    Each user and each card has a sliding log of at most ``limit``
    timestamps (see `RateLimit`). A key leaves the table as soon as its
    whole window has passed, so the table holds only the keys seen within
    the last window. Only allowed requests create entries, so a user's
    requests add at most one entry per slot of its own limit.

    Should more than *max_keys* users (or cards) be active within one window,
    the one least recently allowed is forgotten to make room: that key
    starts again with a full allowance. Refusing newcomers instead would let
    whoever can make that many accounts lock everyone else out. Memory is
    therefore at most about ``max_keys * (120 + 32 * limit)`` bytes per
    table (about 45 MB for the default 100,000 keys at a limit of 10).

    One lock guards both tables; nothing awaits while holding it, so
    `ahit` is safe on an event loop and across threads.

    Args:
        per_user: The limit per user id, or ``None`` for none.
        per_card: The limit per card id, or ``None`` for none. At least one
            of the two is required.
        clock: Seconds on a monotonic clock; tests pass a fake one.
        max_keys: How many users (and, separately, cards) the table holds
            at most.

    Raises:
        ConfigurationError: Neither limit is given, or *max_keys* < 1.
    """

    def __init__(
        self,
        *,
        per_user: RateLimit | None = None,
        per_card: RateLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        _check_limits(per_user, per_card)
        given: object = max_keys
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigurationError(f"max_keys must be an int >= 1, not {given!r}")
        self.per_user = per_user
        self.per_card = per_card
        self._clock = clock
        self._lock = threading.Lock()
        self._users = None if per_user is None else _Logs(per_user, max_keys)
        self._cards = None if per_card is None else _Logs(per_card, max_keys)

    def __repr__(self) -> str:
        return (
            f"MemoryRateLimiter(per_user={self.per_user!r}, per_card={self.per_card!r})"
        )

    def hit(self, user_id: str, card_id: str) -> float | None:
        """See `RateLimiter.hit`."""
        pairs = [
            (logs, key)
            for logs, key in ((self._users, user_id), (self._cards, card_id))
            if logs is not None
        ]
        with self._lock:
            # Read inside the lock, so that every log stays in time order.
            now = self._clock()
            waits = [wait for logs, key in pairs if (wait := logs.wait(key, now))]
            if waits:
                return max(waits)
            for logs, key in pairs:
                logs.record(key, now)
        return None

    async def ahit(self, user_id: str, card_id: str) -> float | None:
        """Same as `hit`, but awaitable (it never waits: the table is local)."""
        return self.hit(user_id, card_id)

    def _sizes(self) -> tuple[int, int]:
        """How many users and cards the tables hold now (for tests and benchmarks)."""
        with self._lock:
            return (
                0 if self._users is None else len(self._users.logs),
                0 if self._cards is None else len(self._cards.logs),
            )


# KEYS: one sliding log (a Redis list of microsecond timestamps, oldest
# first) per configured limit. ARGV: limit and window in microseconds for each.
# Returns 0 when allowed (and recorded in every log), else the microseconds
# until a slot frees. TIME is the server's, so the fleet's clocks do not
# matter; redis.replicate_commands makes that legal before Redis 5.
_HIT = """
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local wait = 0
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local nth = redis.call('LINDEX', KEYS[i], -limit)
  if nth then
    local left = tonumber(nth) + window - now
    if left > wait then wait = left end
  end
end
if wait > 0 then return wait end
local stamp = string.format('%.0f', now)
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  redis.call('RPUSH', KEYS[i], stamp)
  redis.call('LTRIM', KEYS[i], -limit, -1)
  redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000))
end
return 0
"""


class RedisRateLimiter:
    """A `RateLimiter` shared by every process that uses one Redis.

    The check and the record are one Lua script (EVALSHA, loaded again if
    the server lost it), so concurrent requests from a whole fleet never
    exceed a limit. It keeps the same exact sliding log as
    `MemoryRateLimiter` (see `RateLimit`), as a Redis list per user and per
    card of at most ``limit`` timestamps from the Redis server's own clock;
    each list expires (PEXPIRE) one window after its last request, so Redis
    holds only the keys active within the last window.

    Key names are *prefix*, then ``u:`` or ``c:``, then the SHA-256 of the
    user or card id: no id, however crafted, reaches another key, and no
    user id is written in clear. On Redis Cluster, put a hash tag in the
    prefix (``"{issuing_elements}:rate:"``) so that a user's and a card's
    lists share a slot, as one script needs.

    Use ``hit`` with a ``redis.Redis`` client and ``ahit`` with a
    ``redis.asyncio.Redis`` one. Give the client a ``socket_timeout`` so
    that a hung Redis fails fast.

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
        ConfigurationError: Neither limit is given, or the prefix is empty.
    """

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
        self._async = _redis.is_async(redis_client)
        self._script: Any = redis_client.register_script(_HIT)

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(per_user={self.per_user!r}, "
            f"per_card={self.per_card!r}, prefix={self.prefix!r}, "
            f"fail_open={self.fail_open!r})"
        )

    def hit(self, user_id: str, card_id: str) -> float | None:
        """See `RateLimiter.hit`.

        Raises:
            ServiceUnavailableError: Redis failed, and *fail_open* is off.
            ConfigurationError: The client is a ``redis.asyncio`` one.
        """
        if self._async:
            raise _redis.wrong_client("RedisRateLimiter", "hit", async_client=True)
        keys, args = self._arguments(user_id, card_id)
        try:
            with _redis.unavailable("the rate limiter"):
                wait = self._script(keys=keys, args=args)
        except ServiceUnavailableError as error:
            self._failed(error)
            return None
        return _seconds(wait)

    async def ahit(self, user_id: str, card_id: str) -> float | None:
        """Same as `hit`, but awaits a ``redis.asyncio`` client."""
        if not self._async:
            raise _redis.wrong_client("RedisRateLimiter", "hit", async_client=False)
        keys, args = self._arguments(user_id, card_id)
        try:
            with _redis.unavailable("the rate limiter"):
                wait = await self._script(keys=keys, args=args)
        except ServiceUnavailableError as error:
            self._failed(error)
            return None
        return _seconds(wait)

    def _arguments(self, user_id: str, card_id: str) -> tuple[list[str], list[int]]:
        keys: list[str] = []
        args: list[int] = []
        for namespace, value, rate in (
            ("u", user_id, self.per_user),
            ("c", card_id, self.per_card),
        ):
            if rate is not None:
                keys.append(_redis.key_name(self.prefix, namespace, value))
                args += [rate.limit, max(1, round(rate.window_seconds * 1_000_000))]
        return keys, args

    def _failed(self, error: ServiceUnavailableError) -> None:
        if not self.fail_open:
            raise error
        logger.warning("%s; allowing the request (fail_open=True)", error)


def _seconds(microseconds: int) -> float | None:
    return microseconds / 1_000_000 if microseconds > 0 else None
