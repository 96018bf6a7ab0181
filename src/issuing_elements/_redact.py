"""Keep Stripe secrets out of log records, whoever writes them.

stripe-python logs whole response bodies at DEBUG on the ``stripe`` logger,
ephemeral key secrets included. Applications turn DEBUG on; the filter
installed here masks every secret before any handler sees the record.
"""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"\b((?:sk|rk|ek)_(?:test|live))_[A-Za-z0-9]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-\.]{8,}")

LOGGER_NAMES = ("stripe", "issuing_elements")


def redact(text: str) -> str:
    """Replace every Stripe secret in *text* with its prefix and a mask."""
    return _BEARER.sub(r"\1 [REDACTED]", _SECRET.sub(r"\1_[REDACTED]", text))


class RedactSecrets(logging.Filter):
    """A logging filter that masks secrets in the message and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


def install() -> None:
    """Put the filter on the loggers that may see secrets, once."""
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
