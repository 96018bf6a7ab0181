"""Apply each named mutant by hand, run the tests, restore.

Issue 7's twelve, issue 16's three survivors of ``make mutate``, and issue
22's one-line bugs that the whole suite once let through.

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
    "tests/doors/sessions/test_account_sessions.py",
    "tests/doors/sessions/test_account_sessions_wire.py",
    "tests/doors/mobile/test_mobile.py",
    "tests/behaviour/secrets/test_secrets_stay_out.py",
    "tests/behaviour/stripe_answers/test_stripe_faults.py",
    "tests/behaviour/stripe_answers/test_stripe_answers.py",
    "tests/behaviour/limits/test_issuer_controls.py",
]
KEY_ID_CHECK = "return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None"
CLIENT_SECRET_PATTERN = (
    r'''r"""(?i)((?:\\?["']client_?secret\\?["']\s*:\s*\\?["'])'''
    r'''|(?:\bclient_?secret=))"""'''
)


def _swapped(first: str, second: str) -> tuple[str, str]:
    """The original text (*first*, then *second*) and the two in the other order."""
    return first + second, second + first


# The door's check that it is configured (an Account Session's authorizer), then admit.
SESSION_AUTHORIZER_THEN_ADMIT = _swapped(
    "        uses = door.uses(settings)\n",
    "        admitted = admit(settings, context, user)\n",
)
# The same two calls, the check first (on the entry the ledger is about to get).
RECORD_THEN_CHECK = (
    (
        "            recorded = yield from _record("
        "settings, user_id, made, deadline_at)\n"
        "            yield from _refuse_if_revoked("
        "settings, recorded, started, deadline_at)\n"
    ),
    (
        "            yield from _refuse_if_revoked(settings, "
        "_live_key(user_id or '', made) if settings.key_ledger else None, "
        "started, deadline_at)\n"
        "            recorded = yield from _record("
        "settings, user_id, made, deadline_at)\n"
    ),
)
TOMBSTONE_THEN_READ = _swapped(
    '    yield from _ask_ledger(settings, "mark_revoked", **subject)\n',
    "    found = yield from _ask_ledger(\n"
    '        settings, "keys_for_user" if user_id is not None else "keys_for_card", '
    "**subject\n"
    "    )\n",
)
FORGET_GONE_KEY = (
    "        # Stripe has no such key any more: revoked or expired already.\n"
    '        yield from _ask_ledger(settings, "forget", entry=entry)\n'
)
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
        'return isinstance(value, str) and value.startswith("ek_")',
        "return isinstance(value, str)",
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
    # Issue 22's gaps: one-line bugs the whole suite once let through.
    "session-grant-look-alike": (
        "_authorize.py",
        "if isinstance(verdict, AccountSessionGrant):",
        'if hasattr(verdict, "account"):',
    ),
    "session-unknown-feature-enabled": (
        "_stripe_answers.py",
        "value is not False for key, value in features.items() if key not in wanted",
        "value is None for key, value in features.items() if key not in wanted",
    ),
    "session-denial-as-card-not-found": (
        "_authorize.py",
        'raise AccountNotFoundError("The account_sessions authorizer denied',
        'raise CardNotFoundError("The account_sessions authorizer denied',
    ),
    "session-authorizer-error-as-card-not-found": (
        "_authorize.py",
        'f"account {_asked(request)}",\n        AccountNotFoundError,',
        'f"account {_asked(request)}",\n        CardNotFoundError,',
    ),
    "session-budget-shared-by-all": (
        "_flows/account_sessions.py",
        'request.account or f"{user_id}:account_session",',
        'request.account or "account_session",',
    ),
    "session-401-before-no-authorizer": (
        "_flows/exchange.py",
        *SESSION_AUTHORIZER_THEN_ADMIT,
    ),
    # One Door serves the mobile endpoint and issue_mobile: one text, two names.
    "mobile-endpoint-audited-as-web": (
        "_flows/keys.py",
        'Door(\n    action="issue_mobile",',
        'Door(\n    action="issue",',
    ),
    "issue-mobile-audited-as-web": (
        "_flows/keys.py",
        'Door(\n    action="issue_mobile",',
        'Door(\n    action="issue",',
    ),
    "api-version-blamed-on-card-id": (
        "_request.py",
        'field="api_version",',
        'field="card_id",',
    ),
    "retry-after-zero-passed-on": (
        "_stripe_answers.py",
        "return min(MAX_RETRY_AFTER, max(1, seconds))",
        "return min(MAX_RETRY_AFTER, seconds)",
    ),
    # The error floors every Retry-After too (an authorizer's, a store's):
    # Stripe's 0 passes both floors, so each is a mutant of its own.
    "retry-after-error-floor-dropped": (
        "exceptions.py",
        "self.retry_after: int = max(1, int(retry_after))",
        "self.retry_after: int = int(retry_after)",
    ),
    "client-secret-case-sensitive": (
        "_redact.py",
        CLIENT_SECRET_PATTERN,
        CLIENT_SECRET_PATTERN.replace("(?i)", ""),
    ),
    "client-secret-camel-case-blind": (
        "_redact.py",
        CLIENT_SECRET_PATTERN,
        CLIENT_SECRET_PATTERN.replace("client_?secret", "client_secret"),
    ),
    "client-secret-pairs-blind": (
        "_redact.py",
        CLIENT_SECRET_PATTERN,
        CLIENT_SECRET_PATTERN.replace(r"|(?:\bclient_?secret=)", ""),
    ),
    "tombstone-checked-before-recording": (
        "_flows/exchange.py",
        *RECORD_THEN_CHECK,
    ),
    "ledger-read-before-tombstone": (
        "_flows/revocation.py",
        *TOMBSTONE_THEN_READ,
    ),
    "no-clock-margin": (
        "_flows/exchange.py",
        "CLOCK_MARGIN = 1.0",
        "CLOCK_MARGIN = 0.0",
    ),
    "gone-key-kept-in-ledger": (
        "_flows/revocation.py",
        FORGET_GONE_KEY,
        "        # Stripe has no such key any more: revoked or expired already.\n",
    ),
    "revoke-user-empty-accepted": (
        "_flows/revocation.py",
        "if not isinstance(given, str) or not given:",
        "if not isinstance(given, str):",
    ),
    "revoke-card-empty-accepted": (
        "_flows/revocation.py",
        "if not is_card_id(card_id):",
        "if card_id and not is_card_id(card_id):",
    ),
    # A limiter declares fail_open (refused at construction otherwise); one
    # that declares False must fail closed.
    "custom-limiter-fails-open": (
        "_flows/checks.py",
        "if limiter is None or limiter.fail_open is not True:",
        "if limiter is None:",
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
