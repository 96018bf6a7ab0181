"""Every ```python block in README.md and docs/ runs, so the docs cannot rot.

The blocks of one page share a namespace and run in order, as a reader
would type them.

A page whose blocks are the files of a project (each opens with its path,
``# cards/views.py``, or ``# cards/views.py (continued)`` to add to it) is
followed instead: the test makes the project with the page's own commands,
writes the files, and runs the project's tests in a process of its own.
``howto-django.md`` is such a page, so that Django's process-wide settings
stay out of this one.

Each how-to's install line (``python -m pip install ...``) is run as written
in a fresh virtual environment, with the package under test (this source
tree, or the wheel of ``make test WHEEL=...``) in place of
``issuing-elements`` from PyPI, and the page's code runs there: a missing
extra or framework fails. These tests are marked ``venv`` (slow: one venv per
page, PyPI through pip's cache); ``-m "not venv"`` leaves them out.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_BLOCK = re.compile(r"\A# (?P<path>[\w/]+\.py)(?P<continued> \(continued\))?\n")


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def is_project(page: Path) -> bool:
    return any(FILE_BLOCK.match(block) for block in blocks(page))


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if blocks(page) and not is_project(page)],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_page_runs(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, source in enumerate(blocks(page), start=1):
        code = compile(source, f"{page.name}, block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - running our own docs is the point


def test_pages_link_only_to_pages_that_exist() -> None:
    missing = [
        (page.name, target)
        for page in PAGES
        for target in re.findall(
            r"\]\(([\w\-]+\.md)\)", page.read_text(encoding="utf-8")
        )
        if not (page.parent / target).exists()
    ]
    assert [] == missing


# Warnings are errors, as in this suite; stripe-python's own is let be.
WARNINGS = ["-W", "error", "-W", "ignore:Use 'content=<...>':DeprecationWarning"]

# The page's console steps, run as a reader types them; `cd mysite` is cwd.
DJANGO_STEPS = [
    "django-admin startproject mysite",
    "python manage.py startapp cards",
    "python manage.py migrate",
]
DJANGO_TEST = "python manage.py test cards"


def run(command: str, cwd: Path, python: str = sys.executable) -> str:
    """*command* as the page spells it, with *python* as ``python``."""
    program, *arguments = command.split()
    # `django-admin` is `python -m django`; `python` is *python*.
    module = ["-m", "django"] if program == "django-admin" else []
    done = subprocess.run(  # noqa: S603 - our interpreter, the page's commands
        [python, *WARNINGS, *module, *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def follow_django_page(tmp_path: Path, python: str = sys.executable) -> None:
    page = ROOT / "docs" / "howto-django.md"
    text = page.read_text(encoding="utf-8")
    assert [] == [step for step in [*DJANGO_STEPS, DJANGO_TEST] if step not in text]
    project = tmp_path / "mysite"
    run(DJANGO_STEPS[0], tmp_path, python)
    for step in DJANGO_STEPS[1:]:
        run(step, project, python)

    for block in blocks(page):
        found = FILE_BLOCK.match(block)
        assert found is not None, f"a block without its file: {block[:60]!r}"
        target = project / found["path"]
        source = block[found.end() :]
        if found["continued"]:
            source = target.read_text(encoding="utf-8") + "\n\n" + source
        target.write_text(source, encoding="utf-8")

    written = sum(block.count("def test_") for block in blocks(page))
    assert f"Ran {written} tests" in run(DJANGO_TEST, project, python)


def test_django_page_followed_to_the_letter(tmp_path: Path) -> None:
    follow_django_page(tmp_path)


HOWTOS = sorted((ROOT / "docs").glob("howto-*.md"))
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.MULTILINE | re.DOTALL)
INSTALL = "python -m pip install "
OURS = re.compile(r"issuing-elements(?:\[(?P<extras>[\w,]+)\])?")


def install_line(page: Path) -> str:
    """The page's one ``python -m pip install ...`` line."""
    text = page.read_text(encoding="utf-8")
    lines = [
        line
        for block in CONSOLE_BLOCK.findall(text)
        for line in block.splitlines()
        if line.startswith(INSTALL)
    ]
    assert 1 == len(lines), f"{page.name}: {lines}"
    return lines[0]


def package_under_test() -> str:
    """Where pip takes issuing-elements from: the wheel under test, or src."""
    if os.environ.get("ISSUING_ELEMENTS_EXPECT_INSTALLED") == "1":
        wheel = os.environ.get("ISSUING_ELEMENTS_WHEEL", "")
        assert wheel.endswith(".whl"), "make test WHEEL=... sets ISSUING_ELEMENTS_WHEEL"
        return Path(wheel).resolve().as_uri()
    return ROOT.as_uri()


def requirements(line: str) -> list[str]:
    """The line's arguments, ours pointed at the package under test."""
    words = shlex.split(line.removeprefix(INSTALL), comments=True)
    ours = [word for word in words if OURS.fullmatch(word)]
    assert 1 == len(ours), f"the line names issuing-elements once: {line}"
    return [
        f"{word} @ {package_under_test()}" if word in ours else word for word in words
    ]


@pytest.mark.parametrize("page", HOWTOS, ids=lambda page: page.name)
def test_each_howto_installs_the_extras_its_code_needs(page: Path) -> None:
    found = OURS.search(install_line(page))
    assert found is not None
    extras = set((found["extras"] or "").split(","))
    code = "\n".join(blocks(page))
    needs_async = re.search(r"\ba(handle|issue|revoke)\(", code) is not None

    assert needs_async == ("async" in extras)


def fresh_venv(page: Path, where: Path) -> str:
    """A new virtual environment holding what the page's install line says."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)  # noqa: S603 - this interpreter
    python = str(venv / "bin" / "python")
    done = subprocess.run(  # noqa: S603 - the page's own install line
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements(install_line(page)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    return python


@pytest.mark.venv
@pytest.mark.parametrize("page", HOWTOS, ids=lambda page: page.name)
def test_each_howto_runs_in_a_venv_made_from_its_install_line(
    page: Path, tmp_path: Path
) -> None:
    python = fresh_venv(page, tmp_path)
    if is_project(page):
        follow_django_page(tmp_path, python)
        return
    script = tmp_path / f"{page.stem.replace('-', '_')}.py"
    script.write_text("\n\n".join(blocks(page)), encoding="utf-8")
    done = subprocess.run(  # noqa: S603 - the venv's interpreter, the page's code
        [python, *WARNINGS, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert 0 == done.returncode, done.stdout + done.stderr
