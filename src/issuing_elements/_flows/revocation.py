"""Revocation: a key on request, every key of a user or a card, and orphans.

An orphan is a key that Stripe issued but that nobody holds: the answer
could not be handed out (a later step failed), or it arrived after the
deadline. Each is revoked at once, so that no key stays live that nobody
asked to keep.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeVar

import attrs
import stripe

from issuing_elements._audit import Trail
from issuing_elements._driver import arun, run, wait
from issuing_elements._ids import is_account_id, is_card_id, is_key_id
from issuing_elements._stripe_api import (
    REVOKE,
    aheld,
    answer_shape,
    held,
    key_id_of,
    translate,
    unreadable_answer,
)
from issuing_elements._stripe_call import acall_in_background, call_in_background
from issuing_elements.exceptions import (
    ConfigurationError,
    InvalidRequestError,
    IssuingElementsError,
)

from .steps import (
    as_outcome,
    audit_quietly,
    call_store,
    call_stripe,
    deadline_of,
    refuse_misfits,
    stripe_options,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from issuing_elements._authorize import UserT
    from issuing_elements._driver import Flow
    from issuing_elements._ledger import KeyLedger, LiveKey
    from issuing_elements._settings import Settings

logger = logging.getLogger("issuing_elements")

T = TypeVar("T")


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
        yield from audit_quietly(settings, trail.event("revoke", failure, str(failure)))
        raise failure from None
    yield from audit_quietly(
        settings, trail.event("revoke", "revoked", "Revoked on request.")
    )


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
    read: Callable[[str], list[LiveKey]]
    aread: Callable[[str], Awaitable[list[LiveKey]]]
    if user_id is not None:
        given: object = user_id
        if not isinstance(given, str) or not given:
            raise ConfigurationError("user_id must be a non-empty string.")
        subject = {"user_id": user_id}
        read, aread = ledger.keys_for_user, ledger.akeys_for_user
        why = why or "Revoking every key of the user."
    else:
        if not is_card_id(card_id):
            raise InvalidRequestError(
                "card_id must be an Issuing card id (ic_...).", field="card_id"
            )
        subject = {"card_id": card_id}
        read, aread = ledger.keys_for_card, ledger.akeys_for_card
        why = why or "Revoking every key of the card."
    (named,) = subject.values()
    yield from refuse_misfits(settings.ledger_refusals, settings.stripe_refusals)
    # The tombstone first, then the read: see _flows.keys._record.
    yield from _ask_ledger(
        settings,
        lambda: ledger.mark_revoked(**subject),
        lambda: ledger.amark_revoked(**subject),
    )
    found = yield from _ask_ledger(settings, lambda: read(named), lambda: aread(named))
    if stripe_account is not _ANY_ACCOUNT:
        found = [entry for entry in found if entry.stripe_account == stripe_account]
    swept = Swept()
    for entry in found:
        outcome = yield from _revoke_entry(settings, ledger, entry, why)
        if isinstance(outcome, IssuingElementsError):
            swept = attrs.evolve(swept, failure=swept.failure or outcome)
        else:
            swept = attrs.evolve(swept, revoked=swept.revoked + outcome)
    return swept


def _revoke_entry(
    settings: Settings[UserT], ledger: KeyLedger, entry: LiveKey, why: str
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
        yield from _ask_ledger(
            settings, lambda: ledger.forget(entry), lambda: ledger.aforget(entry)
        )
        yield from audit_quietly(settings, trail.event("revoke", gone, f"{why} {gone}"))
        return 0
    except IssuingElementsError as failure:
        logger.error(  # noqa: TRY400 - the outcome says it all; no traceback
            "Could not revoke key %s (card %s): %s. It stays in the ledger.",
            entry.key_id,
            entry.card_id,
            failure,
        )
        yield from audit_quietly(
            settings, trail.event("revoke", failure, f"{why} {failure}")
        )
        return failure
    yield from _ask_ledger(
        settings, lambda: ledger.forget(entry), lambda: ledger.aforget(entry)
    )
    yield from audit_quietly(settings, trail.event("revoke", "revoked", why))
    return 1


def _ask_ledger(
    settings: Settings[UserT],
    synchronous: Callable[[], T],
    asynchronous: Callable[[], Awaitable[T]],
) -> Flow[T]:
    """One call to the key ledger, within a deadline of its own."""
    return (
        yield from call_store(
            "key ledger",
            settings.key_ledger,
            deadline_of(settings),
            synchronous,
            asynchronous,
            in_process=settings.ledger_in_process,
            bulkhead=settings.ledger_calls,
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
    keys = settings.client.v1.ephemeral_keys
    options = stripe_options(settings, stripe_account, idempotent=False)
    try:
        yield from call_stripe(
            settings,
            deadline_of(settings),
            lambda: keys.delete(key_id, options=options),
            lambda: keys.delete_async(key_id, options=options),
            in_background=in_background,
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
            settings, trail.event("revoke", "revoked", "Issued but not handed out.")
        )


def _forget_quietly(settings: Settings[UserT], entry: LiveKey) -> Flow[None]:
    """Take a revoked key out of the key ledger; a ledger that fails is logged."""
    ledger = settings.key_ledger
    if ledger is None:
        return
    try:
        yield from _ask_ledger(
            settings, lambda: ledger.forget(entry), lambda: ledger.aforget(entry)
        )
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


def revoke_late(
    settings: Settings[UserT], response: object, stripe_account: str | None
) -> None:
    """Revoke the key in a Stripe answer that came after its caller gave up."""
    key_id = key_id_of(response)
    if key_id is not None:
        run(_delete_quietly(settings, key_id, stripe_account, in_background=True))


async def arevoke_late(
    settings: Settings[UserT], response: object, stripe_account: str | None
) -> None:
    """Same as `revoke_late`, but async."""
    key_id = key_id_of(response)
    if key_id is not None:
        await arun(
            _delete_quietly(settings, key_id, stripe_account, in_background=True)
        )


def find_lost_key(  # noqa: PLR0913 - the call to repeat, and what names it in the log
    settings: Settings[UserT],
    create: Callable[[], object],
    acreate: Callable[[], Awaitable[object]],
    *,
    stripe_account: str | None,
    card_id: str,
    idempotency_key: str,
    request_id: str | None,
    why: str = "was lost",
) -> Flow[None]:
    """After a create whose answer was lost or unusable: find the key, revoke it.

    Stripe may have issued a key whose answer never arrived, or arrived in
    a form that cannot be read (*why* says which, for the log). Asked again
    with the same idempotency key, Stripe answers as it did the first time
    (or makes the key now, if the first never reached it); either way the
    key is revoked. This runs in the background, after the request has its
    answer; if the key cannot be found (Stripe still cannot be reached, or
    its answer still names no key), that is logged with the idempotency key
    and the request id.
    """

    def unfound(failure: str | None) -> None:
        if failure is None:
            return  # Stripe's own refusal: no key was made
        logger.error(
            "Stripe's answer to the key request for card %s %s, and asking "
            "again failed too (%s): a key Stripe may have issued could not be "
            "revoked; it expires on its own. Idempotency key %s, request id %s.",
            card_id,
            why,
            failure,
            idempotency_key,
            request_id,
        )

    def synchronous() -> None:
        try:
            response = held(create)
        except stripe.StripeError as error:
            unfound(_unfound(error))
            return
        if key_id_of(response) is None:
            unfound(answer_shape(response))
        else:
            revoke_late(settings, response, stripe_account)

    async def asynchronous() -> None:
        try:
            response = await aheld(acreate)
        except stripe.StripeError as error:
            unfound(_unfound(error))
            return
        if key_id_of(response) is None:
            unfound(answer_shape(response))
        else:
            await arevoke_late(settings, response, stripe_account)

    yield from wait(
        lambda: call_in_background(synchronous),
        _scheduler(asynchronous),
    )


def _unfound(error: stripe.StripeError) -> str | None:
    """Why asking again found no key; ``None`` when Stripe refused (it made none)."""
    unreadable = unreadable_answer(error)
    if unreadable is not None:
        return unreadable
    if isinstance(error, stripe.APIConnectionError):
        return type(error).__name__
    return None


def _scheduler(
    asynchronous: Callable[[], Awaitable[None]],
) -> Callable[[], Awaitable[None]]:
    async def schedule() -> None:
        acall_in_background(asynchronous)

    return schedule


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
