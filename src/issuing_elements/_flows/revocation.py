"""Revocation: a key on request, every key of a user or a card, and orphans.

An orphan is a key that Stripe issued but that nobody holds: the answer
could not be handed out (a later step failed), or it arrived after the
deadline. Each is revoked at once, so that no key stays live that nobody
asked to keep.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs
import stripe

from issuing_elements._audit import Trail
from issuing_elements._ids import is_account_id, is_card_id, is_key_id
from issuing_elements._needs import AskLedger, CallStripe, ask
from issuing_elements._stripe_answers import REVOKE, translate
from issuing_elements.exceptions import (
    ConfigurationError,
    InvalidRequestError,
    IssuingElementsError,
)

from .answers import as_outcome, audit_quietly
from .checks import deadline_of, refuse_misfits, stripe_options

if TYPE_CHECKING:
    from issuing_elements._authorize import UserT
    from issuing_elements._ledger import LiveKey
    from issuing_elements._needs import Flow, LedgerOperation
    from issuing_elements._settings import Settings

logger = logging.getLogger("issuing_elements")


def revoke(
    settings: Settings[UserT], key_id: str, stripe_account: str | None
) -> Flow[None]:
    """Revoke one key on the application's request; audited, errors raised."""
    trail = Trail(stripe_account=stripe_account)
    try:
        _check_revoke(key_id, stripe_account)
        trail.key_id = key_id
        yield from refuse_misfits(settings.stripe_refusals)
        yield from delete(settings, key_id, stripe_account)
    except Exception as error:  # noqa: BLE001 - every failure is audited
        failure = as_outcome(error)
        yield from audit_quietly(trail.event("revoke", failure, str(failure)))
        raise failure from None
    yield from audit_quietly(trail.event("revoke", "revoked", "Revoked on request."))


def revoke_all(
    settings: Settings[UserT],
    *,
    user_id: str | None = None,
    card_id: str | None = None,
) -> Flow[int]:
    """Revoke every live key the ledger holds for *user_id* or *card_id*."""
    swept = yield from sweep(settings, user_id=user_id, card_id=card_id)
    return swept.revoked


@attrs.frozen
class Swept:
    """What a sweep did: the keys it revoked, and the first it could not."""

    revoked: int = 0
    failure: IssuingElementsError | None = None


_ANY_ACCOUNT = object()


def sweep(
    settings: Settings[UserT],
    *,
    user_id: str | None = None,
    card_id: str | None = None,
    stripe_account: object = _ANY_ACCOUNT,
    why: str | None = None,
) -> Flow[Swept]:
    """Lay the tombstone for *user_id* or *card_id*, then revoke its live keys.

    Given a *stripe_account* (``None``: the platform), only the keys issued
    under that account are revoked. A key that Stripe would not revoke
    stays in the ledger, for the next sweep, and is `Swept.failure`.
    """
    ledger = settings.key_ledger
    if ledger is None:
        raise ConfigurationError(
            "revoke_user and revoke_card need EphemeralKeyIssuer(key_ledger=...)."
        )
    if user_id is not None:
        given: object = user_id
        if not isinstance(given, str) or not given:
            raise ConfigurationError("user_id must be a non-empty string.")
        subject = {"user_id": user_id}
        why = why or "Revoking every key of the user."
    else:
        if not is_card_id(card_id):
            raise InvalidRequestError(
                "card_id must be an Issuing card id (ic_...).", field="card_id"
            )
        subject = {"card_id": card_id}
        why = why or "Revoking every key of the card."
    yield from refuse_misfits(settings.ledger_refusals, settings.stripe_refusals)
    # The tombstone first, then the read: see _flows.keys._record.
    yield from _ask_ledger(settings, "mark_revoked", **subject)
    found = yield from _ask_ledger(
        settings, "keys_for_user" if user_id is not None else "keys_for_card", **subject
    )
    if stripe_account is not _ANY_ACCOUNT:
        found = [entry for entry in found if entry.stripe_account == stripe_account]
    swept = Swept()
    for entry in found:
        outcome = yield from _revoke_entry(settings, entry, why)
        if isinstance(outcome, IssuingElementsError):
            swept = attrs.evolve(swept, failure=swept.failure or outcome)
        else:
            swept = attrs.evolve(swept, revoked=swept.revoked + outcome)
    return swept


def _revoke_entry(
    settings: Settings[UserT], entry: LiveKey, why: str
) -> Flow[int | IssuingElementsError]:
    trail = Trail(
        user_id=entry.user_id,
        card_id=entry.card_id,
        stripe_account=entry.stripe_account,
        key_id=entry.key_id,
    )
    try:
        yield from delete(settings, entry.key_id, entry.stripe_account)
    except InvalidRequestError as gone:
        # Stripe has no such key any more: revoked or expired already.
        yield from _ask_ledger(settings, "forget", entry=entry)
        yield from audit_quietly(trail.event("revoke", gone, f"{why} {gone}"))
        return 0
    except IssuingElementsError as failure:
        logger.error(  # noqa: TRY400 - the outcome says it all; no traceback
            "Could not revoke key %s (card %s): %s. It stays in the ledger.",
            entry.key_id,
            entry.card_id,
            failure,
        )
        yield from audit_quietly(trail.event("revoke", failure, f"{why} {failure}"))
        return failure
    yield from _ask_ledger(settings, "forget", entry=entry)
    yield from audit_quietly(trail.event("revoke", "revoked", why))
    return 1


def _ask_ledger(
    settings: Settings[UserT], operation: LedgerOperation, **named: Any
) -> Flow[Any]:
    """One call to the key ledger, within a deadline of its own."""
    return (
        yield from ask(
            AskLedger(operation=operation, deadline_at=deadline_of(settings), **named)
        )
    )


def delete(
    settings: Settings[UserT],
    key_id: str,
    stripe_account: str | None,
    *,
    in_background: bool = False,
) -> Flow[None]:
    """``DELETE /v1/ephemeral_keys/{key_id}``, within a deadline of its own.

    *in_background*: the revocation of a key that came after its request's
    deadline, already off the request's path: bounded by the HTTP client.
    """
    options = stripe_options(settings, stripe_account, idempotent=False)
    try:
        yield from ask(
            CallStripe(
                operation="revoke_key",
                key_id=key_id,
                options=options,
                deadline_at=deadline_of(settings),
                in_background=in_background,
            )
        )
    except stripe.StripeError as error:
        raise translate(error, action=REVOKE) from None


def revoke_orphan(
    settings: Settings[UserT],
    key_id: str,
    stripe_account: str | None,
    trail: Trail,
    *,
    recorded: LiveKey | None = None,
) -> Flow[None]:
    """Revoke a key that was issued but not handed out; audit it if revoked.

    A key *recorded* in the key ledger already leaves it once revoked.
    """
    trail.key_id = key_id
    if (yield from _delete_quietly(settings, key_id, stripe_account)):
        if recorded is not None:
            yield from _forget_quietly(settings, recorded)
        yield from audit_quietly(
            trail.event("revoke", "revoked", "Issued but not handed out.")
        )


def _forget_quietly(settings: Settings[UserT], entry: LiveKey) -> Flow[None]:
    """Take a revoked key out of the key ledger; a ledger that fails is logged."""
    if settings.key_ledger is None:
        return
    try:
        yield from _ask_ledger(settings, "forget", entry=entry)
    except Exception as error:  # noqa: BLE001 - best effort, and said
        logger.warning(
            "Key %s is revoked but stays in the key ledger until it expires "
            "(%s); a bulk revocation will find that Stripe has no such key.",
            entry.key_id,
            as_outcome(error),
        )


def _delete_quietly(
    settings: Settings[UserT],
    key_id: str,
    stripe_account: str | None,
    *,
    in_background: bool = False,
) -> Flow[bool]:
    try:
        yield from delete(settings, key_id, stripe_account, in_background=in_background)
    except Exception as error:  # noqa: BLE001 - best effort, and said loudly
        logger.error(  # noqa: TRY400 - the error is named; no traceback needed
            "Could not revoke key %s, which was issued but not handed out "
            "(%s). It expires on its own.",
            key_id,
            as_outcome(error),
        )
        return False
    logger.warning("Revoked key %s, which was issued but not handed out.", key_id)
    return True


def revoke_in_background(
    settings: Settings[UserT], key_id: str, stripe_account: str | None
) -> Flow[None]:
    """Revoke a key that came after its request gave up (or was found lost).

    Already off the request's path: the call is bounded by the HTTP client
    alone, and a failure is logged, never raised.
    """
    yield from _delete_quietly(settings, key_id, stripe_account, in_background=True)


def _check_revoke(key_id: object, stripe_account: object) -> None:
    if not is_key_id(key_id):
        raise InvalidRequestError(
            "key_id must be an ephemeral key id (ephkey_...).", field="key_id"
        )
    if stripe_account is not None and not is_account_id(stripe_account):
        raise InvalidRequestError(
            "stripe_account must be a connected account id (acct_...).",
            field="stripe_account",
        )
