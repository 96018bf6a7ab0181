"""The public namespace is exactly ``__all__``, sorted."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib.metadata import version

import issuing_elements
from issuing_elements import exceptions


def public_names(module: types.ModuleType) -> set[str]:
    # dir() and getattr(), not vars(): the package loads some names lazily.
    return {
        name
        for name in dir(module)
        if not name.startswith("_")
        and not isinstance(getattr(module, name), types.ModuleType)
        and name != "annotations"
    }


def test_all_is_the_public_namespace() -> None:
    assert public_names(issuing_elements) == set(issuing_elements.__all__)


def test_all_is_sorted() -> None:
    assert sorted(issuing_elements.__all__) == issuing_elements.__all__


def test_exceptions_module_exports_every_error() -> None:
    assert public_names(exceptions) - {"ClassVar"} == set(exceptions.__all__)


def test_version_comes_from_the_package_metadata() -> None:
    assert version("issuing-elements") == issuing_elements.__version__


def test_every_error_has_a_distinct_code_or_is_a_refinement() -> None:
    codes = {
        (cls.status, cls.code)
        for cls in vars(exceptions).values()
        if isinstance(cls, type) and issubclass(cls, exceptions.IssuingElementsError)
    }
    assert {
        (400, "invalid_request"),
        (400, "invalid_nonce"),
        (400, "unsupported_api_version"),
        (400, "signature_invalid"),
        (400, "signature_missing"),
        (400, "signature_malformed"),
        (400, "signature_expired"),
        (401, "unauthenticated"),
        (403, "forbidden_origin"),
        (404, "card_not_found"),
        (404, "account_not_found"),
        (413, "body_too_large"),
        (415, "unsupported_media_type"),
        (429, "rate_limited"),
        (500, "server_misconfigured"),
        (503, "stripe_unavailable"),
        (503, "service_unavailable"),
    } == codes


def test_importing_the_package_does_not_import_redis() -> None:
    # redis is an optional extra: only the Redis stores need it, when built.
    check = "import sys, issuing_elements; print('redis' in sys.modules)"

    shown = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )

    assert "False\n" == shown.stdout
