"""Keys follow the card: Stripe says a card or cardholder stopped, its keys go.

Stripe posts ``issuing_card.updated`` when a card's status changes and
``issuing_cardholder.updated`` when a cardholder's does. Once the signature
is verified (``_events``), an event that stops a card (``inactive``,
``canceled``) or a cardholder (``inactive``, ``blocked``) sweeps the key
ledger: the card's tombstone first, so that a request in flight for it is
refused, then every live key of the card revoked, on the event's account
only. A cardholder's cards come from Stripe, every page of them.

The answer tells Stripe whether to deliver again: 200 when done (or when
the event stops nothing), 503 with ``Retry-After`` when Stripe would not
revoke a key or list the cards (the key stays in the ledger, and the
redelivery revokes it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import stripe

from issuing_elements._events import CardEvent, read_event, verify
from issuing_elements._ids import is_card_id
from issuing_elements._needs import CallStripe, ask
from issuing_elements._response import event_response
from issuing_elements._stripe_answers import DEFAULT_RETRY_AFTER, translate
from issuing_elements.exceptions import (
    ServerMisconfiguredError,
    StripeUnavailableError,
)

from .answers import as_outcome, audit, endpoint, trail_of
from .checks import deadline_of, stripe_options
from .revocation import sweep

if TYPE_CHECKING:
    from collections.abc import Mapping

    from issuing_elements._audit import Trail
    from issuing_elements._authorize import UserT
    from issuing_elements._events import WebhookSecrets
    from issuing_elements._needs import Flow
    from issuing_elements._records import HttpResponse
    from issuing_elements._request import RequestContext
    from issuing_elements._settings import Settings
    from issuing_elements.exceptions import IssuingElementsError

logger = logging.getLogger("issuing_elements")

LIST_CARDS = "list a cardholder's cards"
# Stripe's largest page; a cardholder with more than PAGES * PAGE_SIZE cards
# is no cardholder this library expects.
PAGE_SIZE = 100
PAGES = 100


def handle(
    settings: Settings[UserT],
    *,
    body: bytes,
    headers: Mapping[str, str] | None,
    client_ip: str | None,
) -> Flow[HttpResponse]:
    """The event endpoint: every outcome is a response, never an exception."""
    return (
        yield from endpoint(
            "stripe_event",
            headers,
            client_ip,
            lambda context: _receive(settings, body, context),
        )
    )


def _receive(
    settings: Settings[UserT], body: bytes, context: RequestContext
) -> Flow[HttpResponse]:
    """Verify, read, revoke, answer; one audit event, whatever comes of it."""
    trail = trail_of(context)
    try:
        verify(
            body,
            context.header("stripe-signature"),
            _secrets(settings),
            max_event_bytes=settings.max_event_bytes,
        )
        event = read_event(body)
        trail.stripe_event_id = event.id
        trail.stripe_event_type = event.type
        trail.stripe_account = event.account
        trail.card_id = event.card_id
        trail.cardholder_id = event.cardholder_id
        revoked = yield from _revoke(settings, event, trail)
        trail.keys_revoked = revoked
        outcome, reason = (
            ("ignored", f"The event stops no card (status {event.status}).")
            if event.stops is None
            else ("revoked", f"The {event.stops} is {event.status}.")
        )
        yield from audit(trail.event("stripe_event", outcome, reason))
    except Exception as error:  # noqa: BLE001 - every outcome is audited
        failure = as_outcome(error)
        try:
            yield from audit(trail.event("stripe_event", failure, str(failure)))
        except ServerMisconfiguredError as unrecorded:
            failure = unrecorded
        raise failure from None
    return event_response(revoked)


def _secrets(settings: Settings[UserT]) -> WebhookSecrets:
    secrets = settings.webhook_secrets
    if secrets is None:
        logger.error(
            "A Stripe event came to handle_stripe_event, but the issuer has "
            "no webhook secrets: pass EphemeralKeyIssuer(webhook_secrets="
            "['whsec_...'], key_ledger=...); answering 500."
        )
        raise ServerMisconfiguredError("No webhook_secrets are configured.")
    return secrets


def _revoke(settings: Settings[UserT], event: CardEvent, trail: Trail) -> Flow[int]:
    """Revoke what *event* stops; the count. A key Stripe kept: 503."""
    if event.stops is None:
        return 0
    if event.card_id is not None:
        cards = [event.card_id]
    else:
        assert event.cardholder_id is not None  # noqa: S101 - read_event's promise
        cards = yield from _cards_of(settings, event.cardholder_id, event.account)
    why = f"Stripe event {event.id}: the {event.stops} is {event.status}."
    revoked = 0
    failure: IssuingElementsError | None = None
    for card_id in cards:
        swept = yield from sweep(
            settings, card_id=card_id, stripe_account=event.account, why=why
        )
        revoked += swept.revoked
        failure = failure or swept.failure
    trail.keys_revoked = revoked
    if failure is not None:
        raise _redeliver(failure, f"{revoked} revoked, but Stripe kept a key")
    return revoked


def _cards_of(
    settings: Settings[UserT], cardholder_id: str, account: str | None
) -> Flow[list[str]]:
    """Every card of *cardholder_id* on *account*: ``GET /v1/issuing/cards``."""
    found: list[str] = []
    after: str | None = None
    for _ in range(PAGES):
        listed, has_more = yield from _list_page(
            settings, cardholder_id, account, after
        )
        ids = [card_id for card_id in listed if is_card_id(card_id)]
        found.extend(ids)
        if not has_more or not ids:
            return found
        after = ids[-1]
    logger.error(
        "Cardholder %s has more than %s cards; revoking none of the rest. "
        "Answering 503.",
        cardholder_id,
        PAGES * PAGE_SIZE,
    )
    raise StripeUnavailableError("Too many cards to list.", retry_after=60)


def _list_page(
    settings: Settings[UserT],
    cardholder_id: str,
    account: str | None,
    after: str | None,
) -> Flow[tuple[list[object], bool]]:
    """One page of the cardholder's card ids, and whether Stripe has more."""
    params: Any = {"cardholder": cardholder_id, "limit": PAGE_SIZE}
    if after is not None:
        params["starting_after"] = after
    options = stripe_options(settings, account, idempotent=False)
    try:
        listed = yield from ask(
            CallStripe(
                operation="list_cards",
                params=params,
                options=options,
                deadline_at=deadline_of(settings),
            )
        )
    except stripe.StripeError as error:
        raise _redeliver(translate(error, action=LIST_CARDS), "cannot list") from None
    try:
        cards_listed = listed["data"]
        ids = [_field(card, "id") for card in cards_listed]
        has_more = listed["has_more"] is True
    except (KeyError, TypeError):
        logger.error(  # noqa: TRY400 - the shape is the news; no traceback
            "Stripe's list of the cards of cardholder %s has no data; answering 503.",
            cardholder_id,
        )
        raise StripeUnavailableError("Stripe's card list was unreadable.") from None
    return ids, has_more


def _field(found: Any, name: str) -> object:
    try:
        return found[name]
    except (KeyError, TypeError, IndexError):
        return None


def _redeliver(failure: IssuingElementsError, why: str) -> StripeUnavailableError:
    """503 with ``Retry-After``: Stripe delivers the event again."""
    retry_after = getattr(failure, "retry_after", DEFAULT_RETRY_AFTER)
    return StripeUnavailableError(
        f"Stripe event not done ({why}: {failure.code}); Stripe will redeliver it.",
        retry_after=retry_after,
        stripe_request_id=failure.stripe_request_id,
        stripe_code=failure.stripe_code,
    )
