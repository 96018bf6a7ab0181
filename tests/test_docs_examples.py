"""The Python examples in the element, client-config and refresh pages run.

Each page's ```python blocks run in order in one namespace, as a reader
would paste them, so that the documentation cannot rot.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"
PAGES = ["elements.md", "client-config.md", "refresh.md"]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks(page: str) -> list[str]:
    return PYTHON_BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))


def test_blocks_are_found() -> None:
    assert python_blocks("elements.md")[0].startswith("from issuing_elements import")


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str) -> None:
    blocks = python_blocks(page)
    assert blocks, f"docs/{page} has no ```python example"
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}

    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"docs/{page} (python block {number})", "exec")
        exec(code, namespace)  # noqa: S102 - running our own documentation is the point
