"""The pinned TypeScript compiler, shared by the contract tests beside it.

``npm ci`` in this folder installs it with the pinned ``@stripe/stripe-js``
and ``@stripe/connect-js``; without them the contract tests skip, unless
``ISSUING_ELEMENTS_REQUIRE_SYSTEM=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NODE_MODULES = HERE / "node_modules"
TSC = NODE_MODULES / "typescript" / "bin" / "tsc"
PACKAGES = ("@stripe/stripe-js", "@stripe/connect-js")


def typescript() -> Path:
    """The pinned tsc, or skip (fail under ISSUING_ELEMENTS_REQUIRE_SYSTEM=1)."""
    reason = None
    if shutil.which("node") is None:
        reason = "node is not installed"
    elif not TSC.is_file() or not all(
        (NODE_MODULES / package).is_dir() for package in PACKAGES
    ):
        reason = (
            f"the pinned TypeScript and {' and '.join(PACKAGES)} are not "
            f"installed (run `npm ci` in {HERE})"
        )
    if reason is not None:
        if os.environ.get("ISSUING_ELEMENTS_REQUIRE_SYSTEM") == "1":
            pytest.fail(f"{reason}, and ISSUING_ELEMENTS_REQUIRE_SYSTEM=1")
        pytest.skip(reason)
    return TSC


def run_tsc(
    directory: Path, modules: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``tsc --strict --noEmit`` over *modules*, resolving the pinned packages."""
    tsc = typescript()
    (directory / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    for file_name, source in modules.items():
        (directory / file_name).write_text(source)
    node = shutil.which("node")
    assert node is not None
    return subprocess.run(  # noqa: S603 - fixed arguments, files we wrote
        [
            node,
            str(tsc),
            "--strict",
            "--noEmit",
            "--target",
            "es2020",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "--lib",
            "es2020,dom",
            "--skipLibCheck",
            "--pretty",
            "false",
            *modules,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def failing_files(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The files tsc reported an error in."""
    return {
        line.split("(", 1)[0]
        for line in result.stdout.splitlines()
        if ": error TS" in line
    }
