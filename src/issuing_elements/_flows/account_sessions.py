"""Account Sessions for Connect embedded components: ``handle_account_session``
and ``create_account_session``.

Request in, decide, Stripe, response out, as for keys: the origin and the
user are admitted, the body read (at most the account: the components are
the server's to choose), the request counted against the user's rate limit
and put to the ``account_sessions=`` authorizer, and an allowed one counted
against the account's; Stripe creates the session for
the granted account and components, and its answer is checked against the
grant before the secret is handed out. Every decision is audited (action
``"account_session"``); the session's secret never reaches a log, an error
or the trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeVar

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
from issuing_elements._request import (
    NO_CONTEXT,
    parse_session_request,
)
from issuing_elements._response import session_response
from issuing_elements._stripe_answers import (
    CREATE_SESSION,
    account_session,
    session_params,
    translate,
    unreadable_answer,
    unreadable_refused,
)
from issuing_elements.exceptions import (
    ConfigurationError,
    InvalidRequestError,
    ServerMisconfiguredError,
)

from .steps import (
    admit,
    as_outcome,
    audit,
    count_card,
    count_user,
    deadline_of,
    endpoint,
    logger,
    refuse_misfits,
    stripe_options,
    trail_of,
    user_id_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from issuing_elements._authorize import AccountSessionAuthorizer, UserT
    from issuing_elements._components import AccountSession, AccountSessionGrant
    from issuing_elements._needs import Flow
    from issuing_elements._records import HttpResponse
    from issuing_elements._request import RequestContext
    from issuing_elements._settings import Settings

R = TypeVar("R")

ACTION: Final = "account_session"


def handle(  # noqa: PLR0913 - the endpoint's inputs, as the adapter passes them
    settings: Settings[UserT],
    user: UserT | None,
    *,
    body: bytes,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    client_ip: str | None,
) -> Flow[HttpResponse]:
    """The endpoint: every outcome is a response, never an exception."""

    def read() -> AccountSessionRequest:
        return parse_session_request(
            body, content_type, max_body_bytes=settings.max_body_bytes
        )

    return (
        yield from endpoint(
            ACTION,
            headers,
            client_ip,
            lambda context: _exchange(settings, user, context, read, session_response),
        )
    )


def create(
    settings: Settings[UserT], user: UserT | None, account: str | None
) -> Flow[AccountSession]:
    """The session itself, for applications that answer the browser themselves."""

    def read() -> AccountSessionRequest:
        if account is not None and not is_account_id(account):
            raise InvalidRequestError(
                "account must be a connected account id (acct_...).", field="account"
            )
        return AccountSessionRequest(account=account)

    return (yield from _exchange(settings, user, NO_CONTEXT, read, _same))


def _exchange(
    settings: Settings[UserT],
    user: UserT | None,
    context: RequestContext,
    read: Callable[[], AccountSessionRequest],
    finish: Callable[[AccountSession], R],
) -> Flow[R]:
    """Request in, decide, Stripe, response out; audited, fail closed."""
    trail = trail_of(context)
    deadline_at = deadline_of(settings)
    try:
        authorizer = _authorizer(settings)
        admitted = admit(settings, context, user)
        trail.user_id = user_id = user_id_of(settings, admitted)
        yield from refuse_misfits(settings.stripe_refusals, settings.limiter_refusals)
        request = read()
        trail.stripe_account = request.account
        yield from count_user(settings, user_id, deadline_at)
        try:
            verdict = yield from ask(AskAuthorizer(authorizer, admitted, request))
            refuse_session_awaitable(verdict, request)
        except Exception as error:  # noqa: BLE001 - fail closed on anything
            raise session_authorizer_failed(error, request) from None
        grant = decide_session(verdict, request)
        trail.stripe_account = grant.account
        # The limiter's second budget, once allowed: the account named, else
        # the user's own.
        yield from count_card(
            settings,
            request.account or f"{user_id}:account_session",
            deadline_at,
            subject="account",
        )
        session = yield from _create(settings, grant, deadline_at, trail.request_id)
        result = finish(session)
        yield from audit(
            trail.event(ACTION, "granted", "Stripe created an Account Session."),
        )
    except Exception as error:  # noqa: BLE001 - fail closed on anything
        failure = as_outcome(error)
        try:
            yield from audit(trail.event(ACTION, failure, str(failure)))
        except ServerMisconfiguredError as unrecorded:
            failure = unrecorded
        raise failure from None
    return result


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
    grant: AccountSessionGrant,
    deadline_at: float,
    request_id: str | None,
) -> Flow[AccountSession]:
    """``POST /v1/account_sessions`` within the deadline; the answer checked.

    The platform creates the session for the account, which ``account``
    names: no ``Stripe-Account`` header. A session that comes after the
    deadline, or in an answer that cannot be read, is dropped: Stripe
    cannot revoke one, nobody received its secret, and it expires.
    *request_id* is the request's own, for the log.
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
                request_id=request_id,
                fate="a session may exist; Stripe cannot revoke one, nobody "
                "received its secret, and it expires on its own.",
            ) from None
        raise translate(error, action=CREATE_SESSION) from None
    return account_session(response, grant)


def _same(session: AccountSession) -> AccountSession:
    return session
