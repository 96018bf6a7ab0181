"""Keys for pages and apps: the endpoints and ``issue``, one exchange.

The web endpoint (``handle``) trades a page's nonce for a key and answers
what Stripe.js needs; the mobile endpoint (``handle_mobile``) asks for a
key without a nonce, under the Stripe API version the app's SDK speaks,
and answers Stripe's whole key object, as the SDKs read it.

Request in, decide, Stripe, response out: the origin and the user are
admitted, the body read, the request counted against the user's rate limit
and put to the authorizer, and an allowed one counted against the card's;
Stripe trades the nonce for a key, which is checked against the card asked
for, recorded in the key ledger and handed out.
Every decision is audited, and a key that Stripe issued but that cannot be
handed out is revoked before the answer goes back.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, TypeVar

import stripe

from issuing_elements._needs import AskLedger, CallStripe, FindLostKey, ask
from issuing_elements._page import page_fields
from issuing_elements._records import MobileKeyRequest
from issuing_elements._redact import check_console_logging
from issuing_elements._request import (
    NO_CONTEXT,
    check_ids,
    check_mobile,
    parse_key_request,
    parse_mobile_request,
)
from issuing_elements._response import (
    key_response,
    mobile_key_response,
)
from issuing_elements._stripe_answers import (
    CREATE,
    answer_shape,
    create_params,
    issued_key,
    key_id_of,
    translate,
    unreadable_answer,
    unreadable_refused,
)
from issuing_elements.exceptions import (
    CardNotFoundError,
    ConfigurationError,
    IssuingElementsError,
    ServerMisconfiguredError,
)

from .revocation import revoke_orphan
from .steps import (
    admit,
    as_outcome,
    audit,
    authorize,
    count_card,
    count_user,
    deadline_of,
    endpoint,
    refuse_misfits,
    stripe_options,
    trail_of,
    user_id_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from issuing_elements._audit import Action, Trail
    from issuing_elements._authorize import UserT
    from issuing_elements._ledger import LiveKey
    from issuing_elements._needs import Flow
    from issuing_elements._records import Grant, HttpResponse, IssuedKey, KeyRequest
    from issuing_elements._request import RequestContext
    from issuing_elements._settings import Settings

R = TypeVar("R")

logger = logging.getLogger("issuing_elements")

# How far apart the clocks of the processes sharing a key ledger may be: a
# tombstone laid up to this long before a request started still counts.
CLOCK_MARGIN = 1.0


def handle(  # noqa: PLR0913 - the endpoint's inputs, as the adapter passes them
    settings: Settings[UserT],
    user: UserT | None,
    *,
    body: bytes,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    client_ip: str | None,
) -> Flow[HttpResponse]:
    """The web endpoint: every outcome is a response, never an exception."""

    def read() -> KeyRequest:
        return parse_key_request(
            body, content_type, max_body_bytes=settings.max_body_bytes
        )

    def respond(key: IssuedKey) -> HttpResponse:
        fields = page_fields(
            user,
            key,
            elements=settings.elements,
            refresh_margin=settings.refresh_margin,
            now=time.time(),
        )
        return key_response(key, fields)

    return (
        yield from endpoint(
            "issue",
            headers,
            client_ip,
            lambda context: _exchange(
                settings, user, context, action="issue", read=read, finish=respond
            ),
        )
    )


def handle_mobile(  # noqa: PLR0913 - the endpoint's inputs, as the adapter passes them
    settings: Settings[UserT],
    user: UserT | None,
    *,
    body: bytes,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    client_ip: str | None,
) -> Flow[HttpResponse]:
    """The mobile endpoint: every outcome is a response, never an exception."""

    def read() -> MobileKeyRequest:
        return parse_mobile_request(
            body, content_type, max_body_bytes=settings.max_body_bytes
        )

    return (
        yield from endpoint(
            "issue_mobile",
            headers,
            client_ip,
            lambda context: _exchange(
                settings,
                user,
                context,
                action="issue_mobile",
                read=read,
                finish=mobile_key_response,
            ),
        )
    )


def issue(
    settings: Settings[UserT], user: UserT | None, card_id: str, nonce: str
) -> Flow[IssuedKey]:
    """The key itself, for applications that answer the browser themselves."""
    return (
        yield from _exchange(
            settings,
            user,
            NO_CONTEXT,
            action="issue",
            read=lambda: check_ids(card_id, nonce),
            finish=_same,
        )
    )


def issue_mobile(
    settings: Settings[UserT], user: UserT | None, card_id: str, api_version: str
) -> Flow[IssuedKey]:
    """A mobile key itself, for applications that answer the app themselves."""
    return (
        yield from _exchange(
            settings,
            user,
            NO_CONTEXT,
            action="issue_mobile",
            read=lambda: check_mobile(card_id, api_version),
            finish=_same,
        )
    )


def _exchange(  # noqa: PLR0913 - who, from where, what for, and the two ends
    settings: Settings[UserT],
    user: UserT | None,
    context: RequestContext,
    *,
    action: Action,
    read: Callable[[], KeyRequest | MobileKeyRequest],
    finish: Callable[[IssuedKey], R],
) -> Flow[R]:
    """Request in, decide, Stripe, response out; audited, fail closed.

    Nothing is read before the origin and the user are admitted; from then
    on the audit event names the user, even when *read* finds the request
    malformed.
    """
    trail = trail_of(context)
    key: IssuedKey | None = None
    recorded: LiveKey | None = None
    started = time.time()
    deadline_at = deadline_of(settings)
    try:
        admitted = admit(settings, context, user)
        trail.user_id = user_id = user_id_of(settings, admitted)
        yield from refuse_misfits(
            settings.stripe_refusals,
            settings.limiter_refusals,
            settings.ledger_refusals,
        )
        asked = read()
        request, api_version = (
            (asked.key, asked.api_version)
            if isinstance(asked, MobileKeyRequest)
            else (asked, None)
        )
        trail.card_id = request.card_id
        yield from count_user(settings, user_id, deadline_at)
        grant = yield from authorize(settings, admitted, request)
        trail.stripe_account = grant.stripe_account
        yield from count_card(settings, request.card_id, deadline_at)
        key = yield from _create(
            settings,
            request,
            grant,
            trail,
            api_version=api_version,
            deadline_at=deadline_at,
        )
        trail.key_id = key.id
        recorded = yield from _record(settings, user_id, key, deadline_at)
        yield from _refuse_if_revoked(settings, recorded, started, deadline_at)
        result = finish(key)
        yield from audit(trail.event(action, "granted", "Stripe issued a key."))
    except Exception as error:  # noqa: BLE001 - fail closed on anything
        failure = as_outcome(error)
        if key is not None:
            yield from revoke_orphan(
                settings, key.id, key.stripe_account, trail, recorded=recorded
            )
        try:
            yield from audit(trail.event(action, failure, str(failure)))
        except ServerMisconfiguredError as unrecorded:
            # A refusal the trail cannot record fails closed too (500).
            failure = unrecorded
        raise failure from None
    except GeneratorExit:
        raise  # closed unfinished by its driver: nothing may be yielded now
    except BaseException:
        # Cancelled or interrupted (CancelledError, KeyboardInterrupt,
        # SystemExit) once Stripe issued a key: revoke it, then go on leaving.
        if key is not None:
            yield from revoke_orphan(
                settings, key.id, key.stripe_account, trail, recorded=recorded
            )
        raise
    return result


def _create(  # noqa: PLR0913 - what was asked and granted, under which version, by when
    settings: Settings[UserT],
    request: KeyRequest,
    grant: Grant,
    trail: Trail,
    *,
    api_version: str | None,
    deadline_at: float,
) -> Flow[IssuedKey]:
    """``POST /v1/ephemeral_keys`` within the deadline; the answer checked.

    *api_version* is a mobile SDK's; a page's key is made under the issuer's.
    """
    check_console_logging()
    params = create_params(request)
    account = grant.stripe_account
    options = stripe_options(
        settings, account, idempotent=True, api_version=api_version
    )
    idempotency_key = options.get("idempotency_key") or ""

    def look_for_it(why: str) -> Flow[None]:
        # The answer may be lost or unreadable, not the key: look for it, in the
        # background, once (the same idempotency key, no retries of its own).
        yield from ask(
            FindLostKey(
                params=params,
                options=options,
                card_id=request.card_id,
                request_id=trail.request_id,
                why=why,
            )
        )

    try:
        response = yield from ask(
            CallStripe(
                operation="create_key",
                params=params,
                options=options,
                deadline_at=deadline_at,
                revoke_if_late=True,
            )
        )
    except stripe.StripeError as error:
        unreadable = unreadable_answer(error)
        if unreadable is not None:
            refused = unreadable_refused(
                error,
                unreadable,
                asked=f"ephemeral key request for card {request.card_id}",
                idempotency_key=idempotency_key,
                request_id=trail.request_id,
                fate="a key may exist; asking again to find it and revoke it.",
            )
            yield from look_for_it("could not be read")
            raise refused from None
        if isinstance(error, stripe.APIConnectionError):
            yield from look_for_it("was lost")
        raise translate(error, action=CREATE, api_version=api_version) from None
    try:
        return issued_key(response, request, grant, api_version, now=time.time())
    except IssuingElementsError:
        # Stripe made a key, just not one this library can hand out.
        key_id = key_id_of(response)
        if key_id is not None:
            yield from revoke_orphan(settings, key_id, account, trail)
        else:
            logger.warning(
                "Stripe's answer to the key request for card %s is %s; asking "
                "again (idempotency key %s, request id %s) to find a key it "
                "may have issued and revoke it.",
                request.card_id,
                answer_shape(response),
                idempotency_key,
                trail.request_id,
            )
            yield from look_for_it("named no key")
        raise


def _record(
    settings: Settings[UserT],
    user_id: str | None,
    key: IssuedKey,
    deadline_at: float,
) -> Flow[LiveKey | None]:
    """Record *key* in the key ledger, if there is one; the entry recorded.

    ``revoke_user`` and ``revoke_card`` lay a tombstone, then read the
    ledger; a request records its key, then looks for tombstones
    (`_refuse_if_revoked`). Whichever comes second sees the other, so a key
    issued to a request in flight during a bulk revocation is revoked: by
    the bulk revocation, or by the request, which refuses it (404), revokes
    it and takes it out of the ledger again.
    """
    ledger = settings.key_ledger
    if ledger is None:
        return None
    if user_id is None:
        raise ConfigurationError("A key ledger needs user_id= for these users.")
    entry = _live_key(user_id, key)
    yield from ask(AskLedger(operation="record", entry=entry, deadline_at=deadline_at))
    return entry


def _refuse_if_revoked(
    settings: Settings[UserT],
    entry: LiveKey | None,
    started: float,
    deadline_at: float,
) -> Flow[None]:
    """Refuse (404) the key *entry* records if its user or card was revoked.

    Revoked since *started*, less `CLOCK_MARGIN`. Only once the key is
    recorded (`_record`); without a ledger, there is nothing to look for.
    """
    ledger = settings.key_ledger
    if ledger is None or entry is None:
        return
    since = started - CLOCK_MARGIN
    user_id, card_id = entry.user_id, entry.card_id
    revoked = yield from ask(
        AskLedger(
            operation="revoked_since",
            user_id=user_id,
            card_id=card_id,
            since=since,
            deadline_at=deadline_at,
        )
    )
    if revoked:
        logger.warning(
            "Card %s or its user was revoked while this request was in flight; "
            "revoking its key instead of handing it out.",
            card_id,
        )
        raise CardNotFoundError("Revoked while the request was in flight.")


def _same(key: IssuedKey) -> IssuedKey:
    return key


def _live_key(user_id: str, key: IssuedKey) -> LiveKey:
    from issuing_elements._ledger import LiveKey  # noqa: PLC0415 - only with a ledger

    return LiveKey(
        key_id=key.id,
        card_id=key.card_id,
        user_id=user_id,
        stripe_account=key.stripe_account,
        expires=key.expires,
    )
