"""Keep Stripe secrets out of log records, whoever writes them.

stripe-python logs whole response bodies at DEBUG on the ``stripe`` logger,
ephemeral key secrets included. Applications turn DEBUG on; the filter
installed here masks every secret before any handler sees the record.
"""

from __future__ import annotations

import logging
import re

# A secret is its prefix and everything up to the next character that cannot
# be part of one. Stripe's ephemeral key secrets hold base64 text, then
# ``_00`` and a tail (``ek_test_YWNj..._00ApvOMxYd``), so ``_`` and ``-`` are
# key material too. No ``\b`` before the prefix: ``secret_sk_test_...`` and
# ``%3Dsk_test_...`` are secrets as well (masking a ``desk_test_x`` too is the
# price of failing closed).
_SECRET = re.compile(r"((?:sk|rk|ek)_(?:test|live))_[A-Za-z0-9_+/-]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-\.]{8,}")

LOGGER_NAMES = ("stripe", "issuing_elements")


def redact(text: str) -> str:
    """Replace every Stripe secret in *text* with its prefix and a mask."""
    return _BEARER.sub(r"\1 [REDACTED]", _SECRET.sub(r"\1_[REDACTED]", text))


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
