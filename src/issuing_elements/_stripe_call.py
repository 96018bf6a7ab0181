"""Calling Stripe: within the issuer's deadline, on the event loop the client knows.

stripe-python bounds one attempt by its HTTP client's timeout (80 seconds by
default) and retries on top, so a Stripe that accepts a connection and never
answers holds a request for minutes. Every call here has a hard deadline,
whatever the HTTP client does: a sync call runs on a worker thread and the
caller waits at most the deadline; an async call runs as a shielded task.
A call abandoned at its deadline finishes in the background, and a key it
brings back after all is handed to ``on_late`` (the issuer revokes it), so
that no key is left that nobody holds.

stripe-python's async HTTP clients keep one connection pool bound to the
event loop that first used them; on any other loop a request can reach
Stripe and still fail, losing the key it created. The async path therefore
refuses, before calling Stripe, a client first used on another loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import weakref
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .exceptions import ConfigurationError, StripeUnavailableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import stripe

__all__ = ["acall_within", "call_within", "check_event_loop"]

logger = logging.getLogger("issuing_elements")

T = TypeVar("T")

# Enough for the concurrency of any one process's web server; past it, calls
# wait for a worker (and still answer by their deadline).
MAX_WORKERS = 64


def _deadline_error(seconds: float) -> StripeUnavailableError:
    logger.error(
        "Stripe did not answer within the issuer's deadline of %s s; answering "
        "503. The call finishes in the background; a key it brings back is "
        "revoked.",
        seconds,
    )
    return StripeUnavailableError(
        f"Stripe did not answer within {seconds} s.", retry_after=max(1, int(seconds))
    )


class _Call(Generic[T]):
    """One call handed to a worker, and the caller's claim on its result."""

    __slots__ = (
        "abandoned",
        "done",
        "error",
        "finished",
        "function",
        "on_late",
        "result",
        "state",
    )

    def __init__(
        self, function: Callable[[], T], on_late: Callable[[T], None] | None
    ) -> None:
        self.function = function
        self.on_late = on_late
        self.result: T | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.abandoned = False
        self.state = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()

    def run(self) -> None:
        with self.state:
            if self.abandoned:
                return  # the caller gave up before a worker was free: no call at all
        try:
            self.result = self.function()
        except BaseException as error:  # noqa: BLE001 - handed to the caller as it is
            self.error = error
        if self._finish() and self.error is None and self.on_late is not None:
            self.on_late(self.result)  # type: ignore[arg-type]  # set when no error

    def _finish(self) -> bool:
        """Mark the call finished; whether its caller had given up on it."""
        with self.state:
            self.finished = True
            late = self.abandoned
        self.done.release()
        return late

    def wait(self, seconds: float) -> T:
        if not self.done.acquire(timeout=seconds):
            with self.state:
                self.abandoned = not self.finished
            if self.abandoned:
                raise _deadline_error(seconds)
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when no error


class _Workers:
    """Daemon worker threads, started on demand, at most :data:`MAX_WORKERS`.

    Daemon threads, unlike :mod:`concurrent.futures`' workers, never make the
    interpreter wait at exit for a call that hangs.
    """

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call[object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def submit(self, call: _Call[object]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # reserved for this call
            elif self._count < MAX_WORKERS:
                self._count += 1
                threading.Thread(
                    target=self._work, name="issuing-elements-stripe", daemon=True
                ).start()
        self._calls.put(call)

    def _work(self) -> None:
        while True:
            self._calls.get().run()
            with self._lock:
                self._idle += 1


_workers = _Workers()


def call_within(
    seconds: float,
    function: Callable[[], T],
    on_late: Callable[[T], None] | None = None,
) -> T:
    """``function()``, or :class:`StripeUnavailableError` after *seconds*."""
    call = _Call(function, on_late)
    _workers.submit(call)  # type: ignore[arg-type]  # the queue holds calls of any result
    return call.wait(seconds)


# Tasks abandoned at their deadline, kept alive until they finish.
_late_tasks: set[asyncio.Future[Any]] = set()


async def acall_within(
    seconds: float,
    function: Callable[[], Awaitable[T]],
    on_late: Callable[[T], Awaitable[None]] | None = None,
) -> T:
    """Same as :func:`call_within`, but async: ``await function()``, bounded."""
    task: asyncio.Future[T] = asyncio.ensure_future(function())
    try:
        return await asyncio.wait_for(asyncio.shield(task), seconds)
    except asyncio.TimeoutError:
        _abandon(task, on_late)
        raise _deadline_error(seconds) from None
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
