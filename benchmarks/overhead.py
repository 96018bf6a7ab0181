"""Items 1, 2, 5 (sync) and 7: what ``issue`` and ``handle`` add to the raw call.

* Over HTTP to FakeStripe (stripe-python's default transport, ``requests``):
  ``issue`` / raw create and ``handle`` / raw create, each call with a nonce
  of its own.
* In-process (:class:`~benchmarks.subjects.CannedHTTPClient`, replaying a
  FakeStripe answer, no network): ``handle`` / raw create, which is the
  library's own CPU next to stripe-python's.
* 500 sequential ``issue`` calls: the TCP connections FakeStripe accepted.
* RSS after few and after many ``handle`` calls, in fresh processes
  (``python -m benchmarks.overhead --memory N M`` prints the two in kB).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import TYPE_CHECKING

from benchmarks import bounds, fake, subjects
from benchmarks.measure import calls_per_side, interleaved
from benchmarks.report import Row

if TYPE_CHECKING:
    from benchmarks.fake import RunningFake
    from benchmarks.measure import Scale


def over_http(server: RunningFake, scale: Scale) -> list[Row]:
    calls = subjects.Calls(subjects.client(server), server)
    n = scale.rounds * scale.calls
    calls.stock(4 * calls_per_side(rounds=scale.rounds, calls=scale.calls))
    issue = interleaved(calls.issue, calls.raw, rounds=scale.rounds, calls=scale.calls)
    handle = interleaved(
        calls.handle, calls.raw, rounds=scale.rounds, calls=scale.calls
    )
    note = f"{n} calls each, stripe-python's default transport (requests)"
    return [
        Row("1", "issue() / raw create, HTTP stand-in", issue, "<=", 1.02, note),
        Row("2", "handle() / raw create, HTTP stand-in", handle, "<=", 1.03, note),
    ]


def in_process(scale: Scale) -> list[Row]:
    calls = subjects.Calls(subjects.client())
    # In-process calls are short: more of them per round, for a stable figure.
    handle = interleaved(
        calls.handle, calls.raw, rounds=scale.rounds, calls=scale.calls * 5
    )
    return [
        Row(
            "2",
            "handle() / raw create, in-process HTTPClient (library CPU)",
            handle,
            "<=",
            1.10,
            f"{scale.rounds * scale.calls * 5} calls each, no network",
        )
    ]


def connections(server: RunningFake, scale: Scale) -> list[Row]:
    calls = subjects.Calls(subjects.client(server), server)
    calls.stock(scale.sequential)
    before = server.connections()
    for _ in range(scale.sequential):
        calls.issue()
    count = server.connections() - before
    name = f"TCP connections, {scale.sequential} sequential issue()"
    return [Row("5", name, [count], "<=", 2)]


def memory(scale: Scale) -> list[Row]:
    few, many = scale.memory_calls
    ratios, sizes = [], []
    for _ in range(scale.memory_processes):
        argv = [sys.executable, "-m", "benchmarks.overhead", "--memory"]
        argv += [str(few), str(many)]
        out = subprocess.run(
            argv, check=True, capture_output=True, text=True
        ).stdout.split()
        after_few, after_many = int(out[0]), int(out[1])
        ratios.append(after_many / after_few)
        sizes.append(f"{after_few / 1024:.1f} -> {after_many / 1024:.1f} MiB")
    return [
        Row(
            "7",
            f"RSS after {many:,} / after {few:,} handle() (in-process)",
            ratios,
            "<=",
            1.02,
            "fresh processes: " + "; ".join(sizes),
        )
    ]


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _memory_child(few: int, many: int) -> None:
    calls = subjects.Calls(subjects.client())
    for _ in range(few):
        calls.handle()
    after_few = rss_kib()
    for _ in range(many - few):
        calls.handle()
    sys.stdout.write(f"{after_few} {rss_kib()}\n")


def run(scale: Scale) -> list[Row]:
    rows = in_process(scale) + bounds.in_process(scale)
    with fake.running() as server:
        rows = over_http(server, scale) + rows + connections(server, scale)
        rows += bounds.over_http(server, scale)
    return rows + memory(scale)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", nargs=2, type=int, required=True)
    args = parser.parse_args()
    _memory_child(*args.memory)
