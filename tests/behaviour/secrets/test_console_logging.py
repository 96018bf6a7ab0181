"""The stderr guard decides exactly as stripe-python decides to print.

stripe-python prints to stderr, past every log filter, when its console
level is ``debug`` (every response body, key secrets included) or ``info``
(every request, and Stripe's error messages unmasked): ``stripe.log`` when it
is ``"debug"`` or ``"info"``, else ``STRIPE_LOG`` as it stood when stripe was
imported. Each case runs in a fresh interpreter that really issues a key
against ``FakeStripe``, and its stderr is read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
import stripe

from issuing_elements._redact import stripe_console_level

LOG_VALUES = (None, "debug", "DEBUG", "info", "error")

# One case: set stripe.log, issue a key, say what happened; a marker on
# stderr before each case tells whose output follows.
_SCRIPT = """
import json, os, sys
import stripe
from issuing_elements import EphemeralKeyIssuer
from issuing_elements.exceptions import ServerMisconfiguredError
from issuing_elements.testing import FakeStripe

if sys.argv[1] == "remove":
    del os.environ["STRIPE_LOG"]
outcomes = {}
with FakeStripe() as fake:
    fake.add_card("ic_1Console")
    issuer = EphemeralKeyIssuer(fake.client(), lambda _user, _request: True)
    for log in json.loads(sys.argv[2]):
        stripe.log = log
        print(f"=== case {log}", file=sys.stderr, flush=True)
        try:
            key = issuer.issue(
                "alice", card_id="ic_1Console", nonce=fake.create_nonce("ic_1Console")
            )
        except ServerMisconfiguredError:
            outcomes[str(log)] = None
        else:
            outcomes[str(log)] = key.secret
        sys.stderr.flush()
print(json.dumps(outcomes))
"""

REFUSED = "refused"
ISSUED = "issued, stderr clean"
PRINTED = "issued, stripe-python printed to stderr"
LEAKED = "issued, secret on stderr"


def _run(env_at_import: str | None, *, removed_after_import: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STRIPE_LOG"}
    if env_at_import is not None:
        env["STRIPE_LOG"] = env_at_import
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            "-c",
            _SCRIPT,
            "remove" if removed_after_import else "keep",
            json.dumps(LOG_VALUES),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    secrets = json.loads(done.stdout)
    stderr_by_case = {
        part.split("\n", 1)[0]: part for part in done.stderr.split("=== case ")[1:]
    }
    return {
        case: REFUSED
        if secret is None
        else LEAKED
        if secret in stderr_by_case[case]
        # stripe-python's console lines are logfmt: ``message='Request ...'``.
        else PRINTED
        if "message=" in stderr_by_case[case]
        else ISSUED
        for case, secret in secrets.items()
    }


# stripe.log -> outcome. stripe.log overrides the environment only with a
# value it honours ("debug", "info"); "DEBUG" and "error" leave it in force.
OFF_AT_IMPORT = {
    "None": ISSUED,
    "debug": REFUSED,
    "DEBUG": ISSUED,
    "info": REFUSED,
    "error": ISSUED,
}
ON_AT_IMPORT = dict.fromkeys(OFF_AT_IMPORT, REFUSED)


@pytest.mark.parametrize(
    ("env_at_import", "removed_after_import", "expected"),
    [
        (None, False, OFF_AT_IMPORT),
        ("debug", False, ON_AT_IMPORT),
        # stripe read STRIPE_LOG once, at its import: removing it later
        # does not stop the printing.
        ("debug", True, ON_AT_IMPORT),
        ("info", False, ON_AT_IMPORT),
        ("info", True, ON_AT_IMPORT),
        ("DEBUG", False, OFF_AT_IMPORT),
    ],
)
def test_a_key_is_issued_exactly_when_stripe_prints_nothing(
    env_at_import: str | None,
    removed_after_import: bool,
    expected: dict[str, str],
) -> None:
    assert expected == _run(env_at_import, removed_after_import=removed_after_import)


@pytest.mark.parametrize("read_at_import", [None, "debug", "info", "warning"])
@pytest.mark.parametrize("log", LOG_VALUES)
def test_the_replayed_rule_agrees_with_stripes_own(
    monkeypatch: pytest.MonkeyPatch, read_at_import: str | None, log: str | None
) -> None:
    # Without stripe-python's private function (a future version), the
    # guard replays its rule: it must answer what the function answers.
    util = stripe._util
    monkeypatch.setattr(util, "STRIPE_LOG", read_at_import)
    monkeypatch.setattr(stripe, "log", log)
    stripes_own: Callable[[], object] = util._console_log_level
    expected = stripes_own()
    monkeypatch.delattr(util, "_console_log_level")

    assert expected == stripe_console_level()
