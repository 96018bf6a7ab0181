"""Where the library's own CPU goes on the ``handle()`` path, and what fixes cost.

``python -m benchmarks.hotspots``: profiles ``handle()`` through the
in-process transport with cProfile and lists the library's own functions,
then times, side by side, each known hot spot against its fix (the fixes
are written here, not applied: they belong in the issuer's modules).
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import timeit
import uuid

from benchmarks import fake, subjects
from issuing_elements import KeyRequest

CALLS = 3000
TEXT = subjects.BODY.decode()
DOCUMENT = {
    "ephemeralKeySecret": "ek_test_x",
    "issuingCard": fake.CARD_ID,
    "nonce": subjects.NONCE,
    "expires": 1,
}


class _Pairs(list[tuple[str, object]]):
    pass


_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def profile() -> str:
    calls = subjects.Calls(subjects.client())
    for _ in range(200):
        calls.handle()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(CALLS):
        calls.handle()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(r"issuing_elements", 25)
    return out.getvalue()


def _micro(statement: object, number: int = 20_000) -> float:
    """Best of five, in microseconds per call."""
    best = min(timeit.repeat(statement, number=number, repeat=5))  # type: ignore[arg-type]  # a callable
    return best / number * 1e6


def fixes() -> list[tuple[str, float, float]]:
    """(hot spot, microseconds now, microseconds with the fix)."""
    # A private function: measured while it exists, skipped once it moves.
    try:
        from issuing_elements._request import check_ids
    except ImportError:

        def check_ids(card_id: str, nonce: str) -> object:
            return None

    return [
        (
            "JSON body parsed by json.loads(object_pairs_hook=...): a decoder per call",
            _micro(lambda: json.loads(TEXT, object_pairs_hook=_Pairs)),
            _micro(lambda: _DECODER.decode(TEXT)),
        ),
        (
            "200 body written by json.dumps(separators=...): an encoder per call",
            _micro(
                lambda: json.dumps(DOCUMENT, separators=(",", ":"), ensure_ascii=True)
            ),
            _micro(lambda: _ENCODER.encode(DOCUMENT)),
        ),
        (
            "ids checked twice on the handle path (parse, then issue)",
            _micro(lambda: check_ids(fake.CARD_ID, subjects.NONCE)),
            0.0,
        ),
        (
            "os.environ['STRIPE_LOG'] read per call (check_console_logging)",
            _micro(lambda: os.environ.get("STRIPE_LOG")),
            _micro(lambda: None),
        ),
        (
            "idempotency key: f-string over uuid.uuid4() per call",
            _micro(lambda: f"issuing-elements-{uuid.uuid4()}"),
            _micro(lambda: "issuing-elements-" + os.urandom(16).hex()),
        ),
        (
            "KeyRequest built twice (attrs __init__)",
            _micro(lambda: KeyRequest(card_id=fake.CARD_ID, nonce=subjects.NONCE)),
            0.0,
        ),
    ]


def main() -> None:
    print(profile())
    print("| hot spot | now, us/call | fixed, us/call | saved |")
    print("|---|--:|--:|--:|")
    for name, now, fixed in fixes():
        print(f"| {name} | {now:.2f} | {fixed:.2f} | {now - fixed:.2f} |")


if __name__ == "__main__":
    main()
