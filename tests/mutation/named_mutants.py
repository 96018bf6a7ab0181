"""Apply each of issue 7's twelve named mutants by hand, run the tests, restore.

``python tests/mutation/named_mutants.py [NAME,...|all] [pytest args...]``
prints, per mutant, whether the tests killed it. It edits ``src/`` in place
and puts every file back, whatever happens; run it on a clean tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = "src/issuing_elements/"
TESTS = [
    "tests/doors/web/test_endpoint.py",
    "tests/doors/web/test_stripe_wire.py",
    "tests/doors/web/test_error_bodies.py",
    "tests/behaviour/audit/test_audit.py",
]
KEY_ID_CHECK = "return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None"
# name: (file, original text, mutated text)
MUTANTS = {
    "grant-look-alike": (
        "_authorize.py",
        "if isinstance(verdict, Grant):",
        'if hasattr(verdict, "stripe_account"):',
    ),
    "body-limit-off-by-one": (
        "_request.py",
        "if len(body) > max_body_bytes:",
        "if len(body) >= max_body_bytes:",
    ),
    "charset-name-case": (
        "_request.py",
        'if name.strip().lower() == "charset":',
        'if name.strip() == "charset":',
    ),
    "json-array-of-pairs": (
        "_request.py",
        "if not isinstance(document, _Pairs):",
        "if not isinstance(document, list):",
    ),
    "form-not-strict": (
        "_request.py",
        "strict_parsing=bool(text),",
        "strict_parsing=False,",
    ),
    "recursion-not-caught": (
        "_request.py",
        "except (UnicodeDecodeError, ValueError, RecursionError):",
        "except (UnicodeDecodeError, ValueError):",
    ),
    "card-id-word-characters": (
        "_ids.py",
        'r"ic_[A-Za-z0-9]{1,250}"',
        r'r"ic_\w{1,250}"',
    ),
    "nonce-unbounded": (
        "_ids.py",
        'r"ephkn_[A-Za-z0-9_]{1,500}"',
        'r"ephkn_[A-Za-z0-9_]+"',
    ),
    "key-id-prefix-match": (
        "_ids.py",
        KEY_ID_CHECK,
        KEY_ID_CHECK.replace("fullmatch", "match"),
    ),
    "key-id-startswith": (
        "_ids.py",
        KEY_ID_CHECK,
        'return isinstance(value, str) and value.startswith("ephkey_")',
    ),
    "secret-any-prefix": (
        "_stripe_answers.py",
        'return isinstance(value, str) and value.startswith("ek_")\n',
        "return isinstance(value, str)\n",
    ),
    "idempotency-key-on-delete": (
        "_flows/revocation.py",
        "options = stripe_options(settings, stripe_account, idempotent=False)",
        "options = stripe_options(settings, stripe_account, idempotent=True)",
    ),
    # Issue 16's three survivors of `make mutate`.
    "retry-after-drops-base-headers": (
        "_response.py",
        "headers={**_HEADERS, **(extra or {})}",
        "headers=extra or _HEADERS",
    ),
    "retry-after-rounds-down": (
        "_flows/checks.py",
        "seconds = math.ceil(float(retry_in))",
        "seconds = int(float(retry_in))",
    ),
    "revocation-audited-as-warning": (
        "_audit.py",
        'event.outcome in ("granted", "revoked", "ignored")',
        'event.outcome in ("granted", "ignored")',
    ),
    "errors-cacheable": (
        "_response.py",
        "headers={**_HEADERS, **(extra or {})}",
        (
            "headers={k: v for k, v in {**_HEADERS, **(extra or {})}.items() "
            'if status == 200 or k != "Cache-Control"}'
        ),
    ),
}


def run(name: str, pytest_args: list[str]) -> str:
    module, original, mutated = MUTANTS[name]
    path = ROOT / SRC / module
    source = path.read_text()
    if source.count(original) != 1:
        return f"{name}: the original text is not in {module} exactly once"
    try:
        path.write_text(source.replace(original, mutated))
        result = subprocess.run(  # noqa: S603 - our own venv's pytest
            [
                *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
                *("-x", *pytest_args),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(source)
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    outcome = {0: "SURVIVED", 1: "killed"}.get(result.returncode, "error")
    return f"{name}: {outcome} {failed[:1]}"


def main(argv: list[str]) -> int:
    names = list(MUTANTS) if not argv or argv[0] == "all" else argv[0].split(",")
    for name in names:
        print(run(name, argv[1:] or TESTS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
