"""The issuer: request in, decide, Stripe, response out, in sync and async twins.

Every decision lives in the pure modules beside this one; the twins here
differ only where they wait: on the authorizer and on Stripe.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import TYPE_CHECKING, Any, Generic

import stripe

from . import _redact, _stripe_api
from ._authorize import (
    Authorizer,
    UserT,
    authorizer_failed,
    check_authorizer,
    decide,
    refuse_awaitable,
)
from ._ids import is_account_id, is_key_id
from ._page import check_page_options, page_fields
from ._request import check_ids, parse_key_request
from ._response import error_response, key_response
from .exceptions import (
    ConfigurationError,
    InvalidRequestError,
    IssuingElementsError,
    ServerMisconfiguredError,
    UnauthenticatedError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._elements import ElementOptions
    from ._records import Grant, HttpResponse, IssuedKey, KeyRequest

logger = logging.getLogger("issuing_elements")

_redact.install()


class EphemeralKeyIssuer(Generic[UserT]):
    """Issue Stripe ephemeral keys for Issuing Elements, to authorized users only.

    Args:
        stripe_client: A ``stripe.StripeClient`` holding a secret (``sk_``) or
            restricted (``rk_``) key. It is never mutated.
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
        refresh_margin: Opt in to ``refreshIn`` in the 200 body: the seconds
            after which the page should fetch a new key, *refresh_margin*
            (1 to 600) before the key expires, counted on the server's
            clock so that the browser's clock does not matter.
        elements: Opt in to the page bundle: ``elements(user, key)`` returns
            the element builders for the page to mount, and the 200 body
            carries them as ``"elements": [{"type", "options"}]``. If it
            fails, the endpoint answers 500.

    Raises:
        ConfigurationError: On any invalid argument, at construction.
    """

    __slots__ = (
        "_api_version",
        "_authorizer",
        "_client",
        "_elements",
        "_max_body_bytes",
        "_max_network_retries",
        "_refresh_margin",
    )

    def __init__(  # noqa: PLR0913 - each keyword is one documented endpoint option
        self,
        stripe_client: stripe.StripeClient,
        authorizer: Authorizer[UserT],
        *,
        api_version: str | None = None,
        max_network_retries: int = 2,
        max_body_bytes: int = 4096,
        refresh_margin: int | None = None,
        elements: Callable[[UserT, IssuedKey], Sequence[ElementOptions]] | None = None,
    ) -> None:
        _stripe_api.check_client(stripe_client)
        check_authorizer(authorizer)
        if not 0 <= max_network_retries <= 5:
            raise ConfigurationError("max_network_retries must be between 0 and 5.")
        if max_body_bytes < 256:
            raise ConfigurationError("max_body_bytes must be at least 256.")
        self._client = stripe_client
        self._authorizer = authorizer
        self._api_version = _stripe_api.resolve_api_version(stripe_client, api_version)
        self._max_network_retries = max_network_retries
        self._max_body_bytes = max_body_bytes
        check_page_options(elements, refresh_margin)
        self._refresh_margin = refresh_margin
        self._elements = elements

    def __repr__(self) -> str:
        return (
            f"EphemeralKeyIssuer(api_version={self._api_version!r}, "
            f"authorizer={getattr(self._authorizer, '__qualname__', '?')})"
        )

    @property
    def api_version(self) -> str:
        """The ``Stripe-Version`` this issuer sends."""
        return self._api_version

    # -- issue ------------------------------------------------------------

    def issue(self, user: UserT | None, *, card_id: str, nonce: str) -> IssuedKey:
        """Authorize *user* for *card_id* and trade *nonce* for an ephemeral key.

        Raises:
            IssuingElementsError: A subclass per outcome (see
                :mod:`issuing_elements.exceptions`); nothing is issued.
        """
        request = _before_authorizing(user, card_id, nonce)
        try:
            verdict = self._authorizer(user, request)  # type: ignore[arg-type]  # None was refused above
            refuse_awaitable(verdict, request)
        except Exception as error:  # noqa: BLE001 - fail closed on anything
            raise authorizer_failed(error, request) from None
        grant = _grant(verdict, request)
        try:
            response = self._client.v1.ephemeral_keys.create(
                **self._create_arguments(request, grant)
            )
        except stripe.StripeError as error:
            raise _stripe_api.translate(error, action=_stripe_api.CREATE) from None
        return _stripe_api.issued_key(response, request, grant)

    async def aissue(
        self, user: UserT | None, *, card_id: str, nonce: str
    ) -> IssuedKey:
        """Same as :meth:`issue`, but async; the authorizer may be sync or async."""
        request = _before_authorizing(user, card_id, nonce)
        try:
            verdict = self._authorizer(user, request)  # type: ignore[arg-type]  # None was refused above
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except Exception as error:  # noqa: BLE001 - fail closed on anything
            raise authorizer_failed(error, request) from None
        grant = _grant(verdict, request)
        try:
            response = await self._client.v1.ephemeral_keys.create_async(
                **self._create_arguments(request, grant)
            )
        except stripe.StripeError as error:
            raise _stripe_api.translate(error, action=_stripe_api.CREATE) from None
        return _stripe_api.issued_key(response, request, grant)

    # -- revoke -----------------------------------------------------------

    def revoke(self, key_id: str, *, stripe_account: str | None = None) -> None:
        """Invalidate the ephemeral key *key_id* at once.

        Pass the same *stripe_account* the key was issued under
        (``IssuedKey.stripe_account``).
        """
        _check_revoke(key_id, stripe_account)
        try:
            self._client.v1.ephemeral_keys.delete(
                key_id, options=self._options(stripe_account, idempotent=False)
            )
        except stripe.StripeError as error:
            raise _stripe_api.translate(error, action=_stripe_api.REVOKE) from None

    async def arevoke(self, key_id: str, *, stripe_account: str | None = None) -> None:
        """Same as :meth:`revoke`, but async."""
        _check_revoke(key_id, stripe_account)
        try:
            await self._client.v1.ephemeral_keys.delete_async(
                key_id, options=self._options(stripe_account, idempotent=False)
            )
        except stripe.StripeError as error:
            raise _stripe_api.translate(error, action=_stripe_api.REVOKE) from None

    # -- handle -----------------------------------------------------------

    def handle(
        self, user: UserT | None, *, body: bytes, content_type: str | None
    ) -> HttpResponse:
        """The endpoint, sans I/O: the status, headers and JSON body to send.

        *user* is whoever your framework authenticated, or ``None``. Never
        raises for bad input or Stripe trouble: every outcome is a response.
        """
        try:
            request = self._parse(user, body, content_type)
            key = self.issue(user, card_id=request.card_id, nonce=request.nonce)
            extras = self._page_fields(user, key)
        except Exception as error:  # noqa: BLE001 - every outcome is a response
            return _error_response(error)
        return key_response(key, extras)

    async def ahandle(
        self, user: UserT | None, *, body: bytes, content_type: str | None
    ) -> HttpResponse:
        """Same as :meth:`handle`, but async; the authorizer may be sync or async."""
        try:
            request = self._parse(user, body, content_type)
            key = await self.aissue(user, card_id=request.card_id, nonce=request.nonce)
            extras = self._page_fields(user, key)
        except Exception as error:  # noqa: BLE001 - every outcome is a response
            return _error_response(error)
        return key_response(key, extras)

    # -- shared -----------------------------------------------------------

    def _parse(
        self, user: UserT | None, body: bytes, content_type: str | None
    ) -> KeyRequest:
        if user is None:
            raise UnauthenticatedError
        return parse_key_request(
            body, content_type, max_body_bytes=self._max_body_bytes
        )

    def _page_fields(self, user: UserT | None, key: IssuedKey) -> dict[str, object]:
        return page_fields(
            user,
            key,
            elements=self._elements,
            refresh_margin=self._refresh_margin,
            now=time.time(),
        )

    def _create_arguments(self, request: KeyRequest, grant: Grant) -> dict[str, Any]:
        return {
            "params": _stripe_api.create_params(request),
            "options": self._options(grant.stripe_account, idempotent=True),
        }

    def _options(
        self, stripe_account: str | None, *, idempotent: bool
    ) -> stripe.RequestOptions:
        return _stripe_api.request_options(
            self._api_version,
            stripe_account,
            self._max_network_retries,
            idempotent=idempotent,
        )


def _before_authorizing(user: object, card_id: object, nonce: object) -> KeyRequest:
    if user is None:
        raise UnauthenticatedError
    return check_ids(card_id, nonce)


def _grant(verdict: object, request: KeyRequest) -> Grant:
    """The verdict as a grant; no key while stripe-python would print it."""
    grant = decide(verdict, request)
    _stripe_api.check_console_logging()
    return grant


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


def _error_response(error: Exception) -> HttpResponse:
    if not isinstance(error, IssuingElementsError):
        logger.error(
            "Unexpected %s while issuing a key; answering 500.",
            type(error).__name__,
            exc_info=error,
        )
        error = ServerMisconfiguredError("Unexpected error.")
    return error_response(error)
