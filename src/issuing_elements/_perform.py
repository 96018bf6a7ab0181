"""The performer: each need of a flow (``_needs``) done, the sync way or the async way.

This module alone owns how the flows' needs are met: the request's deadline
for every call to Stripe and to the stores, each dependency's `Bulkhead`,
worker threads and ``asyncio.to_thread``, and the check that an async
Stripe client stays on its event loop. A key Stripe issues after its
request gave up is revoked here, by running the revocation flow.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from typing import TYPE_CHECKING, Any, Generic

import stripe

from ._audit import log_audit_event
from ._authorize import UserT, never_awaited
from ._bounded_calls import (
    acall_in_background,
    acall_within,
    call_in_background,
    call_within,
    stripe_too_slow,
)
from ._driver import arun, run
from ._flows.revocation import revoke_in_background
from ._needs import (
    AskAuthorizer,
    AskLedger,
    CallStripe,
    FindLostKey,
    HitLimit,
    RefuseTwin,
    WriteTrail,
)
from ._stripe_answers import (
    StripeAnswer,
    aheld,
    answer_shape,
    held,
    key_id_of,
    unreadable_answer,
)
from ._stripe_client import check_event_loop
from .exceptions import (
    ConfigurationError,
    IssuingElementsError,
    ServiceUnavailableError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._bounded_calls import Bulkhead
    from ._needs import Need
    from ._settings import Settings

__all__ = ["Performer"]

logger = logging.getLogger("issuing_elements")


class Performer(Generic[UserT]):
    """Does the needs of the flows of one issuer: `perform`, or `aperform`."""

    __slots__ = ("_settings",)

    def __init__(self, settings: Settings[UserT]) -> None:
        self._settings = settings

    # -- the sync way ------------------------------------------------------

    def perform(self, need: Need[Any]) -> Any:  # noqa: PLR0911 - one branch per need
        """Do *need* on this thread (Stripe and stores bounded by the deadline)."""
        settings = self._settings
        if isinstance(need, CallStripe):
            return self._call_stripe(need)
        if isinstance(need, HitLimit):
            limiter = settings.rate_limiter
            hit = limiter.hit_user if need.budget == "user" else limiter.hit_card  # type: ignore[union-attr]  # the flow asks only with one
            return self._call_store(
                "rate limiter", limiter, need.deadline_at, lambda: hit(need.name)
            )
        if isinstance(need, AskLedger):
            ledger = settings.key_ledger
            return self._call_store(
                "key ledger",
                ledger,
                need.deadline_at,
                lambda: _ledger_call(ledger, need, asynchronous=False),
            )
        if isinstance(need, AskAuthorizer):
            return need.authorizer(need.user, need.request)
        if isinstance(need, WriteTrail):
            # Typed as what an application may really pass: an async def too.
            sink: Callable[[Any], object] = settings.audit
            if never_awaited(sink(need.event)):
                raise ConfigurationError(
                    "The audit sink is async; the sync methods cannot await it."
                )
            return None
        if isinstance(need, RefuseTwin):
            _refuse(need.sync)
            return None
        if isinstance(need, FindLostKey):
            call_in_background(lambda: self._find_lost_key(need))
            return None
        raise TypeError(f"No flow needs {type(need).__name__}.")  # pragma: no cover

    def _call_stripe(self, need: CallStripe) -> StripeAnswer:
        settings = self._settings
        seconds = remaining(need.deadline_at, "Stripe")
        call = _stripe_method(settings.client, need, asynchronous=False)
        if need.in_background or _fits(settings.stripe_bound, seconds):
            return held(call)  # its own client bounds it: on this thread, no place
        late: Callable[[StripeAnswer], None] | None = None
        if need.revoke_if_late:
            account = need.options.get("stripe_account")

            def late(answer: StripeAnswer) -> None:
                self._revoke_late(answer, account)

        return call_within(
            seconds,
            lambda: held(call),
            late,
            on_timeout=lambda left: stripe_too_slow(left, settings.deadline),
            bulkhead=settings.stripe_calls,
        )

    def _call_store(
        self, what: str, store: Any, deadline_at: float, call: Callable[[], Any]
    ) -> Any:
        """A call to a store, answered by *deadline_at* (see `_StoreCall`)."""
        if store.in_process:
            return call()
        bounded = _StoreCall(what, store, self._bulkhead(store))
        try:
            return call_within(
                remaining(deadline_at, f"the {what}"),
                call,
                on_timeout=bounded.too_slow,
                bulkhead=bounded.bulkhead,
                on_full=bounded.too_busy,
            )
        except ServiceUnavailableError as failed:
            bounded.say(failed)
            raise

    def _bulkhead(self, store: object) -> Bulkhead:
        settings = self._settings
        if store is settings.rate_limiter:
            return settings.limiter_calls
        return settings.ledger_calls

    def _revoke_late(self, answer: object, account: str | None) -> None:
        key_id = key_id_of(answer)
        if key_id is not None:
            run(revoke_in_background(self._settings, key_id, account), self.perform)

    def _find_lost_key(self, need: FindLostKey) -> None:
        once: stripe.RequestOptions = {**need.options, "max_network_retries": 0}
        keys = self._settings.client.v1.ephemeral_keys
        try:
            answer = held(lambda: keys.create(params=need.params, options=once))
        except stripe.StripeError as error:
            _unfound(need, _why_unfound(error))
            return
        if key_id_of(answer) is None:
            _unfound(need, answer_shape(answer))
        else:
            self._revoke_late(answer, need.options.get("stripe_account"))

    # -- the async way -----------------------------------------------------

    async def aperform(self, need: Need[Any]) -> Any:  # noqa: PLR0911 - one branch per need
        """Same as `perform`, but async: a blocking sink goes to a worker thread."""
        settings = self._settings
        if isinstance(need, CallStripe):
            return await self._acall_stripe(need)
        if isinstance(need, HitLimit):
            limiter = settings.rate_limiter
            ahit = limiter.ahit_user if need.budget == "user" else limiter.ahit_card  # type: ignore[union-attr]  # the flow asks only with one
            return await self._acall_store(
                "rate limiter", limiter, need.deadline_at, lambda: ahit(need.name)
            )
        if isinstance(need, AskLedger):
            ledger = settings.key_ledger
            return await self._acall_store(
                "key ledger",
                ledger,
                need.deadline_at,
                lambda: _ledger_call(ledger, need, asynchronous=True),
            )
        if isinstance(need, AskAuthorizer):
            verdict = need.authorizer(need.user, need.request)
            return await verdict if inspect.isawaitable(verdict) else verdict
        if isinstance(need, WriteTrail):
            asink: Callable[[Any], object] = settings.audit
            if asink is log_audit_event:
                asink(need.event)  # a log line: no reason to leave the loop
                return None
            written = await asyncio.to_thread(asink, need.event)
            if inspect.isawaitable(written):
                await written
            return None
        if isinstance(need, RefuseTwin):
            _refuse(need.asynchronous)
            return None
        if isinstance(need, FindLostKey):
            acall_in_background(lambda: self._afind_lost_key(need))
            return None
        raise TypeError(f"No flow needs {type(need).__name__}.")  # pragma: no cover

    async def _acall_stripe(self, need: CallStripe) -> StripeAnswer:
        settings = self._settings
        check_event_loop(settings.client)
        seconds = remaining(need.deadline_at, "Stripe")
        call = _stripe_method(settings.client, need, asynchronous=True)
        inline = need.in_background or _fits(settings.astripe_bound, seconds)
        late: Callable[[StripeAnswer], Awaitable[None]] | None = None
        if need.revoke_if_late:
            account = need.options.get("stripe_account")

            async def late(answer: StripeAnswer) -> None:
                await self._arevoke_late(answer, account)

        return await acall_within(
            seconds,
            lambda: aheld(call),
            late,
            inline=inline,
            on_timeout=lambda left: stripe_too_slow(left, settings.deadline),
            bulkhead=settings.stripe_calls,
        )

    async def _acall_store(
        self,
        what: str,
        store: Any,
        deadline_at: float,
        call: Callable[[], Awaitable[Any]],
    ) -> Any:
        if store.in_process:
            return await call()
        bounded = _StoreCall(what, store, self._bulkhead(store))
        try:
            seconds = remaining(deadline_at, f"the {what}")
            # Cancelled at the deadline, the call is over when wait_for returns.
            if not bounded.bulkhead.enter():
                raise bounded.too_busy(bounded.bulkhead.why_refused(), seconds)
            try:
                return await asyncio.wait_for(call(), seconds)
            except asyncio.TimeoutError:
                raise bounded.too_slow(seconds) from None
            finally:
                bounded.bulkhead.leave()
        except ServiceUnavailableError as failed:
            bounded.say(failed)
            raise

    async def _arevoke_late(self, answer: object, account: str | None) -> None:
        key_id = key_id_of(answer)
        if key_id is not None:
            await arun(
                revoke_in_background(self._settings, key_id, account), self.aperform
            )

    async def _afind_lost_key(self, need: FindLostKey) -> None:
        once: stripe.RequestOptions = {**need.options, "max_network_retries": 0}
        keys = self._settings.client.v1.ephemeral_keys
        try:
            answer = await aheld(
                lambda: keys.create_async(params=need.params, options=once)
            )
        except stripe.StripeError as error:
            _unfound(need, _why_unfound(error))
            return
        if key_id_of(answer) is None:
            _unfound(need, answer_shape(answer))
        else:
            await self._arevoke_late(answer, need.options.get("stripe_account"))


def _stripe_method(
    client: stripe.StripeClient, need: CallStripe, *, asynchronous: bool
) -> Callable[[], Any]:
    """The stripe-python call that *need* names, ready to call."""
    v1 = client.v1
    options = need.options
    operation = need.operation
    if operation == "create_key":
        keys = v1.ephemeral_keys
        create = keys.create_async if asynchronous else keys.create
        return lambda: create(params=need.params, options=options)
    if operation == "revoke_key":
        keys = v1.ephemeral_keys
        delete = keys.delete_async if asynchronous else keys.delete
        key_id = need.key_id or ""
        return lambda: delete(key_id, options=options)
    if operation == "create_session":
        sessions = v1.account_sessions
        make = sessions.create_async if asynchronous else sessions.create
        return lambda: make(params=need.params, options=options)
    cards = v1.issuing.cards
    listing = cards.list_async if asynchronous else cards.list
    return lambda: listing(params=need.params, options=options)


def _ledger_call(ledger: Any, need: AskLedger, *, asynchronous: bool) -> Any:
    """The key ledger's method that *need* names, called (``a``-prefixed async)."""
    prefix = "a" if asynchronous else ""
    method = getattr(ledger, prefix + need.operation)
    operation = need.operation
    if operation in ("record", "forget"):
        return method(need.entry)
    if operation == "keys_for_user":
        return method(need.user_id)
    if operation == "keys_for_card":
        return method(need.card_id)
    if operation == "mark_revoked":
        named = (
            {"user_id": need.user_id}
            if need.user_id is not None
            else {"card_id": need.card_id}
        )
        return method(**named)
    return method(user_id=need.user_id, card_id=need.card_id, since=need.since)


class _StoreCall:
    """One bounded call to a store: what its refusals say, and the one log line.

    Whatever the store's client does (redis-py's own timeouts and retries
    included), the request waits no longer than its deadline: then 503
    ``service_unavailable``, and one log line names the store. The call
    holds a place in the store's *bulkhead* until it is over (a sync call
    abandoned at the deadline, until its client gives up); with none free,
    503 at once, named the same way. Stores that declare themselves
    ``in_process`` answer at once, and are called as they are.
    """

    __slots__ = ("bulkhead", "said", "store", "what")

    def __init__(self, what: str, store: object, bulkhead: Bulkhead) -> None:
        self.what = what
        self.store = store
        self.bulkhead = bulkhead
        self.said: list[IssuingElementsError] = []  # the errors logged already

    def too_busy(self, reason: str, seconds: float) -> IssuingElementsError:
        logger.error(
            "Refusing a call to the %s (%s) at once (503): %s. Most are calls "
            "abandoned at the deadline that still wait on its client; give its "
            "Redis client a socket_timeout and a bounded retry, so that they "
            "give up sooner.",
            self.what,
            type(self.store).__name__,
            reason,
        )
        return self._said(f"Too many calls to the {self.what} are waiting.", seconds)

    def too_slow(self, seconds: float) -> IssuingElementsError:
        logger.error(
            "The %s (%s) did not answer within the request's deadline (%.3g s "
            "were left for it); answering 503. Give its Redis client a "
            "socket_timeout and a bounded retry, so that it gives up sooner.",
            self.what,
            type(self.store).__name__,
            seconds,
        )
        return self._said(f"The {self.what} did not answer in time.", seconds)

    def _said(self, message: str, seconds: float) -> IssuingElementsError:
        """The 503 just logged, remembered so that `say` does not log it again."""
        error = ServiceUnavailableError(message, retry_after=max(1, math.ceil(seconds)))
        self.said.append(error)
        return error

    def say(self, failed: ServiceUnavailableError) -> None:
        """Log a store's own 503, unless logged already."""
        if failed not in self.said:
            logger.error("The %s failed: %s; answering 503.", self.what, failed)


def _refuse(why: str | None) -> None:
    if why is not None:
        logger.error("%s Answering 500.", why)
        raise ConfigurationError(why)


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


def _why_unfound(error: stripe.StripeError) -> str | None:
    """Why asking again found no key; ``None`` when Stripe refused (it made none)."""
    unreadable = unreadable_answer(error)
    if unreadable is not None:
        return unreadable
    if isinstance(error, stripe.APIConnectionError):
        return type(error).__name__
    return None


def _unfound(need: FindLostKey, failure: str | None) -> None:
    if failure is None:
        return  # Stripe's own refusal: no key was made
    logger.error(
        "Stripe's answer to the key request for card %s %s, and asking "
        "again failed too (%s): a key Stripe may have issued could not be "
        "revoked; it expires on its own. Idempotency key %s, request id %s.",
        need.card_id,
        need.why,
        failure,
        need.options.get("idempotency_key") or "",
        need.request_id,
    )
