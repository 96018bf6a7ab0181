"""The builder pages keep a runnable example each.

``tests/docs/test_docs.py`` runs every ```python block in docs/; it skips pages
without one. This pins that the element, client-config and refresh pages
exist and keep their examples, so none can drop out of that run unnoticed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize(
    ("page", "uses"),
    [
        ("elements.md", ["CardNumberDisplay.from_key", "Style(", "AddToWalletButton"]),
        ("client-config.md", ["client_config(", "stripe_client="]),
        ("refresh.md", ["refresh_margin=", "elements="]),
    ],
)
def test_page_has_runnable_examples_of_its_builders(page: str, uses: list[str]) -> None:
    code = "\n".join(PYTHON_BLOCK.findall((DOCS / page).read_text(encoding="utf-8")))

    assert [use for use in uses if use not in code] == []


def test_refresh_page_documents_the_browser_update() -> None:
    text = (DOCS / "refresh.md").read_text(encoding="utf-8")

    assert "element.update({ nonce: key.nonce, ephemeralKeySecret:" in text
    assert "key.refreshIn * 1000" in text
