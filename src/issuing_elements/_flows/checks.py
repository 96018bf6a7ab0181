"""What every door checks and counts before Stripe, and what every call carries.

Each check either returns, raises one of the library's errors (the outcome
the flow answers with), or, where it needs something from outside, is a
flow itself (``yield from``): the twin refused (`refuse_misfits`), the
origin and the user admitted (`admit`), the user named (`user_id_of`), the
user's and the card's budgets spent (`count_user`, `count_card`), the
authorizer asked (`authorize`); and every call's deadline (`deadline_of`)
and Stripe options (`stripe_options`).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, TypeVar

from issuing_elements._authorize import authorizer_failed, decide, refuse_awaitable
from issuing_elements._needs import AskAuthorizer, HitLimit, RefuseTwin, ask
from issuing_elements._origin import check_origin
from issuing_elements._stripe_answers import request_options
from issuing_elements.exceptions import (
    ConfigurationError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthenticatedError,
)

if TYPE_CHECKING:
    import stripe

    from issuing_elements._authorize import UserT
    from issuing_elements._needs import Flow
    from issuing_elements._records import Grant, KeyRequest
    from issuing_elements._request import RequestContext
    from issuing_elements._settings import Refusals, Settings

logger = logging.getLogger("issuing_elements")

U = TypeVar("U")


def refuse_misfits(*refusals: Refusals) -> Flow[None]:
    """Refuse a twin that can never use what this flow needs: 500, and one log line.

    *refusals* are the settings' ``(sync, async)`` reasons for each
    dependency the flow uses (the Stripe client, a store); the first reason
    against the twin that runs the flow is logged at ERROR, naming the fix,
    and the request fails (500 ``server_misconfigured``) before anything is
    called. Nothing is waited on when no reason is known.
    """
    sync = next((why for why, _ in refusals if why is not None), None)
    asynchronous = next((why for _, why in refusals if why is not None), None)
    if sync is not None or asynchronous is not None:
        yield from ask(RefuseTwin(sync, asynchronous))


def admit(settings: Settings[U], context: RequestContext, user: U | None) -> U:
    """The user, once admitted: refuse a page not allowed, or nobody signed in.

    Nothing of the request is read before this.
    """
    check_origin(
        context.header("origin"),
        context.header("sec-fetch-site"),
        settings.allowed_origins,
    )
    if user is None:
        raise UnauthenticatedError
    return user


def user_id_of(settings: Settings[UserT], user: UserT | None) -> str | None:
    """How the audit trail, the rate limiter and the key ledger name *user*."""
    if user is None:
        return None
    if settings.user_id is None:
        if isinstance(user, (str, int)) and not isinstance(user, bool):
            return str(user)
        return None
    value: object = settings.user_id(user)
    if not isinstance(value, str) or not value:
        raise ConfigurationError("user_id(user) must return a non-empty string.")
    return value


def count_user(
    settings: Settings[UserT], user_id: str | None, deadline_at: float
) -> Flow[None]:
    """Spend one of the user's budget; over it, refuse (429).

    Every authenticated, well-formed request spends it, before the
    authorizer runs, so that walking card ids stays slow whether or not the
    cards are the user's.
    """
    limiter = settings.rate_limiter
    if limiter is None:
        return
    if user_id is None:
        raise ConfigurationError("A rate limiter needs user_id= for these users.")
    yield from _spend(settings, HitLimit("user", user_id, deadline_at), "user")


def count_card(
    settings: Settings[UserT],
    card_id: str,
    deadline_at: float,
    *,
    subject: str = "card",
) -> Flow[None]:
    """Spend one of the card's budget; over it, refuse (429).

    Only a request the authorizer allowed spends it: a user who may not see
    the card cannot spend its budget, and so cannot lock its holder out.
    *subject* names *card_id* in the log (an Account Session's account).
    """
    limiter = settings.rate_limiter
    if limiter is None:
        return
    yield from _spend(settings, HitLimit("card", card_id, deadline_at), subject)


def _spend(settings: Settings[UserT], hit: HitLimit, subject: str) -> Flow[None]:
    """One hit on the rate limiter; over the limit, 429 with ``Retry-After``.

    A limiter that fails is answered 503 (allowed, for a limiter that
    declares ``fail_open``).
    """
    try:
        retry_in = yield from ask(hit)
    except ServiceUnavailableError:
        limiter = settings.rate_limiter
        if limiter is None or limiter.fail_open is not True:
            raise
        logger.warning("Allowing the request unlimited (fail_open=True).")
        return
    if retry_in is not None:
        seconds = math.ceil(float(retry_in))
        logger.info(
            "Rate limit reached for %s %s; retry in %s s.", subject, hit.name, seconds
        )
        raise RateLimitedError("The rate limit is reached.", retry_after=seconds)


def authorize(
    settings: Settings[UserT], user: UserT, request: KeyRequest
) -> Flow[Grant]:
    """Ask the application's authorizer; fail closed on anything but a grant."""
    try:
        verdict = yield from ask(AskAuthorizer(settings.authorizer, user, request))
        refuse_awaitable(verdict, request)  # the sync way, an async authorizer
    except Exception as error:  # noqa: BLE001 - fail closed on anything
        raise authorizer_failed(error, request) from None
    return decide(verdict, request)


def deadline_of(settings: Settings[UserT]) -> float:
    """When a request that starts now must be answered (``time.monotonic()``)."""
    return time.monotonic() + settings.deadline


def stripe_options(
    settings: Settings[UserT],
    stripe_account: str | None,
    *,
    idempotent: bool,
    api_version: str | None = None,
) -> stripe.RequestOptions:
    """The request options of one Stripe call: version, account, retries.

    The version is the issuer's unless *api_version* (a mobile SDK's) is given.
    """
    return request_options(
        api_version or settings.api_version,
        stripe_account,
        settings.max_network_retries,
        idempotent=idempotent,
    )
