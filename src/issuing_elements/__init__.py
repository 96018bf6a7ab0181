"""The server side of Stripe Issuing Elements.

Authorize the user for the card, trade the browser's nonce for an ephemeral
key, and hand back only the secret:
[`EphemeralKeyIssuer`][issuing_elements.EphemeralKeyIssuer] does all
three for any web framework.
"""

from __future__ import annotations

import importlib
import typing

from ._audit import AuditEvent, AuditSink, log_audit_event
from ._authorize import Authorizer, Verdict
from ._components import (
    AccountSession,
    AccountSessionGrant,
    AccountSessionRequest,
    IssuingCardComponent,
    IssuingCardsListComponent,
)
from ._csp import ContentSecurityPolicy, content_security_policy
from ._issuer import EphemeralKeyIssuer
from ._records import Grant, HttpResponse, IssuedKey, KeyRequest
from ._request import environ_headers
from .exceptions import IssuingElementsError

# Type checkers see every name eagerly; at run time some load on first use.
if typing.TYPE_CHECKING:
    from ._client_config import ClientConfig, client_config
    from ._elements import (
        AddToWalletButton,
        CardCopyButton,
        CardCvcDisplay,
        CardExpiryDisplay,
        CardNumberDisplay,
        CardPinDisplay,
        ElementOptions,
    )
    from ._ledger import KeyLedger, LiveKey, MemoryKeyLedger, RedisKeyLedger
    from ._rate_limit import (
        MemoryRateLimiter,
        RateLimit,
        RateLimiter,
        RedisRateLimiter,
    )
    from ._style import CSSProperties, Style, StyleVariant

    __version__: str

__all__ = [
    "AccountSession",
    "AccountSessionGrant",
    "AccountSessionRequest",
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
    "IssuingCardComponent",
    "IssuingCardsListComponent",
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
    "environ_headers",
    "log_audit_event",
]

# What the issuer's path does not use loads on first use: a server that only
# issues keys (a Lambda cold start) pays neither for the page-side builders
# nor for the production controls it does not configure.
_LAZY = {
    "AddToWalletButton": "._elements",
    "CSSProperties": "._style",
    "CardCopyButton": "._elements",
    "CardCvcDisplay": "._elements",
    "CardExpiryDisplay": "._elements",
    "CardNumberDisplay": "._elements",
    "CardPinDisplay": "._elements",
    "ClientConfig": "._client_config",
    "ElementOptions": "._elements",
    "KeyLedger": "._ledger",
    "LiveKey": "._ledger",
    "MemoryKeyLedger": "._ledger",
    "MemoryRateLimiter": "._rate_limit",
    "RateLimit": "._rate_limit",
    "RateLimiter": "._rate_limit",
    "RedisKeyLedger": "._ledger",
    "RedisRateLimiter": "._rate_limit",
    "Style": "._style",
    "StyleVariant": "._style",
    "client_config": "._client_config",
}


def __getattr__(name: str) -> object:
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 - only when asked

        return version("issuing-elements")
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
