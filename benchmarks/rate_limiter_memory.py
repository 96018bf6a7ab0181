"""How much memory MemoryRateLimiter holds for a million distinct users.

Run: ``.venv/bin/python benchmarks/rate_limiter_memory.py``. It prints, for a
million users each making one request, the table's size and the traced
memory (tracemalloc's peak, and what the limiter holds at the end):

* ``passing``: the fake clock moves 1 ms per request and the window is 1 s,
  so users whose window has passed leave the table as others come.
* ``one window``: every request falls within one window (the adversarial
  case), so only the table's cap (``max_keys``, 100,000 by default) bounds it:
  the users past the cap are refused (503), and no user in the table is
  forgotten to make room.
* ``one window, 10 each``: 100,000 users (the cap) making 10 requests each,
  which fills every log to the limit of 10: the most the table can hold.

User ids are made as the requests come, so the memory held counts the ids the
table keeps.
"""

from __future__ import annotations

import logging
import time
import tracemalloc

from issuing_elements import MemoryRateLimiter, RateLimit
from issuing_elements.exceptions import ServiceUnavailableError

USERS = 1_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def measure(
    label: str, *, step: float, window: float, users: int = USERS, repeats: int = 1
) -> None:
    clock = FakeClock()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    limiter = MemoryRateLimiter(per_user=RateLimit(10, window), clock=clock)
    largest = refused = 0
    for number in range(users):
        user_id = f"user-{number:07d}"
        for _ in range(repeats):
            clock.now += step
            refused += not counted(limiter, user_id)
        if number % 10_000 == 0:
            largest = max(largest, limiter._sizes()[0])
    elapsed = time.perf_counter() - started
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = limiter._sizes()[0]
    print(
        f"{label:>20}: {users:,} users x {repeats}, table now {size:,} "
        f"(largest seen {max(largest, size):,}), refused {refused:,}, "
        f"held {(held - before) / 1e6:.1f} MB, "
        f"peak {(peak - before) / 1e6:.1f} MB, {elapsed:.1f} s"
    )


def counted(limiter: MemoryRateLimiter, user_id: str) -> bool:
    """Whether the table took *user_id*'s request (allowed or over its limit)."""
    try:
        limiter.hit_user(user_id)
    except ServiceUnavailableError:
        return False
    return True


if __name__ == "__main__":
    # A full table says so once per refused request: not what is measured.
    logging.getLogger("issuing_elements").disabled = True
    measure("passing", step=0.001, window=1.0)
    # A microsecond apart, so that every timestamp is a float of its own.
    measure("one window", step=1e-6, window=60.0)
    measure("one window, 10 each", step=1e-6, window=60.0, users=100_000, repeats=10)
