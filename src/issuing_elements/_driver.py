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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["Flow", "Wait", "arun", "run", "wait"]

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


def run(flow: Flow[R]) -> R:
    """Drive *flow* to its end, doing each wait the sync way."""
    sent: object = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(sent) if error is None else flow.throw(error)
        except StopIteration as stop:
            result: R = stop.value
            return result
        try:
            sent, error = step.synchronous(), None
        except BaseException as caught:  # noqa: BLE001 - the flow decides; it may clean up
            sent, error = None, caught


async def arun(flow: Flow[R]) -> R:
    """Same as `run`, but async: each wait is awaited."""
    sent: object = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(sent) if error is None else flow.throw(error)
        except StopIteration as stop:
            result: R = stop.value
            return result
        try:
            sent, error = await step.asynchronous(), None
        except BaseException as caught:  # noqa: BLE001 - the flow decides; it may clean up
            sent, error = None, caught
