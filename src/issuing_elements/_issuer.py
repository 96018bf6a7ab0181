"""The issuer: its configuration and its public methods, each a sync and async twin.

This class checks its arguments once and freezes them as the flows'
`Settings`, with one performer (``_perform``) for the needs of its flows.
Each public method is one line of dispatch: a flow (``_flows``; an
endpoint names its door), run the sync way (``_driver.run``) or the async
way (``_driver.arun``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _redact, _redis, _stripe_answers, _stripe_client
from ._audit import AuditSink, log_audit_event
from ._authorize import (
    AccountSessionAuthorizer,
    Authorizer,
    UserT,
    check_authorizer,
    check_session_authorizer,
)
from ._bounded_calls import MAX_CONCURRENT_CALLS, MAX_THREADS, Bulkhead
from ._driver import arun, run
from ._flows import exchange, revocation
from ._flows.account_sessions import ACCOUNT_SESSION, session_request
from ._flows.keys import MOBILE, WEB, issue_request, mobile_request
from ._origin import normalize_origins
from ._page import check_page_options
from ._perform import Performer
from ._settings import Settings
from ._stripe_client import async_refusal, client_bound, sync_refusal
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    import stripe

    from ._components import AccountSession
    from ._elements import ElementOptions
    from ._events import WebhookSecrets
    from ._flows.exchange import Door
    from ._ledger import KeyLedger
    from ._needs import Flow
    from ._rate_limit import RateLimiter
    from ._records import HttpResponse, IssuedKey
    from ._settings import Refusals

_redact.install()

MAX_DEADLINE = 300.0
MIN_EVENT_BYTES = 16 * 1024

R = TypeVar("R")


class EphemeralKeyIssuer(Generic[UserT]):
    """Issue Stripe ephemeral keys for Issuing Elements, to authorized users only.

    Args:
        stripe_client: A ``stripe.StripeClient`` holding a secret (``sk_``) or
            restricted (``rk_``) key, and no ``stripe_account`` or
            ``stripe_context`` of its own (the account comes from each
            [`Grant`][issuing_elements.Grant]). It is
            never mutated. For the async methods, one client per event loop.
            A twin its HTTP client cannot serve (the sync methods on
            ``stripe.AIOHTTPClient``, say) answers 500, with one ERROR line
            that names the fix; ``stripe.HTTPXClient(allow_sync_methods=True)``
            serves both.
        authorizer: ``authorizer(user, request)`` decides whether *user* may
            see ``request.card_id``: a [`Grant`][issuing_elements.Grant] (which may
            name the card's connected account) or ``True`` allows; anything else,
            an exception included, denies. It may be a coroutine function
            when you use the async methods.
        api_version: The ``Stripe-Version`` to send, ``YYYY-MM-DD`` or
            ``YYYY-MM-DD.name``, not before 2020-03-02. Defaults to the
            client's pinned version.
        max_network_retries: Retries Stripe calls on network errors, 409
            and 5xx, reusing one idempotency key.
        max_body_bytes: Request bodies larger than this are refused (413).
        deadline: Seconds. The deadline bounds the whole request: the rate
            limiter, Stripe (all retries together) and the key ledger share
            it, whatever their clients' own timeouts, and past it the answer
            is 503. That is ``stripe_unavailable`` for Stripe and
            ``service_unavailable`` for a store, with ``Retry-After``. Your
            authorizer and audit sink are not cut short, but the
            authorizer's time counts against what is left. A key that
            Stripe issues after the deadline is revoked. ``revoke``,
            ``revoke_user`` and ``revoke_card`` give each call to Stripe or
            the key ledger a deadline of its own.
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
        audit: ``audit(event)`` receives one
            [`AuditEvent`][issuing_elements.AuditEvent] per decision.
            Defaults to JSON lines on the ``issuing_elements.audit`` logger.
            If it raises, the decision fails closed (500).
        rate_limiter: Counts every authenticated, well-formed request
            against its user's budget before the authorizer runs, and a
            request the authorizer allowed against its card's budget; over
            either limit the answer is 429 ``rate_limited``.
        key_ledger: Remembers the live keys per user and per card, so that
            [`revoke_user`][issuing_elements.EphemeralKeyIssuer.revoke_user]
            and [`revoke_card`][issuing_elements.EphemeralKeyIssuer.revoke_card]
            can revoke them.
        allowed_origins: The origins (``https://app.example.com``) whose
            pages may ask for keys; a browser request from any other is
            refused with 403 ``forbidden_origin``. ``None``: no check.
        account_sessions: Opt in to Account Sessions for Connect embedded
            components: ``account_sessions(user, request)`` returns an
            `AccountSessionGrant` (the connected account and the
            components with their features) to allow; anything else, an
            exception included, denies. It may be a coroutine function when
            you use the async methods. Needs an ``api_version`` of
            2025-01-27.acacia or later.
        webhook_secrets: Opt in to the Stripe event endpoint,
            [`handle_stripe_event`][issuing_elements.EphemeralKeyIssuer.handle_stripe_event]:
            the endpoint's signing secrets (``whsec_...``), a list, so
            that a rolled secret and a Connect endpoint's secret are
            accepted too. Needs a ``key_ledger``. Never shown in a
            ``repr`` or a log.
        max_event_bytes: Stripe events larger than this are refused (413);
            at least 16 KiB. Events are larger than key requests: 256 KiB
            by default.

    Raises:
        ConfigurationError: On any invalid argument, at construction; and
            for clients under which neither the sync nor the async methods
            could ever issue a key (an async-only HTTP client with a
            blocking Redis store, say).
    """

    __slots__ = ("_performer", "_settings")

    def __init__(  # noqa: PLR0913 - each keyword is one documented endpoint option
        self,
        stripe_client: stripe.StripeClient,
        authorizer: Authorizer[UserT],
        *,
        api_version: str | None = None,
        max_network_retries: int = 2,
        max_body_bytes: int = 4096,
        deadline: float = 10.0,
        max_concurrent_calls: int = MAX_CONCURRENT_CALLS,
        refresh_margin: int | None = None,
        elements: Callable[[UserT, IssuedKey], Sequence[ElementOptions]] | None = None,
        user_id: Callable[[UserT], str] | None = None,
        audit: AuditSink = log_audit_event,
        rate_limiter: RateLimiter | None = None,
        key_ledger: KeyLedger | None = None,
        allowed_origins: Iterable[str] | None = None,
        account_sessions: AccountSessionAuthorizer[UserT] | None = None,
        webhook_secrets: Iterable[str] | None = None,
        max_event_bytes: int = 256 * 1024,
    ) -> None:
        _stripe_client.check_client(stripe_client)
        check_authorizer(authorizer)
        if not 0 <= max_network_retries <= 5:
            raise ConfigurationError("max_network_retries must be between 0 and 5.")
        if max_body_bytes < 256:
            raise ConfigurationError("max_body_bytes must be at least 256.")
        _check_deadline(deadline)
        _check_concurrent_calls(max_concurrent_calls)
        check_page_options(elements, refresh_margin)
        for name, value in (("user_id", user_id), ("audit", audit)):
            if value is not None and not callable(value):
                raise ConfigurationError(f"{name} must be callable.")
        if audit is None:
            raise ConfigurationError(
                "audit must be a callable sink; every decision is audited."
            )
        check_session_authorizer(account_sessions)
        _check_rate_limiter(rate_limiter)
        _check_key_ledger(key_ledger)
        secrets = _check_webhook_secrets(webhook_secrets)
        if secrets is not None and key_ledger is None:
            raise ConfigurationError(
                "webhook_secrets needs a key_ledger: the ledger knows which keys "
                "of a stopped card are live. Pass key_ledger=MemoryKeyLedger() "
                "(one process) or RedisKeyLedger(...) (a fleet)."
            )
        _check_event_limit(max_event_bytes)
        version = _stripe_client.resolve_api_version(stripe_client, api_version)
        if account_sessions is not None:
            _stripe_answers.check_session_api_version(version)
        stripe_refusals = sync_refusal(stripe_client), async_refusal(stripe_client)
        limiter_refusals = _redis_refusals(rate_limiter, "rate limiter")
        ledger_refusals = _redis_refusals(key_ledger, "key ledger")
        _check_some_twin_serves(stripe_refusals, limiter_refusals, ledger_refusals)
        self._settings: Settings[UserT] = Settings(
            client=stripe_client,
            authorizer=authorizer,
            api_version=version,
            max_network_retries=max_network_retries,
            max_body_bytes=max_body_bytes,
            deadline=float(deadline),
            refresh_margin=refresh_margin,
            elements=elements,
            user_id=user_id,
            audit=audit,
            rate_limiter=rate_limiter,
            key_ledger=key_ledger,
            allowed_origins=normalize_origins(allowed_origins),
            account_sessions=account_sessions,
            webhook_secrets=secrets,
            max_event_bytes=max_event_bytes,
            stripe_bound=client_bound(stripe_client, max_network_retries),
            astripe_bound=client_bound(
                stripe_client, max_network_retries, asynchronous=True
            ),
            stripe_refusals=stripe_refusals,
            limiter_refusals=limiter_refusals,
            ledger_refusals=ledger_refusals,
            stripe_calls=Bulkhead(max_concurrent_calls),
            limiter_calls=Bulkhead(max_concurrent_calls),
            ledger_calls=Bulkhead(max_concurrent_calls),
        )
        self._performer = Performer(self._settings)

    def __repr__(self) -> str:
        return (
            f"EphemeralKeyIssuer(api_version={self._settings.api_version!r}, "
            f"authorizer={getattr(self._settings.authorizer, '__qualname__', '?')})"
        )

    def _run(self, flow: Flow[R]) -> R:
        return run(flow, self._performer.perform)

    async def _arun(self, flow: Flow[R]) -> R:
        return await arun(flow, self._performer.aperform)

    def _door(  # noqa: PLR0913, PLR0917 - a door, and the endpoint's inputs
        self,
        door: Door[Any],
        user: UserT | None,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None,
        client_ip: str | None,
    ) -> Flow[HttpResponse]:
        return exchange.handle(
            self._settings,
            door,
            user,
            body=body,
            content_type=content_type,
            headers=headers,
            client_ip=client_ip,
        )

    def _direct(
        self, door: Door[R], user: UserT | None, asked: Callable[[], object]
    ) -> Flow[R]:
        return exchange.direct(self._settings, door, user, asked)

    def _event(
        self, body: bytes, headers: Mapping[str, str] | None, client_ip: str | None
    ) -> Flow[HttpResponse]:
        from ._flows import stripe_events  # noqa: PLC0415 - the event door loads when used

        return stripe_events.handle(
            self._settings, body=body, headers=headers, client_ip=client_ip
        )

    @property
    def api_version(self) -> str:
        """The ``Stripe-Version`` this issuer sends."""
        return self._settings.api_version

    @property
    def max_body_bytes(self) -> int:
        """The largest request body `handle` accepts; adapters read it here."""
        return self._settings.max_body_bytes

    @property
    def max_event_bytes(self) -> int:
        """The largest Stripe event `handle_stripe_event` accepts."""
        return self._settings.max_event_bytes

    @property
    def deadline(self) -> float:
        """The seconds that bound the whole request (limiter, Stripe, ledger)."""
        return self._settings.deadline

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
        return self._run(self._door(WEB, user, body, content_type, headers, client_ip))

    async def ahandle(
        self,
        user: UserT | None,
        *,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """Same as `handle`, but async; the authorizer may be sync or async."""
        return await self._arun(
            self._door(WEB, user, body, content_type, headers, client_ip)
        )

    def issue(self, user: UserT | None, *, card_id: str, nonce: str) -> IssuedKey:
        """Authorize *user* for *card_id* and trade *nonce* for an ephemeral key.

        Raises:
            IssuingElementsError: A subclass per outcome (see
                [`issuing_elements.exceptions`][issuing_elements.exceptions]); nothing
                is issued.
        """
        return self._run(self._direct(WEB, user, lambda: issue_request(card_id, nonce)))

    async def aissue(
        self, user: UserT | None, *, card_id: str, nonce: str
    ) -> IssuedKey:
        """Same as `issue`, but async; the authorizer may be sync or async."""
        return await self._arun(
            self._direct(WEB, user, lambda: issue_request(card_id, nonce))
        )

    def handle_mobile(
        self,
        user: UserT | None,
        *,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """The mobile endpoint, sans I/O: a key for Stripe's iOS, Android or RN SDK.

        The app's body (JSON or form) holds exactly ``card_id`` and
        ``api_version``, the Stripe API version its SDK speaks (not before
        2020-03-02); it sends no nonce. The same authorizer decides, and
        sees ``request.nonce is None``. The 200 body is Stripe's whole key
        object, as the SDKs read it. Never raises, like
        [`handle`][issuing_elements.EphemeralKeyIssuer.handle].
        """
        return self._run(
            self._door(MOBILE, user, body, content_type, headers, client_ip)
        )

    async def ahandle_mobile(
        self,
        user: UserT | None,
        *,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """Same as `handle_mobile`, but async."""
        return await self._arun(
            self._door(MOBILE, user, body, content_type, headers, client_ip)
        )

    def issue_mobile(
        self, user: UserT | None, *, card_id: str, api_version: str
    ) -> IssuedKey:
        """Authorize *user* for *card_id* and get a key for a mobile SDK.

        *api_version* is the version the app's SDK names. The key's
        ``stripe_object()`` is the body the SDK wants.

        Raises:
            IssuingElementsError: A subclass per outcome; nothing is issued.
        """
        return self._run(
            self._direct(MOBILE, user, lambda: mobile_request(card_id, api_version))
        )

    async def aissue_mobile(
        self, user: UserT | None, *, card_id: str, api_version: str
    ) -> IssuedKey:
        """Same as `issue_mobile`, but async."""
        return await self._arun(
            self._direct(MOBILE, user, lambda: mobile_request(card_id, api_version))
        )

    def revoke(self, key_id: str, *, stripe_account: str | None = None) -> None:
        """Invalidate the ephemeral key *key_id* at once.

        Pass the same *stripe_account* the key was issued under
        (``IssuedKey.stripe_account``).
        """
        self._run(revocation.revoke(self._settings, key_id, stripe_account))

    async def arevoke(self, key_id: str, *, stripe_account: str | None = None) -> None:
        """Same as `revoke`, but async."""
        await self._arun(revocation.revoke(self._settings, key_id, stripe_account))

    def revoke_user(self, user_id: str) -> int:
        """Revoke every live key the key ledger holds for *user_id*.

        Returns how many keys were revoked. A revocation that Stripe refuses
        is logged and audited, the key stays in the ledger for another try,
        and the rest go on.

        Raises:
            ConfigurationError: The issuer has no ``key_ledger``.
            ServiceUnavailableError: The ledger cannot be read.
        """
        return self._run(revocation.revoke_all(self._settings, user_id=user_id))

    async def arevoke_user(self, user_id: str) -> int:
        """Same as `revoke_user`, but async."""
        return await self._arun(revocation.revoke_all(self._settings, user_id=user_id))

    def revoke_card(self, card_id: str) -> int:
        """Revoke every live key the key ledger holds for *card_id*.

        Same contract as
        [`revoke_user`][issuing_elements.EphemeralKeyIssuer.revoke_user].
        """
        return self._run(revocation.revoke_all(self._settings, card_id=card_id))

    async def arevoke_card(self, card_id: str) -> int:
        """Same as `revoke_card`, but async."""
        return await self._arun(revocation.revoke_all(self._settings, card_id=card_id))

    def handle_stripe_event(
        self,
        body: bytes,
        *,
        headers: Mapping[str, str] | None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """The Stripe event endpoint, sans I/O: keys follow the card.

        *body* is the request's raw bytes, exactly as received (a parsed
        and re-serialized body no longer matches its signature); *headers*
        hold ``Stripe-Signature``. The signature is verified against the
        ``webhook_secrets`` before anything else is read. An
        ``issuing_card.updated`` event whose card is ``inactive`` or
        ``canceled`` revokes every live key of the card, on the event's
        account; an ``issuing_cardholder.updated`` event whose cardholder
        is ``inactive`` or ``blocked`` does so for each of the cardholder's
        cards (listed from Stripe). 200 ``{"received": true, "revoked": N}``;
        any other event: 200, nothing done. A bad signature: 400; a key that
        Stripe would not revoke: 503 with ``Retry-After`` (Stripe delivers
        the event again). Never raises.
        """
        return self._run(self._event(body, headers, client_ip))

    async def ahandle_stripe_event(
        self,
        body: bytes,
        *,
        headers: Mapping[str, str] | None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """Same as `handle_stripe_event`, but async."""
        return await self._arun(self._event(body, headers, client_ip))

    def handle_account_session(
        self,
        user: UserT | None,
        *,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """The Account Session endpoint, sans I/O, for Connect embedded components.

        The body is empty, ``{}`` or ``{"account": "acct_..."}`` (JSON or
        form); 200 answers ``{"clientSecret", "expiresAt"}``. Same contract
        as `handle` otherwise: never raises.
        """
        return self._run(
            self._door(ACCOUNT_SESSION, user, body, content_type, headers, client_ip)
        )

    async def ahandle_account_session(
        self,
        user: UserT | None,
        *,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> HttpResponse:
        """Same as `handle_account_session`, but async."""
        return await self._arun(
            self._door(ACCOUNT_SESSION, user, body, content_type, headers, client_ip)
        )

    def create_account_session(
        self, user: UserT | None, *, account: str | None = None
    ) -> AccountSession:
        """Authorize *user* for *account* and create an Account Session.

        Raises:
            IssuingElementsError: A subclass per outcome
                (`AccountNotFoundError`
                when denied); nothing is created.
        """
        return self._run(
            self._direct(ACCOUNT_SESSION, user, lambda: session_request(account))
        )

    async def acreate_account_session(
        self, user: UserT | None, *, account: str | None = None
    ) -> AccountSession:
        """Same as `create_account_session`, but async."""
        return await self._arun(
            self._direct(ACCOUNT_SESSION, user, lambda: session_request(account))
        )


def _check_rate_limiter(rate_limiter: object) -> None:
    if rate_limiter is not None:
        from ._rate_limit import check_rate_limiter  # noqa: PLC0415 - with a limiter only

        check_rate_limiter(rate_limiter)


def _check_key_ledger(key_ledger: object) -> None:
    if key_ledger is not None:
        from ._rate_limit import check_declared  # noqa: PLC0415 - with a store only

        check_declared(key_ledger, "key_ledger", "KeyLedger", ("in_process",))


def _redis_refusals(store: object, what: str) -> Refusals:
    """Why a twin can never use *store*: the library's Redis stores only."""
    from ._ledger import RedisKeyLedger  # noqa: PLC0415 - loaded with a store only
    from ._rate_limit import RedisRateLimiter  # noqa: PLC0415 - the same

    if not isinstance(store, (RedisRateLimiter, RedisKeyLedger)):
        return None, None
    return _redis.refusals(
        type(store).__name__,
        what,
        async_client=store._async,  # noqa: SLF001 - the library's own stores
    )


def _check_some_twin_serves(*refusals: Refusals) -> None:
    """Refuse a configuration under which neither twin can ever issue a key.

    One that only one twin can use is legitimate (an issuer used only
    async); each request through the other is refused then, with one log
    line that names the fix.
    """
    sync = [why for why, _ in refusals if why is not None]
    asynchronous = [why for _, why in refusals if why is not None]
    if sync and asynchronous:
        raise ConfigurationError(
            "Neither the sync nor the async methods can issue keys with these "
            f"clients. {sync[0]} {asynchronous[0]}"
        )


def _check_webhook_secrets(secrets: object) -> WebhookSecrets | None:
    if secrets is None:
        return None  # the event door and stripe's webhook modules stay unloaded
    from ._events import check_webhook_secrets  # noqa: PLC0415 - with secrets only

    return check_webhook_secrets(secrets)


def _check_event_limit(max_event_bytes: object) -> None:
    if (
        isinstance(max_event_bytes, bool)
        or not isinstance(max_event_bytes, int)
        or max_event_bytes < MIN_EVENT_BYTES
    ):
        raise ConfigurationError(
            f"max_event_bytes must be at least {MIN_EVENT_BYTES} (16 KiB)."
        )


def _check_deadline(deadline: object) -> None:
    if (
        isinstance(deadline, bool)
        or not isinstance(deadline, (int, float))
        or not 0 < deadline <= MAX_DEADLINE
    ):
        raise ConfigurationError(
            f"deadline must be seconds, more than 0 and at most {MAX_DEADLINE:g}."
        )


def _check_concurrent_calls(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ConfigurationError("max_concurrent_calls must be an integer.")
    if not 1 <= limit <= MAX_THREADS:
        raise ConfigurationError(
            f"max_concurrent_calls must be between 1 and {MAX_THREADS}."
        )
