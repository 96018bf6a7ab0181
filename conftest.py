"""Suite-wide checks shared by tests/ and examples/.

* ``require_system`` (and ``require_system_once``, its session-scoped twin):
  a test that needs a system component (chromium, node, redis-server) skips
  with a reason where it is missing, and fails instead when
  ``ISSUING_ELEMENTS_REQUIRE_SYSTEM=1`` (CI sets it).
* ``_no_secret_escapes``: every test runs with every logger at DEBUG
  (stripe-python's own ``stripe`` logger included), and afterwards no log
  record, no library error and no repr of a library value may hold a Stripe
  secret, an Account Session's client secret included.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator

import pytest

import issuing_elements
from issuing_elements import exceptions

REQUIRE_SYSTEM = os.environ.get("ISSUING_ELEMENTS_REQUIRE_SYSTEM") == "1"

# A secret is a prefix and at least a few characters of key material, in
# Stripe's real shape (``ek_test_<base64 text>_00<tail>``: underscores and
# dashes inside), whatever comes before it (``secret_sk_test_...``). The
# library's own mask (``ek_test_[REDACTED]``) does not match, but a mask
# followed by key material does: that is the rest of a secret the mask cut
# short (``ek_test_[REDACTED]_00ApvOMxYd``). Written apart from the library's
# pattern on purpose: the check must not share its bugs.
#
# An Account Session's client secret comes in two shapes: ``accs_secret__``
# and key material (Stripe's fixtures; FakeStripe mints that shape), or no
# prefix at all, ``_`` and a long run of letters and digits (Stripe's docs'
# example has 47). Each is looked for by its shape, the bare one standing alone.
# A webhook signing secret is ``whsec_`` and key material.
SECRET = re.compile(
    r"(?:sk|rk|ek)_(?:test|live)_[A-Za-z0-9_+/-]{4,}"
    r"|whsec_[A-Za-z0-9_+/-]{4,}"
    r"|\[REDACTED\][A-Za-z0-9_+/-]+"
    r"|(?i:accs_secret__)[A-Za-z0-9_+/-]{4,}"
    r"|(?<![A-Za-z0-9_])_[A-Za-z0-9]{40,}(?![A-Za-z0-9_])"
)


def _find_system(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        reason = f"{program} is not installed"
        if REQUIRE_SYSTEM:
            pytest.fail(f"{reason}, and ISSUING_ELEMENTS_REQUIRE_SYSTEM=1")
        pytest.skip(f"{reason} (install it, or see .ci/run)")
    return path


@pytest.fixture
def require_system() -> Callable[[str], str]:
    """``require_system("chromium")`` returns the program's path, or skips."""
    return _find_system


@pytest.fixture(scope="session")
def require_system_once() -> Callable[[str], str]:
    """Same as ``require_system``, for session-scoped fixtures (one redis-server)."""
    return _find_system


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


def secrets_in(texts: list[str]) -> list[str]:
    """The secrets (or their unmasked rest) in *texts*, for the check and its test."""
    return [match.group(0) for text in texts for match in SECRET.finditer(text)]


@pytest.fixture
def find_secrets() -> Callable[[list[str]], list[str]]:
    """The suite-wide check's detector, so that a test can test it."""
    return secrets_in


_WATCHED = (
    issuing_elements.AccountSession,
    issuing_elements.IssuedKey,
    issuing_elements.HttpResponse,
    issuing_elements.Grant,
    issuing_elements.KeyRequest,
    issuing_elements.EphemeralKeyIssuer,
)


@pytest.fixture(autouse=True)
def _no_secret_escapes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    handler = _Records()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    stripe_logger = logging.getLogger("stripe")
    levels = root.level, stripe_logger.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    stripe_logger.setLevel(logging.DEBUG)

    made: list[object] = []
    original_error_init = exceptions.IssuingElementsError.__init__

    def error_init(
        self: exceptions.IssuingElementsError, *a: object, **k: object
    ) -> None:
        original_error_init(self, *a, **k)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(exceptions.IssuingElementsError, "__init__", error_init)
    for cls in _WATCHED:
        original = cls.__init__

        def init(
            self: object, *a: object, __o: Callable[..., None] = original, **k: object
        ) -> None:
            __o(self, *a, **k)
            made.append(self)

        monkeypatch.setattr(cls, "__init__", init)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        stripe_logger.setLevel(levels[1])
    texts = list(handler.texts)
    for value in made:
        texts.append(repr(value))
        texts.append(str(value))
        if isinstance(value, exceptions.IssuingElementsError):
            texts.append(value.public_message)
    leaked = secrets_in(texts)
    assert leaked == [], (
        f"a secret escaped into a log record, an error or a repr: {leaked}"
    )
