"""Keys for pages and apps: the web door and the mobile door of the one exchange.

The web door (``handle``, ``issue``) trades a page's nonce for a key and
answers what Stripe.js needs; the mobile door (``handle_mobile``,
``issue_mobile``) asks for a key without a nonce, under the Stripe API
version the app's SDK speaks, and answers Stripe's whole key object, as
the SDKs read it. Both run ``exchange``; `WEB` and `MOBILE` say how they
differ. A key is checked against the card asked for, recorded in the key
ledger, and revoked if it cannot be handed out.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import stripe

from issuing_elements._needs import CallStripe, FindLostKey, ask
from issuing_elements._page import page_fields
from issuing_elements._redact import check_console_logging
from issuing_elements._request import (
    check_ids,
    check_mobile,
    parse_key_request,
    parse_mobile_request,
)
from issuing_elements._response import key_response, mobile_key_response
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
from issuing_elements.exceptions import IssuingElementsError

from .checks import authorize, stripe_options
from .exchange import Door
from .revocation import revoke_orphan

if TYPE_CHECKING:
    from issuing_elements._audit import Trail
    from issuing_elements._authorize import UserT
    from issuing_elements._needs import Flow
    from issuing_elements._records import (
        Grant,
        HttpResponse,
        IssuedKey,
        KeyRequest,
        MobileKeyRequest,
    )
    from issuing_elements._settings import Refusals, Settings

logger = logging.getLogger("issuing_elements")


def _uses(settings: Settings[UserT]) -> tuple[Refusals, ...]:
    return (
        settings.stripe_refusals,
        settings.limiter_refusals,
        settings.ledger_refusals,
    )


def _read(body: bytes, content_type: str | None, limit: int) -> KeyRequest:
    return parse_key_request(body, content_type, max_body_bytes=limit)


def _read_mobile(body: bytes, content_type: str | None, limit: int) -> MobileKeyRequest:
    return parse_mobile_request(body, content_type, max_body_bytes=limit)


def _note(trail: Trail, request: KeyRequest) -> None:
    trail.card_id = request.card_id


def _card_budget(
    request: KeyRequest, _grant: Grant, _user_id: str | None
) -> tuple[str, str]:
    return request.card_id, "card"


def _account(grant: Grant) -> str | None:
    return grant.stripe_account


def _respond(settings: Settings[UserT], user: UserT, key: IssuedKey) -> HttpResponse:
    fields = page_fields(
        user,
        key,
        elements=settings.elements,
        refresh_margin=settings.refresh_margin,
        now=time.time(),
    )
    return key_response(key, fields)


def _note_mobile(trail: Trail, asked: MobileKeyRequest) -> None:
    trail.card_id = asked.key.card_id


def _authorize_mobile(
    settings: Settings[UserT], user: UserT, asked: MobileKeyRequest
) -> Flow[Grant]:
    return (yield from authorize(settings, user, asked.key))


def _mobile_budget(
    asked: MobileKeyRequest, _grant: Grant, _user_id: str | None
) -> tuple[str, str]:
    return asked.key.card_id, "card"


def _create_mobile(
    settings: Settings[UserT],
    asked: MobileKeyRequest,
    grant: Grant,
    trail: Trail,
    deadline_at: float,
) -> Flow[IssuedKey]:
    return (
        yield from _create(
            settings,
            asked.key,
            grant,
            trail,
            deadline_at,
            api_version=asked.api_version,
        )
    )


def _respond_mobile(
    _settings: Settings[UserT], _user: UserT, key: IssuedKey
) -> HttpResponse:
    return mobile_key_response(key)


def _create(  # noqa: PLR0913 - what was asked and granted, under which version, by when
    settings: Settings[UserT],
    request: KeyRequest,
    grant: Grant,
    trail: Trail,
    deadline_at: float,
    *,
    api_version: str | None = None,
) -> Flow[IssuedKey]:
    """``POST /v1/ephemeral_keys`` within the deadline; the answer checked.

    *api_version* is a mobile SDK's (its key is made without a nonce, and
    checked as the SDK reads it); a page's key is made under the issuer's.
    """
    check_console_logging()
    params = create_params(request.card_id, request.nonce)
    account = grant.stripe_account
    options = stripe_options(
        settings, account, idempotent=True, api_version=api_version
    )
    idempotency_key = options.get("idempotency_key") or ""

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
            yield from _look_for_it(
                params, options, request, trail, "could not be read"
            )
            raise refused from None
        if isinstance(error, stripe.APIConnectionError):
            yield from _look_for_it(params, options, request, trail, "was lost")
        raise translate(error, action=CREATE, api_version=api_version) from None
    try:
        return issued_key(
            response, request, grant, api_version=api_version, now=time.time()
        )
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
            yield from _look_for_it(params, options, request, trail, "named no key")
        raise


def _look_for_it(
    params: object,
    options: stripe.RequestOptions,
    request: KeyRequest,
    trail: Trail,
    why: str,
) -> Flow[None]:
    """The answer may be lost or unreadable, not the key: look for it, and revoke it.

    In the background, once: the same idempotency key, no retries of its own.
    """
    yield from ask(
        FindLostKey(
            params=params,
            options=options,
            card_id=request.card_id,
            request_id=trail.request_id,
            why=why,
        )
    )


WEB: Door[IssuedKey] = Door(
    action="issue",
    uses=_uses,
    read=_read,
    note=_note,
    authorize=authorize,
    account=_account,
    budget=_card_budget,
    make=_create,
    keeps=True,
    granted="Stripe issued a key.",
    respond=_respond,
)

MOBILE: Door[IssuedKey] = Door(
    action="issue_mobile",
    uses=_uses,
    read=_read_mobile,
    note=_note_mobile,
    authorize=_authorize_mobile,
    account=_account,
    budget=_mobile_budget,
    make=_create_mobile,
    keeps=True,
    granted="Stripe issued a key.",
    respond=_respond_mobile,
)

# What the direct twins check before the exchange: their arguments.
issue_request = check_ids
mobile_request = check_mobile
