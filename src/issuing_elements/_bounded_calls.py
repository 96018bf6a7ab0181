"""Calls bounded by a deadline: worker threads, bulkheads, calls left in the background.

stripe-python bounds one attempt by its HTTP client's timeout (80 seconds by
default) and retries on top, and redis-py may wait as long, so a dependency
that accepts a connection and never answers holds a request for minutes.
Every call the performer (``_perform``) makes to Stripe or to a store goes
through here with a hard deadline:

* **Inline**, when the HTTP client already bounds the call within the
  deadline (``_stripe_client.client_bound``): the call runs on the caller's
  thread (or task), and costs nothing extra.
* **On a worker thread** otherwise (sync): the caller waits at most the
  deadline. The async twin runs the call as a shielded task under
  ``wait_for``.

A call abandoned at its deadline finishes in the background, and a key it
brings back after all is handed to ``on_late`` (the performer revokes it),
so that no key is left that nobody holds. ``on_late`` runs where the late
call finished (its worker thread, or a task of its loop).

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
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .exceptions import (
    IssuingElementsError,
    StripeUnavailableError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = [
    "MAX_CONCURRENT_CALLS",
    "MAX_THREADS",
    "Bulkhead",
    "acall_in_background",
    "acall_within",
    "call_in_background",
    "call_within",
    "stripe_too_busy",
    "stripe_too_slow",
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

    def result_within(self, seconds: float) -> T:
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
    on_timeout: Callable[[float], IssuingElementsError] = stripe_too_slow,
    bulkhead: Bulkhead | None = None,
    on_full: Callable[[str, float], IssuingElementsError] = stripe_too_busy,
) -> T:
    """``function()`` on a worker, or ``on_timeout(seconds)`` raised after *seconds*.

    *on_timeout* says who was too slow (Stripe, unless told otherwise: a
    Redis store too runs here) and logs it. The call holds a place in
    *bulkhead* until it is over; when it has none, or past `MAX_THREADS`,
    ``on_full(reason, seconds)`` is raised at once. (A call its own client
    bounds is not made here: the performer makes it on its own thread.)
    """
    if bulkhead is not None and not bulkhead.enter():
        raise on_full(bulkhead.why_refused(), seconds)
    call = _Call(function, on_late, on_timeout, bulkhead)
    if not _workers.submit(call):  # type: ignore[arg-type]  # the queue holds calls of any result
        if bulkhead is not None:
            bulkhead.leave()
        raise on_full(_threads_busy(), seconds)
    return call.result_within(seconds)


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
