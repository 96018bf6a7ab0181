"""The values that flow through the endpoint: request in, grant, key out."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

import attrs

from ._ids import is_account_id
from ._redact import describe

if TYPE_CHECKING:
    from collections.abc import Mapping


@attrs.frozen
class KeyRequest:
    """What the browser asks for, already checked for shape.

    The authorizer receives it and decides whether the user may see the card.
    """

    card_id: str
    nonce: str


def _check_account(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None and not is_account_id(value):
        # Never the value: a secret key given here by mistake must not reach a log.
        msg = (
            "stripe_account must be None or a connected account id "
            f"(acct_...), not {describe(value)}"
        )
        raise ValueError(msg)


@attrs.frozen
class Grant:
    """An authorizer's yes.

    Attributes:
        stripe_account: The connected account that owns the card (Connect).
            It is sent to Stripe as ``Stripe-Account``; it always comes from
            the server, never from the browser.
    """

    stripe_account: str | None = attrs.field(default=None, validator=_check_account)


@attrs.frozen
class IssuedKey:
    """An ephemeral key that Stripe issued for one card and one nonce.

    ``secret`` is the only thing the browser needs. It never appears in
    ``repr()`` or ``str()``.
    """

    id: str
    secret: str = attrs.field(repr=False)
    expires: int
    livemode: bool
    card_id: str
    nonce: str
    stripe_account: str | None = None


def _freeze_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(headers))


@attrs.frozen
class HttpResponse:
    """What the endpoint answers: give these to the web framework as they are.

    Attributes:
        status: The HTTP status code.
        headers: Header names and values (``Content-Type``, ``Cache-Control``,
            and ``Retry-After`` where it applies), read-only.
        body: The JSON body, encoded as UTF-8.
    """

    status: int
    headers: Mapping[str, str] = attrs.field(converter=_freeze_headers)
    body: bytes = attrs.field(repr=False)
