"""The Stripe that FakeStripe pretends to be: its state and its rules, sans I/O.

`Simulation` takes a parsed request (`Incoming`) and returns the
answer (`Reply`); the HTTP server in ``_server`` only moves
bytes. Everything here is guarded by one lock, so the server's threads and the
test that drives it see one consistent state.

Where Stripe's behaviour is documented (the OpenAPI excerpt, the error shape,
the status codes, the ``Invalid API Key provided: sk_test_****abcd`` masking)
the simulation follows it. Where it is not (the nonce endpoint that Stripe.js
calls, the exact wording of most messages), the simulation picks something
plausible and says so in ``docs/testing.md``.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import string
import threading
import types
from collections import deque
from typing import TYPE_CHECKING, Literal, cast

import attrs

from ._lifecycle import CARDS_PATH, EventDelivery, Lifecycle, Request, StripeEvent

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# Stripe's rules are written out here again on purpose, not imported from the
# library's checks: a stand-in that shares the checks of the code under test
# would agree with its mistakes.
MINIMUM_API_VERSION = "2020-03-02"

# The endpoints that take the secret key. Faults apply to them only: they are
# the calls the library under test makes, and the browser-facing endpoints
# must keep working while a test breaks the server-to-Stripe leg.
EPHEMERAL_KEYS_PATH = "/v1/ephemeral_keys"
ACCOUNT_SESSIONS_PATH = "/v1/account_sessions"
NONCE_PATH = "/v1/ephemeral_key_nonces"
CARD_PATH_PREFIX = "/v1/issuing/cards/"

# Stripe's own ceiling for a string parameter (see the OpenAPI excerpt).
_MAX_STRING = 5000
_VERSION = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.[a-z][a-z0-9_]*)?")
_EXPAND = re.compile(r"expand(?:\[\d*\])?")
_ALPHANUMERIC = string.ascii_letters + string.digits
_KEY_PREFIX = re.compile(r"(?:sk|pk|rk|ek)_(?:test|live)_")
_COMPONENT_PARAM = re.compile(
    r"components\[([a-z_]+)\]\[(enabled|features)\](?:\[([a-z_]+)\])?"
)
# Stripe's Account Session lives 30 minutes.
ACCOUNT_SESSION_LIFETIME = 30 * 60

# The Connect embedded components FakeStripe simulates (a request may enable
# these), with the features Stripe's API reference lists for each.
_ISSUING_FEATURES = (
    "card_management",
    "card_spend_dispute_management",
    "cardholder_management",
    "spend_control_management",
)
SIMULATED_COMPONENTS = ("issuing_card", "issuing_cards_list")
_PAYMENTS_FEATURES = (
    "capture_payments",
    "destination_on_behalf_of_charge_management",
    "dispute_management",
    "refund_management",
    "smart_disputes_management",
)
_ONBOARDING_FEATURES = (
    "disable_stripe_user_authentication",
    "external_account_collection",
)
_PAYOUTS_FEATURES = (
    "disable_stripe_user_authentication",
    "edit_payout_schedule",
    "external_account_collection",
    "instant_payouts",
    "standard_payouts",
)
# Every component of Stripe's account_session object (stripe-python 16's
# AccountSession.Components), with its features: an answer lists them all,
# those the request did not enable disabled, as Stripe's does.
COMPONENT_FEATURES: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "account_management": _ONBOARDING_FEATURES,
        "account_onboarding": _ONBOARDING_FEATURES,
        "balance_report": (),
        "balances": _PAYOUTS_FEATURES,
        "disputes_list": _PAYMENTS_FEATURES,
        "documents": (),
        "financial_account": (
            *_ONBOARDING_FEATURES,
            "send_money",
            "transfer_balance",
        ),
        "financial_account_transactions": ("card_spend_dispute_management",),
        "instant_payouts_promotion": (*_ONBOARDING_FEATURES, "instant_payouts"),
        "issuing_card": _ISSUING_FEATURES,
        "issuing_cards_list": (
            *_ISSUING_FEATURES,
            "disable_stripe_user_authentication",
        ),
        "notification_banner": _ONBOARDING_FEATURES,
        "payment_details": _PAYMENTS_FEATURES,
        "payment_disputes": _PAYMENTS_FEATURES[1:],
        "payment_method_settings": ("disable_stripe_user_authentication",),
        "payments": _PAYMENTS_FEATURES,
        "payout_details": (),
        "payout_reconciliation_report": (),
        "payouts": _PAYOUTS_FEATURES,
        "payouts_list": (),
        "reporting_chart": (),
        "tax_registrations": (),
        "tax_settings": (),
        "terminal_hardware_orders": (),
        "terminal_hardware_shop": (),
    }
)

CORS_HEADERS = types.MappingProxyType(
    {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": (
            "Authorization, Content-Type, Stripe-Account, Stripe-Version"
        ),
        "Access-Control-Max-Age": "600",
    }
)

_NO_API_KEY = (
    "You did not provide an API key. You need to provide your API key in the "
    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details."
)


def random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def ephemeral_key_secret(account: str | None) -> str:
    """A secret in Stripe's real shape: ``ek_test_<base64 text>_00<tail>``.

    Stripe's secrets hold underscores (and, base64url, dashes) between their
    parts; minting them so makes every test that issues a key exercise the
    whole of the log mask, not only its first run of letters.
    """
    material = f"{account or 'acct_fake'},{random_id('', 32)}".encode()
    text = base64.urlsafe_b64encode(material).decode("ascii").rstrip("=")
    return f"ek_test_{text}_00{random_id('', 10)}"


def account_session_secret() -> str:
    """A secret in the shape of Stripe's fixtures: ``accs_secret__`` and 47 more."""
    return random_id("accs_secret__", 47)


def mask_key(key: str) -> str:
    """Mask *key* the way Stripe does in its messages: prefix and last four."""
    match = _KEY_PREFIX.match(key)
    prefix = match.group(0) if match else ""
    rest = key[len(prefix) :]
    # Too short to show a tail without showing most of the key.
    tail = rest[-4:] if len(rest) > 8 else ""
    return f"{prefix}****{tail}"


def redact_authorization(value: str) -> str:
    """``Bearer sk_test_abc`` -> ``Bearer sk_test_[redacted]``: the kind, no key.

    HTTP Basic (the key as the user name) is decoded first, so that it shows
    its kind too: ``Basic pk_test_[redacted]``.
    """
    scheme, _, given = value.partition(" ")
    credential = _credential_of(value)
    match = _KEY_PREFIX.match(credential)
    kind = match.group(0) if match else ""
    return f"{scheme} {kind}[redacted]" if given.strip() else "[redacted]"


def _credential_of(authorization: str) -> str:
    """The API key in an ``Authorization`` header, as Stripe takes it; or ``""``.

    ``Bearer <key>``, or HTTP Basic with the key as the user name and any
    password (``curl -u sk_test_...:``). Anything else holds no key.
    """
    scheme, _, given = authorization.partition(" ")
    given = given.strip()
    if scheme.lower() == "bearer":
        return given
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(given, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        return ""
    return decoded.partition(":")[0]


def _freeze(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(mapping))


@attrs.frozen
class EphemeralKeyRecord:
    """An ephemeral key that the fake issued, as it stands now.

    ``secret`` is there so that a test can use the key (for example on
    ``GET /v1/issuing/cards/{id}``); it never appears in ``repr()``.

    Attributes:
        id: ``ephkey_...``.
        secret: ``ek_test_...``.
        card_id: The card the key opens.
        account: The connected account (``Stripe-Account``) it was issued
            under, ``None`` for the platform.
        nonce: The nonce that was traded for it; ``None`` for a key asked
            for without one (as the mobile SDKs' push provisioning does).
        stripe_version: The ``Stripe-Version`` it was created with.
        created: Epoch seconds, on the fake's clock.
        expires: Epoch seconds, on the fake's clock.
        revoked_at: When ``DELETE /v1/ephemeral_keys/{id}`` revoked it, or
            ``None``.
    """

    id: str
    secret: str = attrs.field(repr=False)
    card_id: str
    account: str | None
    nonce: str | None
    stripe_version: str
    created: int
    expires: int
    revoked_at: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@attrs.frozen
class AccountSessionRecord:
    """An Account Session that the fake created.

    ``client_secret`` is there so that a test can compare it with what its
    page received; it never appears in ``repr()``.

    Attributes:
        account: The connected account (``acct_...``) it was created for.
        client_secret: The secret, ``accs_secret__`` and 47 letters and
            digits, as in Stripe's fixtures.
        components: The components as answered: every component of
            Stripe's object, ``{"enabled": bool, "features": {name: bool}}``,
            those not asked for disabled.
        stripe_version: The ``Stripe-Version`` it was created with, ``""``
            when the request named none.
        created: Epoch seconds, on the fake's clock.
        expires_at: Epoch seconds, 30 minutes after *created*.
    """

    account: str
    client_secret: str = attrs.field(repr=False)
    components: Mapping[str, Mapping[str, object]]
    stripe_version: str
    created: int
    expires_at: int


@attrs.frozen
class RecordedRequest:
    """One request the fake received, in arrival order.

    Attributes:
        method: ``GET``, ``POST``, ``DELETE`` or ``OPTIONS``.
        path: The path without the query string.
        headers: Header names in lower case. ``authorization`` keeps only
            the kind of key (``Bearer sk_test_[redacted]``), never the key.
        params: Form and query parameters (the last value wins).
        request_id: The ``Request-Id`` the fake answered with
            (stripe-python exposes it as ``error.request_id``).
        status: The status answered, ``None`` when the connection was dropped.
        fault: The injected fault that shaped the answer, if any:
            ``"fail 503"``, ``"delay 0.5s"``, ``"drop"`` or
            ``"drop after processing"``.
    """

    method: str
    path: str
    headers: Mapping[str, str] = attrs.field(converter=_freeze)
    params: Mapping[str, str] = attrs.field(converter=_freeze)
    request_id: str
    status: int | None
    fault: str | None = None


@attrs.frozen
class Incoming:
    """A request as the server parsed it: lower-case header names, params in order."""

    method: str
    path: str
    headers: Mapping[str, str]
    params: tuple[tuple[str, str], ...]
    # Set when the server could not make sense of the body.
    body_problem: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@attrs.frozen
class Reply:
    """What to answer: the server turns it into bytes."""

    status: int
    body: Mapping[str, object] | None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_freeze)
    cors: bool = False


@attrs.frozen
class Fault:
    kind: Literal["fail", "delay", "drop"]
    status: int = 503
    retry_after: int | None = None
    stripe_should_retry: bool | None = None
    code: str | None = None
    message: str | None = None
    seconds: float = 0.0
    after_processing: bool = False

    def describe(self) -> str:
        if self.kind == "fail":
            return f"fail {self.status}"
        if self.kind == "delay":
            return f"delay {self.seconds:g}s"
        return "drop after processing" if self.after_processing else "drop"


def error_reply(  # noqa: PLR0913 - Stripe's error object has this many fields
    status: int,
    message: str,
    *,
    error_type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    cors: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """Stripe's error shape: ``{"error": {"type", "message", "code", "param"}}``.

    ``code`` (with its ``doc_url``) and ``param`` only when they apply.
    """
    error: dict[str, object] = {"type": error_type, "message": message}
    if code is not None:
        error["code"] = code
        error["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace(
            "_", "-"
        )
    if param is not None:
        error["param"] = param
    return Reply(status, {"error": error}, headers or {}, cors)


def _error_type_for(status: int) -> str:
    # Stripe reports bad keys and missing permissions as invalid_request_error
    # too; only server trouble is api_error and only declines are card_error.
    if status >= 500:
        return "api_error"
    if status == 402:
        return "card_error"
    return "invalid_request_error"


def _fault_reply(fault: Fault) -> Reply:
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if fault.stripe_should_retry is not None:
        headers["Stripe-Should-Retry"] = (
            "true" if fault.stripe_should_retry else "false"
        )
    code = fault.code
    if code is None and fault.status == 429:
        code = "rate_limit"
    message = fault.message or f"FakeStripe injected a {fault.status} answer."
    return error_reply(
        fault.status,
        message,
        error_type=_error_type_for(fault.status),
        code=code,
        headers=headers,
    )


@attrs.define
class _Nonce:
    card_id: str
    account: str | None
    used: bool = False


@attrs.frozen
class _Saved:
    """A create answer kept for Idempotency-Key replays, as Stripe does."""

    params: tuple[tuple[str, str], ...]
    reply: Reply


_PLATFORM = ""  # the owner of cards added without an account


class Simulation:
    """The fake's state and Stripe's rules for the ephemeral-key endpoints."""

    def __init__(
        self,
        *,
        api_key: str,
        publishable_key: str,
        key_lifetime: int,
        clock: Callable[[], float],
        latency: float = 0.0,
    ) -> None:
        self._api_key = api_key
        self._publishable_key = publishable_key
        self._key_lifetime = key_lifetime
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.Lock()
        self._cards: dict[str, str] = {}  # card id -> account id or _PLATFORM
        self._accounts: set[str] = set()
        self._sessions: list[AccountSessionRecord] = []
        self._nonces: dict[str, _Nonce] = {}
        self._keys: dict[str, EphemeralKeyRecord] = {}  # in order of issue
        self._key_ids_by_secret: dict[str, str] = {}
        self._revoked: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._latency = latency
        self._saved: dict[tuple[str, str, str], _Saved] = {}
        self._lifecycle = Lifecycle()
        self.delivery = EventDelivery()

    # -- set-up and inspection, called by the test through FakeStripe ------

    def now(self) -> int:
        with self._lock:
            return self._now()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def add_card(
        self, card_id: str, account: str | None, cardholder: str | None = None
    ) -> None:
        with self._lock:
            self._cards[card_id] = account or _PLATFORM
            self._lifecycle.add_card(card_id, account, cardholder)
            if account is not None:
                self._accounts.add(account)

    def add_account(self, account: str) -> None:
        with self._lock:
            self._accounts.add(account)

    def create_nonce(self, card_id: str, account: str | None) -> str:
        with self._lock:
            if account is None:
                account = self._cards.get(card_id) or None
            return self._mint_nonce(card_id, account)

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    def set_latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = seconds

    def add_fault(self, fault: Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def keys(self) -> tuple[EphemeralKeyRecord, ...]:
        with self._lock:
            return tuple(self._keys.values())

    @property
    def revoked_keys(self) -> tuple[EphemeralKeyRecord, ...]:
        with self._lock:
            return tuple(self._keys[key_id] for key_id in self._revoked)

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        with self._lock:
            return tuple(self._requests)

    @property
    def account_sessions(self) -> tuple[AccountSessionRecord, ...]:
        with self._lock:
            return tuple(self._sessions)

    def key(self, key_id: str) -> EphemeralKeyRecord:
        with self._lock:
            return self._keys[key_id]

    # -- the server's side --------------------------------------------------

    def take_fault(self, incoming: Incoming) -> Fault | None:
        """The next injected fault, if *incoming* is a secret-key call."""
        with self._lock:
            if _secret_key_call(incoming) and self._faults:
                return self._faults.popleft()
            return None

    def latency_for(self, incoming: Incoming) -> float:
        """The steady latency to serve before answering *incoming*, in seconds."""
        with self._lock:
            return self._latency if _secret_key_call(incoming) else 0.0

    def respond(self, incoming: Incoming, fault: Fault | None) -> Reply | None:
        """Answer *incoming* and record it; ``None`` means drop the connection.

        A delay has already been served by the server. A failure or a plain
        drop replaces the answer: Stripe never saw the request. A drop after
        processing lets Stripe do the work and loses only the answer.
        """
        with self._lock:
            reply: Reply | None
            if fault is not None and fault.kind == "fail":
                reply = _fault_reply(fault)
            elif (
                fault is not None
                and fault.kind == "drop"
                and not fault.after_processing
            ):
                reply = None
            else:
                reply = self._answer(incoming)
                if fault is not None and fault.kind == "drop":
                    reply = None
            request_id = random_id("req_", 14)
            self._record(incoming, request_id, reply, fault)
            if reply is None:
                return None
            headers = {**reply.headers, "Request-Id": request_id}
            version = incoming.header("stripe-version")
            if version is not None and reply.status != 204:
                headers["Stripe-Version"] = version
            return attrs.evolve(reply, headers=headers)

    def _record(
        self,
        incoming: Incoming,
        request_id: str,
        reply: Reply | None,
        fault: Fault | None,
    ) -> None:
        headers = dict(incoming.headers)
        if "authorization" in headers:
            headers["authorization"] = redact_authorization(headers["authorization"])
        self._requests.append(
            RecordedRequest(
                method=incoming.method,
                path=incoming.path,
                headers=headers,
                params=dict(incoming.params),
                request_id=request_id,
                status=None if reply is None else reply.status,
                fault=None if fault is None else fault.describe(),
            )
        )

    def _now(self) -> int:
        return int(self._clock() + self._offset)

    def _mint_nonce(self, card_id: str, account: str | None) -> str:
        nonce = random_id("ephkn_pub_")
        self._nonces[nonce] = _Nonce(card_id=card_id, account=account)
        return nonce

    # -- routing ------------------------------------------------------------

    def _answer(self, incoming: Incoming) -> Reply:  # noqa: PLR0911 - one return a route
        method, path = incoming.method, incoming.path
        browser_path = path == NONCE_PATH or (
            path.startswith(CARD_PATH_PREFIX) and len(path) > len(CARD_PATH_PREFIX)
        )
        if method == "OPTIONS" and browser_path:
            return Reply(204, None, {}, cors=True)
        if incoming.body_problem is not None:
            return error_reply(400, incoming.body_problem, cors=browser_path)
        if method == "POST" and path == EPHEMERAL_KEYS_PATH:
            return self._create_key(incoming)
        if method == "DELETE" and path.startswith(EPHEMERAL_KEYS_PATH + "/"):
            return self._revoke_key(
                incoming, path.removeprefix(EPHEMERAL_KEYS_PATH + "/")
            )
        if method == "POST" and path == ACCOUNT_SESSIONS_PATH:
            return self._create_account_session(incoming)
        if method == "POST" and path == NONCE_PATH:
            return self._create_nonce(incoming)
        if method == "GET" and browser_path and path != NONCE_PATH:
            return self._retrieve_card(incoming, path.removeprefix(CARD_PATH_PREFIX))
        lifecycle = self._lifecycle.answer(self, incoming)
        if lifecycle is not None:
            return lifecycle
        return error_reply(
            404,
            f"Unrecognized request URL ({method}: {path}). FakeStripe simulates "
            "only the endpoints that Issuing Elements use.",
            cors=browser_path,
        )

    # -- shared checks (each returns an error reply, or None when all is well)

    def _check_secret_key(self, incoming: Incoming) -> Reply | None:
        credential = _credential(incoming)
        if not credential:
            return error_reply(401, _NO_API_KEY)
        if credential == self._publishable_key:
            return error_reply(
                401,
                "This API call cannot be made with a publishable API key. "
                "Please use a secret API key.",
            )
        if credential != self._api_key:
            return error_reply(401, f"Invalid API Key provided: {mask_key(credential)}")
        return None

    def _check_account(self, incoming: Incoming, *, cors: bool = False) -> Reply | None:
        account = incoming.header("stripe-account")
        if account is not None and not account.startswith("acct_"):
            return error_reply(
                403,
                f"The provided key does not have access to account '{account}' "
                "(or that account does not exist).",
                cors=cors,
            )
        return None

    def _check_params(
        self, incoming: Incoming, allowed: frozenset[str], *, cors: bool = False
    ) -> Reply | None:
        for name, value in incoming.params:
            if _EXPAND.fullmatch(name):
                continue
            if name in {"customer", "verification_session"} and name not in allowed:
                return error_reply(
                    400,
                    f"FakeStripe simulates ephemeral keys for Issuing cards only; "
                    f"`{name}` is a real Stripe parameter that it does not support.",
                    param=name,
                    cors=cors,
                )
            if name not in allowed:
                return error_reply(
                    400, f"Received unknown parameter: {name}", param=name, cors=cors
                )
            if len(value) > _MAX_STRING:
                return error_reply(
                    400,
                    f"Invalid string: {value[:20]}...; must be at most "
                    f"{_MAX_STRING} characters",
                    param=name,
                    cors=cors,
                )
        return None

    def _owns(self, account: str | None, card_id: str) -> bool:
        return self._cards.get(card_id) == (account or _PLATFORM)

    # -- POST /v1/ephemeral_keys -------------------------------------------

    def _create_key(self, incoming: Incoming) -> Reply:
        problem = (
            self._check_secret_key(incoming)
            or self._check_account(incoming)
            or _check_version(incoming.header("stripe-version"))
            or self._check_params(incoming, frozenset({"issuing_card", "nonce"}))
        )
        if problem is not None:
            return problem
        params = dict(incoming.params)
        if not params.get("issuing_card"):
            return error_reply(
                400,
                "Missing required param: issuing_card.",
                code="parameter_missing",
                param="issuing_card",
            )
        account = incoming.header("stripe-account")
        # Without a nonce: the mobile SDKs' push provisioning asks so.
        return self._idempotent(
            incoming,
            lambda: self._issue(
                params["issuing_card"], params.get("nonce"), account, incoming
            ),
        )

    def _idempotent(self, incoming: Incoming, create: Callable[[], Reply]) -> Reply:
        """*create*'s answer, or the one saved under the same ``Idempotency-Key``."""
        idempotency_key = incoming.header("idempotency-key")
        saved_as = (
            incoming.path,
            incoming.header("stripe-account") or _PLATFORM,
            idempotency_key or "",
        )
        saved = self._saved.get(saved_as) if idempotency_key else None
        if saved is not None:
            if saved.params != incoming.params:
                return error_reply(
                    400,
                    "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with. Try using a key other "
                    f"than '{idempotency_key}' if you meant to execute a "
                    "different request.",
                    error_type="idempotency_error",
                )
            return attrs.evolve(
                saved.reply,
                headers={**saved.reply.headers, "Idempotent-Replayed": "true"},
            )
        reply = create()
        if idempotency_key:
            self._saved[saved_as] = _Saved(incoming.params, reply)
        return reply

    def _issue(
        self, card_id: str, nonce: str | None, account: str | None, incoming: Incoming
    ) -> Reply:
        if not self._owns(account, card_id):
            return error_reply(
                400,
                f"No such issuing card: '{card_id}'",
                code="resource_missing",
                param="issuing_card",
            )
        if nonce is not None:
            bound = self._nonces.get(nonce)
            if bound is None:
                return _nonce_error(f"No such ephemeral key nonce: '{nonce}'")
            if bound.used:
                return _nonce_error("This nonce has already been used to create a key.")
            if bound.card_id != card_id:
                return _nonce_error(
                    "This nonce was created for a different issuing card."
                )
            if bound.account != account:
                return _nonce_error("This nonce was created for a different account.")
            bound.used = True
        created = self._now()
        record = EphemeralKeyRecord(
            id=random_id("ephkey_"),
            secret=ephemeral_key_secret(account),
            card_id=card_id,
            account=account,
            nonce=nonce,
            stripe_version=incoming.header("stripe-version") or "",
            created=created,
            expires=created + self._key_lifetime,
        )
        self._keys[record.id] = record
        self._key_ids_by_secret[record.secret] = record.id
        return Reply(200, _key_object(record, with_secret=True))

    # -- POST /v1/account_sessions ----------------------------------------

    def _create_account_session(self, incoming: Incoming) -> Reply:  # noqa: PLR0911 - one return a check
        problem = self._check_secret_key(incoming)
        if problem is not None:
            return problem
        if incoming.header("stripe-account") is not None:
            return error_reply(
                400,
                "Account Sessions are created by the platform: name the connected "
                "account in the `account` parameter, not in a Stripe-Account header.",
            )
        params = dict(incoming.params)
        components = _requested_components(incoming.params)
        if isinstance(components, Reply):
            return components
        account = params.get("account")
        if not account:
            return error_reply(
                400,
                "Missing required param: account.",
                code="parameter_missing",
                param="account",
            )
        if not components:
            return error_reply(
                400,
                "Missing required param: components.",
                code="parameter_missing",
                param="components",
            )
        if account not in self._accounts:
            return error_reply(
                400,
                f"No such account: '{account}'",
                code="resource_missing",
                param="account",
            )
        return self._idempotent(
            incoming, lambda: self._open_session(account, components, incoming)
        )

    def _open_session(
        self,
        account: str,
        components: Mapping[str, Mapping[str, object]],
        incoming: Incoming,
    ) -> Reply:
        created = self._now()
        record = AccountSessionRecord(
            account=account,
            client_secret=account_session_secret(),
            components=components,
            stripe_version=incoming.header("stripe-version") or "",
            created=created,
            expires_at=created + ACCOUNT_SESSION_LIFETIME,
        )
        self._sessions.append(record)
        body = {
            "object": "account_session",
            "account": record.account,
            "client_secret": record.client_secret,
            "expires_at": record.expires_at,
            "livemode": False,
            "components": record.components,
        }
        return Reply(200, body)

    # -- DELETE /v1/ephemeral_keys/{id} ------------------------------------

    def _revoke_key(self, incoming: Incoming, key_id: str) -> Reply:
        problem = (
            self._check_secret_key(incoming)
            or self._check_account(incoming)
            or self._check_params(incoming, frozenset())
        )
        if problem is not None:
            return problem
        record = self._keys.get(key_id)
        account = incoming.header("stripe-account")
        # A revoked key is gone, as far as Stripe is concerned.
        if record is None or record.revoked or record.account != account:
            return error_reply(
                404,
                f"No such ephemeral key: '{key_id}'",
                code="resource_missing",
                param="id",
            )
        record = attrs.evolve(record, revoked_at=self._now())
        self._keys[key_id] = record
        self._revoked.append(key_id)
        return Reply(200, _key_object(record, with_secret=False))

    # -- POST /v1/ephemeral_key_nonces (Stripe.js's side, simulated) -------

    def _create_nonce(self, incoming: Incoming) -> Reply:
        credential = _credential(incoming)
        if not credential:
            return error_reply(401, _NO_API_KEY, cors=True)
        if credential != self._publishable_key:
            return error_reply(
                401,
                f"Invalid API Key provided: {mask_key(credential)}. This endpoint "
                "takes the publishable key, as Stripe.js sends it.",
                cors=True,
            )
        problem = self._check_account(incoming, cors=True) or self._check_params(
            incoming, frozenset({"issuing_card"}), cors=True
        )
        if problem is not None:
            return problem
        card_id = dict(incoming.params).get("issuing_card")
        account = incoming.header("stripe-account")
        if not card_id:
            return error_reply(
                400,
                "Missing required param: issuing_card.",
                code="parameter_missing",
                param="issuing_card",
                cors=True,
            )
        if not self._owns(account, card_id):
            return error_reply(
                400,
                f"No such issuing card: '{card_id}'",
                code="resource_missing",
                param="issuing_card",
                cors=True,
            )
        nonce = self._mint_nonce(card_id, account)
        body = {
            "id": nonce,
            "object": "ephemeral_key_nonce",
            "issuing_card": card_id,
            "created": self._now(),
            "livemode": False,
        }
        return Reply(200, body, cors=True)

    # -- GET /v1/issuing/cards/{id} ----------------------------------------

    def _retrieve_card(self, incoming: Incoming, card_id: str) -> Reply:
        problem = (
            self._check_account(incoming, cors=True)
            or self._check_params(incoming, frozenset(), cors=True)
            or self._check_card_reader(incoming, card_id)
        )
        if problem is not None:
            return problem
        return Reply(200, self._card_object(card_id), cors=True)

    def _check_card_reader(self, incoming: Incoming, card_id: str) -> Reply | None:
        """Only the secret key, or a live ephemeral key for this card, reads it."""
        credential = _credential(incoming)
        account = incoming.header("stripe-account")
        if credential == self._api_key:
            return self._check_card_exists(account, card_id)
        if not credential:
            return error_reply(401, _NO_API_KEY, cors=True)
        key_id = self._key_ids_by_secret.get(credential)
        record = None if key_id is None else self._keys[key_id]
        if record is None or record.revoked:
            return error_reply(
                401, f"Invalid API Key provided: {mask_key(credential)}", cors=True
            )
        if record.expires <= self._now():
            return error_reply(
                401,
                f"Expired API Key provided: {mask_key(credential)}",
                code="api_key_expired",
                cors=True,
            )
        if record.card_id != card_id or account not in {None, record.account}:
            return error_reply(
                403,
                f"The provided key '{mask_key(credential)}' does not have access "
                f"to issuing card '{card_id}'.",
                cors=True,
            )
        return None

    def _check_card_exists(self, account: str | None, card_id: str) -> Reply | None:
        if self._owns(account, card_id):
            return None
        return error_reply(
            404,
            f"No such issuing card: '{card_id}'",
            code="resource_missing",
            param="id",
            cors=True,
        )

    def _card_object(self, card_id: str) -> dict[str, object]:
        # Simulated, and never the number or the CVC: those stay in Stripe's
        # iframes, in this fake as in real life.
        year = dt.datetime.fromtimestamp(self._now(), tz=dt.timezone.utc).year
        return {
            "id": card_id,
            "object": "issuing.card",
            "brand": "Visa",
            "currency": "usd",
            "exp_month": 12,
            "exp_year": year + 3,
            "last4": "4242",
            "livemode": False,
            "status": "active",
            "type": "virtual",
            **self._lifecycle.card_fields(self, card_id),
        }

    # -- card lifecycle (testing/_lifecycle.py) -------------------------------
    # Called under the lock, by the lifecycle's routes.

    def check_secret_key(self, incoming: Request) -> Reply | None:
        return self._check_secret_key(cast("Incoming", incoming))

    def check_account(self, incoming: Request) -> Reply | None:
        return self._check_account(cast("Incoming", incoming))

    def reply(self, status: int, body: Mapping[str, object]) -> Reply:
        return Reply(status, body)

    def error(
        self, status: int, message: str, *, code: str | None = None, param: str
    ) -> Reply:
        return error_reply(status, message, code=code, param=param)

    def owns(self, account: str | None, card_id: str) -> bool:
        return self._owns(account, card_id)

    def card_object(self, card_id: str) -> dict[str, object]:
        return self._card_object(card_id)

    def cards_of(self, account: str | None) -> list[str]:
        """The cards *account* owns (``None``: the platform), oldest first."""
        owner = account or _PLATFORM
        return [card for card, held_by in self._cards.items() if held_by == owner]

    def now_locked(self) -> int:
        return self._now()

    # Called by the test and the server, outside the lock.

    @property
    def events(self) -> tuple[StripeEvent, ...]:
        with self._lock:
            return tuple(self._lifecycle.events)

    def block_cardholder(self, cardholder: str) -> None:
        with self._lock:
            if cardholder not in self._lifecycle.holders:
                raise KeyError(cardholder)
            self._lifecycle.set_holder_status(self, cardholder, "blocked")
        self.flush_events()

    def flush_events(self) -> None:
        """Deliver the events made since the last flush, outside the lock.

        The endpoint that receives them calls the fake back (to revoke, to
        list cards), so the lock must be free while it is posted to.
        """
        with self._lock:
            events = self._lifecycle.take_outbox()
            now = self._now()
        if events:
            self.delivery.deliver(events, now)

    def signed_event(
        self, event_id: str, secret: str | None
    ) -> tuple[bytes, dict[str, str]]:
        with self._lock:
            events = [e for e in self._lifecycle.events if e.id == event_id]
            now = self._now()
        if not events:
            raise KeyError(event_id)
        return events[0].body, self.delivery.headers_for(events[0], now, secret)

    def redeliver(self, event_id: str) -> None:
        with self._lock:
            events = [e for e in self._lifecycle.events if e.id == event_id]
            now = self._now()
        if not events:
            raise KeyError(event_id)
        self.delivery.deliver(events, now)


def _secret_key_call(incoming: Incoming) -> bool:
    """A call that takes the secret key: the ones faults and latency apply to."""
    return incoming.method != "OPTIONS" and (
        incoming.path in {EPHEMERAL_KEYS_PATH, ACCOUNT_SESSIONS_PATH}
        or incoming.path.startswith(EPHEMERAL_KEYS_PATH + "/")
        or (incoming.method == "GET" and incoming.path == CARDS_PATH)
    )


def _credential(incoming: Incoming) -> str:
    return _credential_of(incoming.header("authorization") or "")


def _check_version(version: str | None) -> Reply | None:
    if version is None:
        return error_reply(
            400,
            "Creating an ephemeral key requires a Stripe-Version header: the "
            "version that the client (Stripe.js) will use the key with.",
        )
    match = _VERSION.fullmatch(version)
    if match is None:
        return error_reply(400, f"Invalid Stripe API version: {version}")
    if match.group(1) < MINIMUM_API_VERSION:
        return error_reply(
            400,
            f"Ephemeral keys for Issuing cards need Stripe-Version "
            f"{MINIMUM_API_VERSION} or later; this request used {version}.",
        )
    return None


def _key_object(record: EphemeralKeyRecord, *, with_secret: bool) -> dict[str, object]:
    body: dict[str, object] = {
        "id": record.id,
        "object": "ephemeral_key",
        "associated_objects": [{"id": record.card_id, "type": "issuing.card"}],
        "created": record.created,
        "expires": record.expires,
        "livemode": False,
    }
    if with_secret:
        body["secret"] = record.secret
    return body


def _requested_components(
    params: tuple[tuple[str, str], ...],
) -> dict[str, dict[str, object]] | Reply:
    """``components[name][enabled|features][...]`` as Stripe answers them.

    Every simulated component comes back; those the request names with the
    values it asked for, the others disabled with every feature false. An
    empty dict: the request named none. A `Reply`: a refusal.
    """
    enabled: dict[str, bool] = {}
    features: dict[str, dict[str, bool]] = {}
    for name, value in params:
        if name == "account" or _EXPAND.fullmatch(name):
            continue
        match = _COMPONENT_PARAM.fullmatch(name)
        component, part, feature = match.groups() if match else ("", "", None)
        known = (
            COMPONENT_FEATURES[component] if component in SIMULATED_COMPONENTS else ()
        )
        if (
            not known
            or (part == "enabled") != (feature is None)
            or (feature is not None and feature not in known)
        ):
            return error_reply(
                400,
                f"Received unknown parameter: {name}. FakeStripe simulates the "
                "issuing_card and issuing_cards_list components only.",
                param=name,
            )
        if value not in {"true", "false"}:
            return error_reply(
                400,
                f"Invalid boolean: {value}",
                code="parameter_invalid_boolean",
                param=name,
            )
        if feature is None:
            enabled[component] = value == "true"
        else:
            features.setdefault(component, {})[feature] = value == "true"
    for component in features.keys() - enabled.keys():
        param = f"components[{component}][enabled]"
        return error_reply(
            400,
            f"Missing required param: {param}.",
            code="parameter_missing",
            param=param,
        )
    if not enabled:
        return {}
    return {
        component: {
            "enabled": enabled.get(component, False),
            "features": {
                name: features.get(component, {}).get(name, False) for name in known
            },
        }
        for component, known in COMPONENT_FEATURES.items()
    }


def _nonce_error(message: str) -> Reply:
    return error_reply(400, message, param="nonce")
