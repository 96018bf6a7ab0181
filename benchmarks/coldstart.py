"""Item 4: cold start, in fresh processes with bytecode already compiled.

* ``python -c "import issuing_elements"`` / ``python -c "import stripe"``.
* What a bare ``import issuing_elements`` loads beyond ``import stripe``:
  no web framework, no Redis client, no other HTTP client.
* The Lambda example's first invocation (``examples/aws_lambda/handler.py``,
  a fresh process: import, build, answer one function-URL event) against
  :mod:`benchmarks.apps.minimal_lambda` doing the same with stripe-python
  alone, both against FakeStripe, each invocation with a fresh nonce.
"""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import fake
from benchmarks.report import Row

if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.fake import RunningFake
    from benchmarks.measure import Scale

ROOT = Path(__file__).resolve().parent.parent
EVENT = ROOT / "examples" / "aws_lambda" / "events" / "function_url.json"
FORBIDDEN = (
    "flask",
    "fastapi",
    "starlette",
    "django",
    "redis",
    "aiohttp",
    "httpx",
    "difflib",
)

# argv: the handler's file, the event's file, and the nonce to send: the
# event's body is rewritten with it, the same work on both sides.
_INVOKE = """
import base64, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("lambda_handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with open(sys.argv[2]) as f:
    event = json.load(f)
body = json.loads(base64.b64decode(event["body"]))
body["nonce"] = sys.argv[3]
text = json.dumps(body).encode()
event["body"] = base64.b64encode(text).decode()
event["headers"]["content-length"] = str(len(text))
answer = module.handler(event, None)
assert answer["statusCode"] == 200, answer
body = json.loads(answer["body"])
assert {"ephemeralKeySecret", "expires", "issuingCard", "nonce"} <= set(body), body
"""


def _wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def _side_by_side(
    a: list[str],
    b: list[str],
    rounds: int,
    env: dict[str, str] | None = None,
    nonces: Iterator[str] | None = None,
) -> list[float]:
    """Per-round ratios; with *nonces*, each run gets the next as its last argument."""

    def wall(argv: list[str]) -> float:
        return _wall(argv if nonces is None else [*argv, next(nonces)], env)

    wall(a)  # the first run writes any missing bytecode
    wall(b)
    ratios = []
    for round_ in range(rounds):
        if round_ % 2:
            spent_b, spent_a = wall(b), wall(a)
        else:
            spent_a, spent_b = wall(a), wall(b)
        ratios.append(spent_a / spent_b)
    return ratios


def _modules(statement: str) -> set[str]:
    code = f"{statement}; import sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def imports(scale: Scale) -> list[Row]:
    compileall.compile_dir(ROOT / "src", quiet=1)
    python = sys.executable
    ratios = _side_by_side(
        [python, "-c", "import issuing_elements"],
        [python, "-c", "import stripe"],
        scale.processes,
    )
    extra = _modules("import issuing_elements") - _modules("import stripe")
    tops = sorted({name.partition(".")[0] for name in extra} - {"issuing_elements"})
    loaded = sorted(name for name in extra if name.partition(".")[0] in FORBIDDEN)
    return [
        Row(
            "4",
            'python -c "import issuing_elements" / "import stripe"',
            ratios,
            "<=",
            1.10,
            f"{scale.processes} fresh processes each",
        ),
        Row(
            "4",
            "framework, Redis, HTTP-client or difflib modules a bare import adds",
            [len(loaded)],
            "<=",
            0,
            "beyond import stripe, it adds the packages: "
            + (", ".join(tops) or "none")
            + (f"; forbidden: {', '.join(loaded)}" if loaded else ""),
        ),
    ]


def lambda_first_call(server: RunningFake, scale: Scale) -> list[Row]:
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": server.api_key,
        "STRIPE_PUBLISHABLE_KEY": server.publishable_key,
        "STRIPE_API_BASE": server.url,
    }
    python = sys.executable
    example = ROOT / "examples" / "aws_lambda" / "handler.py"
    minimal = ROOT / "benchmarks" / "apps" / "minimal_lambda.py"
    ratios = _side_by_side(
        [python, "-c", _INVOKE, str(example), str(EVENT)],
        [python, "-c", _INVOKE, str(minimal), str(EVENT)],
        scale.processes,
        env,
        iter(server.nonces(2 * (scale.processes + 1), fake.DEMO_CARD_ID)),
    )
    return [
        Row(
            "4",
            "Lambda example / minimal handler, first invocation (fresh process)",
            ratios,
            note="process start to answer; the example builds its Demo "
            "(an HTTPXClient, the page bundle), the minimal one a plain client",
        )
    ]


def run(scale: Scale) -> list[Row]:
    rows = imports(scale)
    with fake.running() as server:
        rows += lambda_first_call(server, scale)
    return rows
