"""MkDocs hook: a page's links to the repository's own files work on the site.

The pages link to the examples as ``[app.py](../examples/flask/app.py)``,
which GitHub resolves beside ``docs/``. The site has only ``docs/``, so the
strict build would refuse those links; here they become links to the same
file in the repository (``repo_url``, branch ``main``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

OUTSIDE_DOCS = re.compile(r"\]\(\.\./([^)\s]+)\)")


def on_page_markdown(
    markdown: str, *, page: Page, config: MkDocsConfig, files: Files
) -> str:
    """The page's Markdown with ``](../path)`` pointing at ``repo_url``."""
    del page, files  # the hook's signature; only the config matters here
    base = f"{str(config.repo_url).rstrip('/')}/blob/main/"
    return OUTSIDE_DOCS.sub(lambda link: f"]({base}{link.group(1)})", markdown)
