"""Stripe's endpoints as handlers: read the request, ask the state, answer JSON.

Each handler takes a parsed request (`Incoming`), checks what Stripe checks at
its door (the key, ``Stripe-Account``, ``Stripe-Version``, the parameters),
calls `StripeState`, and renders the answer as a `Reply` for the server to
write. A refusal is a `StripeError`, raised here or by the state; `answer`
renders it in Stripe's error shape. ``_urls`` says which handler serves which
method and path.
"""

from __future__ import annotations

import base64
import re
import types
from typing import TYPE_CHECKING

import attrs

from ._models import MINIMUM_API_VERSION, StripeError, missing_param

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._models import EphemeralKeyRecord, StripeState

EPHEMERAL_KEYS_PATH = "/v1/ephemeral_keys"
ACCOUNT_SESSIONS_PATH = "/v1/account_sessions"
NONCE_PATH = "/v1/ephemeral_key_nonces"
CARDS_PATH = "/v1/issuing/cards"
CARDHOLDERS_PATH = "/v1/issuing/cardholders"

# Stripe's own ceiling for a string parameter (see the OpenAPI excerpt).
_MAX_STRING = 5000
_MAX_LIMIT = 100
_VERSION = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.[a-z][a-z0-9_]*)?")
_EXPAND = re.compile(r"expand(?:\[\d*\])?")
_COMPONENT_PARAM = re.compile(
    r"components\[([a-z_]+)\]\[(enabled|features)\](?:\[([a-z_]+)\])?"
)
_PLATFORM = ""

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


def _freeze(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(mapping))


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

    @property
    def credential(self) -> str:
        return credential_of(self.header("authorization") or "")

    @property
    def account(self) -> str | None:
        return self.header("stripe-account")


@attrs.frozen
class Reply:
    """What to answer: the server turns it into bytes."""

    status: int
    body: Mapping[str, object] | None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_freeze)
    cors: bool = False


def error_reply(
    error: StripeError, *, cors: bool = False, headers: Mapping[str, str] | None = None
) -> Reply:
    """Stripe's error shape: ``{"error": {"type", "message", "code", "param"}}``.

    ``code`` (with its ``doc_url``) and ``param`` only when they apply.
    """
    body: dict[str, object] = {"type": error.type, "message": error.message}
    if error.code is not None:
        body["code"] = error.code
        body["doc_url"] = "https://stripe.com/docs/error-codes/" + error.code.replace(
            "_", "-"
        )
    if error.param is not None:
        body["param"] = error.param
    return Reply(error.status, {"error": body}, headers or {}, cors)


def credential_of(authorization: str) -> str:
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


@attrs.frozen
class _Saved:
    """A create answer kept for Idempotency-Key replays, as Stripe does."""

    params: tuple[tuple[str, str], ...]
    reply: Reply


class StripeResponses:
    """The handlers, over one `StripeState`; called under its lock by ``_urls``."""

    def __init__(self, state: StripeState) -> None:
        self.state = state
        self._saved: dict[tuple[str, str, str], _Saved] = {}

    # -- POST /v1/ephemeral_keys ---------------------------------------------

    def create_key(self, incoming: Incoming) -> Reply:
        self.state.authenticate_secret(incoming.credential)
        _check_account(incoming)
        _check_version(incoming.header("stripe-version"))
        _check_params(incoming, frozenset({"issuing_card", "nonce"}))
        params = dict(incoming.params)
        card_id = params.get("issuing_card")
        if not card_id:
            raise missing_param("issuing_card")
        version = incoming.header("stripe-version") or ""
        # Without a nonce: the mobile SDKs' push provisioning asks so.
        return self._idempotent(
            incoming,
            lambda: _key_object(
                self.state.issue_key(
                    card_id, params.get("nonce"), incoming.account, version
                ),
                with_secret=True,
            ),
        )

    # -- DELETE /v1/ephemeral_keys/{key_id} ----------------------------------

    def revoke_key(self, incoming: Incoming, key_id: str) -> Reply:
        self.state.authenticate_secret(incoming.credential)
        _check_account(incoming)
        _check_params(incoming, frozenset())
        record = self.state.revoke_key(key_id, incoming.account)
        return Reply(200, _key_object(record, with_secret=False))

    # -- POST /v1/account_sessions -------------------------------------------

    def create_account_session(self, incoming: Incoming) -> Reply:
        self.state.authenticate_secret(incoming.credential)
        if incoming.account is not None:
            raise StripeError(
                400,
                "Account Sessions are created by the platform: name the connected "
                "account in the `account` parameter, not in a Stripe-Account header.",
            )
        components = _requested_components(incoming.params)
        account = dict(incoming.params).get("account")
        if not account:
            raise missing_param("account")
        if not components:
            raise missing_param("components")
        version = incoming.header("stripe-version") or ""
        # An unknown account is refused before any replay, as Stripe checks it first.
        self.state.require_account(account)

        def open_session() -> Mapping[str, object]:
            record = self.state.open_account_session(account, components, version)
            return {
                "object": "account_session",
                "account": record.account,
                "client_secret": record.client_secret,
                "expires_at": record.expires_at,
                "livemode": False,
                "components": record.components,
            }

        return self._idempotent(incoming, open_session)

    # -- POST /v1/ephemeral_key_nonces (Stripe.js's side, simulated) ---------

    def create_nonce(self, incoming: Incoming) -> Reply:
        self.state.authenticate_publishable(incoming.credential)
        _check_account(incoming)
        _check_params(incoming, frozenset({"issuing_card"}))
        card_id = dict(incoming.params).get("issuing_card")
        if not card_id:
            raise missing_param("issuing_card")
        nonce = self.state.mint_nonce(card_id, incoming.account)
        body = {
            "id": nonce,
            "object": "ephemeral_key_nonce",
            "issuing_card": card_id,
            "created": self.state.now(),
            "livemode": False,
        }
        return Reply(200, body)

    # -- GET /v1/issuing/cards/{card_id} -------------------------------------

    def retrieve_card(self, incoming: Incoming, card_id: str) -> Reply:
        _check_account(incoming)
        _check_params(incoming, frozenset())
        self.state.authorize_card_reader(incoming.credential, incoming.account, card_id)
        return Reply(200, self.state.card(card_id))

    # -- card lifecycle: secret key, on the owner's Stripe-Account -----------

    def list_cards(self, incoming: Incoming) -> Reply:
        self._check_card_call(
            incoming, frozenset({"cardholder", "limit", "starting_after"})
        )
        params = dict(incoming.params)
        limit_text = params.get("limit", "10")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= _MAX_LIMIT:
            raise StripeError(
                400, "limit must be an integer between 1 and 100.", param="limit"
            )
        page = self.state.list_cards(
            incoming.account,
            cardholder=params.get("cardholder"),
            limit=int(limit_text),
            starting_after=params.get("starting_after"),
        )
        body = {
            "object": "list",
            "url": CARDS_PATH,
            "has_more": page.has_more,
            "data": page.cards,
        }
        return Reply(200, body)

    def update_card(self, incoming: Incoming, card_id: str) -> Reply:
        self._check_card_call(
            incoming, frozenset({"status", "cancellation_reason", "metadata"})
        )
        params = dict(incoming.params)
        card = self.state.update_card(
            card_id,
            incoming.account,
            params.get("status"),
            params.get("cancellation_reason"),
        )
        return Reply(200, card)

    def update_cardholder(self, incoming: Incoming, holder_id: str) -> Reply:
        self._check_card_call(incoming, frozenset({"status", "metadata"}))
        status = dict(incoming.params).get("status")
        holder = self.state.update_cardholder(holder_id, incoming.account, status)
        return Reply(200, holder)

    # -- shared --------------------------------------------------------------

    def _check_card_call(self, incoming: Incoming, allowed: frozenset[str]) -> None:
        self.state.authenticate_secret(incoming.credential)
        _check_account(incoming)
        for name, _ in incoming.params:
            if name not in allowed and not name.startswith("expand"):
                raise StripeError(
                    400, f"Received unknown parameter: {name}", param=name
                )

    def _idempotent(
        self, incoming: Incoming, create: Callable[[], Mapping[str, object]]
    ) -> Reply:
        """*create*'s answer, or the one saved under the same ``Idempotency-Key``.

        A refusal is saved and replayed too, as Stripe does.
        """
        idempotency_key = incoming.header("idempotency-key")
        saved_as = (
            incoming.path,
            incoming.account or _PLATFORM,
            idempotency_key or "",
        )
        saved = self._saved.get(saved_as) if idempotency_key else None
        if saved is not None:
            if saved.params != incoming.params:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with. Try using a key other "
                    f"than '{idempotency_key}' if you meant to execute a "
                    "different request.",
                    type="idempotency_error",
                )
            return attrs.evolve(
                saved.reply,
                headers={**saved.reply.headers, "Idempotent-Replayed": "true"},
            )
        try:
            reply = Reply(200, create())
        except StripeError as error:
            reply = error_reply(error)
        if idempotency_key:
            self._saved[saved_as] = _Saved(incoming.params, reply)
        return reply


def _check_account(incoming: Incoming) -> None:
    account = incoming.account
    if account is not None and not account.startswith("acct_"):
        raise StripeError(
            403,
            f"The provided key does not have access to account '{account}' "
            "(or that account does not exist).",
        )


def _check_params(incoming: Incoming, allowed: frozenset[str]) -> None:
    for name, value in incoming.params:
        if _EXPAND.fullmatch(name):
            continue
        if name in {"customer", "verification_session"} and name not in allowed:
            raise StripeError(
                400,
                f"FakeStripe simulates ephemeral keys for Issuing cards only; "
                f"`{name}` is a real Stripe parameter that it does not support.",
                param=name,
            )
        if name not in allowed:
            raise StripeError(400, f"Received unknown parameter: {name}", param=name)
        if len(value) > _MAX_STRING:
            raise StripeError(
                400,
                f"Invalid string: {value[:20]}...; must be at most "
                f"{_MAX_STRING} characters",
                param=name,
            )


def _check_version(version: str | None) -> None:
    if version is None:
        raise StripeError(
            400,
            "Creating an ephemeral key requires a Stripe-Version header: the "
            "version that the client (Stripe.js) will use the key with.",
        )
    match = _VERSION.fullmatch(version)
    if match is None:
        raise StripeError(400, f"Invalid Stripe API version: {version}")
    if match.group(1) < MINIMUM_API_VERSION:
        raise StripeError(
            400,
            f"Ephemeral keys for Issuing cards need Stripe-Version "
            f"{MINIMUM_API_VERSION} or later; this request used {version}.",
        )


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
) -> dict[str, dict[str, object]]:
    """``components[name][enabled|features][...]`` as Stripe answers them.

    Every component comes back; those the request names with the values it
    asked for, the others disabled with every feature false. An empty dict:
    the request named none.
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
            raise StripeError(
                400,
                f"Received unknown parameter: {name}. FakeStripe simulates the "
                "issuing_card and issuing_cards_list components only.",
                param=name,
            )
        if value not in {"true", "false"}:
            raise StripeError(
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
        raise missing_param(f"components[{component}][enabled]")
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
