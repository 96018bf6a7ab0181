"""The benchmarks still run: they are not timed here, only kept from rotting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and modules
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # A guard against a hang, not a bound: the quick run is CPU-bound, and
        # a machine at load 8 on 2 cores runs it several times slower.
        timeout=600,
        check=False,
    )


def test_every_benchmark_module_imports() -> None:
    names = sorted(
        f"benchmarks.{path.stem}"
        for path in (ROOT / "benchmarks").glob("*.py")
        if path.stem != "__main__"
    )
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    result = run_benchmarks("-c", code, *names)
    assert 0 == result.returncode, result.stderr


def test_a_quick_run_prints_the_table() -> None:
    result = run_benchmarks("-m", "benchmarks", "--quick", "--only", "overhead")
    table = "| # | ratio (or count) | n | min | median | max | target | |"
    assert (0, True) == (result.returncode, table in result.stdout), result.stderr


def test_every_row_of_the_fault_table_is_asserted_by_a_test_that_exists() -> None:
    """``make faults`` is a report; the suite holds each row's checks."""
    code = (
        "import json\nfrom benchmarks.faults import ASSERTED_BY, ROWS\n"
        "print(json.dumps([len(ROWS), ASSERTED_BY]))"
    )
    result = run_benchmarks("-c", code)
    rows, asserted_by = json.loads(result.stdout)
    missing = [
        f"{module}::{test}"
        for tests in asserted_by.values()
        for module, test in tests
        if f"\ndef {test}(" not in (ROOT / module).read_text()
    ]
    assert ([str(row) for row in range(1, rows + 1)], []) == (
        sorted(asserted_by),
        missing,
    ), result.stderr
