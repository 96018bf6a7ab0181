"""Keep Stripe secrets out of log records and off stderr, whoever writes them.

stripe-python logs whole response bodies at DEBUG on the ``stripe`` logger,
ephemeral key secrets included. Applications turn DEBUG on; the filter
installed here masks every secret before any handler sees the record.
stripe-python can also print straight to stderr, past every logger: those
bodies (``stripe.log = "debug"``, ``STRIPE_LOG=debug``), or Stripe's error
messages unmasked (``"info"``): the issuer refuses to call Stripe while it
would (`check_console_logging`).
"""

from __future__ import annotations

import logging
import os
import re

import stripe

from .exceptions import ServerMisconfiguredError

# A secret is its prefix and everything up to the next character that cannot
# be part of one. Stripe's ephemeral key secrets hold base64 text, then
# ``_00`` and a tail (``ek_test_YWNj..._00ApvOMxYd``), so ``_`` and ``-`` are
# key material too. No ``\b`` before the prefix: ``secret_sk_test_...`` and
# ``%3Dsk_test_...`` are secrets as well (masking a ``desk_test_x`` too is the
# price of failing closed).
_SECRET = re.compile(r"((?:sk|rk|ek)_(?:test|live)|whsec)_[A-Za-z0-9_+/-]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-\.]{8,}")
# An Account Session's client secret comes in two shapes in Stripe's published
# material: ``accs_secret__`` and a run of letters and digits (the OpenAPI
# fixtures), or a bare ``_`` and such a run (the docs' example, 47 long). Both
# are found by their shape wherever they stand (a body that is not JSON, an
# error message), the bare one standing alone and at least 32 long, so that
# ids such as ``ic_1Fake`` never match.
_SESSION_SECRET = re.compile(
    r"(?i)(accs_secret_)_[A-Za-z0-9_-]+"
    r"|(?<![A-Za-z0-9_])_[A-Za-z0-9]{32,}[A-Za-z0-9_-]*"
)
# And by where it stands, whatever its shape: the value of a ``client_secret``
# or ``clientSecret`` field (any case) in JSON (stripe-python logs whole
# response bodies, escaped JSON too), a Python mapping's repr, or a form or
# logfmt pair (``client_secret=...``).
_CLIENT_SECRET = re.compile(
    r"""(?i)((?:\\?["']client_?secret\\?["']\s*:\s*\\?["'])|(?:\bclient_?secret=))"""
    r"""[^"'\\&\s]+"""
)

LOGGER_NAMES = ("stripe", "issuing_elements")


def redact(text: str) -> str:
    """Replace every Stripe secret in *text* with its prefix and a mask."""
    masked = _BEARER.sub(r"\1 [REDACTED]", _SECRET.sub(r"\1_[REDACTED]", text))
    masked = _SESSION_SECRET.sub(_mask_session_secret, masked)
    return _CLIENT_SECRET.sub(r"\1[REDACTED]", masked)


def _mask_session_secret(match: re.Match[str]) -> str:
    prefix = match.group(1)
    return f"{prefix}_[REDACTED]" if prefix else "_[REDACTED]"


def has_secret(text: str) -> bool:
    """Whether *text* holds something shaped like a Stripe secret or bearer token."""
    return redact(text) != text


def describe(value: object) -> str:
    """Name *value*'s type and size, never the value: for error messages.

    A wrong argument may be a secret given in the wrong place (a secret key
    as an account id); an error message must not carry it to a log.
    """
    if value is None:
        return "None"
    if isinstance(value, str):
        looks = ", shaped like a Stripe secret" if has_secret(value) else ""
        return f"a str of {len(value)} characters{looks}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


class RedactSecrets(logging.Filter):
    """A logging filter that masks secrets in every part of a record.

    The message with its arguments, the traceback (``exc_info``,
    ``exc_text``), the stack (``stack_info``) and every other text attribute
    (``extra=`` fields).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message, formatted = _message(record)
        masked = redact(message)
        if not formatted or masked != message or has_secret(_safe_repr(record.args)):
            # A secret may sit in an argument the format string never shows
            # (a mapping given to a message without placeholders), handlers
            # such as Sentry's read ``args`` on their own, and logging prints
            # the arguments of a record it cannot format to stderr: keep the
            # rendered, masked text only.
            record.msg, record.args = masked, None
        if record.exc_info:
            # The traceback is rendered here, masked, and ``exc_info`` is
            # dropped. Replacing only the exception by a masked stand-in would
            # not do: the traceback's frames keep their locals (an issued
            # key's secret among them), and formatters that render
            # ``exc_info`` themselves (JSON formatters, Sentry, rich tracebacks
            # with locals) would read them. Every standard formatter prints
            # ``exc_text`` when ``exc_info`` is empty.
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        for name, value in list(vars(record).items()):
            if isinstance(value, str):
                setattr(record, name, redact(value))
        return True


def _message(record: logging.LogRecord) -> tuple[str, bool]:
    """The record's message, and whether its format string and arguments fit."""
    try:
        return record.getMessage(), True
    except Exception:  # noqa: BLE001 - a filter must not raise into the caller
        return f"{_safe_str(record.msg)} {_safe_repr(record.args)}", False


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a filter must not raise into the caller
        return f"<unprintable {type(value).__name__}>"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a filter must not raise into the caller
        return f"<unprintable {type(value).__name__}>"


def install() -> None:
    """Put the filter on the loggers that may see secrets, once."""
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


# What stripe-python's console logging honours; other values mean "off".
_CONSOLE_LEVELS = ("debug", "info")
# Only for a stripe-python without the module constant: the environment as it
# stood when stripe-python was imported (it is imported above, so just before).
_STRIPE_LOG_AT_IMPORT = os.environ.get("STRIPE_LOG")


def stripe_console_level() -> object:
    """The level at which stripe-python prints to stderr, decided as it decides.

    stripe-python's own rule (``stripe._util._console_log_level``):
    ``stripe.log`` when it is ``"debug"`` or ``"info"``, else ``STRIPE_LOG``
    as it stood when stripe-python was imported, when it is one of those;
    else ``None``. Any other ``stripe.log`` (``"error"``, ``"DEBUG"``) does not
    turn the environment's level off, and changing ``os.environ`` later
    changes nothing. stripe's own function is asked when it exists; the rule
    is replayed when it does not.
    """
    util = getattr(stripe, "_util", None)
    decide = getattr(util, "_console_log_level", None)
    if callable(decide):
        return decide()
    log = getattr(stripe, "log", None)
    if log in _CONSOLE_LEVELS:
        return log
    read_at_import = getattr(util, "STRIPE_LOG", _STRIPE_LOG_AT_IMPORT)
    return read_at_import if read_at_import in _CONSOLE_LEVELS else None


def check_console_logging() -> None:
    """Refuse to work while stripe-python prints to stderr, past every filter.

    At ``"debug"`` (`stripe_console_level`) it prints whole bodies, key
    and session secrets included; at ``"info"``, Stripe's error messages,
    unmasked. Either level is refused: only the ``stripe`` logger, which
    this library redacts, may carry what Stripe says.
    """
    level = stripe_console_level()
    if level is not None:
        logging.getLogger("issuing_elements").error(
            "stripe-python's console logging is at %s (stripe.log, or "
            "STRIPE_LOG when stripe was imported): it prints %s to stderr, "
            "past every log filter. Refusing to call Stripe; unset "
            "STRIPE_LOG and leave stripe.log unset, and use the 'stripe' "
            "logger instead, which this library redacts.",
            level,
            "whole bodies, secrets included,"
            if level == "debug"
            else "Stripe's error messages, unmasked,",
        )
        raise ServerMisconfiguredError(f"stripe-python console {level} logging is on.")
