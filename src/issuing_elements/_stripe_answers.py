"""Stripe's API: what the flows ask of it, and what its answers and errors mean.

Pure functions around the calls the performer makes through stripe-python
(the request's parameters and options; the answer held in a `StripeAnswer`,
read, checked against what was asked; an error translated into the
library's outcome), so that the sync and async paths share every decision.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import stripe

from ._components import AccountSession, AccountSessionGrant
from ._ids import is_key_id
from ._records import Grant, IssuedKey, KeyRequest
from ._redact import redact
from .exceptions import (
    AccountNotFoundError,
    CardNotFoundError,
    ConfigurationError,
    InvalidNonceError,
    InvalidRequestError,
    IssuingElementsError,
    ServerMisconfiguredError,
    StripeUnavailableError,
    UnsupportedApiVersionError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from stripe import RequestOptions
    from stripe.params import AccountSessionCreateParams, EphemeralKeyCreateParams

logger = logging.getLogger("issuing_elements")

# The Retry-After passed on when Stripe's is missing or unreadable, and the
# most passed on: a Retry-After of Stripe's (or a proxy's) beyond it would
# keep a cardholder away for no reason that outlives a minute.
DEFAULT_RETRY_AFTER = 2
MAX_RETRY_AFTER = 60

# What the issuer was doing when Stripe refused, for the log and the mapping.
CREATE = "create an ephemeral key"
REVOKE = "revoke an ephemeral key"
CREATE_SESSION = "create an Account Session"

# A key that leaves less than this is refused and revoked, never handed out:
# it would die before the page or the app could use it.
MIN_KEY_LIFETIME = 60

# How Stripe says that it refuses a request's Stripe-Version header: 400
# ``invalid_request_error``, no ``param``, "Invalid Stripe API version: X".
_VERSION_REFUSED = re.compile(r"\bapi[ _-]?version\b|\bstripe-version\b", re.IGNORECASE)

# Stripe made the issuing_card and issuing_cards_list components generally
# available in this version; before it they were a private preview.
ACCOUNT_SESSIONS_MINIMUM_API_VERSION = "2025-01-27"


def request_options(
    api_version: str,
    stripe_account: str | None,
    max_network_retries: int,
    *,
    idempotent: bool,
) -> RequestOptions:
    options: RequestOptions = {
        "stripe_version": api_version,
        "max_network_retries": max_network_retries,
    }
    if stripe_account is not None:
        options["stripe_account"] = stripe_account
    if idempotent:
        # 128 random bits, as a UUID4 has, without building a UUID object.
        options["idempotency_key"] = "issuing-elements-" + os.urandom(16).hex()
    return options


class StripeAnswer:
    """Stripe's answer, read field by field; its ``repr`` shows nothing of it.

    Error trackers record the local variables of a traceback's frames, and
    of the whole stack when an ERROR line is logged (sentry-sdk does both by
    default), each through ``repr``, and a ``StripeObject``'s ``repr`` is
    its whole JSON, a key's or a session's secret included. Every answer
    enters the flows held in one (`held`).
    """

    __slots__ = ("_answer",)

    def __init__(self, answer: object) -> None:
        self._answer = answer

    def __repr__(self) -> str:
        return "StripeAnswer(<not shown: it may hold a secret>)"

    def __getitem__(self, name: str) -> Any:
        return self._answer[name]  # type: ignore[index]  # a StripeObject, or a test's stand-in

    @property
    def last_response(self) -> object:
        """stripe-python's ``last_response`` (its request id), if any."""
        return getattr(self._answer, "last_response", None)


def _unwrapped(response: object) -> object:
    """The answer a `StripeAnswer` holds (or *response* itself), to say its shape."""
    return response._answer if isinstance(response, StripeAnswer) else response  # noqa: SLF001 - this module's own class


def _not_an_object(response: object) -> bool:
    """Whether the answer is JSON null, an array or a scalar: no key in it."""
    return isinstance(_unwrapped(response), (type(None), list, str, int, float))


def held(call: Callable[[], object]) -> StripeAnswer:
    """``call()``'s answer from Stripe, held in a `StripeAnswer`.

    Raises:
        stripe.APIError: For a 2xx answer stripe-python could not read (not
            JSON, cut short), a new one without its text: its length and
            content type only. The text may be a secret, and stripe-python
            quotes it whole in its message.
    """
    try:
        return StripeAnswer(call())
    except stripe.APIError as error:
        unreadable = _unquoted(error)
        if unreadable is None:
            raise
    raise unreadable  # outside the except: no context that quotes the text


async def aheld(call: Callable[[], Awaitable[object]]) -> StripeAnswer:
    """Same as `held`, but async."""
    try:
        return StripeAnswer(await call())
    except stripe.APIError as error:
        unreadable = _unquoted(error)
        if unreadable is None:
            raise
    raise unreadable  # outside the except: no context that quotes the text


def _unquoted(error: stripe.APIError) -> stripe.APIError | None:
    """*error* without the text of the answer, when the answer was a 2xx one."""
    status = error.http_status
    if status is None or not 200 <= status < 300:
        return None  # Stripe's own error object: no key, no session in it
    size = len((error.http_body or "").encode("utf-8", "replace"))
    # stripe-python passes an unreadable answer's headers where the JSON body
    # goes (json_body): either way, they are the answer's headers.
    found: object = error.headers or error.json_body
    headers = dict(found) if isinstance(found, Mapping) else {}
    content_type = next(
        (v for k, v in headers.items() if k.lower() == "content-type"), None
    )
    return UnreadableAnswer(size, content_type, status, headers)


class UnreadableAnswer(stripe.APIError):
    """A 2xx answer stripe-python could not read, said without its text."""

    def __init__(
        self,
        size: int,
        content_type: str | None,
        status: int,
        headers: dict[str, str],
    ) -> None:
        shown = redact(str(content_type))[:100] if content_type else None
        super().__init__(
            f"Stripe's answer could not be read: {size} bytes of "
            f"{shown or 'no content type'} (HTTP status {status}); its text is "
            "not shown.",
            http_status=status,
            headers=headers,
        )
        self.size = size
        self.content_type = shown


def create_params(card_id: str, nonce: str | None) -> EphemeralKeyCreateParams:
    """``POST /v1/ephemeral_keys``'s form: a mobile SDK's key has no *nonce*."""
    if nonce is None:
        return {"issuing_card": card_id}
    return {"issuing_card": card_id, "nonce": nonce}


def issued_key(
    response: Any,
    request: KeyRequest,
    grant: Grant,
    *,
    api_version: str | None = None,
    now: float,
) -> IssuedKey:
    """Read Stripe's ``ephemeral_key`` object; refuse one that is not whole.

    The key must be for the card that was asked for: Stripe's answer names
    it in ``associated_objects``. A mobile key (made under the SDK's
    *api_version*) goes to the app as Stripe's whole object, so its
    ``object`` and ``created`` must be right too. A key whose ``expires``
    leaves less than `MIN_KEY_LIFETIME` seconds after *now* (epoch
    seconds) is refused: it is dead, or nearly.
    """
    # The secret stays in the answer until the IssuedKey, whose repr hides
    # it, holds it: never in a variable a tracker would show.
    key_id = _field(response, "id")
    expires = _field(response, "expires")
    livemode = _field(response, "livemode")
    created = _field(response, "created")
    mobile = api_version is not None  # a mobile SDK's version: its key, whole
    problem = None
    if _not_an_object(response):
        problem = f"{answer_shape(response)}, not an object"
    elif not (
        is_key_id(key_id)
        and _is_key_secret(_field(response, "secret"))
        and _is_int(expires)
        and isinstance(livemode, bool)
        and (_is_int(created) or (created is None and not mobile))
        and (_field(response, "object") == "ephemeral_key" or not mobile)
    ):
        problem = "an object this library does not recognize"
    elif _associated_cards(response) != [request.card_id]:
        problem = "a key that is not for the card asked for"
    elif expires - now < MIN_KEY_LIFETIME:  # type: ignore[operator]  # an int: checked above
        problem = _short_lived(expires, now)  # type: ignore[arg-type]  # checked above
    if problem is not None:
        request_id = _request_id(response)
        logger.error(
            "Stripe answered the ephemeral key request for card %s with %s "
            "(Stripe request id %s); refusing it.",
            request.card_id,
            problem,
            request_id,
        )
        raise ServerMisconfiguredError(
            "Unexpected ephemeral key object from Stripe.",
            stripe_request_id=request_id,
        )
    return IssuedKey(
        id=key_id,  # type: ignore[arg-type]  # checked above
        secret=_field(response, "secret"),  # type: ignore[arg-type]  # checked above
        expires=expires,  # type: ignore[arg-type]  # checked above
        livemode=livemode,  # type: ignore[arg-type]  # checked above
        card_id=request.card_id,
        nonce=request.nonce,
        stripe_account=grant.stripe_account,
        created=created,  # type: ignore[arg-type]  # checked above
        api_version=api_version,
    )


def _is_key_secret(value: object) -> bool:
    return isinstance(value, str) and value.startswith("ek_")


def _short_lived(expires: int, now: float) -> str:
    left = round(expires - now)
    if left <= 0:
        return (
            f"a key that expired {-left} s ago (expires {expires}, this server's "
            f"clock {round(now)}; if the key is new, check the clock)"
        )
    return f"a key that expires in {left} s, less than {MIN_KEY_LIFETIME} s"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def key_id_of(response: object) -> str | None:
    """The ephemeral key id in Stripe's answer, if it holds one."""
    key_id = _field(response, "id")
    return key_id if is_key_id(key_id) else None


def unreadable_answer(error: stripe.StripeError) -> str | None:
    """What is wrong with a 2xx answer that stripe-python could not read, or ``None``.

    stripe-python raises `stripe.APIError` for a body that is not JSON (cut
    short, an HTML page), though Stripe may have done what was asked. Said
    by the body's length and content type, never its text.
    """
    if isinstance(error, UnreadableAnswer):  # held() took its text out
        return (
            f"{error.size} bytes of {error.content_type or 'no content type'}, not JSON"
        )
    status = error.http_status
    if not isinstance(error, stripe.APIError) or status is None:
        return None
    if not 200 <= status < 300:
        return None
    content_type = _header(_answer_headers(error), "content-type")
    size = len((error.http_body or "").encode())
    return f"{size} bytes of {content_type or 'no content type'}, not JSON"


def answer_request_id(error: stripe.StripeError) -> str | None:
    """Stripe's request id for *error*, also where stripe-python misplaced it."""
    return error.request_id or _header(_answer_headers(error), "request-id")


def _answer_headers(error: stripe.StripeError) -> object:
    # For a body it cannot read, stripe-python passes the answer's headers
    # where the JSON body would go, and leaves ``headers`` empty.
    return error.headers or error.json_body


def answer_shape(response: object) -> str:
    """What kind of JSON value a parsed answer is, for the log; never its content."""
    response = _unwrapped(response)
    if isinstance(response, list):
        return f"a JSON array of {len(response)} items"
    kinds = {str: "a JSON string", bool: "a JSON boolean", type(None): "JSON null"}
    kind = kinds.get(type(response))
    if kind is not None:
        return kind
    if isinstance(response, (int, float)):
        return "a JSON number"
    return "an object that names no ephemeral key"


def unreadable_refused(  # noqa: PLR0913 - the answer, and what names it in the log
    error: stripe.StripeError,
    problem: str,
    *,
    asked: str,
    idempotency_key: str,
    request_id: str | None,
    fate: str,
) -> ServerMisconfiguredError:
    """Log a 2xx answer that could not be read (*problem*), and what follows (*fate*).

    *request_id* is the request's own (``X-Request-Id``), if it has one.
    """
    stripe_request_id = answer_request_id(error)
    logger.error(
        "Stripe answered the %s with a body that cannot be read (%s; Stripe "
        "request id %s, idempotency key %s, request id %s): %s",
        asked,
        problem,
        stripe_request_id,
        idempotency_key,
        request_id,
        fate,
    )
    return ServerMisconfiguredError(
        "Stripe's answer could not be read.", stripe_request_id=stripe_request_id
    )


def _associated_cards(response: Any) -> list[object]:
    objects = _field(response, "associated_objects")
    if not isinstance(objects, list):
        return []
    return [
        _field(item, "id") for item in objects if _field(item, "type") == "issuing.card"
    ]


def _request_id(response: Any) -> str | None:
    request_id = getattr(getattr(response, "last_response", None), "request_id", None)
    return request_id if isinstance(request_id, str) else None


def _field(response: Any, name: str) -> object:
    try:
        return response[name]
    except (KeyError, TypeError, IndexError):
        return None


def translate(
    error: stripe.StripeError, *, action: str, api_version: str | None = None
) -> IssuingElementsError:
    """Map a stripe-python error to the library's outcome, and log it for the operator.

    Stripe's own text goes to the operator's log (redacted), never to the
    browser. *api_version* is the caller's (a mobile SDK's), when the
    request was made under it: Stripe refusing it is the caller's error
    (400 ``unsupported_api_version``), not the server's.
    """
    status = error.http_status
    stripe_code = error.code
    param = getattr(error, "param", None)
    context = {
        "stripe_request_id": error.request_id,
        "stripe_code": stripe_code,
    }
    outcome: IssuingElementsError
    if isinstance(error, (stripe.AuthenticationError, stripe.PermissionError)):
        outcome = ServerMisconfiguredError(
            "Stripe refused this server's API key.", **context
        )
    elif (
        isinstance(error, (stripe.RateLimitError, stripe.APIConnectionError))
        or status is None
        or status >= 500
        # A conflict (an idempotent request still in flight) that outlasted retries.
        or status == 409
    ):
        outcome = StripeUnavailableError(
            "Stripe is unavailable.", retry_after=_retry_after(error), **context
        )
    elif isinstance(error, stripe.InvalidRequestError):
        outcome = _invalid_request(error, param, action, context, api_version)
    else:
        outcome = ServerMisconfiguredError("Stripe refused the request.", **context)
    log = (
        logger.warning
        if isinstance(
            outcome,
            (
                InvalidNonceError,
                CardNotFoundError,
                AccountNotFoundError,
                UnsupportedApiVersionError,
            ),
        )
        else logger.error
    )
    log(
        "Stripe refused to %s: %s (status %s, type %s, code %s, param %s, "
        "request id %s): %s",
        action,
        outcome.code,
        status,
        type(error).__name__,
        stripe_code,
        param,
        error.request_id,
        redact(error.user_message or str(getattr(error, "_message", "")) or ""),
    )
    return outcome


def _invalid_request(
    error: stripe.InvalidRequestError,
    param: object,
    action: str,
    context: dict[str, Any],
    api_version: str | None,
) -> IssuingElementsError:
    message = (error.user_message or "").lower()
    if api_version is not None and _refuses_version(error, param):
        # A well-formed version (checked before the call): safe to name.
        return UnsupportedApiVersionError(
            f"Stripe does not accept API version {api_version}.",
            field="api_version",
            **context,
        )
    if action != CREATE_SESSION and (
        param == "nonce" or (param is None and "nonce" in message)
    ):
        return InvalidNonceError("Stripe rejected the nonce.", **context)
    if error.code == "resource_missing" or error.http_status == 404:
        if action == CREATE_SESSION:
            return AccountNotFoundError(
                "Stripe has no such connected account.", **context
            )
        if action == REVOKE:
            return InvalidRequestError(
                "Stripe has no such ephemeral key for this account.",
                field="key_id",
                **context,
            )
        return CardNotFoundError("Stripe has no such card for this account.", **context)
    return ServerMisconfiguredError(
        "Stripe refused the request as invalid; see the log.", **context
    )


def _refuses_version(error: stripe.InvalidRequestError, param: object) -> bool:
    """Whether Stripe refused the request's API version, not one of its parameters.

    Stripe answers 400 naming no parameter, with a message such as "Invalid
    Stripe API version: 2099-01-01" (or a code that names the version).
    """
    if error.http_status != 400 or param not in (None, ""):
        return False
    code = error.code or ""
    return "version" in code.lower() or (
        _VERSION_REFUSED.search(error.user_message or "") is not None
    )


def _retry_after(error: stripe.StripeError) -> int:
    """Stripe's ``Retry-After`` in whole seconds, from 1 to `MAX_RETRY_AFTER`.

    A value that is not a whole number of seconds (an HTTP date, a
    fraction, text) gives `DEFAULT_RETRY_AFTER`; 0 or less gives 1.
    """
    value = _header(error.headers, "retry-after")
    try:
        seconds = int(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(1, seconds))


def _header(headers: object, name: str) -> str | None:
    """The header *name* (lower-case) of a stripe-python error or answer, if any."""
    items = getattr(headers, "items", None)
    if not callable(items):
        return None
    value = next((v for k, v in items() if str(k).lower() == name), None)
    return value if isinstance(value, str) else None


# -- Account Sessions ----------------------------------------------------------


def check_session_api_version(version: str) -> None:
    """Refuse an API version that cannot create the issuing components' sessions."""
    if version[:10] < ACCOUNT_SESSIONS_MINIMUM_API_VERSION:
        needed = ACCOUNT_SESSIONS_MINIMUM_API_VERSION
        raise ConfigurationError(
            f"account_sessions= needs api_version {needed}.acacia or later (the "
            "first version in which the issuing components are generally "
            f"available); this issuer is pinned to {version!r}."
        )


def session_params(grant: AccountSessionGrant) -> AccountSessionCreateParams:
    """The account, and only the granted components, enabled, features as granted."""
    components = {
        component.stripe_name: component.params() for component in grant.components
    }
    return {"account": grant.account, "components": components}  # type: ignore[typeddict-item]  # built from the typed builders


def account_session(response: Any, grant: AccountSessionGrant) -> AccountSession:
    """Read Stripe's ``account_session`` object; refuse one that is not the grant.

    It must be for the granted account, and every granted component must be
    enabled with exactly the granted features, and no other enabled. Stripe
    lists every component, the others disabled.
    """
    # The secret stays in the answer until the AccountSession, whose repr
    # hides it, holds it: never in a variable a tracker would show.
    expires_at = _field(response, "expires_at")
    problem = None
    if not (
        _field(response, "object") == "account_session"
        and _is_session_secret(_field(response, "client_secret"))
        and isinstance(expires_at, int)
        and not isinstance(expires_at, bool)
    ):
        problem = "an object this library does not recognize"
    elif _field(response, "account") != grant.account:
        problem = "a session for another account"
    elif not _as_granted(response, grant):
        problem = "other components or features than granted"
    if problem is not None:
        request_id = _request_id(response)
        # Never the answer itself: it holds the session's secret.
        logger.error(
            "Stripe answered the Account Session request for account %s with %s "
            "(Stripe request id %s); refusing it.",
            grant.account,
            problem,
            request_id,
        )
        raise ServerMisconfiguredError(
            "Unexpected account_session object from Stripe.",
            stripe_request_id=request_id,
        )
    return AccountSession(
        account=grant.account,
        client_secret=_field(response, "client_secret"),  # type: ignore[arg-type]  # checked above
        expires_at=expires_at,  # type: ignore[arg-type]  # checked above
        components=grant.components,
    )


def _is_session_secret(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _as_granted(response: Any, grant: AccountSessionGrant) -> bool:
    """Whether Stripe enabled exactly the granted components, features as granted.

    A feature Stripe lists that the grant does not know (a newer version's)
    must be off; a component it lists that the grant does not name, too.
    """
    components = _plain(_field(response, "components"))
    if not isinstance(components, dict):
        return False
    granted = {component.stripe_name: component for component in grant.components}
    enabled = set()
    for name, component in components.items():
        state = _field(component, "enabled")
        if state is False:
            continue
        features = _field(component, "features")
        if state is not True or name not in granted or not isinstance(features, dict):
            return False
        enabled.add(name)
        wanted = granted[name].features()
        if any(features.get(key) is not value for key, value in wanted.items()) or any(
            value is not False for key, value in features.items() if key not in wanted
        ):
            return False
    return enabled == set(granted)


def _plain(value: object) -> object:
    """A StripeObject as plain dicts (stripe-python's are no dicts), else as is."""
    to_dict = getattr(type(value), "to_dict", None)
    return to_dict(value) if callable(to_dict) else value
