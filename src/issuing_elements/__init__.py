"""The server side of Stripe Issuing Elements.

Authorize the user for the card, trade the browser's nonce for an ephemeral
key, and hand back only the secret: :class:`EphemeralKeyIssuer` does all
three for any web framework.
"""

from __future__ import annotations

from ._audit import AuditEvent, AuditSink, log_audit_event
from ._authorize import Authorizer, Verdict
from ._config import ClientConfig, client_config
from ._elements import (
    AddToWalletButton,
    CardCopyButton,
    CardCvcDisplay,
    CardExpiryDisplay,
    CardNumberDisplay,
    CardPinDisplay,
    ElementOptions,
)
from ._issuer import EphemeralKeyIssuer
from ._ledger import KeyLedger, LiveKey, MemoryKeyLedger, RedisKeyLedger
from ._origin import ContentSecurityPolicy, content_security_policy
from ._rate_limit import MemoryRateLimiter, RateLimit, RateLimiter, RedisRateLimiter
from ._records import Grant, HttpResponse, IssuedKey, KeyRequest
from ._style import CSSProperties, Style, StyleVariant
from .exceptions import IssuingElementsError

__all__ = [
    "AddToWalletButton",
    "AuditEvent",
    "AuditSink",
    "Authorizer",
    "CSSProperties",
    "CardCopyButton",
    "CardCvcDisplay",
    "CardExpiryDisplay",
    "CardNumberDisplay",
    "CardPinDisplay",
    "ClientConfig",
    "ContentSecurityPolicy",
    "ElementOptions",
    "EphemeralKeyIssuer",
    "Grant",
    "HttpResponse",
    "IssuedKey",
    "IssuingElementsError",
    "KeyLedger",
    "KeyRequest",
    "LiveKey",
    "MemoryKeyLedger",
    "MemoryRateLimiter",
    "RateLimit",
    "RateLimiter",
    "RedisKeyLedger",
    "RedisRateLimiter",
    "Style",
    "StyleVariant",
    "Verdict",
    "client_config",
    "content_security_policy",
    "log_audit_event",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 - only when asked

        return version("issuing-elements")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
