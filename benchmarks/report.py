"""The one table: each row a ratio (or a count) with its target, and the machine."""

from __future__ import annotations

import os
import platform
import statistics
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence


@attrs.frozen
class Row:
    """One measured figure.

    *values* are per-round ratios (or counts); the verdict reads the median
    against *limit* with *op* (``"<="`` or ``">="``); a row without a limit
    is context, not a target.
    """

    item: str
    name: str
    values: Sequence[float]
    op: str | None = None
    limit: float | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def verdict(self) -> str:
        if self.op is None or self.limit is None:
            return ""
        ok = self.median <= self.limit if self.op == "<=" else self.median >= self.limit
        return "ok" if ok else "MISSED"

    @property
    def target(self) -> str:
        return "" if self.limit is None else f"{self.op} {self.limit:g}"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> list[str]:
    """What the table was measured on."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"CPU: {cpu_model()}, {os.cpu_count()} cores (load average {load})",
        f"OS: {platform.platform()}",
        f"Python: {platform.python_implementation()} {platform.python_version()}",
        "Packages: "
        + ", ".join(
            f"{name} {_package(name)}"
            for name in (
                "issuing-elements",
                "stripe",
                "requests",
                "httpx",
                "aiohttp",
                "fastapi",
                "uvicorn",
            )
        ),
    ]


def _figure(value: float) -> str:
    return f"{value:.0f}" if value == int(value) and value >= 10 else f"{value:.3f}"


def render(rows: Sequence[Row], header: Sequence[str]) -> str:
    """The table, in Markdown, under the machine's description."""
    lines = [*header, ""]
    lines.append("| # | ratio (or count) | n | min | median | max | target | |")
    lines.append("|---|---|--:|--:|--:|--:|---|---|")
    for row in rows:
        low, mid, high = min(row.values), row.median, max(row.values)
        lines.append(
            f"| {row.item} | {row.name} | {len(row.values)} | {_figure(low)} "
            f"| {_figure(mid)} | {_figure(high)} | {row.target} | {row.verdict} |"
        )
    notes = [f"- {row.item} {row.name}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)
