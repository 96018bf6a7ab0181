"""The server side of Stripe Issuing Elements.

Authorize the user for the card, trade the browser's nonce for an ephemeral
key, and hand back only the secret: :class:`EphemeralKeyIssuer` does all
three for any web framework.
"""

from __future__ import annotations

import importlib
import typing

from ._authorize import Authorizer, Verdict
from ._issuer import EphemeralKeyIssuer
from ._records import Grant, HttpResponse, IssuedKey, KeyRequest
from .exceptions import IssuingElementsError

# Type checkers see every name eagerly; at run time some load on first use.
if typing.TYPE_CHECKING:
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
    from ._style import CSSProperties, Style, StyleVariant

    __version__: str

__all__ = [
    "AddToWalletButton",
    "Authorizer",
    "CSSProperties",
    "CardCopyButton",
    "CardCvcDisplay",
    "CardExpiryDisplay",
    "CardNumberDisplay",
    "CardPinDisplay",
    "ClientConfig",
    "ElementOptions",
    "EphemeralKeyIssuer",
    "Grant",
    "HttpResponse",
    "IssuedKey",
    "IssuingElementsError",
    "KeyRequest",
    "Style",
    "StyleVariant",
    "Verdict",
    "client_config",
]

# What the issuer's path does not use loads on first use: a server that only
# issues keys (a Lambda cold start) does not pay for the page-side builders.
_LAZY = {
    "AddToWalletButton": "._elements",
    "CSSProperties": "._style",
    "CardCopyButton": "._elements",
    "CardCvcDisplay": "._elements",
    "CardExpiryDisplay": "._elements",
    "CardNumberDisplay": "._elements",
    "CardPinDisplay": "._elements",
    "ClientConfig": "._config",
    "ElementOptions": "._elements",
    "Style": "._style",
    "StyleVariant": "._style",
    "client_config": "._config",
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
