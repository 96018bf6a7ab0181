"""Calling Stripe: within the issuer's deadline, on the event loop the client knows.

stripe-python bounds one attempt by its HTTP client's timeout (80 seconds by
default) and retries on top, so a Stripe that accepts a connection and never
answers holds a request for minutes. Every call here has a hard deadline:

* **Inline**, when the HTTP client already bounds the call within the
  deadline (`client_bound`): the call runs on the caller's thread (or
  task), and costs nothing extra. The issuer decides this once, at
  construction.
* **On a worker thread** otherwise (sync): the caller waits at most the
  deadline. The async twin runs the call as a shielded task under
  ``wait_for``.

A call abandoned at its deadline finishes in the background, and a key it
brings back after all is handed to ``on_late`` (the issuer revokes it), so
that no key is left that nobody holds. ``on_late`` runs where the late call
finished (its worker thread, or a task of its loop); a revocation from there
is called inline (``inline=True``): bounded by the HTTP client's own
timeout, not by the deadline, queued behind nothing.

An abandoned call no longer counts against the workers that new calls need:
every call gets an idle worker or a new one, so calls that hang do not make
later calls wait. It still holds a place in its `Bulkhead` (one per issuer
and dependency: Stripe, the rate limiter, the key ledger) until it is over,
so a dependency that hangs fills its own bulkhead and no other's: past
its limit a call to it is refused at once (``on_full``), and nothing else
waits. What remains is a safety valve on memory: past `MAX_THREADS` worker
threads alive at once, every issuer's calls together, a new call is
refused at once the same way. Workers beyond `MAX_IDLE` that fall idle
exit. Inline calls take no place: their own client bounds them.

stripe-python's async HTTP clients keep one connection pool bound to the
event loop that first used them; on any other loop a request can reach
Stripe and still fail, losing the key it created. The async path therefore
refuses, before calling Stripe, a client first used on another loop.

How `client_bound` counts, for stripe-python's own transports (any
other transport, or one whose ``request`` / ``request_async`` or backoff is
overridden, is unknown: the thread stays). One attempt is bounded by its
connect timeout plus its read timeout: ``RequestsClient(timeout=t)`` and
``HTTPXClient(timeout=t)`` by ``2 * t``, ``RequestsClient(timeout=(c, r))``
and ``HTTPXClient(timeout=httpx.Timeout(r, connect=c))`` by ``c + r``,
``AIOHTTPClient(timeout=t)`` by ``t`` (aiohttp's total);
``UrllibClient`` (no timeout) is unknown. The call is ``max_network_retries
+ 1`` attempts plus stripe-python's pauses between them (at most 0.5 s, 1 s,
2 s, 4 s, then 5 s each). Not counted: writing the small request body,
waiting for a free connection in a full pool, and a response trickled slower
than the read timeout allows per read; a hung Stripe does none of these.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import weakref
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import stripe

from .exceptions import (
    ConfigurationError,
    IssuingElementsError,
    StripeUnavailableError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = [
    "MAX_CONCURRENT_CALLS",
    "Bulkhead",
    "acall_in_background",
    "acall_within",
    "async_refusal",
    "call_in_background",
    "call_within",
    "check_event_loop",
    "client_bound",
    "runs_inline",
    "sync_refusal",
]

logger = logging.getLogger("issuing_elements")

T = TypeVar("T")

# Worker threads alive at once, busy or idle: a safety valve on memory, far
# above any one process's concurrency. Past it a call is refused at once.
MAX_THREADS = 512
# Idle workers kept for the next calls; one that falls idle beyond it exits.
MAX_IDLE = 64
# Calls in flight at once per issuer and dependency, by default: at about
# 0.3 s a call, 100 in flight ask some 300 calls a second, three times
# Stripe's default live-mode rate limit, and a healthy Redis never holds
# that many. Five dependencies all hung (an issuer's three and another's
# two) stay under MAX_THREADS.
MAX_CONCURRENT_CALLS = 100


class Bulkhead:
    """The calls one dependency of one issuer may have in flight at once.

    A call holds its place from `enter` until it is over, whether its
    caller waited for it or gave up at the deadline; so a dependency that
    hangs can fill its own bulkhead, and no other's. Thread-safe, and
    never blocks: a full bulkhead refuses.
    """

    __slots__ = ("_in_flight", "_lock", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        """The calls that hold a place now."""
        return self._in_flight

    def enter(self) -> bool:
        """Take a place for one call; ``False`` when all are taken."""
        with self._lock:
            if self._in_flight >= self.limit:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        """Give back the place of a call that is over."""
        with self._lock:
            self._in_flight -= 1

    def why_refused(self) -> str:
        """Why a call was refused when `enter` said no, for the log."""
        return (
            f"{self.limit} calls to it are in flight for this issuer, the most "
            "max_concurrent_calls allows"
        )


def stripe_too_slow(
    seconds: float, deadline: float | None = None
) -> IssuingElementsError:
    """What a call to Stripe past its deadline answers: 503, and one log line.

    *seconds* is what was left of the request's *deadline* for the call.
    """
    logger.error(
        "Stripe did not answer within the request's deadline of %s s (%.3g s "
        "were left for it); answering 503. The call finishes in the "
        "background; a key it brings back is revoked.",
        seconds if deadline is None else deadline,
        seconds,
    )
    return StripeUnavailableError(
        f"Stripe did not answer within {seconds:.3g} s.",
        retry_after=max(1, math.ceil(seconds)),
    )


def stripe_too_busy(reason: str, seconds: float) -> IssuingElementsError:
    """What a call to Stripe refused at once answers: 503, and one log line.

    *reason* says what is full; *seconds* is what was left of the deadline.
    """
    logger.error(
        "Refusing a call to Stripe at once (503): %s. Most are calls abandoned "
        "at the deadline that still wait on the HTTP client's own timeout; a "
        "shorter timeout on the StripeClient's http_client frees them sooner.",
        reason,
    )
    return StripeUnavailableError(
        "Too many calls to Stripe are waiting.",
        retry_after=max(1, math.ceil(seconds)),
    )


class _Call(Generic[T]):
    """One call handed to a worker, and the caller's claim on its result."""

    __slots__ = (
        "abandoned",
        "bulkhead",
        "done",
        "error",
        "finished",
        "function",
        "on_late",
        "on_timeout",
        "result",
        "state",
    )

    def __init__(
        self,
        function: Callable[[], T],
        on_late: Callable[[T], None] | None,
        on_timeout: Callable[[float], IssuingElementsError],
        bulkhead: Bulkhead | None = None,
    ) -> None:
        self.function = function
        self.on_late = on_late
        self.on_timeout = on_timeout
        self.bulkhead = bulkhead
        self.result: T | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.abandoned = False
        self.state = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()

    def run(self, free: Callable[[], bool]) -> bool:
        """Run the call; *free()* marks its worker idle and says if it stays."""
        with self.state:
            if self.abandoned:
                self._leave()
                return free()  # the caller gave up before a worker was free: no call
        try:
            self.result = self.function()
        except BaseException as error:  # noqa: BLE001 - handed to the caller as it is
            self.error = error
        if not self._finish():
            # Idle and out of its bulkhead before the caller wakes, so that
            # its next call finds this worker and its place.
            self._leave()
            stays = free()
            self.done.release()
            return stays
        self.done.release()
        if self.error is None and self.on_late is not None:
            try:
                self.on_late(self.result)  # type: ignore[arg-type]  # set when no error
            except Exception:
                logger.exception("Handling a Stripe call that finished late failed.")
        self._leave()
        return free()

    def _leave(self) -> None:
        if self.bulkhead is not None:
            self.bulkhead.leave()

    def _finish(self) -> bool:
        """Mark the call finished; whether its caller had given up on it."""
        with self.state:
            self.finished = True
            return self.abandoned

    def wait(self, seconds: float) -> T:
        if not self.done.acquire(timeout=seconds):
            with self.state:
                self.abandoned = not self.finished
            if self.abandoned:
                raise self.on_timeout(seconds)
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when no error


class _Workers:
    """Daemon worker threads, started on demand, at most `MAX_THREADS`.

    Every call gets an idle worker or a new one, never a queue behind calls
    that hang. Daemon threads, unlike `concurrent.futures`' workers,
    never make the interpreter wait at exit for a call that hangs.
    """

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call[object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0
        self.submitted = 0  # calls handed to a worker, ever: tests read it

    def submit(self, call: _Call[object]) -> bool:
        """Hand *call* to a worker; ``False`` when `MAX_THREADS` are busy."""
        with self._lock:
            start = not self._idle
            if not start:
                self._idle -= 1  # reserved for this call
            elif self._count < MAX_THREADS:
                self._count += 1
            else:
                return False
            self.submitted += 1
        if start:
            try:
                threading.Thread(
                    target=self._work, name="issuing-elements-stripe", daemon=True
                ).start()
            except RuntimeError:  # the system refused a thread: as past the cap
                with self._lock:
                    self._count -= 1
                return False
        self._calls.put(call)
        return True

    def _work(self) -> None:
        while self._calls.get().run(self._free):
            pass

    def _free(self) -> bool:
        """Count this worker idle, or retire it past `MAX_IDLE`."""
        with self._lock:
            if self._idle >= MAX_IDLE:
                self._count -= 1
                return False
            self._idle += 1
            return True


_workers = _Workers()


def _threads_busy() -> str:
    return (
        f"{MAX_THREADS} worker threads are busy in this process (every "
        "issuer's calls to Stripe and to its stores together)"
    )


def call_within(  # noqa: PLR0913 - the call, its bound, and who answers for it
    seconds: float,
    function: Callable[[], T],
    on_late: Callable[[T], None] | None = None,
    *,
    inline: bool = False,
    on_timeout: Callable[[float], IssuingElementsError] = stripe_too_slow,
    bulkhead: Bulkhead | None = None,
    on_full: Callable[[str, float], IssuingElementsError] = stripe_too_busy,
) -> T:
    """``function()``, or ``on_timeout(seconds)`` raised after *seconds*.

    *inline*: call it on this thread, bounded by the HTTP client alone (see
    `runs_inline`; and for a call already in the background, such as
    the revocation of a late key, whose bound is the HTTP client's own).
    *on_timeout* says who was too slow (Stripe, unless told otherwise: a
    Redis store too runs here) and logs it. Otherwise the call holds a
    place in *bulkhead* until it is over; when it has none, or past
    `MAX_THREADS`, ``on_full(reason, seconds)`` is raised at once.
    """
    if inline:
        return function()
    if bulkhead is not None and not bulkhead.enter():
        raise on_full(bulkhead.why_refused(), seconds)
    call = _Call(function, on_late, on_timeout, bulkhead)
    if not _workers.submit(call):  # type: ignore[arg-type]  # the queue holds calls of any result
        if bulkhead is not None:
            bulkhead.leave()
        raise on_full(_threads_busy(), seconds)
    return call.wait(seconds)


def call_in_background(function: Callable[[], object]) -> None:
    """``function()`` on a worker thread; nobody waits for it.

    For cleanup after a request has its answer (finding a key whose answer
    was lost); *function* handles its own errors. Past `MAX_THREADS`, it is
    run on this thread instead: cleanup is never dropped.
    """
    call: _Call[object] = _Call(function, None, stripe_too_slow)
    if not _workers.submit(call):
        function()


def acall_in_background(function: Callable[[], Awaitable[object]]) -> None:
    """Same as `call_in_background`, but a task of the running loop."""
    task = asyncio.ensure_future(function())
    _late_tasks.add(task)
    task.add_done_callback(_late_tasks.discard)


# Tasks abandoned at their deadline, kept alive until they finish.
_late_tasks: set[asyncio.Future[Any]] = set()


async def acall_within(  # noqa: PLR0913 - the same as call_within's
    seconds: float,
    function: Callable[[], Awaitable[T]],
    on_late: Callable[[T], Awaitable[None]] | None = None,
    *,
    inline: bool = False,
    on_timeout: Callable[[float], IssuingElementsError] = stripe_too_slow,
    bulkhead: Bulkhead | None = None,
    on_full: Callable[[str, float], IssuingElementsError] = stripe_too_busy,
) -> T:
    """Same as `call_within`, but async: ``await function()``, bounded.

    The call runs as a task of its own even *inline* (then with no
    ``wait_for``, and no place in *bulkhead*): a caller that is cancelled,
    as an ASGI server cancels a request whose browser left, abandons the
    call instead of cutting it, so that a key Stripe issues meanwhile still
    reaches ``on_late``. An abandoned task holds its place until it ends.
    """
    place = None if inline else bulkhead
    if place is not None and not place.enter():
        raise on_full(place.why_refused(), seconds)
    try:
        task: asyncio.Future[T] = asyncio.ensure_future(function())
    except BaseException:
        if place is not None:
            place.leave()
        raise
    if place is not None:
        # Before the shield's own callback: the place is free when the caller wakes.
        leave = place.leave
        task.add_done_callback(lambda _: leave())
    try:
        if inline:
            return await asyncio.shield(task)
        return await asyncio.wait_for(asyncio.shield(task), seconds)
    except asyncio.TimeoutError:
        _abandon(task, on_late)
        raise on_timeout(seconds) from None
    except asyncio.CancelledError:
        _abandon(task, on_late)  # the caller went away; the call goes on
        raise


def _abandon(
    task: asyncio.Future[T], on_late: Callable[[T], Awaitable[None]] | None
) -> None:
    def finished(done: asyncio.Future[T]) -> None:
        _late_tasks.discard(done)
        if done.cancelled() or done.exception() is not None or on_late is None:
            return
        cleanup = asyncio.ensure_future(on_late(done.result()))
        _late_tasks.add(cleanup)
        cleanup.add_done_callback(_late_tasks.discard)

    _late_tasks.add(task)
    task.add_done_callback(finished)


# -- the HTTP client's own bound ---------------------------------------------


def runs_inline(
    client: stripe.StripeClient,
    max_network_retries: int,
    seconds: float,
    *,
    asynchronous: bool = False,
) -> bool:
    """Whether *client*'s HTTP client bounds a call within *seconds* on its own."""
    bound = client_bound(client, max_network_retries, asynchronous=asynchronous)
    return bound is not None and bound <= seconds


def client_bound(
    client: stripe.StripeClient,
    max_network_retries: int,
    *,
    asynchronous: bool = False,
) -> float | None:
    """The most seconds a call through *client* can wait on Stripe, or ``None``.

    Every attempt and the pauses between them, counted as the module
    docstring says; ``None`` when the HTTP client is not one of
    stripe-python's own or has no timeout: then the bound is unknown.
    """
    http: object = _http_client(client)
    if not isinstance(http, stripe.HTTPClient) or not _own_retries(http):
        return None
    if asynchronous:
        transport: object = http
        if _same(http, "request_async", stripe.HTTPClient):
            transport = getattr(http, "_async_fallback_client", None)
        attempt = _async_attempt_bound(transport)
    else:
        attempt = _attempt_bound(http)
    if attempt is None:
        return None
    return (max_network_retries + 1) * attempt + _pauses(max_network_retries)


def _own_retries(http: stripe.HTTPClient) -> bool:
    """Whether *http* retries and pauses as stripe-python's ``HTTPClient`` does."""
    return all(
        _same(http, name, stripe.HTTPClient)
        for name in (
            "_request_with_retries_internal",
            "_request_with_retries_internal_async",
            "_sleep_time_seconds",
            "_add_jitter_time",
        )
    )


def _pauses(retries: int) -> float:
    """stripe-python's pauses between *retries* + 1 attempts, at their longest."""
    first = float(stripe.HTTPClient.INITIAL_DELAY)
    most = float(stripe.HTTPClient.MAX_DELAY)
    return sum(
        (
            max(first, min(first * 2.0 ** (retry - 1), most))
            for retry in range(1, retries + 1)
        ),
        0.0,
    )


def _same(http: object, name: str, owner: type[object]) -> bool:
    """Whether *http*'s class has *owner*'s own *name*, not an override."""
    return getattr(type(http), name, None) is getattr(owner, name)


def _attempt_bound(http: object) -> float | None:
    requests_client = stripe.RequestsClient
    if _same(http, "request", requests_client) and _same(
        http, "_request_internal", requests_client
    ):
        timeout = getattr(http, "_timeout", None)
        if isinstance(timeout, tuple) and len(timeout) == 2:
            return _sum(*timeout)
        return _sum(timeout, timeout)
    if _same(http, "request", stripe.HTTPXClient):
        return _httpx_attempt_bound(http)
    return None


def _async_attempt_bound(http: object) -> float | None:
    if _same(http, "request_async", stripe.HTTPXClient):
        return _httpx_attempt_bound(http)
    if _same(http, "request_async", stripe.AIOHTTPClient) and _same(
        http, "_get_request_args_kwargs", stripe.AIOHTTPClient
    ):
        timeout = getattr(http, "_timeout", None)
        total = _seconds(timeout)  # a number is aiohttp's total
        if total is None:
            total = _seconds(getattr(timeout, "total", None))
        if total is not None:
            return total
        connect = getattr(timeout, "connect", None)
        if connect is None:
            connect = getattr(timeout, "sock_connect", None)
        return _sum(connect, getattr(timeout, "sock_read", None))
    return None


def _httpx_attempt_bound(http: object) -> float | None:
    if not _same(http, "_get_request_args_kwargs", stripe.HTTPXClient):
        return None
    timeout = getattr(http, "_timeout", None)
    if _seconds(timeout) is not None:
        return _sum(timeout, timeout)
    return _sum(getattr(timeout, "connect", None), getattr(timeout, "read", None))


def _seconds(value: object) -> float | None:
    """*value* as a positive, finite number of seconds, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not 0 < value < math.inf:
        return None
    return float(value)


def _sum(connect: object, read: object) -> float | None:
    first, second = _seconds(connect), _seconds(read)
    if first is None or second is None:
        return None
    return first + second


# -- which twins the HTTP client serves ---------------------------------------

SYNC_METHODS = "the sync methods (handle, issue, ...)"
ASYNC_METHODS = "the async methods (ahandle, aissue, ...)"


def sync_refusal(client: stripe.StripeClient) -> str | None:
    """Why the sync methods can never call Stripe through *client*, or ``None``.

    Only what is certain: stripe-python's async-only transports
    (``AIOHTTPClient``, an ``HTTPXClient`` without ``allow_sync_methods``)
    and an ``HTTPClient`` with no ``request`` of its own. The text names
    the fix, for the operator's log.
    """
    http: object = _http_client(client)
    if not isinstance(http, stripe.HTTPClient):
        return None
    name = _name(http)
    if isinstance(http, stripe.HTTPXClient) and _same(
        http, "request", stripe.HTTPXClient
    ):
        if getattr(http, "_client", None) is not None:
            return None
        why = f"its HTTP client, {name}, was built without allow_sync_methods=True"
        fix = "build it as stripe.HTTPXClient(allow_sync_methods=True)"
    elif _same(http, "request", stripe.AIOHTTPClient) or _same(
        http, "request", stripe.HTTPClient
    ):
        why = f"its HTTP client, {name}, makes async requests only"
        fix = (
            "give it a sync transport beside this one: http_client="
            f"stripe.RequestsClient(async_fallback_client={name}(...))"
        )
    else:
        return None
    return (
        f"The StripeClient cannot serve {SYNC_METHODS}: {why}. Fix: call "
        f"{ASYNC_METHODS} from async code, or {fix}."
    )


def async_refusal(client: stripe.StripeClient) -> str | None:
    """Why the async methods can never call Stripe through *client*, or ``None``.

    Only what is certain: an HTTP client with no ``request_async`` of its
    own and no async fallback (or stripe-python's stand-in for a missing
    httpx and aiohttp). The text names the fix, for the operator's log.
    """
    http: object = _http_client(client)
    if not isinstance(http, stripe.HTTPClient):
        return None
    transport: object = http
    for _ in range(_MAX_FALLBACKS):  # a fallback may have its own fallback
        if not _same(transport, "request_async", stripe.HTTPClient):
            break
        transport = getattr(transport, "_async_fallback_client", None)
    if transport is None:
        why = (
            f"its HTTP client, {_name(http)}, makes sync requests only and has "
            "no async_fallback_client"
        )
    elif type(transport).__name__ == "NoImportFoundAsyncClient":
        why = "no async HTTP library (aiohttp or httpx) is installed"
    else:
        return None
    return (
        f"The StripeClient cannot serve {ASYNC_METHODS}: {why}. Fix: call "
        f"{SYNC_METHODS}, or give it an async transport: http_client="
        "stripe.RequestsClient(async_fallback_client=stripe.AIOHTTPClient()) "
        "(pip install 'issuing-elements[async]')."
    )


_MAX_FALLBACKS = 4


def _http_client(client: stripe.StripeClient) -> object:
    return getattr(getattr(client, "_requestor", None), "_client", None)


def _name(http: object) -> str:
    kind = type(http)
    own = getattr(stripe, kind.__name__, None) is kind
    return f"stripe.{kind.__name__}" if own else kind.__qualname__


# -- the event loop -----------------------------------------------------------

_client_loops: weakref.WeakKeyDictionary[
    stripe.StripeClient, weakref.ReferenceType[asyncio.AbstractEventLoop]
] = weakref.WeakKeyDictionary()
_client_loops_lock = threading.Lock()


def check_event_loop(client: stripe.StripeClient) -> None:
    """Refuse to call Stripe's async API from a second event loop.

    Raises:
        ConfigurationError: *client* first made an async call on another
            event loop (the endpoint answers 500, and Stripe is not called).
    """
    loop = asyncio.get_running_loop()
    with _client_loops_lock:
        first = _client_loops.get(client)
        if first is None:
            _client_loops[client] = weakref.ref(loop)
            return
    if first() is loop:
        return
    logger.error(
        "This StripeClient made its first async call on another event loop. "
        "stripe-python's async HTTP clients (HTTPXClient, AIOHTTPClient) keep "
        "their connections on that loop, so a call from this one can reach "
        "Stripe and still fail, losing the key. Refusing before calling "
        "Stripe. Fix: create the StripeClient and the issuer on the event "
        "loop that serves requests (an ASGI lifespan, or one per "
        "asyncio.run()), or call the sync methods (handle, issue) where "
        "each request runs on a new loop, as Django's async views do under "
        "WSGI."
    )
    raise ConfigurationError(
        "The StripeClient is bound to another event loop: create one per event "
        "loop, or use the sync methods."
    )
