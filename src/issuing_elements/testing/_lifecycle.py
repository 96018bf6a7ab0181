"""Cards and cardholders that change status, and the events Stripe sends for it.

Stripe's rules, simulated: a card's ``status`` is ``active``, ``inactive``
or ``canceled`` (``canceled`` is final, and may carry a
``cancellation_reason``: ``lost`` or ``stolen``); a cardholder's is
``active``, ``inactive`` or ``blocked`` (``blocked`` is Stripe's to set, so
the API takes ``active`` or ``inactive`` and `FakeStripe.block_cardholder`
plays Stripe). Each change makes one event in Stripe's shape
(``issuing_card.updated``, ``issuing_cardholder.updated``, with
``data.previous_attributes`` and, for a connected account's card,
``account``), which `EventDelivery` posts, signed, to the endpoint the test
names.

Routes: ``POST /v1/issuing/cards/{id}``, ``POST /v1/issuing/cardholders/{id}``
and ``GET /v1/issuing/cards?cardholder=...`` (``limit``, ``starting_after``,
``has_more``), each with the secret key, on the ``Stripe-Account`` that
owns the object.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Protocol, TypeVar

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

CARDS_PATH = "/v1/issuing/cards"
CARDHOLDERS_PATH = "/v1/issuing/cardholders"

CARD_STATUSES = frozenset({"active", "inactive", "canceled"})
CANCELLATION_REASONS = frozenset({"lost", "stolen", "design_rejected"})
CARDHOLDER_STATUSES = frozenset({"active", "inactive", "blocked"})
# What the API lets a caller set on a cardholder; Stripe sets blocked itself.
CARDHOLDER_SETTABLE = frozenset({"active", "inactive"})
EVENT_API_VERSION = "2020-03-02"
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
_MAX_LIMIT = 100
_ALPHANUMERIC = string.ascii_letters + string.digits

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Request(Protocol):
    """A request as the simulation parsed it (``_simulation.Incoming``)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def params(self) -> tuple[tuple[str, str], ...]: ...
    def header(self, name: str) -> str | None: ...


class Host(Protocol[R_co]):
    """What the lifecycle needs of the simulation, called under its lock.

    *R_co* is the simulation's reply; the lifecycle makes its replies through
    the host, so that the two modules do not import each other.
    """

    def check_secret_key(self, incoming: Request) -> R_co | None: ...
    def check_account(self, incoming: Request) -> R_co | None: ...
    def owns(self, account: str | None, card_id: str) -> bool: ...
    def card_object(self, card_id: str) -> dict[str, object]: ...
    def cards_of(self, account: str | None) -> list[str]: ...
    def now_locked(self) -> int: ...
    def reply(self, status: int, body: Mapping[str, object]) -> R_co: ...
    def error(
        self, status: int, message: str, *, code: str | None = None, param: str
    ) -> R_co: ...


def _random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


@attrs.frozen
class StripeEvent:
    """An event the fake made, as Stripe would send it.

    Attributes:
        id: ``evt_...``.
        type: ``issuing_card.updated`` or ``issuing_cardholder.updated``.
        account: The connected account it happened on, ``None`` for the
            platform.
        body: The JSON body, exactly as delivered (bytes).
    """

    id: str
    type: str
    account: str | None
    body: bytes = attrs.field(repr=False)

    def payload(self) -> dict[str, object]:
        """The body, parsed."""
        loaded: dict[str, object] = json.loads(self.body)
        return loaded


@attrs.frozen
class Delivery:
    """One POST of an event to the webhook endpoint, and what came back.

    Attributes:
        event_id: The event delivered.
        headers: The request's headers (``Stripe-Signature`` included).
        status: The endpoint's status, ``None`` if it could not be reached.
        body: The endpoint's answer.
    """

    event_id: str
    headers: Mapping[str, str]
    status: int | None
    body: bytes = attrs.field(repr=False)


@attrs.define
class _Cardholder:
    account: str | None
    status: str = "active"


@attrs.define
class Lifecycle:
    """The statuses of cards and cardholders, and the events their changes make.

    Guarded by the simulation's lock: every method runs under it.
    """

    card_status: dict[str, str] = attrs.Factory(dict)
    cancellation: dict[str, str] = attrs.Factory(dict)
    card_holder: dict[str, str] = attrs.Factory(dict)  # card id -> cardholder id
    holders: dict[str, _Cardholder] = attrs.Factory(dict)
    events: list[StripeEvent] = attrs.Factory(list)
    outbox: list[StripeEvent] = attrs.Factory(list)

    def add_card(
        self, card_id: str, account: str | None, cardholder: str | None
    ) -> None:
        self.card_status.setdefault(card_id, "active")
        if cardholder is not None:
            self.holders.setdefault(cardholder, _Cardholder(account))
            self.card_holder[card_id] = cardholder

    def card_fields(self, sim: Host[R], card_id: str) -> dict[str, object]:
        """What a card object shows of its status and its cardholder."""
        fields: dict[str, object] = {
            "status": self.card_status.get(card_id, "active"),
            "cancellation_reason": self.cancellation.get(card_id),
        }
        holder = self.card_holder.get(card_id)
        if holder is not None:
            fields["cardholder"] = self._holder_object(sim, holder)
        return fields

    def take_outbox(self) -> list[StripeEvent]:
        taken, self.outbox = self.outbox, []
        return taken

    # -- routes ---------------------------------------------------------------

    def answer(self, sim: Host[R], incoming: Request) -> R | None:
        """The reply to a lifecycle route, or ``None`` for another route."""
        method, path = incoming.method, incoming.path
        if method == "GET" and path == CARDS_PATH:
            return self._list_cards(sim, incoming)
        if method == "POST" and path.startswith(CARDS_PATH + "/"):
            return self._update_card(sim, incoming, path.removeprefix(CARDS_PATH + "/"))
        if method == "POST" and path.startswith(CARDHOLDERS_PATH + "/"):
            return self._update_cardholder(
                sim, incoming, path.removeprefix(CARDHOLDERS_PATH + "/")
            )
        return None

    def _checked(
        self, sim: Host[R], incoming: Request, allowed: frozenset[str]
    ) -> R | None:

        problem = sim.check_secret_key(incoming) or sim.check_account(incoming)
        if problem is not None:
            return problem
        for name, _ in incoming.params:
            if name not in allowed and not name.startswith("expand"):
                return sim.error(400, f"Received unknown parameter: {name}", param=name)
        return None

    def _update_card(self, sim: Host[R], incoming: Request, card_id: str) -> R:

        problem = self._checked(
            sim, incoming, frozenset({"status", "cancellation_reason", "metadata"})
        )
        if problem is not None:
            return problem
        account = incoming.header("stripe-account")
        if not sim.owns(account, card_id):
            return sim.error(
                404,
                f"No such issuing card: '{card_id}'",
                code="resource_missing",
                param="id",
            )
        params = dict(incoming.params)
        status = params.get("status")
        reason = params.get("cancellation_reason")
        if status is not None and status not in CARD_STATUSES:
            return sim.error(
                400,
                f"Invalid status: must be one of {sorted(CARD_STATUSES)}",
                param="status",
            )
        if reason is not None and (
            reason not in CANCELLATION_REASONS or status != "canceled"
        ):
            return sim.error(
                400,
                "cancellation_reason is lost, stolen or design_rejected, with "
                "status=canceled.",
                param="cancellation_reason",
            )
        before = self.card_status.get(card_id, "active")
        if before == "canceled" and status is not None and status != "canceled":
            return sim.error(
                400, "A canceled card cannot be reactivated.", param="status"
            )
        if status is not None and status != before:
            self.card_status[card_id] = status
            previous: dict[str, object] = {"status": before}
            if reason is not None:
                self.cancellation[card_id] = reason
                previous["cancellation_reason"] = None
            self._emit(
                sim,
                "issuing_card.updated",
                account,
                sim.card_object(card_id),
                previous,
            )
        return sim.reply(200, sim.card_object(card_id))

    def _update_cardholder(self, sim: Host[R], incoming: Request, holder_id: str) -> R:

        problem = self._checked(sim, incoming, frozenset({"status", "metadata"}))
        if problem is not None:
            return problem
        account = incoming.header("stripe-account")
        holder = self.holders.get(holder_id)
        if holder is None or holder.account != account:
            return sim.error(
                404,
                f"No such issuing cardholder: '{holder_id}'",
                code="resource_missing",
                param="id",
            )
        status = dict(incoming.params).get("status")
        if status is not None and status not in CARDHOLDER_SETTABLE:
            return sim.error(
                400,
                f"Invalid status: must be one of {sorted(CARDHOLDER_SETTABLE)}",
                param="status",
            )
        if status is not None:
            self.set_holder_status(sim, holder_id, status)
        return sim.reply(200, self._holder_object(sim, holder_id))

    def set_holder_status(self, sim: Host[R], holder_id: str, status: str) -> None:
        holder = self.holders[holder_id]
        before = holder.status
        if status == before:
            return
        holder.status = status
        self._emit(
            sim,
            "issuing_cardholder.updated",
            holder.account,
            self._holder_object(sim, holder_id),
            {"status": before},
        )

    def _list_cards(self, sim: Host[R], incoming: Request) -> R:

        problem = self._checked(
            sim, incoming, frozenset({"cardholder", "limit", "starting_after"})
        )
        if problem is not None:
            return problem
        account = incoming.header("stripe-account")
        params = dict(incoming.params)
        limit_text = params.get("limit", "10")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= _MAX_LIMIT:
            return sim.error(
                400, "limit must be an integer between 1 and 100.", param="limit"
            )
        holder = params.get("cardholder")
        cards = [
            card_id
            for card_id in sim.cards_of(account)
            if holder is None or self.card_holder.get(card_id) == holder
        ]
        after = params.get("starting_after")
        if after is not None:
            if after not in cards:
                return sim.error(
                    400,
                    f"No such issuing card: '{after}'",
                    code="resource_missing",
                    param="starting_after",
                )
            cards = cards[cards.index(after) + 1 :]
        limit = int(limit_text)
        body = {
            "object": "list",
            "url": CARDS_PATH,
            "has_more": len(cards) > limit,
            "data": [sim.card_object(card_id) for card_id in cards[:limit]],
        }
        return sim.reply(200, body)

    # -- events -----------------------------------------------------------------

    def _holder_object(self, sim: Host[R], holder_id: str) -> dict[str, object]:
        holder = self.holders[holder_id]
        return {
            "id": holder_id,
            "object": "issuing.cardholder",
            "livemode": False,
            "name": "Fake Cardholder",
            "status": holder.status,
            "type": "individual",
            "created": sim.now_locked(),
        }

    def _emit(
        self,
        sim: Host[R],
        event_type: str,
        account: str | None,
        data_object: dict[str, object],
        previous: dict[str, object],
    ) -> None:

        event_id = _random_id("evt_")
        document: dict[str, object] = {
            "id": event_id,
            "object": "event",
            "api_version": EVENT_API_VERSION,
            "created": sim.now_locked(),
            "data": {"object": data_object, "previous_attributes": previous},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": _random_id("req_", 14), "idempotency_key": None},
            "type": event_type,
        }
        if account is not None:
            document["account"] = account
        body = json.dumps(document, indent=2).encode()
        event = StripeEvent(id=event_id, type=event_type, account=account, body=body)
        self.events.append(event)
        self.outbox.append(event)


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """``Stripe-Signature`` as Stripe writes it: ``t=<seconds>,v1=<hex>``.

    Written out here on purpose, not taken from stripe-python: the code
    under test verifies with stripe-python, and a stand-in that borrowed
    its code would agree with its mistakes.
    """
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class EventDelivery:
    """Where the fake posts its events, signed with the endpoint's secret."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._url: str | None = None
        self._secret: str | None = None
        self._deliveries: list[Delivery] = []

    def configure(self, url: str | None, secret: str | None) -> None:
        if (url is None) != (secret is None):
            raise ValueError("give both webhook_url and webhook_secret, or neither")
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        if secret is not None and not secret.startswith("whsec_"):
            raise ValueError("webhook_secret must be a signing secret (whsec_...)")
        with self._lock:
            self._url, self._secret = url, secret

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        with self._lock:
            return tuple(self._deliveries)

    def headers_for(
        self, event: StripeEvent, now: int, secret: str | None = None
    ) -> dict[str, str]:
        """The headers Stripe sends with *event*, signed with *secret* (or the
        endpoint's)."""
        if secret is None:
            with self._lock:
                secret = self._secret
        if secret is None or not secret.startswith("whsec_"):
            raise ValueError("sign with a webhook signing secret (whsec_...)")
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": signature_header(event.body, secret, now),
        }

    def deliver(self, events: list[StripeEvent], now: int) -> None:
        """POST each event, in order, to the endpoint, if one is configured."""
        with self._lock:
            url = self._url
        if url is None:
            return
        for event in events:
            headers = self.headers_for(event, now)
            status, answer = _post(url, event.body, headers)
            with self._lock:
                self._deliveries.append(
                    Delivery(
                        event_id=event.id, headers=headers, status=status, body=answer
                    )
                )


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked in configure
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the same
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None, b""
