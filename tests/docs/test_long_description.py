"""The description PyPI shows is for users: nothing that works only in a clone.

``pyproject.toml`` builds it from README.md with hatch-fancy-pypi-readme (a
build-time plugin, not a dependency), leaving out the part between the
README's two ``<!-- pypi: `` markers: ``make``, ``.ci/run``. Here the
fragments are applied as the plugin applies them; under
``make test WHEEL=...`` (``.ci/run``), the built wheel's own METADATA is read
too. ``twine check --strict`` (``make dist``) checks that PyPI renders it.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from email import message_from_bytes
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the oldest Pythons
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
HOOK = PYPROJECT["tool"]["hatch"]["metadata"]["hooks"]["fancy-pypi-readme"]
# What only a clone has: the Makefile's targets and CI's script.
FOR_A_CLONE = re.compile(
    r"`make\b|\bmake (?:demo|test|docs|fuzz|load|faults|bench|mutate|dist)\b|\.ci/run"
)


def from_fragments() -> str:
    """The description as the plugin assembles it: each fragment, in order."""
    parts = []
    for fragment in HOOK["fragments"]:
        text = (ROOT / fragment["path"]).read_text(encoding="utf-8")
        if "start-after" in fragment:
            text = text[text.index(fragment["start-after"]) :]
            text = text[len(fragment["start-after"]) :]
        if "end-before" in fragment:
            text = text[: text.index(fragment["end-before"])]
        parts.append(text)
    return "".join(parts)


def from_the_wheel() -> str:
    wheel = os.environ.get("ISSUING_ELEMENTS_WHEEL", "")
    if not wheel:
        pytest.skip("no built wheel under test (make test WHEEL=... sets one)")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = message_from_bytes(archive.read(name))
    payload = metadata.get_payload()
    assert isinstance(payload, str)
    return payload


DESCRIPTIONS = [
    pytest.param(from_fragments, id="README.md by the fragments"),
    pytest.param(from_the_wheel, id="the wheel's METADATA"),
]


def test_the_pattern_finds_what_only_a_clone_has() -> None:
    # Guards the pattern: the README's part for a clone has all of it.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert {"`make", "make demo", "make test", ".ci/run"} <= set(
        FOR_A_CLONE.findall(readme)
    )


def test_the_readme_holds_each_marker_once() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    markers = [
        fragment.get("start-after") or fragment.get("end-before")
        for fragment in HOOK["fragments"]
    ]

    assert [1] * len(markers) == [readme.count(marker) for marker in markers]


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_the_long_description_has_no_make_and_no_ci_run(description: object) -> None:
    assert callable(description)
    text = description()

    assert [] == FOR_A_CLONE.findall(text)


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_the_long_description_keeps_the_users_part(description: object) -> None:
    assert callable(description)
    text = description()

    assert (True, True, True, True) == (
        "## Install" in text,
        "pip install ./issuing-elements" in text,
        "## In your app" in text,
        # The link references, which the README keeps at its end.
        "[docs/reference.md]: https://" in text,
    )


def test_the_readme_says_how_to_install_from_a_clone() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert (True, True) == (
        "git clone https://github.com/issuing-elements/issuing-elements" in readme,
        "pip install ./issuing-elements" in readme,
    )
