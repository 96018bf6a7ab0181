"""The issuer: request in, decide, Stripe, response out, in sync and async twins.

Each operation is written once, as a flow: a generator that makes every
decision itself and yields only where it must wait (on the rate limiter,
the authorizer, Stripe, the key ledger). ``_run`` and ``_arun`` drive a
flow, doing each wait the sync or the async way; the public twins are one
line each. Every decision the flow reaches is audited, and a key that
Stripe issued but that cannot be handed out is revoked before answering.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import stripe

from . import _redact, _stripe_api
from ._audit import AuditEvent, AuditSink, log_audit_event
from ._authorize import (
    Authorizer,
    UserT,
    authorizer_failed,
    check_authorizer,
    decide,
    refuse_awaitable,
)
from ._ids import is_account_id, is_card_id, is_key_id
from ._origin import check_origin, header, lowercase_headers, normalize_origins
from ._page import check_page_options, page_fields
from ._request import check_ids, parse_key_request
from ._response import error_response, key_response
from ._stripe_call import acall_within, call_within, check_event_loop, runs_inline
from .exceptions import (
    ConfigurationError,
    InvalidRequestError,
    IssuingElementsError,
    RateLimitedError,
    ServerMisconfiguredError,
    UnauthenticatedError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._elements import ElementOptions
    from ._ledger import KeyLedger, LiveKey
    from ._rate_limit import RateLimiter
    from ._records import Grant, HttpResponse, IssuedKey, KeyRequest

logger = logging.getLogger("issuing_elements")

_redact.install()

R = TypeVar("R")

# A wait: how to do it sync, and how async. A flow yields these.
Wait = tuple[Callable[[], object], Callable[[], Awaitable[object]]]
Flow = Generator[Wait, object, R]

MAX_DEADLINE = 300.0


class EphemeralKeyIssuer(Generic[UserT]):
    """Issue Stripe ephemeral keys for Issuing Elements, to authorized users only.

    Args:
        stripe_client: A ``stripe.StripeClient`` holding a secret (``sk_``) or
            restricted (``rk_``) key, and no ``stripe_account`` of its own
            (the account comes from each :class:`Grant`). It is never mutated.
            For the async methods, one client per event loop.
        authorizer: ``authorizer(user, request)`` decides whether *user* may
            see ``request.card_id``: a :class:`Grant` (which may name the
            card's connected account) or ``True`` allows; anything else,
            an exception included, denies. It may be a coroutine function
            when you use the async methods.
        api_version: The ``Stripe-Version`` to send, ``YYYY-MM-DD`` or
            ``YYYY-MM-DD.name``, not before 2020-03-02. Defaults to the
            client's pinned version.
        max_network_retries: Retries Stripe calls on network errors, 409
            and 5xx, reusing one idempotency key.
        max_body_bytes: Request bodies larger than this are refused (413).
        deadline: The most seconds one call to Stripe may take, all retries
            together, whatever the HTTP client's timeout; then the answer is
            503 ``stripe_unavailable``. A key that Stripe issues after the
            deadline is revoked.
        refresh_margin: Opt in to ``refreshIn`` in the 200 body: the seconds
            after which the page should fetch a new key, *refresh_margin*
            (1 to 600) before the key expires, counted on the server's
            clock so that the browser's clock does not matter.
        elements: Opt in to the page bundle: ``elements(user, key)`` returns
            the element builders for the page to mount, and the 200 body
            carries them as ``"elements": [{"type", "options"}]``. If it
            fails, the endpoint answers 500 and the key is revoked.
        user_id: ``user_id(user)`` names a user in the audit trail, the rate
            limiter and the key ledger. Defaults to ``str(user)`` for users
            that are strings or integers; other users need it.
        audit: ``audit(event)`` receives one :class:`AuditEvent` per
            decision. Defaults to JSON lines on the ``issuing_elements.audit``
            logger. If it raises, the decision fails closed (500).
        rate_limiter: Counts every authenticated, well-formed request per
            user and per card before the authorizer runs; over the limit
            the answer is 429 ``rate_limited``.
        key_ledger: Remembers the live keys per user and per card, so that
            :meth:`revoke_user` and :meth:`revoke_card` can revoke them.
        allowed_origins: The origins (``https://app.example.com``) whose
            pages may ask for keys; a browser request from any other is
            refused with 403 ``forbidden_origin``. ``None``: no check.

    Raises:
        ConfigurationError: On any invalid argument, at construction.
    """

    __slots__ = (
        "_ainline",
        "_allowed_origins",
        "_api_version",
        "_audit_sink",
        "_authorizer",
        "_client",
        "_deadline",
        "_elements",
        "_inline",
        "_key_ledger",
        "_max_body_bytes",
        "_max_network_retries",
        "_rate_limiter",
        "_refresh_margin",
        "_user_id",
    )

    def __init__(  # noqa: PLR0913 - each keyword is one documented endpoint option
        self,
        stripe_client: stripe.StripeClient,
        authorizer: Authorizer[UserT],
        *,
        api_version: str | None = None,
        max_network_retries: int = 2,
        max_body_bytes: int = 4096,
        deadline: float = 10.0,
        refresh_margin: int | None = None,
        elements: Callable[[UserT, IssuedKey], Sequence[ElementOptions]] | None = None,
        user_id: Callable[[UserT], str] | None = None,
        audit: AuditSink = log_audit_event,
        rate_limiter: RateLimiter | None = None,
        key_ledger: KeyLedger | None = None,
        allowed_origins: Iterable[str] | None = None,
    ) -> None:
        _stripe_api.check_client(stripe_client)
        check_authorizer(authorizer)
        if not 0 <= max_network_retries <= 5:
            raise ConfigurationError("max_network_retries must be between 0 and 5.")
        if max_body_bytes < 256:
            raise ConfigurationError("max_body_bytes must be at least 256.")
        _check_deadline(deadline)
        check_page_options(elements, refresh_margin)
        for name, value in (("user_id", user_id), ("audit", audit)):
            if value is not None and not callable(value):
                raise ConfigurationError(f"{name} must be callable.")
        if audit is None:
            raise ConfigurationError(
                "audit must be a callable sink; every decision is audited."
            )
        self._client = stripe_client
        self._authorizer = authorizer
        self._api_version = _stripe_api.resolve_api_version(stripe_client, api_version)
        self._max_network_retries = max_network_retries
        self._max_body_bytes = max_body_bytes
        self._deadline = float(deadline)
        # Stripe called inline where the HTTP client bounds the call itself.
        self._inline = runs_inline(stripe_client, max_network_retries, deadline)
        self._ainline = runs_inline(
            stripe_client, max_network_retries, deadline, asynchronous=True
        )
        self._refresh_margin = refresh_margin
        self._elements = elements
        self._user_id = user_id
        self._audit_sink = audit
        self._rate_limiter = rate_limiter
        self._key_ledger = key_ledger
        self._allowed_origins = normalize_origins(allowed_origins)

    def __repr__(self) -> str:
        return (
            f"EphemeralKeyIssuer(api_version={self._api_version!r}, "
            f"authorizer={getattr(self._authorizer, '__qualname__', '?')})"
        )

    @property
    def api_version(self) -> str:
        """The ``Stripe-Version`` this issuer sends."""
        return self._api_version

    @property
    def max_body_bytes(self) -> int:
        """The largest request body :meth:`handle` accepts; adapters read it here."""
        return self._max_body_bytes

    @property
    def deadline(self) -> float:
        """The most seconds one call to Stripe may take, retries included."""
        return self._deadline

    # -- the public twins -------------------------------------------------

    def handle(
        self,
        user: UserT | None,
        *,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """The endpoint, sans I/O: the status, headers and JSON body to send.

        *user* is whoever your framework authenticated, or ``None``.
        *headers* (the request's, any case) let the issuer check ``Origin``
        and put ``X-Request-Id`` and ``User-Agent`` in the audit trail;
        *client_ip* goes there too. Never raises: every outcome, bad input
        and Stripe trouble included, is a response.
        """
        return _run(self._handle(user, body, content_type, headers, client_ip))

    async def ahandle(
        self,
        user: UserT | None,
        *,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """Same as :meth:`handle`, but async; the authorizer may be sync or async."""
        return await _arun(self._handle(user, body, content_type, headers, client_ip))

    def issue(self, user: UserT | None, *, card_id: str, nonce: str) -> IssuedKey:
        """Authorize *user* for *card_id* and trade *nonce* for an ephemeral key.

        Raises:
            IssuingElementsError: A subclass per outcome (see
                :mod:`issuing_elements.exceptions`); nothing is issued.
        """
        return _run(self._issue(user, card_id, nonce))

    async def aissue(
        self, user: UserT | None, *, card_id: str, nonce: str
    ) -> IssuedKey:
        """Same as :meth:`issue`, but async; the authorizer may be sync or async."""
        return await _arun(self._issue(user, card_id, nonce))

    def revoke(self, key_id: str, *, stripe_account: str | None = None) -> None:
        """Invalidate the ephemeral key *key_id* at once.

        Pass the same *stripe_account* the key was issued under
        (``IssuedKey.stripe_account``).
        """
        _run(self._revoke(key_id, stripe_account))

    async def arevoke(self, key_id: str, *, stripe_account: str | None = None) -> None:
        """Same as :meth:`revoke`, but async."""
        await _arun(self._revoke(key_id, stripe_account))

    def revoke_user(self, user_id: str) -> int:
        """Revoke every live key the key ledger holds for *user_id*.

        Returns how many keys were revoked. A revocation that Stripe refuses
        is logged and audited, the key stays in the ledger for another try,
        and the rest go on.

        Raises:
            ConfigurationError: The issuer has no ``key_ledger``.
            ServiceUnavailableError: The ledger cannot be read.
        """
        return _run(self._revoke_all(user_id=user_id))

    async def arevoke_user(self, user_id: str) -> int:
        """Same as :meth:`revoke_user`, but async."""
        return await _arun(self._revoke_all(user_id=user_id))

    def revoke_card(self, card_id: str) -> int:
        """Revoke every live key the key ledger holds for *card_id*.

        Same contract as :meth:`revoke_user`.
        """
        return _run(self._revoke_all(card_id=card_id))

    async def arevoke_card(self, card_id: str) -> int:
        """Same as :meth:`revoke_card`, but async."""
        return await _arun(self._revoke_all(card_id=card_id))

    # -- the flows --------------------------------------------------------

    def _handle(
        self,
        user: UserT | None,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None,
        client_ip: str | None,
    ) -> Flow[HttpResponse]:
        try:
            trail = _Trail.of(headers, client_ip)

            def admit() -> None:
                check_origin(trail.headers, self._allowed_origins)
                _check_authenticated(user)

            def read() -> KeyRequest:
                return parse_key_request(
                    body, content_type, max_body_bytes=self._max_body_bytes
                )

            def respond(key: IssuedKey) -> HttpResponse:
                return key_response(key, self._page_fields(user, key))

            return (yield from self._exchange(user, admit, read, respond, trail))
        except IssuingElementsError as error:
            return error_response(error)
        except Exception as error:  # noqa: BLE001 - every outcome is a response
            return error_response(_unexpected(error))

    def _issue(self, user: UserT | None, card_id: str, nonce: str) -> Flow[IssuedKey]:
        def admit() -> None:
            _check_authenticated(user)

        def read() -> KeyRequest:
            return check_ids(card_id, nonce)

        return (yield from self._exchange(user, admit, read, _same, _Trail()))

    def _exchange(
        self,
        user: UserT | None,
        admit: Callable[[], None],
        read: Callable[[], KeyRequest],
        finish: Callable[[IssuedKey], R],
        trail: _Trail,
    ) -> Flow[R]:
        """Request in, decide, Stripe, response out; audited, fail closed.

        *admit* refuses a request before anything is read (origin,
        authentication); from then on the audit event names the user, even
        when *read* finds the request malformed.
        """
        key: IssuedKey | None = None
        try:
            admit()
            trail.user_id = user_id = self._user_id_of(user)
            request = read()
            trail.card_id = request.card_id
            yield from self._count(user_id, request.card_id)
            grant = yield from self._decide(user, request)
            trail.stripe_account = grant.stripe_account
            key = yield from self._create(request, grant, trail)
            yield from self._remember(user_id, key)
            result = finish(key)
            self._audit(trail.event("issue", "granted", "Stripe issued a key.", key))
        except Exception as error:  # noqa: BLE001 - fail closed on anything
            failure = _as_outcome(error)
            if key is not None:
                yield from self._revoke_orphan(key.id, key.stripe_account, trail)
            try:
                self._audit(trail.event("issue", failure, str(failure), key))
            except ServerMisconfiguredError as unrecorded:
                # A refusal the trail cannot record fails closed too (500).
                failure = unrecorded
            raise failure from None
        return result

    def _count(self, user_id: str | None, card_id: str) -> Flow[None]:
        limiter = self._rate_limiter
        if limiter is None:
            return
        if user_id is None:
            raise ConfigurationError("A rate limiter needs user_id= for these users.")
        wait = yield (
            lambda: limiter.hit(user_id, card_id),
            lambda: limiter.ahit(user_id, card_id),
        )
        if wait is not None:
            seconds = math.ceil(float(wait))  # type: ignore[arg-type]  # a float, by the protocol
            logger.info(
                "Rate limit reached for card %s; retry in %s s.", card_id, seconds
            )
            raise RateLimitedError("The rate limit is reached.", retry_after=seconds)

    def _decide(self, user: UserT | None, request: KeyRequest) -> Flow[Grant]:
        authorizer = self._authorizer

        def sync() -> object:
            verdict = authorizer(user, request)  # type: ignore[arg-type]  # None was refused
            refuse_awaitable(verdict, request)
            return verdict

        async def async_() -> object:
            verdict = authorizer(user, request)  # type: ignore[arg-type]  # None was refused
            return await verdict if inspect.isawaitable(verdict) else verdict

        try:
            verdict = yield (sync, async_)
        except Exception as error:  # noqa: BLE001 - fail closed on anything
            raise authorizer_failed(error, request) from None
        return decide(verdict, request)

    def _create(
        self, request: KeyRequest, grant: Grant, trail: _Trail
    ) -> Flow[IssuedKey]:
        _stripe_api.check_console_logging()
        keys = self._client.v1.ephemeral_keys
        params = _stripe_api.create_params(request)
        options = self._options(grant.stripe_account, idempotent=True)
        account = grant.stripe_account

        def late(response: object) -> None:
            self._revoke_late(response, account)

        async def alate(response: object) -> None:
            await self._arevoke_late(response, account)

        async def acreate() -> object:
            check_event_loop(self._client)
            return await acall_within(
                self._deadline,
                lambda: keys.create_async(params=params, options=options),
                alate,
                inline=self._ainline,
            )

        try:
            response = yield (
                lambda: call_within(
                    self._deadline,
                    lambda: keys.create(params=params, options=options),
                    late,
                    inline=self._inline,
                ),
                acreate,
            )
        except stripe.StripeError as error:
            raise _stripe_api.translate(error, action=_stripe_api.CREATE) from None
        try:
            return _stripe_api.issued_key(response, request, grant)
        except IssuingElementsError:
            # Stripe made a key, just not one this library can hand out.
            key_id = _stripe_api.key_id_of(response)
            if key_id is not None:
                yield from self._revoke_orphan(key_id, account, trail)
            raise

    def _remember(self, user_id: str | None, key: IssuedKey) -> Flow[None]:
        ledger = self._key_ledger
        if ledger is None:
            return
        if user_id is None:
            raise ConfigurationError("A key ledger needs user_id= for these users.")
        entry = _live_key(user_id, key)
        yield (lambda: ledger.record(entry), lambda: ledger.arecord(entry))

    def _revoke(self, key_id: str, stripe_account: str | None) -> Flow[None]:
        trail = _Trail(stripe_account=stripe_account)
        try:
            _check_revoke(key_id, stripe_account)
            trail.key_id = key_id
            yield from self._delete(key_id, stripe_account)
        except Exception as error:  # noqa: BLE001 - every failure is audited
            failure = _as_outcome(error)
            self._audit_quietly(trail.event("revoke", failure, str(failure)))
            raise failure from None
        self._audit_quietly(trail.event("revoke", "revoked", "Revoked on request."))

    def _revoke_all(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> Flow[int]:
        ledger = self._key_ledger
        if ledger is None:
            raise ConfigurationError(
                "revoke_user and revoke_card need EphemeralKeyIssuer(key_ledger=...)."
            )
        if user_id is not None:
            if not _is_text(user_id):
                raise ConfigurationError("user_id must be a non-empty string.")
            uid = user_id
            found = yield (
                lambda: ledger.keys_for_user(uid),
                lambda: ledger.akeys_for_user(uid),
            )
            why = "Revoking every key of the user."
        else:
            if not is_card_id(card_id):
                raise InvalidRequestError(
                    "card_id must be an Issuing card id (ic_...).", field="card_id"
                )
            cid = card_id
            found = yield (
                lambda: ledger.keys_for_card(cid),
                lambda: ledger.akeys_for_card(cid),
            )
            why = "Revoking every key of the card."
        revoked = 0
        for entry in found:  # type: ignore[attr-defined]  # a list, by the protocol
            revoked += yield from self._revoke_entry(ledger, entry, why)
        return revoked

    def _revoke_entry(self, ledger: KeyLedger, entry: LiveKey, why: str) -> Flow[int]:
        trail = _Trail(
            user_id=entry.user_id,
            card_id=entry.card_id,
            stripe_account=entry.stripe_account,
            key_id=entry.key_id,
        )
        try:
            yield from self._delete(entry.key_id, entry.stripe_account)
        except InvalidRequestError as gone:
            # Stripe has no such key any more: revoked or expired already.
            yield (lambda: ledger.forget(entry), lambda: ledger.aforget(entry))
            self._audit_quietly(trail.event("revoke", gone, f"{why} {gone}"))
            return 0
        except IssuingElementsError as failure:
            logger.error(  # noqa: TRY400 - the outcome says it all; no traceback
                "Could not revoke key %s (card %s): %s. It stays in the ledger.",
                entry.key_id,
                entry.card_id,
                failure,
            )
            self._audit_quietly(trail.event("revoke", failure, f"{why} {failure}"))
            return 0
        yield (lambda: ledger.forget(entry), lambda: ledger.aforget(entry))
        self._audit_quietly(trail.event("revoke", "revoked", why))
        return 1

    def _delete(
        self, key_id: str, stripe_account: str | None, *, late: bool = False
    ) -> Flow[None]:
        keys = self._client.v1.ephemeral_keys
        options = self._options(stripe_account, idempotent=False)
        # A late key's revocation already runs in the background: bounded by
        # the HTTP client alone, queued behind nothing.
        inline, ainline = late or self._inline, late or self._ainline

        async def adelete() -> object:
            check_event_loop(self._client)
            return await acall_within(
                self._deadline,
                lambda: keys.delete_async(key_id, options=options),
                inline=ainline,
            )

        try:
            yield (
                lambda: call_within(
                    self._deadline,
                    lambda: keys.delete(key_id, options=options),
                    inline=inline,
                ),
                adelete,
            )
        except stripe.StripeError as error:
            raise _stripe_api.translate(error, action=_stripe_api.REVOKE) from None

    def _delete_quietly(
        self, key_id: str, stripe_account: str | None, *, late: bool = False
    ) -> Flow[bool]:
        try:
            yield from self._delete(key_id, stripe_account, late=late)
        except Exception as error:  # noqa: BLE001 - best effort, and said loudly
            logger.error(  # noqa: TRY400 - the error is named; no traceback needed
                "Could not revoke key %s, which was issued but not handed out "
                "(%s). It expires on its own.",
                key_id,
                _as_outcome(error),
            )
            return False
        logger.warning("Revoked key %s, which was issued but not handed out.", key_id)
        return True

    def _revoke_orphan(
        self, key_id: str, stripe_account: str | None, trail: _Trail
    ) -> Flow[None]:
        trail.key_id = key_id
        if (yield from self._delete_quietly(key_id, stripe_account)):
            self._audit_quietly(
                trail.event("revoke", "revoked", "Issued but not handed out.")
            )

    def _revoke_late(self, response: object, stripe_account: str | None) -> None:
        key_id = _stripe_api.key_id_of(response)
        if key_id is not None:
            _run(self._delete_quietly(key_id, stripe_account, late=True))

    async def _arevoke_late(self, response: object, stripe_account: str | None) -> None:
        key_id = _stripe_api.key_id_of(response)
        if key_id is not None:
            await _arun(self._delete_quietly(key_id, stripe_account, late=True))

    # -- shared -----------------------------------------------------------

    def _user_id_of(self, user: UserT | None) -> str | None:
        if user is None:
            return None
        if self._user_id is None:
            if isinstance(user, (str, int)) and not isinstance(user, bool):
                return str(user)
            return None
        value: object = self._user_id(user)
        if not isinstance(value, str) or not value:
            raise ConfigurationError("user_id(user) must return a non-empty string.")
        return value

    def _audit(self, event: AuditEvent) -> None:
        try:
            self._audit_sink(event)
        except Exception as error:
            logger.exception(
                "The audit sink raised %s; failing closed.",
                type(error).__name__,
            )
            raise ServerMisconfiguredError("The audit sink failed.") from None

    def _audit_quietly(self, event: AuditEvent) -> None:
        try:
            self._audit_sink(event)
        except Exception as error:
            logger.exception(
                "The audit sink raised %s on a %s %s event; it is lost.",
                type(error).__name__,
                event.action,
                event.outcome,
            )

    def _page_fields(self, user: UserT | None, key: IssuedKey) -> dict[str, object]:
        return page_fields(
            user,
            key,
            elements=self._elements,
            refresh_margin=self._refresh_margin,
            now=time.time(),
        )

    def _options(
        self, stripe_account: str | None, *, idempotent: bool
    ) -> stripe.RequestOptions:
        return _stripe_api.request_options(
            self._api_version,
            stripe_account,
            self._max_network_retries,
            idempotent=idempotent,
        )


class _Trail:
    """What the audit event of one decision knows, as the flow learns it."""

    __slots__ = (
        "card_id",
        "client_ip",
        "headers",
        "key_id",
        "request_id",
        "stripe_account",
        "user_agent",
        "user_id",
    )

    def __init__(  # noqa: PLR0913 - one keyword per audit field
        self,
        *,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        user_id: str | None = None,
        card_id: str | None = None,
        stripe_account: str | None = None,
        key_id: str | None = None,
    ) -> None:
        self.headers: Mapping[str, str] = headers or {}
        self.request_id = header(self.headers, "x-request-id")
        self.user_agent = header(self.headers, "user-agent")
        self.client_ip = client_ip if isinstance(client_ip, str) else None
        self.user_id = user_id
        self.card_id = card_id
        self.stripe_account = stripe_account
        self.key_id = key_id

    @classmethod
    def of(cls, headers: Mapping[str, str] | None, client_ip: str | None) -> _Trail:
        return cls(headers=lowercase_headers(headers), client_ip=client_ip)

    def event(
        self,
        action: str,
        outcome: str | IssuingElementsError,
        reason: str,
        key: IssuedKey | None = None,
    ) -> AuditEvent:
        stripe_request_id = None
        if isinstance(outcome, IssuingElementsError):
            stripe_request_id = outcome.stripe_request_id
            outcome = outcome.code
        return AuditEvent(
            time=dt.datetime.now(dt.timezone.utc),
            action=action,  # type: ignore[arg-type]  # "issue" or "revoke" at every call
            outcome=outcome,
            reason=reason,
            user_id=self.user_id,
            card_id=self.card_id,
            stripe_account=self.stripe_account,
            key_id=key.id if key is not None else self.key_id,
            stripe_request_id=stripe_request_id,
            request_id=self.request_id,
            client_ip=self.client_ip,
            user_agent=self.user_agent,
        )


def _run(flow: Flow[R]) -> R:
    """Drive *flow*, doing each wait the sync way."""
    sent: object = None
    error: Exception | None = None
    while True:
        try:
            wait = flow.send(sent) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]  # the flow's R
        try:
            sent, error = wait[0](), None
        except Exception as caught:  # noqa: BLE001 - handed back to the flow
            sent, error = None, caught


async def _arun(flow: Flow[R]) -> R:
    """Same as :func:`_run`, but async: each wait is awaited."""
    sent: object = None
    error: Exception | None = None
    while True:
        try:
            wait = flow.send(sent) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]  # the flow's R
        try:
            sent, error = await wait[1](), None
        except Exception as caught:  # noqa: BLE001 - handed back to the flow
            sent, error = None, caught


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _check_authenticated(user: object) -> None:
    if user is None:
        raise UnauthenticatedError


def _same(key: IssuedKey) -> IssuedKey:
    return key


def _unexpected(error: Exception) -> ServerMisconfiguredError:
    logger.error(
        "Unexpected %s while issuing a key; answering 500.",
        type(error).__name__,
        exc_info=error,
    )
    return ServerMisconfiguredError("Unexpected error.")


def _as_outcome(error: Exception) -> IssuingElementsError:
    """The library's outcome for *error*; anything unexpected is a logged 500."""
    return error if isinstance(error, IssuingElementsError) else _unexpected(error)


def _check_deadline(deadline: object) -> None:
    if (
        isinstance(deadline, bool)
        or not isinstance(deadline, (int, float))
        or not 0 < deadline <= MAX_DEADLINE
    ):
        raise ConfigurationError(
            f"deadline must be seconds, more than 0 and at most {MAX_DEADLINE:g}."
        )


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


def _live_key(user_id: str, key: IssuedKey) -> LiveKey:
    from ._ledger import LiveKey  # noqa: PLC0415 - only with a ledger

    return LiveKey(
        key_id=key.id,
        card_id=key.card_id,
        user_id=user_id,
        stripe_account=key.stripe_account,
        expires=key.expires,
    )
