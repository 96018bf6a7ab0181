"""A bare ``import issuing_elements`` loads only what issuing a key needs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import issuing_elements

# Web frameworks, Redis clients, HTTP clients (stripe-python imports its own
# transports, so those are counted beyond `import stripe`), and what only the
# page-side builders use.
HEAVY = (
    "flask",
    "fastapi",
    "starlette",
    "django",
    "redis",
    "aiohttp",
    "httpx",
    "difflib",
)


def modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def test_a_bare_import_loads_no_framework_redis_or_extra_http_client() -> None:
    added = modules_after("import issuing_elements") - modules_after("import stripe")
    assert [] == sorted(name for name in added if name.partition(".")[0] in HEAVY)


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("Style", "issuing_elements._style"),
        ("CardNumberDisplay", "issuing_elements._elements"),
        ("client_config", "issuing_elements._client_config"),
    ],
)
def test_a_lazy_name_is_the_one_its_module_defines(name: str, module: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(
        issuing_elements, name
    )


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        issuing_elements.Nope  # noqa: B018 - the lookup is the test


EVENT_DOOR = ["issuing_elements._events", "issuing_elements._flows.stripe_events"]
BUILT = (
    "import stripe, issuing_elements as ie\n"
    "client = stripe.StripeClient('sk_test_fake_bare_import')\n"
    "ie.EphemeralKeyIssuer(client, lambda user, request: False{})"
)


def test_an_issuer_without_webhook_secrets_loads_no_event_door() -> None:
    loaded = modules_after(BUILT.format(""))
    assert [] == [name for name in EVENT_DOOR if name in loaded]


def test_webhook_secrets_load_their_checks() -> None:
    with_secrets = ", webhook_secrets=['whsec_fake1'], key_ledger=ie.MemoryKeyLedger()"
    loaded = modules_after(BUILT.format(with_secrets))
    assert "issuing_elements._events" in loaded
