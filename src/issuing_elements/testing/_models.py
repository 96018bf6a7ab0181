"""The Stripe that FakeStripe pretends to be: its state and its rules, no HTTP.

`StripeState` holds what Stripe would hold (cards and their owners, connected
accounts, cardholders, nonces, ephemeral keys, Account Sessions, events) and
enforces Stripe's rules on it. A rule that refuses raises `StripeError`, which
carries Stripe's error object (``type``, ``code``, ``param``, ``message``) and
the status Stripe answers it with; ``_responses`` renders it. One re-entrant
lock guards the state: the server's threads and the test see one world.

Where Stripe's behaviour is documented (the OpenAPI excerpt, the error shape,
the status codes, the ``Invalid API Key provided: sk_test_****abcd`` masking)
the state follows it. Where it is not (the nonce endpoint that Stripe.js
calls, the exact wording of most messages), it picks something plausible and
says so in ``docs/testing.md``.

Cards and cardholders change status as Stripe's do: a card's ``status`` is
``active``, ``inactive`` or ``canceled`` (``canceled`` is final, and may carry
a ``cancellation_reason``); a cardholder's is ``active``, ``inactive`` or
``blocked`` (``blocked`` is Stripe's to set). Each change makes one event in
Stripe's shape (``issuing_card.updated``, ``issuing_cardholder.updated``),
kept in order and queued for ``_events.EventDelivery`` to post.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import re
import secrets
import string
import threading
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import attrs

from ._events import StripeEvent

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# Stripe's rules are written out here again on purpose, not imported from the
# library's checks: a stand-in that shares the checks of the code under test
# would agree with its mistakes.
MINIMUM_API_VERSION = "2020-03-02"
EVENT_API_VERSION = "2020-03-02"
# Stripe's Account Session lives 30 minutes.
ACCOUNT_SESSION_LIFETIME = 30 * 60

CARD_STATUSES = frozenset({"active", "inactive", "canceled"})
CANCELLATION_REASONS = frozenset({"lost", "stolen", "design_rejected"})
# What the API lets a caller set on a cardholder; Stripe sets blocked itself.
CARDHOLDER_SETTABLE = frozenset({"active", "inactive"})

_ALPHANUMERIC = string.ascii_letters + string.digits
_KEY_PREFIX = re.compile(r"(?:sk|pk|rk|ek)_(?:test|live)_")
_PLATFORM = ""  # the owner of cards added without an account

NO_API_KEY = (
    "You did not provide an API key. You need to provide your API key in the "
    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details."
)


@attrs.frozen(eq=False)
class StripeError(Exception):
    """A refusal, as Stripe answers it: its error object and its status.

    Attributes:
        status: The HTTP status (400, 401, 403, 404, ...).
        message: Stripe's ``error.message``.
        type: Stripe's ``error.type``: ``invalid_request_error``,
            ``idempotency_error``, ``api_error``, ``card_error``.
        code: Stripe's ``error.code`` (``resource_missing``, ...), if any.
        param: The parameter at fault, if any.
    """

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None

    def __str__(self) -> str:
        return self.message


def missing_param(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def no_such(kind: str, object_id: str, param: str) -> StripeError:
    return StripeError(
        404 if param == "id" else 400,
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def _check_status(status: str | None, allowed: frozenset[str]) -> None:
    if status is not None and status not in allowed:
        raise StripeError(
            400, f"Invalid status: must be one of {sorted(allowed)}", param="status"
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


def key_kind(key: str) -> str:
    """``sk_test_``, ``pk_live_``, ...: what *key* is, without the key; or ``""``."""
    match = _KEY_PREFIX.match(key)
    return match.group(0) if match else ""


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


@attrs.define
class _Nonce:
    card_id: str
    account: str | None
    used: bool = False


@attrs.define
class _Cardholder:
    account: str | None
    status: str = "active"


@attrs.frozen
class CardPage:
    """One page of a card list: the cards as Stripe shows them; more to come?"""

    cards: list[dict[str, object]]
    has_more: bool


P = ParamSpec("P")
T = TypeVar("T")


def _locked(method: Callable[P, T]) -> Callable[P, T]:
    """Run *method* under the state's lock (re-entrant: rules call rules)."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        state: StripeState = args[0]  # type: ignore[assignment] # self, always
        with state.lock:
            return method(*args, **kwargs)

    return run


class StripeState:
    """Stripe's state for the endpoints Issuing Elements use, and its rules.

    Every public method is thread-safe. The views (`keys`, `revoked_keys`,
    `account_sessions`, `events`) are tuples of frozen records: a snapshot
    a test can read while the server keeps serving.
    """

    def __init__(
        self,
        *,
        api_key: str,
        publishable_key: str,
        key_lifetime: int,
        clock: Callable[[], float],
    ) -> None:
        self.lock: threading.RLock = threading.RLock()
        self._api_key = api_key
        self._publishable_key = publishable_key
        self._key_lifetime = key_lifetime
        self._clock = clock
        self._offset = 0.0
        self._cards: dict[str, str] = {}  # card id -> account id or _PLATFORM
        self._accounts: set[str] = set()
        self._sessions: list[AccountSessionRecord] = []
        self._nonces: dict[str, _Nonce] = {}
        self._keys: dict[str, EphemeralKeyRecord] = {}  # in order of issue
        self._key_ids_by_secret: dict[str, str] = {}
        self._revoked: list[str] = []
        self._card_status: dict[str, str] = {}
        self._cancellation: dict[str, str] = {}
        self._card_holder: dict[str, str] = {}  # card id -> cardholder id
        self._holders: dict[str, _Cardholder] = {}
        self._events: list[StripeEvent] = []
        self._outbox: list[StripeEvent] = []

    # -- the clock -----------------------------------------------------------

    @_locked
    def now(self) -> int:
        """The fake's time, in epoch seconds."""
        return int(self._clock() + self._offset)

    @_locked
    def advance(self, seconds: float) -> None:
        self._offset += seconds

    # -- the world a test sets up --------------------------------------------

    @_locked
    def add_card(
        self, card_id: str, account: str | None, cardholder: str | None = None
    ) -> None:
        self._cards[card_id] = account or _PLATFORM
        self._card_status.setdefault(card_id, "active")
        if cardholder is not None:
            self._holders.setdefault(cardholder, _Cardholder(account))
            self._card_holder[card_id] = cardholder
        if account is not None:
            self._accounts.add(account)

    @_locked
    def add_account(self, account: str) -> None:
        self._accounts.add(account)

    @_locked
    def create_nonce(self, card_id: str, account: str | None = None) -> str:
        """A nonce for *card_id*, under *account* or the card's owner; no checks.

        As a test mints one; `mint_nonce` is Stripe.js's endpoint, which checks.
        """
        if account is None:
            account = self._cards.get(card_id) or None
        return self._new_nonce(card_id, account)

    # -- who may call --------------------------------------------------------

    def authenticate_secret(self, credential: str) -> None:
        """Refuse unless *credential* is the secret key."""
        if not credential:
            raise StripeError(401, NO_API_KEY)
        if credential == self._publishable_key:
            raise StripeError(
                401,
                "This API call cannot be made with a publishable API key. "
                "Please use a secret API key.",
            )
        if credential != self._api_key:
            raise StripeError(401, f"Invalid API Key provided: {mask_key(credential)}")

    def authenticate_publishable(self, credential: str) -> None:
        """Refuse unless *credential* is the publishable key (Stripe.js's calls)."""
        if not credential:
            raise StripeError(401, NO_API_KEY)
        if credential != self._publishable_key:
            raise StripeError(
                401,
                f"Invalid API Key provided: {mask_key(credential)}. This endpoint "
                "takes the publishable key, as Stripe.js sends it.",
            )

    @_locked
    def authorize_card_reader(
        self, credential: str, account: str | None, card_id: str
    ) -> None:
        """Only the secret key, or a live ephemeral key for this card, reads it."""
        if credential == self._api_key:
            if not self._owns(account, card_id):
                raise no_such("issuing card", card_id, "id")
            return
        if not credential:
            raise StripeError(401, NO_API_KEY)
        key_id = self._key_ids_by_secret.get(credential)
        record = None if key_id is None else self._keys[key_id]
        if record is None or record.revoked:
            raise StripeError(401, f"Invalid API Key provided: {mask_key(credential)}")
        if record.expires <= self.now():
            raise StripeError(
                401,
                f"Expired API Key provided: {mask_key(credential)}",
                code="api_key_expired",
            )
        if record.card_id != card_id or account not in {None, record.account}:
            raise StripeError(
                403,
                f"The provided key '{mask_key(credential)}' does not have access "
                f"to issuing card '{card_id}'.",
            )

    # -- nonces, keys, Account Sessions --------------------------------------

    @_locked
    def mint_nonce(self, card_id: str, account: str | None) -> str:
        """Stripe.js's nonce for a card that *account* owns."""
        if not self._owns(account, card_id):
            raise no_such("issuing card", card_id, "issuing_card")
        return self._new_nonce(card_id, account)

    @_locked
    def issue_key(
        self, card_id: str, nonce: str | None, account: str | None, version: str
    ) -> EphemeralKeyRecord:
        """A key for *card_id*, trading *nonce* (``None``: the mobile SDKs' way)."""
        if not self._owns(account, card_id):
            raise no_such("issuing card", card_id, "issuing_card")
        if nonce is not None:
            self._spend_nonce(nonce, card_id, account)
        created = self.now()
        record = EphemeralKeyRecord(
            id=random_id("ephkey_"),
            secret=ephemeral_key_secret(account),
            card_id=card_id,
            account=account,
            nonce=nonce,
            stripe_version=version,
            created=created,
            expires=created + self._key_lifetime,
        )
        self._keys[record.id] = record
        self._key_ids_by_secret[record.secret] = record.id
        return record

    @_locked
    def revoke_key(self, key_id: str, account: str | None) -> EphemeralKeyRecord:
        record = self._keys.get(key_id)
        # A revoked key is gone, as far as Stripe is concerned.
        if record is None or record.revoked or record.account != account:
            raise no_such("ephemeral key", key_id, "id")
        record = attrs.evolve(record, revoked_at=self.now())
        self._keys[key_id] = record
        self._revoked.append(key_id)
        return record

    @_locked
    def open_account_session(
        self,
        account: str,
        components: Mapping[str, Mapping[str, object]],
        version: str,
    ) -> AccountSessionRecord:
        self.require_account(account)
        created = self.now()
        record = AccountSessionRecord(
            account=account,
            client_secret=account_session_secret(),
            components=components,
            stripe_version=version,
            created=created,
            expires_at=created + ACCOUNT_SESSION_LIFETIME,
        )
        self._sessions.append(record)
        return record

    @_locked
    def require_account(self, account: str) -> None:
        """Refuse a connected account that was never added."""
        if account not in self._accounts:
            raise StripeError(
                400,
                f"No such account: '{account}'",
                code="resource_missing",
                param="account",
            )

    # -- cards and cardholders -----------------------------------------------

    @_locked
    def card(self, card_id: str) -> dict[str, object]:
        """The card as Stripe shows it (never its number or CVC)."""
        year = dt.datetime.fromtimestamp(self.now(), tz=dt.timezone.utc).year
        card: dict[str, object] = {
            "id": card_id,
            "object": "issuing.card",
            "brand": "Visa",
            "currency": "usd",
            "exp_month": 12,
            "exp_year": year + 3,
            "last4": "4242",
            "livemode": False,
            "status": self._card_status.get(card_id, "active"),
            "type": "virtual",
            "cancellation_reason": self._cancellation.get(card_id),
        }
        holder = self._card_holder.get(card_id)
        if holder is not None:
            card["cardholder"] = self._holder_object(holder)
        return card

    @_locked
    def update_card(
        self,
        card_id: str,
        account: str | None,
        status: str | None,
        reason: str | None,
    ) -> dict[str, object]:
        """Set a card's status (and why it was canceled); one event if it changed."""
        if not self._owns(account, card_id):
            raise no_such("issuing card", card_id, "id")
        _check_status(status, CARD_STATUSES)
        if reason is not None and (
            reason not in CANCELLATION_REASONS or status != "canceled"
        ):
            raise StripeError(
                400,
                "cancellation_reason is lost, stolen or design_rejected, with "
                "status=canceled.",
                param="cancellation_reason",
            )
        before = self._card_status.get(card_id, "active")
        if before == "canceled" and status is not None and status != "canceled":
            raise StripeError(
                400, "A canceled card cannot be reactivated.", param="status"
            )
        if status is not None and status != before:
            self._card_status[card_id] = status
            previous: dict[str, object] = {"status": before}
            if reason is not None:
                self._cancellation[card_id] = reason
                previous["cancellation_reason"] = None
            self._emit("issuing_card.updated", account, self.card(card_id), previous)
        return self.card(card_id)

    @_locked
    def update_cardholder(
        self, holder_id: str, account: str | None, status: str | None
    ) -> dict[str, object]:
        """Set a cardholder's status through the API: ``active`` or ``inactive``."""
        holder = self._holders.get(holder_id)
        if holder is None or holder.account != account:
            raise no_such("issuing cardholder", holder_id, "id")
        _check_status(status, CARDHOLDER_SETTABLE)
        if status is not None:
            self._set_holder_status(holder_id, status)
        return self._holder_object(holder_id)

    @_locked
    def block_cardholder(self, holder_id: str) -> None:
        """Block *holder_id* as Stripe does (the API cannot); ``KeyError``: unknown."""
        if holder_id not in self._holders:
            raise KeyError(holder_id)
        self._set_holder_status(holder_id, "blocked")

    @_locked
    def list_cards(
        self,
        account: str | None,
        *,
        cardholder: str | None,
        limit: int,
        starting_after: str | None,
    ) -> CardPage:
        """The cards *account* owns (``None``: the platform), oldest first."""
        owner = account or _PLATFORM
        cards = [
            card
            for card, held_by in self._cards.items()
            if held_by == owner
            and (cardholder is None or self._card_holder.get(card) == cardholder)
        ]
        if starting_after is not None:
            if starting_after not in cards:
                raise no_such("issuing card", starting_after, "starting_after")
            cards = cards[cards.index(starting_after) + 1 :]
        return CardPage([self.card(card) for card in cards[:limit]], len(cards) > limit)

    # -- events --------------------------------------------------------------

    @property
    @_locked
    def events(self) -> tuple[StripeEvent, ...]:
        """Every event made, in order."""
        return tuple(self._events)

    @_locked
    def event(self, event_id: str) -> StripeEvent:
        """The event *event_id*; ``KeyError`` if never made."""
        for event in self._events:
            if event.id == event_id:
                return event
        raise KeyError(event_id)

    @_locked
    def take_outbox(self) -> list[StripeEvent]:
        """The events made since the last call, for delivery outside the lock."""
        taken, self._outbox = self._outbox, []
        return taken

    # -- views ---------------------------------------------------------------

    @property
    @_locked
    def keys(self) -> tuple[EphemeralKeyRecord, ...]:
        """Every key issued, in order, with its current revocation state."""
        return tuple(self._keys.values())

    @property
    @_locked
    def revoked_keys(self) -> tuple[EphemeralKeyRecord, ...]:
        """The keys revoked, in the order of revocation."""
        return tuple(self._keys[key_id] for key_id in self._revoked)

    @_locked
    def key(self, key_id: str) -> EphemeralKeyRecord:
        """The key *key_id* as it stands now; ``KeyError`` if never issued."""
        return self._keys[key_id]

    @property
    @_locked
    def account_sessions(self) -> tuple[AccountSessionRecord, ...]:
        """Every Account Session created, in order."""
        return tuple(self._sessions)

    # -- under the lock ------------------------------------------------------

    def _owns(self, account: str | None, card_id: str) -> bool:
        return self._cards.get(card_id) == (account or _PLATFORM)

    def _new_nonce(self, card_id: str, account: str | None) -> str:
        nonce = random_id("ephkn_pub_")
        self._nonces[nonce] = _Nonce(card_id=card_id, account=account)
        return nonce

    def _spend_nonce(self, nonce: str, card_id: str, account: str | None) -> None:
        bound = self._nonces.get(nonce)
        if bound is None:
            problem = f"No such ephemeral key nonce: '{nonce}'"
        elif bound.used:
            problem = "This nonce has already been used to create a key."
        elif bound.card_id != card_id:
            problem = "This nonce was created for a different issuing card."
        elif bound.account != account:
            problem = "This nonce was created for a different account."
        else:
            bound.used = True
            return
        raise StripeError(400, problem, param="nonce")

    def _set_holder_status(self, holder_id: str, status: str) -> None:
        holder = self._holders[holder_id]
        before = holder.status
        if status == before:
            return
        holder.status = status
        self._emit(
            "issuing_cardholder.updated",
            holder.account,
            self._holder_object(holder_id),
            {"status": before},
        )

    def _holder_object(self, holder_id: str) -> dict[str, object]:
        return {
            "id": holder_id,
            "object": "issuing.cardholder",
            "livemode": False,
            "name": "Fake Cardholder",
            "status": self._holders[holder_id].status,
            "type": "individual",
            "created": self.now(),
        }

    def _emit(
        self,
        event_type: str,
        account: str | None,
        data_object: dict[str, object],
        previous: dict[str, object],
    ) -> None:
        event_id = random_id("evt_")
        document: dict[str, object] = {
            "id": event_id,
            "object": "event",
            "api_version": EVENT_API_VERSION,
            "created": self.now(),
            "data": {"object": data_object, "previous_attributes": previous},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": random_id("req_", 14), "idempotency_key": None},
            "type": event_type,
        }
        if account is not None:
            document["account"] = account
        body = json.dumps(document, indent=2).encode()
        event = StripeEvent(id=event_id, type=event_type, account=account, body=body)
        self._events.append(event)
        self._outbox.append(event)
