"""The docs say what the code does, and the site loads nothing from elsewhere.

* ``docs/reference.md``'s ``EphemeralKeyIssuer`` section names every keyword
  of the constructor and every public method and property, read from the
  class itself: a new keyword or method fails here until it is documented.
  Every name in ``issuing_elements.__all__`` is named in reference.md or
  api.md.
* No docstring of the public API and no page holds a raw Sphinx role
  (``:class:`Grant```): mkdocstrings renders those as text. Cross-references
  are written ``[Grant][issuing_elements.Grant]``.
* The site runs no script from another host, the flow diagram included.
* The README's links work where PyPI shows it: absolute, none relative.
* ``deadline`` means one thing: the docstring's sentence on what it bounds
  is in reference.md and controls.md, word for word.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import issuing_elements
from issuing_elements import EphemeralKeyIssuer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference.md"


def section(page: Path, heading: str) -> str:
    """The text under ``## heading``, up to the next ``## ``."""
    text = page.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


ISSUER_SECTION = section(REFERENCE, "`EphemeralKeyIssuer`")
SIGNATURE_BLOCK = re.search(
    r"^```text\nEphemeralKeyIssuer\(\n(.*?)^\)\n```$",
    ISSUER_SECTION,
    re.MULTILINE | re.DOTALL,
)


def keywords() -> list[str]:
    parameters = inspect.signature(EphemeralKeyIssuer.__init__).parameters
    return [name for name in parameters if name != "self"]


# Read at import: the suite-wide conftest wraps __init__ during each test.
KEYWORDS = keywords()


def public_members() -> list[str]:
    """Public methods and properties defined by the class (not by object)."""
    return sorted(
        name
        for klass in EphemeralKeyIssuer.__mro__
        if klass.__module__.startswith("issuing_elements")
        for name, value in vars(klass).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    )


def test_the_reference_has_the_constructors_signature_block() -> None:
    assert SIGNATURE_BLOCK is not None


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_every_keyword_of_the_issuer_is_in_the_reference(keyword: str) -> None:
    assert SIGNATURE_BLOCK is not None
    lines = SIGNATURE_BLOCK.group(1).splitlines()
    named = [line for line in lines if line.strip().startswith(f"{keyword}:")]

    assert 1 == len(named), f"reference.md's EphemeralKeyIssuer( lacks {keyword}"


def test_the_reference_names_no_keyword_the_issuer_lacks() -> None:
    assert SIGNATURE_BLOCK is not None
    documented = re.findall(r"^\s+(\w+):", SIGNATURE_BLOCK.group(1), re.MULTILINE)

    assert KEYWORDS == documented


@pytest.mark.parametrize("member", public_members())
def test_every_public_method_of_the_issuer_is_in_the_reference(member: str) -> None:
    rows = re.findall(r"^\| `(\w+)[`(]", ISSUER_SECTION, re.MULTILINE)

    assert member in rows, f"reference.md's method table lacks {member}"


def test_the_members_read_from_the_class_include_the_known_ones() -> None:
    # Guards public_members() itself: an empty list would pass every case.
    known = {"handle", "ahandle", "issue", "revoke_user", "api_version", "deadline"}

    assert set() == known - set(public_members())


@pytest.mark.parametrize("name", issuing_elements.__all__)
def test_every_public_name_is_in_the_reference_or_the_api_page(name: str) -> None:
    text = REFERENCE.read_text(encoding="utf-8") + (DOCS / "api.md").read_text(
        encoding="utf-8"
    )

    assert re.search(rf"`{re.escape(name)}`", text) is not None


def one_line(text: str) -> str:
    """*text* with its line breaks and indents as single spaces, ``x`` as `x`."""
    return " ".join(text.replace("``", "`").split())


def deadline_sentence() -> str:
    """The sentence of the issuer's docstring that says what ``deadline`` bounds."""
    doc = one_line(inspect.getdoc(EphemeralKeyIssuer) or "")
    found = re.search(r"The deadline bounds [^.]*\.", doc)
    assert found is not None, "the docstring no longer says what deadline bounds"
    return found.group(0)


def test_the_deadline_sentence_names_the_whole_request() -> None:
    # What the flows do: one deadline_of() per request, shared by the
    # limiter, Stripe and the ledger through _perform.remaining().
    sentence = deadline_sentence()

    assert (True, True, True, True) == (
        "the whole request" in sentence,
        "rate limiter" in sentence,
        "Stripe" in sentence,
        "key ledger" in sentence,
    )


@pytest.mark.parametrize("page", ["reference.md", "controls.md"])
def test_the_page_says_what_the_docstring_says_deadline_bounds(page: str) -> None:
    text = one_line((DOCS / page).read_text(encoding="utf-8"))

    assert deadline_sentence().lower() in text.lower()


@pytest.mark.parametrize(
    "where",
    ["README.md", *(f"docs/{page.name}" for page in sorted(DOCS.glob("*.md")))],
)
def test_no_page_says_the_deadline_is_per_stripe_call(where: str) -> None:
    text = one_line((ROOT / where).read_text(encoding="utf-8")).lower()

    assert [] == re.findall(r"(?:one|per) (?:stripe call|call to stripe) may", text)


# A Sphinx role: `:class:` `Grant`, `:meth:`, `:py:func:`, ...
SPHINX_ROLE = re.compile(r":(?:py:)?[a-z]+:`")
SOURCES = sorted((ROOT / "src" / "issuing_elements").rglob("*.py"))


def docstrings(path: Path) -> list[tuple[str, str]]:
    """(where, docstring) for the module and each class and function in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            text = ast.get_docstring(node, clean=False)
            if text is not None:
                name = getattr(node, "name", "<module>")
                found.append((f"{path.name}:{name}", text))
    return found


def test_the_role_pattern_finds_roles() -> None:
    samples = [":class:`Grant`", ":meth:`handle`", ":py:func:`x`", ":exc:`E`"]
    plain = ["[Grant][issuing_elements.Grant]", "``a:b``", "key: `x`", "`Grant`"]

    assert ([True] * 4, [False] * 4) == (
        [SPHINX_ROLE.search(text) is not None for text in samples],
        [SPHINX_ROLE.search(text) is not None for text in plain],
    )


@pytest.mark.parametrize(
    "path", SOURCES, ids=lambda path: str(path.relative_to(ROOT / "src"))
)
def test_no_docstring_holds_a_sphinx_role(path: Path) -> None:
    roles = [
        (where, match.group(0) + text[match.end() :].split("`", 1)[0] + "`")
        for where, text in docstrings(path)
        for match in SPHINX_ROLE.finditer(text)
    ]

    assert [] == roles


@pytest.mark.parametrize(
    "page",
    sorted([ROOT / "README.md", *DOCS.glob("*.md")]),
    ids=lambda page: page.name,
)
def test_no_page_holds_a_sphinx_role(page: Path) -> None:
    assert [] == SPHINX_ROLE.findall(page.read_text(encoding="utf-8"))


def test_the_sources_have_docstrings_to_check() -> None:
    # Guards the walk: no files or no docstrings would pass every case.
    where = [where for path in SOURCES for where, _ in docstrings(path)]

    assert 1 == sum(name.endswith(":EphemeralKeyIssuer") for name in where)


MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_the_site_adds_no_script() -> None:
    # extra_javascript would add a script to every page; a mermaid fence makes
    # Material load mermaid from unpkg.com to draw the block.
    assert (False, False) == ("extra_javascript" in MKDOCS, "name: mermaid" in MKDOCS)


@pytest.mark.parametrize(
    "page",
    sorted([ROOT / "README.md", *DOCS.glob("*.md")]),
    ids=lambda page: page.name,
)
def test_no_page_needs_a_script_from_elsewhere(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    # Material loads mermaid from unpkg.com for a ```mermaid block.
    found = re.findall(r"^```mermaid|<script\b[^>]*\bsrc=", text, re.MULTILINE)

    assert [] == found


def test_the_flow_diagram_is_an_image_in_the_docs() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    image = re.search(r"!\[[^\]]+\]\((?P<path>[\w\-]+\.svg)\)", index)

    assert image is not None
    svg = (DOCS / image["path"]).read_text(encoding="utf-8")
    assert (True, False, False) == (
        svg.lstrip().startswith("<svg"),
        "<script" in svg,
        "href=" in svg,
    )


README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_says_how_to_install() -> None:
    plain = re.search(r"^pip install issuing-elements(\s+#.*)?$", README, re.MULTILINE)
    extras = re.search(
        r'^pip install "issuing-elements\[async,redis\]"', README, re.MULTILINE
    )

    assert (True, True) == (plain is not None, extras is not None)


def readme_links() -> list[str]:
    """Every target: inline ``[text](target)`` and ``[key]: target`` lines."""
    return re.findall(r"\]\(([^)\s]+)\)", README) + re.findall(
        r"^\[[^\]]+\]:\s*(\S+)", README, re.MULTILINE
    )


def test_the_readme_has_no_relative_link() -> None:
    targets = readme_links()

    assert [] == [target for target in targets if not target.startswith("https://")]
    assert len(targets) > 10


def test_every_reference_link_of_the_readme_is_defined() -> None:
    defined = set(re.findall(r"^\[([^\]]+)\]:", README, re.MULTILINE))
    used = set(re.findall(r"\]\[([^\]]+)\]", README))

    assert set() == used - defined


def test_the_readme_links_into_the_repository_named_in_pyproject() -> None:
    source = re.search(
        r'^Source = "(?P<url>[^"]+)"$',
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert source is not None
    ours = [url for url in readme_links() if url.startswith("https://github.com/")]
    paths = [url.removeprefix(source["url"]) for url in ours]

    assert [] == [
        path
        for path in paths
        if not re.fullmatch(r"/(blob|tree)/main/[\w./-]+", path)
        or not (ROOT / path.split("/main/", 1)[1]).exists()
    ]
