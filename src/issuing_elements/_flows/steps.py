"""The steps every flow takes the same way: admit, name, count, authorize, audit.

Each step either returns, raises one of the library's errors (the outcome
the flow answers with), or, where it waits, is a flow itself
(``yield from``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from typing import TYPE_CHECKING, TypeVar

from issuing_elements._audit import Trail, log_audit_event
from issuing_elements._authorize import (
    authorizer_failed,
    decide,
    never_awaited,
    refuse_awaitable,
)
from issuing_elements._driver import wait
from issuing_elements._origin import check_origin
from issuing_elements._request import request_context
from issuing_elements._response import error_response
from issuing_elements._stripe_api import aheld, held, request_options
from issuing_elements._stripe_call import (
    acall_within,
    call_within,
    check_event_loop,
    stripe_too_slow,
)
from issuing_elements.exceptions import (
    ConfigurationError,
    IssuingElementsError,
    RateLimitedError,
    ServerMisconfiguredError,
    ServiceUnavailableError,
    UnauthenticatedError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    import stripe

    from issuing_elements._audit import Action, AuditEvent
    from issuing_elements._authorize import UserT
    from issuing_elements._driver import Flow
    from issuing_elements._records import Grant, HttpResponse, KeyRequest
    from issuing_elements._request import RequestContext
    from issuing_elements._settings import Refusals, Settings
    from issuing_elements._stripe_api import StripeAnswer
    from issuing_elements._stripe_call import Bulkhead

logger = logging.getLogger("issuing_elements")

U = TypeVar("U")
T = TypeVar("T")


def endpoint(
    settings: Settings[UserT],
    action: Action,
    headers: Mapping[str, str] | None,
    client_ip: str | None,
    exchange: Callable[[RequestContext], Flow[HttpResponse]],
) -> Flow[HttpResponse]:
    """An exchange as an endpoint: the headers read once, every outcome answered.

    Never raises: the library's errors become their answers, anything else
    a logged 500. Headers that cannot be read are refused, and audited.
    """
    try:
        try:
            context = request_context(headers, client_ip)
        except ServerMisconfiguredError as unreadable:
            yield from audit_quietly(
                settings, Trail().event(action, unreadable, str(unreadable))
            )
            raise
        return (yield from exchange(context))
    except IssuingElementsError as error:
        return error_response(error)
    except Exception as error:  # noqa: BLE001 - every outcome is a response
        return error_response(unexpected(error))


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
    if sync is None and asynchronous is None:
        return

    def refuse(why: str | None) -> None:
        if why is not None:
            logger.error("%s Answering 500.", why)
            raise ConfigurationError(why)

    async def arefuse() -> None:
        refuse(asynchronous)

    yield from wait(lambda: refuse(sync), arefuse)


def trail_of(context: RequestContext) -> Trail:
    """A new audit trail, knowing what the request says about itself."""
    return Trail(
        request_id=context.header("x-request-id"),
        user_agent=context.header("user-agent"),
        client_ip=context.client_ip,
    )


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
    yield from _spend(
        settings,
        deadline_at,
        lambda: limiter.hit_user(user_id),
        lambda: limiter.ahit_user(user_id),
        refused=("user", user_id),
    )


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
    yield from _spend(
        settings,
        deadline_at,
        lambda: limiter.hit_card(card_id),
        lambda: limiter.ahit_card(card_id),
        refused=(subject, card_id),
    )


def _spend(
    settings: Settings[UserT],
    deadline_at: float,
    synchronous: Callable[[], float | None],
    asynchronous: Callable[[], Awaitable[float | None]],
    *,
    refused: tuple[str, str],
) -> Flow[None]:
    """One hit on the rate limiter, answered by *deadline_at*, or 503.

    A limiter that fails is answered 503 (allowed, for a limiter built
    ``fail_open``); one that asks to wait, 429 with ``Retry-After``.
    """
    limiter = settings.rate_limiter
    try:
        retry_in = yield from call_store(
            "rate limiter",
            limiter,
            deadline_at,
            synchronous,
            asynchronous,
            in_process=settings.limiter_in_process,
            bulkhead=settings.limiter_calls,
        )
    except ServiceUnavailableError:
        if getattr(limiter, "fail_open", False) is not True:
            raise
        logger.warning("Allowing the request unlimited (fail_open=True).")
        return
    if retry_in is not None:
        seconds = math.ceil(float(retry_in))
        logger.info("Rate limit reached for %s %s; retry in %s s.", *refused, seconds)
        raise RateLimitedError("The rate limit is reached.", retry_after=seconds)


def call_store(  # noqa: PLR0913 - what it is, by when, its two ways, its bulkhead
    what: str,
    store: object,
    deadline_at: float,
    synchronous: Callable[[], T],
    asynchronous: Callable[[], Awaitable[T]],
    *,
    in_process: bool,
    bulkhead: Bulkhead,
) -> Flow[T]:
    """A call to the rate limiter or the key ledger, answered by *deadline_at*.

    Whatever the store's client does (redis-py's own timeouts and retries
    included), the request waits no longer than its deadline: then 503
    ``service_unavailable``, and one log line names the store. The call
    holds a place in the store's *bulkhead* until it is over (a sync call
    abandoned at the deadline, until its client gives up); with none
    free, 503 at once, named the same way. The library's in-memory stores
    answer at once, and are called as they are.
    """
    if in_process:
        return (yield from wait(synchronous, asynchronous))
    said: list[IssuingElementsError] = []  # the errors logged already

    def too_busy(reason: str, seconds: float) -> IssuingElementsError:
        logger.error(
            "Refusing a call to the %s (%s) at once (503): %s. Most are calls "
            "abandoned at the deadline that still wait on its client; give its "
            "Redis client a socket_timeout and a bounded retry, so that they "
            "give up sooner.",
            what,
            type(store).__name__,
            reason,
        )
        error = ServiceUnavailableError(
            f"Too many calls to the {what} are waiting.",
            retry_after=max(1, math.ceil(seconds)),
        )
        said.append(error)
        return error

    def too_slow(seconds: float) -> IssuingElementsError:
        logger.error(
            "The %s (%s) did not answer within the request's deadline (%.3g s "
            "were left for it); answering 503. Give its Redis client a "
            "socket_timeout and a bounded retry, so that it gives up sooner.",
            what,
            type(store).__name__,
            seconds,
        )
        error = ServiceUnavailableError(
            f"The {what} did not answer in time.",
            retry_after=max(1, math.ceil(seconds)),
        )
        said.append(error)
        return error

    def bounded() -> T:
        return call_within(
            remaining(deadline_at, f"the {what}"),
            synchronous,
            on_timeout=too_slow,
            bulkhead=bulkhead,
            on_full=too_busy,
        )

    async def abounded() -> T:
        seconds = remaining(deadline_at, f"the {what}")
        # Cancelled at the deadline, the call is over when wait_for returns.
        if not bulkhead.enter():
            raise too_busy(bulkhead.why_refused(), seconds)
        try:
            return await asyncio.wait_for(asynchronous(), seconds)
        except asyncio.TimeoutError:
            raise too_slow(seconds) from None
        finally:
            bulkhead.leave()

    try:
        return (yield from wait(bounded, abounded))
    except ServiceUnavailableError as failed:
        if failed not in said:
            # A custom audit sink must not be the only one to know.
            logger.error(  # noqa: TRY400 - redis-py's error is named; no traceback
                "The %s failed: %s; answering 503.", what, failed
            )
        raise


def call_stripe(  # noqa: PLR0913 - by when, the two ways, and the late key's fate
    settings: Settings[UserT],
    deadline_at: float,
    synchronous: Callable[[], object],
    asynchronous: Callable[[], Awaitable[object]],
    *,
    late: Callable[[StripeAnswer], None] | None = None,
    alate: Callable[[StripeAnswer], Awaitable[None]] | None = None,
    in_background: bool = False,
) -> Flow[StripeAnswer]:
    """A call to Stripe, answered by *deadline_at*, or 503 ``stripe_unavailable``.

    Inline where the HTTP client's own bound fits in what is left of the
    deadline (no worker thread); else on a worker, abandoned at the
    deadline, and an answer that comes after is handed to *late*; such a
    call holds a place in the issuer's Stripe bulkhead until it is over,
    and with none free the answer is 503 at once. A call *in_background*
    (a late key's revocation) is bounded by its HTTP client alone. The
    answer comes back held (`held`), so that no variable shows it.
    """
    client = settings.client

    def too_slow(seconds: float) -> IssuingElementsError:
        return stripe_too_slow(seconds, settings.deadline)

    def bounded() -> StripeAnswer:
        seconds = remaining(deadline_at, "Stripe")
        inline = in_background or _fits(settings.stripe_bound, seconds)
        return call_within(
            seconds,
            lambda: held(synchronous),
            late,
            inline=inline,
            on_timeout=too_slow,
            bulkhead=settings.stripe_calls,
        )

    async def abounded() -> StripeAnswer:
        check_event_loop(client)
        seconds = remaining(deadline_at, "Stripe")
        inline = in_background or _fits(settings.astripe_bound, seconds)
        return await acall_within(
            seconds,
            lambda: aheld(asynchronous),
            alate,
            inline=inline,
            on_timeout=too_slow,
            bulkhead=settings.stripe_calls,
        )

    return (yield from wait(bounded, abounded))


def deadline_of(settings: Settings[UserT]) -> float:
    """When a request that starts now must be answered (``time.monotonic()``)."""
    return time.monotonic() + settings.deadline


def remaining(deadline_at: float, before: str) -> float:
    """The seconds left until *deadline_at*, before calling *before*.

    Raises:
        ServiceUnavailableError: None are left: what came first (the
            authorizer, a store) took the whole deadline.
    """
    left = deadline_at - time.monotonic()
    if left <= 0:
        logger.error(
            "The request's deadline was spent before calling %s (the authorizer "
            "or a store took it); answering 503.",
            before,
        )
        raise ServiceUnavailableError("The request's deadline was spent.")
    return left


def _fits(bound: float | None, seconds: float) -> bool:
    return bound is not None and bound <= seconds


def authorize(
    settings: Settings[UserT], user: UserT, request: KeyRequest
) -> Flow[Grant]:
    """Ask the application's authorizer; fail closed on anything but a grant."""
    authorizer = settings.authorizer
    verdict = yield from consult(
        lambda: authorizer(user, request),
        refuse=lambda result: refuse_awaitable(result, request),
        failed=lambda error: authorizer_failed(error, request),
    )
    return decide(verdict, request)


def consult(
    ask: Callable[[], object],
    *,
    refuse: Callable[[object], None],
    failed: Callable[[Exception], IssuingElementsError],
) -> Flow[object]:
    """Call an application's authorizer, sync or async; fail closed on an error.

    *ask* calls it; *refuse* raises when a sync method got an awaitable;
    *failed* is what an exception becomes. Returns the verdict, for the
    caller to decide on.
    """

    def synchronous() -> object:
        verdict = ask()
        refuse(verdict)
        return verdict

    async def asynchronous() -> object:
        verdict = ask()
        return await verdict if inspect.isawaitable(verdict) else verdict

    try:
        verdict = yield from wait(synchronous, asynchronous)
    except Exception as error:  # noqa: BLE001 - fail closed on anything
        raise failed(error) from None
    return verdict


def audit(settings: Settings[UserT], event: AuditEvent) -> Flow[None]:
    """Hand *event* to the sink; a sink that fails makes the decision fail (500)."""
    try:
        yield from _to_sink(settings, event)
    except Exception as error:
        logger.exception(
            "The audit sink raised %s; failing closed.", type(error).__name__
        )
        raise ServerMisconfiguredError("The audit sink failed.") from None


def audit_quietly(settings: Settings[UserT], event: AuditEvent) -> Flow[None]:
    """Hand *event* to the sink where nothing is left to refuse; log a failure."""
    try:
        yield from _to_sink(settings, event)
    except Exception as error:
        logger.exception(
            "The audit sink raised %s on a %s %s event; it is lost.",
            type(error).__name__,
            event.action,
            event.outcome,
        )


def _to_sink(settings: Settings[UserT], event: AuditEvent) -> Flow[None]:
    """The sink's call: on the event loop only for the default sink.

    An application's sink may block (a database, a queue); under the async
    methods it runs on a worker thread, so that one slow write holds up its
    own request and no other. An ``async def`` sink is awaited; the sync
    methods refuse one (it would never run).
    """
    # Typed as what an application may really pass: an async def too.
    sink: Callable[[AuditEvent], object] = settings.audit

    def synchronous() -> None:
        if never_awaited(sink(event)):
            raise ConfigurationError(
                "The audit sink is async; the sync methods cannot await it."
            )

    async def asynchronous() -> None:
        if sink is log_audit_event:
            sink(event)  # a log line: no reason to leave the loop
            return
        written = await asyncio.to_thread(sink, event)
        if inspect.isawaitable(written):
            await written

    yield from wait(synchronous, asynchronous)


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


def unexpected(error: BaseException) -> ServerMisconfiguredError:
    """A failure nobody planned for: logged with its traceback, answered 500."""
    logger.error(
        "Unexpected %s while issuing a key; answering 500.",
        type(error).__name__,
        exc_info=error,
    )
    return ServerMisconfiguredError("Unexpected error.")


def as_outcome(error: Exception) -> IssuingElementsError:
    """The library's outcome for *error*; anything unexpected is a logged 500."""
    return error if isinstance(error, IssuingElementsError) else unexpected(error)
