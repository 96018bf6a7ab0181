"""The suite tests the package it was asked to test, at the declared version.

``make test`` tests ``src/`` through an editable install. ``make test
WHEEL=dist/...whl`` (what ``.ci/run`` does) installs the built wheel into a
fresh virtual environment and sets ``ISSUING_ELEMENTS_EXPECT_INSTALLED=1``:
then ``src/`` must not be what the tests import.
"""

from __future__ import annotations

import os
import re
import sysconfig
from pathlib import Path

import issuing_elements

ROOT = Path(__file__).resolve().parents[2]
EXPECT_INSTALLED = os.environ.get("ISSUING_ELEMENTS_EXPECT_INSTALLED") == "1"


def test_the_package_imported_is_the_one_under_test() -> None:
    if EXPECT_INSTALLED:
        expected = Path(sysconfig.get_paths()["purelib"]).resolve()
    else:
        expected = ROOT / "src"

    imported = Path(issuing_elements.__file__).resolve().parent

    assert expected / "issuing_elements" == imported


def test_version_is_the_one_pyproject_declares() -> None:
    # A regex, not tomllib: the suite runs on Python 3.10 too.
    declared = re.search(
        r'^version = "([^"]+)"$',
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
        re.MULTILINE,
    )

    assert declared is not None
    assert declared.group(1) == issuing_elements.__version__
