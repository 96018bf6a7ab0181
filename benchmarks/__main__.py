"""``python -m benchmarks [--quick] [--only SECTION ...]``: print the one table."""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import coldstart, endtoend, overhead, transports
from benchmarks.measure import FULL, QUICK
from benchmarks.report import Row, machine, render

SECTIONS = ("overhead", "transports", "coldstart", "endtoend")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a few rounds only: checks that it runs"
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    header = machine()
    start = time.perf_counter()
    rows: list[Row] = []
    faster = None
    for section in args.only:
        sys.stderr.write(f"benchmarks: {section}...\n")
        if section == "overhead":
            rows += overhead.run(scale)
        elif section == "transports":
            found, faster = transports.run(scale)
            rows += found
        elif section == "coldstart":
            rows += coldstart.run(scale)
        else:
            rows += endtoend.run(scale)
    header.append(
        f"Run: {'--quick' if args.quick else 'full'}, "
        f"{time.perf_counter() - start:.0f} s"
        + (f"; faster async transport: {faster}" if faster else "")
    )
    sys.stdout.write(render(sorted(rows, key=lambda row: row.item), header) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
