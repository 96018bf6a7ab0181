"""The package reads as layers: vocabulary, values, decisions, flows, the issuer.

Each module imports only from its own layer or the ones below it, and the
graph has no cycle. A new module must be given its layer here: the test
fails on a module it does not know.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import issuing_elements

PACKAGE = Path(issuing_elements.__file__).resolve().parent

# Lowest first. Within a layer, imports may go either way, but never round.
LAYERS: list[tuple[str, list[str]]] = [
    ("vocabulary", ["exceptions", "_redact", "_ids", "_redis", "_style"]),
    (
        "values and stores",
        [
            "_records",
            "_components",
            "_audit",
            "_elements",
            "_csp",
            "_origin",
            "_ledger",
            "_rate_limit",
            "_bounded_calls",
            "_stripe_client",
            "_needs",
            "_driver",
            "_events",
        ],
    ),
    (
        "decisions: request in, decide, Stripe, response out",
        ["_request", "_authorize", "_stripe_answers", "_response", "_page"],
    ),
    ("the page's Stripe.js config", ["_client_config"]),
    ("settings", ["_settings"]),
    ("answers and checks", ["_flows", "_flows.answers", "_flows.checks"]),
    ("revocation", ["_flows.revocation"]),
    ("the one exchange", ["_flows.exchange"]),
    ("flows", ["_flows.keys", "_flows.account_sessions", "_flows.stripe_events"]),
    ("the performer", ["_perform"]),
    ("the issuer", ["_issuer"]),
    ("the public names", [""]),
]
TESTING = ["testing", "testing.__main__", "testing._client", "testing._server"]
TESTING += ["testing._models", "testing._responses", "testing._urls", "testing._faults"]
TESTING += ["testing._recording", "testing._events"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The package's own modules that *path* imports, by name ("" is the package)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = [part for part in package if part]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == "issuing_elements":
                target = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                candidate = ".".join([*target, alias.name])
                found.add(candidate if candidate in ALL else ".".join(target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "issuing_elements":
                    found.add(".".join(alias.name.split(".")[1:]))
    return found - {name}


ALL = {module_name(path) for path in PACKAGE.rglob("*.py")}
GRAPH = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}
LAYER_OF = {module: n for n, (_, modules) in enumerate(LAYERS) for module in modules}


def test_every_module_has_a_layer() -> None:
    assert set() == ALL - set(LAYER_OF) - set(TESTING)


@pytest.mark.parametrize("module", sorted(set(LAYER_OF) & ALL))
def test_no_module_imports_from_a_layer_above_it(module: str) -> None:
    upward = sorted(
        target
        for target in GRAPH[module]
        if LAYER_OF.get(target, -1) > LAYER_OF[module]
    )

    assert [] == upward, (
        f"{module or 'issuing_elements'} ({LAYERS[LAYER_OF[module]][0]})"
    )


def test_the_core_never_imports_the_stand_in() -> None:
    core = set(LAYER_OF) & ALL
    assert [] == sorted(
        module for module in core if any(t.startswith("testing") for t in GRAPH[module])
    )


def test_the_import_graph_has_no_cycle() -> None:
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        path.append(module)
        for target in sorted(GRAPH.get(module, set())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return []

    assert [] == next(
        (cycle for module in sorted(GRAPH) if (cycle := visit(module))), []
    )
