"""The driver: one flow, stepped the sync way or the async way.

A flow (``_flows``) yields what it needs (``_needs``); `run` hands each
need to a performer's ``perform`` and `arun` awaits its ``aperform``
(``_perform``), and each sends the result back into the flow, or throws
the exception in (cancellation and ``KeyboardInterrupt`` included, so that
a flow can clean up before it re-raises). So the sync and async twins of
every public method share every line that decides.

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
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._needs import Flow, Need

__all__ = ["arun", "run", "scrub"]

R = TypeVar("R")


def run(flow: Flow[R], perform: Callable[[Need[Any]], Any]) -> R:
    """Drive *flow* to its end, each need done by *perform*."""
    # What a need gave waits in a box until the flow takes it out (pop):
    # no variable of this frame holds it while the flow runs.
    given: list[Any] = [None]
    raised: list[BaseException] = []
    while True:
        try:
            need = flow.throw(raised.pop()) if raised else flow.send(given.pop())
        except StopIteration as stop:
            result: R = stop.value
            return result
        except BaseException as error:
            scrub(error)
            raise
        try:
            given.append(perform(need))
        except BaseException as caught:  # noqa: BLE001 - the flow decides; it may clean up
            raised.append(caught)


async def arun(flow: Flow[R], perform: Callable[[Need[Any]], Awaitable[Any]]) -> R:
    """Same as `run`, but async: each need is awaited."""
    given: list[Any] = [None]
    raised: list[BaseException] = []
    while True:
        try:
            need = flow.throw(raised.pop()) if raised else flow.send(given.pop())
        except StopIteration as stop:
            result: R = stop.value
            return result
        except BaseException as error:
            scrub(error)
            raise
        try:
            given.append(await perform(need))
        except BaseException as caught:  # noqa: BLE001 - the flow decides; it may clean up
            raised.append(caught)


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
