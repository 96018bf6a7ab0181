"""Every ```python block in README.md and docs/ runs, so the docs cannot rot.

The blocks of one page share a namespace and run in order, as a reader
would type them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if blocks(page)],
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
