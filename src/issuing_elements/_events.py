"""Stripe's events in: the signature checked on the raw body, then the event read.

An event endpoint hears from Stripe, not from a browser: nothing of the body
is read before ``Stripe-Signature`` is verified against one of the
endpoint's webhook secrets, by stripe-python's own
``stripe.WebhookSignature.verify_header`` (HMAC-SHA256 of ``"<t>.<body>"``,
Stripe's 300 s tolerance). Only then is the JSON parsed, into a frozen
`CardEvent` that says what the event stops, if anything.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Literal

import attrs
import stripe

from ._ids import is_account_id, is_card_id, is_cardholder_id, is_event_id
from .exceptions import (
    BodyTooLargeError,
    ConfigurationError,
    InvalidRequestError,
    InvalidSignatureError,
    SignatureExpiredError,
    SignatureMalformedError,
    SignatureMissingError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# Stripe's libraries refuse a signature made longer ago than this.
TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE
# A header of a timestamp and a few signatures (several while a secret
# rolls) is a few hundred characters; a longer one is not Stripe's.
_MAX_SIGNATURE_HEADER = 2048
_SIGNATURE_PART = re.compile(r"[a-z0-9]{1,8}=[^,=\s]{1,256}")
_SECRET = re.compile(r"whsec_[A-Za-z0-9_+/=-]{1,500}")

CARD_UPDATED = "issuing_card.updated"
CARDHOLDER_UPDATED = "issuing_cardholder.updated"
# The statuses after which a card may show nothing: Stripe's card statuses
# are active, inactive and canceled; a cardholder's active, inactive, blocked.
STOPPED_CARD = frozenset({"inactive", "canceled"})
STOPPED_CARDHOLDER = frozenset({"inactive", "blocked"})


@attrs.frozen
class WebhookSecrets:
    """The endpoint's signing secrets (``whsec_...``), never shown."""

    secrets: tuple[str, ...] = attrs.field(repr=False)

    def __repr__(self) -> str:
        return f"WebhookSecrets(<{len(self.secrets)} hidden>)"


def check_webhook_secrets(secrets: object) -> WebhookSecrets | None:
    """The configured secrets, checked; ``None`` when not configured.

    Raises:
        ConfigurationError: Not a non-empty list of ``whsec_...`` strings.
            The message never shows a value.
    """
    if secrets is None:
        return None
    if isinstance(secrets, (str, bytes)) or not hasattr(secrets, "__iter__"):
        raise ConfigurationError(
            "webhook_secrets must be a list of webhook signing secrets "
            "(['whsec_...']), not a single value."
        )
    listed = list(secrets)
    if not listed:
        raise ConfigurationError(
            "webhook_secrets is empty: give the endpoint's signing secret "
            "(whsec_...), or leave webhook_secrets out."
        )
    for position, secret in enumerate(listed):
        if not isinstance(secret, str) or _SECRET.fullmatch(secret) is None:
            raise ConfigurationError(
                f"webhook_secrets[{position}] is not a webhook signing secret: "
                "they start with whsec_ (the Dashboard's endpoint page, or "
                "`stripe listen`, shows it)."
            )
    return WebhookSecrets(tuple(dict.fromkeys(listed)))


def verify(
    body: bytes,
    signature: str | None,
    secrets: WebhookSecrets,
    *,
    max_event_bytes: int,
) -> None:
    """Refuse *body* unless *signature* is Stripe's, under one of *secrets*.

    stripe-python checks the signature; only the header's shape is looked at
    here, so that each refusal gets its own answer. Its error, which holds
    the header and the body, is dropped: neither reaches a log.

    Raises:
        BodyTooLargeError: *body* is over *max_event_bytes*.
        InvalidSignatureError: or one of its subclasses, for each reason.
    """
    if len(body) > max_event_bytes:
        raise BodyTooLargeError(
            f"The event has {len(body)} bytes; the limit is {max_event_bytes}."
        )
    if not signature:
        raise SignatureMissingError("The Stripe-Signature header is missing.")
    _check_shape(signature)
    # The signature first, under every secret; the age only under the one
    # that made it: a forged signature costs one pass, never two.
    made_by = _secret_that_signed(body, signature, secrets)
    if made_by is None:
        raise InvalidSignatureError(
            "The Stripe-Signature matches none of the webhook secrets."
        )
    if not _verified(body, signature, made_by, TOLERANCE):
        raise SignatureExpiredError(
            f"The Stripe-Signature was made more than {TOLERANCE} s ago."
        )


def _check_shape(signature: str) -> None:
    parts = signature.split(",")
    if len(signature) > _MAX_SIGNATURE_HEADER or not all(
        _SIGNATURE_PART.fullmatch(part.strip()) for part in parts
    ):
        raise SignatureMalformedError("The Stripe-Signature header is malformed.")
    named = [part.strip().partition("=") for part in parts]
    timestamps = [value for name, _, value in named if name == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise SignatureMalformedError("The Stripe-Signature has no one timestamp t=.")
    if not any(name == "v1" for name, _, _ in named):
        raise SignatureMalformedError("The Stripe-Signature has no v1= signature.")


def _secret_that_signed(
    body: bytes, signature: str, secrets: WebhookSecrets
) -> str | None:
    for secret in secrets.secrets:
        if _verified(body, signature, secret, None):
            return secret
    return None


def _verified(body: bytes, signature: str, secret: str, tolerance: int | None) -> bool:
    """stripe-python's verdict; its error, which holds the header and the body,
    is dropped here."""
    try:
        stripe.WebhookSignature.verify_header(body, signature, secret, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        return False
    return True


@attrs.frozen
class CardEvent:
    """What a verified Stripe event says, as far as keys are concerned.

    *stops* names what no key may open any more: ``"card"`` (*card_id*),
    ``"cardholder"`` (every card of *cardholder_id*), or ``None`` (an event
    that stops nothing: another type, or a status such as ``active``).
    """

    id: str
    type: str
    account: str | None
    stops: Literal["card", "cardholder"] | None = None
    card_id: str | None = None
    cardholder_id: str | None = None
    status: str | None = None


def read_event(body: bytes) -> CardEvent:
    """Read a verified event's body.

    Raises:
        InvalidRequestError: The body is not an event in Stripe's shape
            (signed, so Stripe's or the secret's holder's: answered 400).
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequestError("The event is not valid UTF-8 JSON.") from None
    if not isinstance(document, dict) or document.get("object", "event") != "event":
        raise InvalidRequestError("The body is not a Stripe event.")
    event_id, event_type = document.get("id"), document.get("type")
    account = document.get("account")
    if not is_event_id(event_id) or not isinstance(event_type, str):
        raise InvalidRequestError("The event has no id (evt_...) or no type.")
    if account is not None and not is_account_id(account):
        raise InvalidRequestError("The event's account is not an acct_... id.")
    event = CardEvent(id=event_id, type=event_type[:100], account=account)
    if event_type == CARD_UPDATED:
        card_id, status = _object(document, event_type, is_card_id, "a card (ic_...)")
        return attrs.evolve(
            event,
            stops="card" if status in STOPPED_CARD else None,
            card_id=card_id,
            status=status,
        )
    if event_type == CARDHOLDER_UPDATED:
        holder, status = _object(
            document, event_type, is_cardholder_id, "a cardholder (ich_...)"
        )
        return attrs.evolve(
            event,
            stops="cardholder" if status in STOPPED_CARDHOLDER else None,
            cardholder_id=holder,
            status=status,
        )
    return event


def _object(
    document: dict[str, object],
    event_type: str,
    is_id: Callable[[object], bool],
    expected: str,
) -> tuple[str, str]:
    """The id and status of the event's ``data.object``, checked."""
    data = document.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise InvalidRequestError(f"The {event_type} event has no data.object.")
    object_id, status = found.get("id"), found.get("status")
    if not is_id(object_id) or not isinstance(object_id, str):
        raise InvalidRequestError(f"The {event_type} event's object is not {expected}.")
    if not isinstance(status, str):
        raise InvalidRequestError(f"The {event_type} event's object has no status.")
    return object_id, status[:40]
