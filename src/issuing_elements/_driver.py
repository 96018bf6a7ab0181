"""The driver: one flow, run the sync way or the async way.

A flow is a generator that makes every decision itself and yields a
`Wait` wherever it must wait on something outside (the rate limiter,
the authorizer, Stripe, the key ledger). A wait knows how to do its work
both ways; `run` does it the sync way and `arun` awaits it, and
each sends the result (or throws the exception, cancellation and
``KeyboardInterrupt`` included, so that a flow can clean up before it
re-raises) back into the flow. So the sync and async twins of every public
method share every line that decides.

Flows call `wait` (``result = yield from wait(...)``) rather than
yield a `Wait` themselves, so that the result comes back typed.

Whatever leaves a flow as an exception, the library's own errors and a
``KeyboardInterrupt`` passing through alike, leaves it scrubbed
(`scrub`): error trackers record the local variables of a traceback's
frames (sentry-sdk does by default), and a flow's frames held Stripe's
answer, the key and the session. The runners themselves keep no answer in
a variable of their own while the flow runs, for the same trackers read the
stack's locals when an ERROR line is logged.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["Flow", "Wait", "arun", "run", "scrub", "wait"]

T = TypeVar("T")
R = TypeVar("R")


class Wait(Generic[T]):
    """One wait of a flow: how to do it sync, and how async."""

    __slots__ = ("asynchronous", "synchronous")

    def __init__(
        self,
        synchronous: Callable[[], T],
        asynchronous: Callable[[], Awaitable[T]],
    ) -> None:
        self.synchronous = synchronous
        self.asynchronous = asynchronous


# What a flow is: it yields waits, is sent their results, and returns R.
Flow = Generator[Wait[Any], Any, R]


def wait(
    synchronous: Callable[[], T], asynchronous: Callable[[], Awaitable[T]]
) -> Generator[Wait[T], T, T]:
    """Yield one wait and return its result: ``x = yield from wait(f, af)``."""
    return (yield Wait(synchronous, asynchronous))


class _Pending:
    """What a wait gave, until the flow takes it: nobody else holds it meanwhile."""

    __slots__ = ("error", "value")

    def __init__(self) -> None:
        self.value: object = None
        self.error: BaseException | None = None

    def resume(self, flow: Flow[Any]) -> Wait[Any]:
        """Send the value, or throw the error, into *flow*, forgetting it first."""
        if self.error is not None:
            return flow.throw(self._take_error())
        return flow.send(self._take_value())

    def _take_value(self) -> object:
        value, self.value = self.value, None
        return value

    def _take_error(self) -> BaseException:
        error, self.error = self.error, None
        assert error is not None  # noqa: S101 - resume checked it
        return error


def run(flow: Flow[R]) -> R:
    """Drive *flow* to its end, doing each wait the sync way."""
    pending = _Pending()
    while True:
        try:
            step = pending.resume(flow)
        except StopIteration as stop:
            result: R = stop.value
            return result
        except BaseException as error:
            scrub(error)
            raise
        try:
            pending.value = step.synchronous()
        except BaseException as caught:  # noqa: BLE001 - the flow decides; it may clean up
            pending.error = caught


async def arun(flow: Flow[R]) -> R:
    """Same as `run`, but async: each wait is awaited."""
    pending = _Pending()
    while True:
        try:
            step = pending.resume(flow)
        except StopIteration as stop:
            result: R = stop.value
            return result
        except BaseException as error:
            scrub(error)
            raise
        try:
            pending.value = await step.asynchronous()
        except BaseException as caught:  # noqa: BLE001 - the flow decides; it may clean up
            pending.error = caught


def scrub(error: BaseException) -> None:
    """Strip *error* and every exception chained to it of what a secret may hide in.

    The local variables of every finished frame of their tracebacks are
    cleared (the frames stay, with their code and line: a tracker still
    shows where it happened); a context that was suppressed
    (``raise ... from None``), which no traceback shows, is dropped.
    """
    seen: set[int] = set()
    stack = [error]
    while stack:
        chained = stack.pop()
        if id(chained) in seen:
            continue
        seen.add(id(chained))
        if chained.__suppress_context__:
            chained.__context__ = None
        traceback.clear_frames(chained.__traceback__)
        stack.extend(
            linked
            for linked in (chained.__cause__, chained.__context__)
            if linked is not None
        )
