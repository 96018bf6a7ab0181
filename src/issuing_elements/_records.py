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
    """What the browser or the app asks for, already checked for shape.

    The authorizer receives it and decides whether the user may see the card.

    Attributes:
        card_id: The Issuing card (``ic_...``).
        nonce: The page's single-use nonce (``ephkn_...``); ``None`` for a
            mobile app's request (push provisioning), which sends none. An
            authorizer that looks only at ``card_id`` serves both.
    """

    card_id: str
    nonce: str | None


@attrs.frozen
class MobileKeyRequest:
    """A mobile SDK's request: the card, and the Stripe API version it speaks."""

    key: KeyRequest
    api_version: str


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
    """An ephemeral key that Stripe issued for one card.

    ``secret`` is the only thing the browser needs. It never appears in
    ``repr()`` or ``str()``.

    Attributes:
        nonce: The nonce it was traded for; ``None`` for a mobile key.
        created: When Stripe created it (epoch seconds), when Stripe said.
        api_version: The ``Stripe-Version`` it was issued under, for a
            mobile key (the SDK's); ``None`` for a web key (the issuer's).
    """

    id: str
    secret: str = attrs.field(repr=False)
    expires: int
    livemode: bool
    card_id: str
    nonce: str | None
    stripe_account: str | None = None
    created: int | None = None
    api_version: str | None = None

    def stripe_object(self) -> dict[str, object]:
        """Stripe's ephemeral key object, as Stripe's mobile SDKs read it.

        ``{id, object, associated_objects, created, expires, livemode,
        secret}``: the body a mobile app's key provider hands its SDK.
        """
        return {
            "id": self.id,
            "object": "ephemeral_key",
            "associated_objects": [{"id": self.card_id, "type": "issuing.card"}],
            "created": self.created,
            "expires": self.expires,
            "livemode": self.livemode,
            "secret": self.secret,
        }


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
