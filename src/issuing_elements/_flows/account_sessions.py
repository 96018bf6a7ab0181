"""Account Sessions for Connect embedded components: the third door of the exchange.

``handle_account_session`` and ``create_account_session`` run ``exchange``;
`ACCOUNT_SESSION` says how they differ from the key doors: the body holds
at most the account (the components are the server's to choose), the
``account_sessions=`` authorizer decides, the second budget is the
account's, Stripe creates the session for the granted account and
components, and its answer is checked against the grant before the secret
is handed out. No ledger, no revocation: Stripe cannot revoke a session,
and it expires. Every decision is audited (action ``"account_session"``);
the session's secret never reaches a log, an error or the trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import stripe

from issuing_elements._authorize import (
    decide_session,
    refuse_session_awaitable,
    session_authorizer_failed,
)
from issuing_elements._components import AccountSessionRequest
from issuing_elements._ids import is_account_id
from issuing_elements._needs import AskAuthorizer, CallStripe, ask
from issuing_elements._redact import check_console_logging
from issuing_elements._request import parse_session_request
from issuing_elements._response import session_response
from issuing_elements._stripe_answers import (
    CREATE_SESSION,
    account_session,
    session_params,
    translate,
    unreadable_answer,
    unreadable_refused,
)
from issuing_elements.exceptions import ConfigurationError, InvalidRequestError

from .answers import logger
from .checks import stripe_options
from .exchange import Door

if TYPE_CHECKING:
    from issuing_elements._audit import Trail
    from issuing_elements._authorize import AccountSessionAuthorizer, UserT
    from issuing_elements._components import AccountSession, AccountSessionGrant
    from issuing_elements._needs import Flow
    from issuing_elements._records import HttpResponse
    from issuing_elements._settings import Refusals, Settings


def _uses(settings: Settings[UserT]) -> tuple[Refusals, ...]:
    _authorizer(settings)
    return settings.stripe_refusals, settings.limiter_refusals


def _read(body: bytes, content_type: str | None, limit: int) -> AccountSessionRequest:
    return parse_session_request(body, content_type, max_body_bytes=limit)


def _note(trail: Trail, request: AccountSessionRequest) -> None:
    trail.stripe_account = request.account


def _authorize(
    settings: Settings[UserT], user: UserT, request: AccountSessionRequest
) -> Flow[AccountSessionGrant]:
    """Ask the ``account_sessions=`` authorizer; fail closed on anything but a grant."""
    authorizer = _authorizer(settings)
    try:
        verdict = yield from ask(AskAuthorizer(authorizer, user, request))
        refuse_session_awaitable(verdict, request)
    except Exception as error:  # noqa: BLE001 - fail closed on anything
        raise session_authorizer_failed(error, request) from None
    return decide_session(verdict, request)


def _budget(
    request: AccountSessionRequest, _grant: AccountSessionGrant, user_id: str | None
) -> tuple[str, str]:
    """The second budget, once allowed: the account named, else the user's own."""
    return request.account or f"{user_id}:account_session", "account"


def _respond(
    _settings: Settings[UserT], _user: UserT, session: AccountSession
) -> HttpResponse:
    return session_response(session)


def session_request(account: str | None) -> AccountSessionRequest:
    """What ``create_account_session`` checks of its argument."""
    if account is not None and not is_account_id(account):
        raise InvalidRequestError(
            "account must be a connected account id (acct_...).", field="account"
        )
    return AccountSessionRequest(account=account)


def _authorizer(settings: Settings[UserT]) -> AccountSessionAuthorizer[UserT]:
    """The ``account_sessions=`` authorizer; without one, fail closed (500)."""
    authorizer = settings.account_sessions
    if authorizer is None:
        logger.error(
            "An Account Session was asked for, but the issuer has no "
            "account_sessions= authorizer; answering 500."
        )
        raise ConfigurationError(
            "This issuer has no account_sessions= authorizer: it opens no "
            "Account Sessions."
        )
    return authorizer


def _create(
    settings: Settings[UserT],
    _request: AccountSessionRequest,
    grant: AccountSessionGrant,
    trail: Trail,
    deadline_at: float,
) -> Flow[AccountSession]:
    """``POST /v1/account_sessions`` within the deadline; the answer checked.

    The platform creates the session for the account, which ``account``
    names: no ``Stripe-Account`` header. A session that comes after the
    deadline, or in an answer that cannot be read, is dropped: Stripe
    cannot revoke one, nobody received its secret, and it expires.
    The trail's request id is the request's own, for the log.
    """
    check_console_logging()
    options = stripe_options(settings, None, idempotent=True)
    try:
        response = yield from ask(
            CallStripe(
                operation="create_session",
                params=session_params(grant),
                options=options,
                deadline_at=deadline_at,
            )
        )
    except stripe.StripeError as error:
        unreadable = unreadable_answer(error)
        if unreadable is not None:
            raise unreadable_refused(
                error,
                unreadable,
                asked=f"Account Session request for account {grant.account}",
                idempotency_key=options.get("idempotency_key") or "",
                request_id=trail.request_id,
                fate="a session may exist; Stripe cannot revoke one, nobody "
                "received its secret, and it expires on its own.",
            ) from None
        raise translate(error, action=CREATE_SESSION) from None
    return account_session(response, grant)


def _account(grant: AccountSessionGrant) -> str | None:
    return grant.account


ACCOUNT_SESSION: Door[AccountSession] = Door(
    action="account_session",
    uses=_uses,
    read=_read,
    note=_note,
    authorize=_authorize,
    account=_account,
    budget=_budget,
    make=_create,
    keeps=False,
    granted="Stripe created an Account Session.",
    respond=_respond,
)
