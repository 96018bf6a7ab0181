"""Every ```python block in README.md and docs/ runs, so the docs cannot rot.

The blocks of one page share a namespace and run in order, as a reader
would type them.

A page whose blocks are the files of a project (each opens with its path,
``# cards/views.py``, or ``# cards/views.py (continued)`` to add to it) is
followed instead: the test makes the project with the page's own commands,
writes the files, and runs the project's tests in a process of its own.
``howto-django.md`` is such a page, so that Django's process-wide settings
stay out of this one.
"""

from __future__ import annotations

import re
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


# The page's console steps, run as a reader types them; `cd mysite` is cwd.
DJANGO_STEPS = [
    "django-admin startproject mysite",
    "python manage.py startapp cards",
    "python manage.py migrate",
]
DJANGO_TEST = "python manage.py test cards"


def run(command: str, cwd: Path) -> str:
    """*command* as the page spells it, with this interpreter as ``python``."""
    program, *arguments = command.split()
    # `django-admin` is `python -m django`; `python` is this interpreter.
    module = ["-m", "django"] if program == "django-admin" else []
    # Warnings are errors, as in this suite; stripe-python's own is let be.
    warnings = ["-W", "error", "-W", "ignore:Use 'content=<...>':DeprecationWarning"]
    done = subprocess.run(  # noqa: S603 - our interpreter, the page's commands
        [sys.executable, *warnings, *module, *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_django_page_followed_to_the_letter(tmp_path: Path) -> None:
    page = ROOT / "docs" / "howto-django.md"
    text = page.read_text(encoding="utf-8")
    assert [] == [step for step in [*DJANGO_STEPS, DJANGO_TEST] if step not in text]
    project = tmp_path / "mysite"
    run(DJANGO_STEPS[0], tmp_path)
    for step in DJANGO_STEPS[1:]:
        run(step, project)

    for block in blocks(page):
        found = FILE_BLOCK.match(block)
        assert found is not None, f"a block without its file: {block[:60]!r}"
        target = project / found["path"]
        source = block[found.end() :]
        if found["continued"]:
            source = target.read_text(encoding="utf-8") + "\n\n" + source
        target.write_text(source, encoding="utf-8")

    written = sum(block.count("def test_") for block in blocks(page))
    assert f"Ran {written} tests" in run(DJANGO_TEST, project)
