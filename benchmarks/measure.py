"""Side-by-side measurement: interleaved rounds, one ratio per round.

On a shared, noisy machine an absolute time says little; the ratio of two
things measured in the same round, alternately, says what one costs next to
the other. Each round alternates A and B call by call (A B, then B A, ...), so
that a burst of noise from a neighbour lands on both sides alike, and records
``total time(A) / total time(B)``; a row reports the min, median and max of
those per-round ratios.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, TypeVar

import attrs

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

T = TypeVar("T")


@attrs.frozen
class Scale:
    """How much work each row does: ``make bench`` or ``--quick``."""

    rounds: int
    calls: int  # per side, per round, for the per-call overhead rows
    burst_rounds: int  # rounds of the 500-concurrent bursts
    processes: int  # fresh processes per side (cold start)
    load_seconds: float  # per side, per round (end to end)
    load_rounds: int
    memory_calls: tuple[int, int]
    memory_processes: int
    sequential: int  # calls in the connection-count rows


FULL = Scale(
    rounds=20,
    calls=100,
    burst_rounds=3,
    processes=20,
    load_seconds=1.0,
    load_rounds=16,
    memory_calls=(1_000, 20_000),
    memory_processes=3,
    sequential=500,
)
QUICK = Scale(
    rounds=2,
    calls=20,
    burst_rounds=1,
    processes=2,
    load_seconds=0.5,
    load_rounds=2,
    memory_calls=(100, 1_000),
    memory_processes=1,
    sequential=50,
)


def calls_per_side(*, rounds: int, calls: int) -> int:
    """How many times :func:`interleaved` calls each side, warm-up included."""
    return max(1, calls // 10) + rounds * calls


def interleaved(
    a: Callable[[], object],
    b: Callable[[], object],
    *,
    rounds: int,
    calls: int,
) -> list[float]:
    """Per-round ratios ``time(calls x a) / time(calls x b)``."""
    for function in (a, b):  # warm both: connections, caches
        for _ in range(max(1, calls // 10)):
            function()
    clock = time.perf_counter
    ratios = []
    for _ in range(rounds):
        spent_a = spent_b = 0.0
        for call in range(calls):
            if call % 2:
                start = clock()
                b()
                middle = clock()
                a()
                end = clock()
                spent_b += middle - start
                spent_a += end - middle
            else:
                start = clock()
                a()
                middle = clock()
                b()
                end = clock()
                spent_a += middle - start
                spent_b += end - middle
        ratios.append(spent_a / spent_b)
    return ratios


async def ainterleaved(
    a: Callable[[], Awaitable[object]],
    b: Callable[[], Awaitable[object]],
    *,
    rounds: int,
) -> list[float]:
    """Per-round ratios ``time(await a()) / time(await b())``."""
    await a()
    await b()
    ratios = []
    for round_ in range(rounds):
        spent = {}
        for side, function in _order(round_, a, b):
            start = time.perf_counter()
            await function()
            spent[side] = time.perf_counter() - start
        ratios.append(spent["a"] / spent["b"])
    return ratios


def _order(round_: int, a: T, b: T) -> tuple[tuple[str, T], tuple[str, T]]:
    return (("a", a), ("b", b)) if round_ % 2 == 0 else (("b", b), ("a", a))


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    """Min, median, max."""
    return min(values), statistics.median(values), max(values)
