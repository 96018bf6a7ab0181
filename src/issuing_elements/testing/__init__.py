"""Test helpers: `FakeStripe`, a local stand-in for Stripe's ephemeral-key API.

A real HTTP server on ``127.0.0.1`` (a free port, stdlib only) that answers
like Stripe for the calls Issuing Elements make: nonces bound to one card and
good once, connected accounts, key expiry on a clock you can move, revocation,
Stripe's error shapes and status codes, and faults on demand. Point the real
``stripe.StripeClient`` at it with
[`FakeStripe.client`][issuing_elements.testing.FakeStripe.client]::

    from issuing_elements.testing import FakeStripe

    with FakeStripe() as fake:
        fake.add_card("ic_demo")
        key = fake.client().v1.ephemeral_keys.create(
            params={"issuing_card": "ic_demo", "nonce": fake.create_nonce("ic_demo")},
            options={"stripe_version": "2020-03-02"},
        )
        assert [key.id] == [record.id for record in fake.keys]

Run one on its own, for several processes to share (a multi-worker app, a
browser, a test)::

    python -m issuing_elements.testing --port 0 --card ic_demo@acct_demo

``import issuing_elements`` does not import this package. See
``docs/testing.md`` for the endpoints, the errors and what is simulated.
"""

from __future__ import annotations

import importlib.util
import socket
import time
from typing import TYPE_CHECKING, Any

import stripe
from typing_extensions import Self

from ._events import Delivery, EventDelivery, StripeEvent
from ._faults import Fault, Faults
from ._models import AccountSessionRecord, EphemeralKeyRecord, StripeError, StripeState
from ._recording import RecordedRequest, Recording
from ._server import FakeStripeServer
from ._urls import Dispatcher

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from ._client import FakeStripeHTTPClient

__all__ = [
    "AccountSessionRecord",
    "Delivery",
    "EphemeralKeyRecord",
    "FakeStripe",
    "RecordedRequest",
    "StripeError",
    "StripeEvent",
    "StripeState",
    "free_port",
]

# The stripe-python base addresses; all of them point at the fake, so that no
# request of a test can reach the real Stripe by accident.
_BASE_ADDRESSES = ("api", "connect", "files", "meter_events")


class FakeStripe:
    """A local, stateful stand-in for Stripe's ephemeral-key endpoints.

    Args:
        api_key: The secret key the fake accepts (``sk_test_...``).
        publishable_key: The publishable key its browser-facing endpoints
            accept (``pk_test_...``).
        key_lifetime: Seconds from a key's ``created`` to its ``expires``;
            Stripe's is 15 minutes.
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one.
        clock: Epoch seconds;
            [`advance`][issuing_elements.testing.FakeStripe.advance] moves
            the fake's time on from it.
        latency: Seconds every secret-key call waits before its answer, as
            from a far-away Stripe;
            [`set_latency`][issuing_elements.testing.FakeStripe.set_latency]
            changes it. One-off delays are
            [`delay_next`][issuing_elements.testing.FakeStripe.delay_next]'s.
        webhook_url: Where to post the events that card and cardholder
            status changes make (``issuing_card.updated``,
            ``issuing_cardholder.updated``), as Stripe posts them to a
            webhook endpoint;
            [`deliver_events_to`][issuing_elements.testing.FakeStripe.deliver_events_to]
            sets it later.
        webhook_secret: The endpoint's signing secret (``whsec_...``):
            each event carries ``Stripe-Signature: t=...,v1=...``.

    Use it as a context manager, or call
    [`start`][issuing_elements.testing.FakeStripe.start] and
    [`close`][issuing_elements.testing.FakeStripe.close].
    Every method is thread-safe.
    """

    def __init__(  # noqa: PLR0913 - each one a documented knob with a default
        self,
        *,
        api_key: str = "sk_test_fake_issuing_elements",
        publishable_key: str = "pk_test_fake_issuing_elements",
        key_lifetime: int = 900,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        latency: float = 0.0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        if not api_key.startswith("sk_test_"):
            raise ValueError("api_key must be a test secret key (sk_test_...)")
        if not publishable_key.startswith("pk_test_"):
            raise ValueError(
                "publishable_key must be a test publishable key (pk_test_...)"
            )
        if key_lifetime <= 0:
            raise ValueError("key_lifetime must be a positive number of seconds")
        _check_seconds(latency, "latency")
        self._api_key = api_key
        self._publishable_key = publishable_key
        self._address = (host, port)
        self._state = StripeState(
            api_key=api_key,
            publishable_key=publishable_key,
            key_lifetime=key_lifetime,
            clock=clock,
        )
        self._faults = Faults(latency)
        self._recording = Recording()
        self._delivery = EventDelivery()
        self._delivery.configure(webhook_url, webhook_secret)
        self._dispatcher = Dispatcher(self._state, self._recording, self._delivery)
        self._server: FakeStripeServer | None = None
        self._closed = False
        self._http_clients: list[FakeStripeHTTPClient] = []

    def __repr__(self) -> str:
        state = (
            "closed"
            if self._closed
            else self._server.url
            if self._server
            else "not started"
        )
        return f"<FakeStripe {state}>"

    # -- life cycle ----------------------------------------------------------

    def start(self) -> Self:
        """Listen and serve in a daemon thread; returns the fake itself."""
        if self._server is not None or self._closed:
            raise RuntimeError("a FakeStripe starts once")
        self._server = FakeStripeServer(self._address, self._dispatcher, self._faults)
        self._server.start()
        return self

    def close(self) -> None:
        """Stop the server, cut its connections, close the clients it made.

        Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        for http_client in self._http_clients:
            http_client.close()
        if self._server is not None:
            self._server.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- connecting ----------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, once started."""
        if self._server is None:
            raise RuntimeError(
                "FakeStripe is not started: use `with FakeStripe()` or start()"
            )
        return self._server.url

    @property
    def api_key(self) -> str:
        """The (fake) secret key that the secret-key endpoints accept."""
        return self._api_key

    @property
    def publishable_key(self) -> str:
        """The (fake) publishable key for the nonce and card endpoints."""
        return self._publishable_key

    def client(self, *, timeout: float = 80.0, **kwargs: Any) -> stripe.StripeClient:
        """A ``stripe.StripeClient`` for this fake, usable sync and async.

        It authenticates with [`api_key`][issuing_elements.testing.FakeStripe.api_key]
        and sends every base address
        to [`url`][issuing_elements.testing.FakeStripe.url]. Other keyword arguments go
        to ``StripeClient`` and
        win (``api_key="sk_test_wrong"``, ``max_network_retries=1``,
        ``http_client=...``). Unless one is given, the HTTP client is an
        httpx one when httpx is installed (``stripe[async]``): it serves sync
        and ``*_async`` calls, gives up after *timeout* seconds, and
        [`close`][issuing_elements.testing.FakeStripe.close] closes it. Without httpx,
        stripe-python picks its own.
        """
        options: dict[str, Any] = {
            "base_addresses": dict.fromkeys(_BASE_ADDRESSES, self.url),
            **kwargs,
        }
        api_key = options.pop("api_key", self._api_key)
        if "http_client" not in options and _httpx_installed():
            from ._client import FakeStripeHTTPClient  # noqa: PLC0415 - httpx is optional

            http_client = FakeStripeHTTPClient(timeout=timeout)
            self._http_clients.append(http_client)
            options["http_client"] = http_client
        return stripe.StripeClient(api_key, **options)

    # -- the world -----------------------------------------------------------

    @property
    def state(self) -> StripeState:
        """Stripe's state behind this fake, and its rules, without HTTP.

        Read it (``fake.state.keys``, ``fake.state.events``) or call its
        rules directly (``fake.state.issue_key(...)``), which raise
        [`StripeError`][issuing_elements.testing.StripeError] as the
        endpoints answer it. The methods below are shortcuts over it.
        """
        return self._state

    def add_card(
        self,
        card_id: str,
        *,
        account: str | None = None,
        cardholder: str | None = None,
    ) -> None:
        """Register an Issuing card, owned by the platform or by *account*.

        *cardholder* (``ich_...``) is its cardholder, registered on the same
        account with its first card; ``GET /v1/issuing/cards?cardholder=``
        lists a cardholder's cards.
        """
        _check_card_id(card_id)
        _check_account(account)
        _check_cardholder(cardholder)
        self._state.add_card(card_id, account, cardholder)

    def add_account(self, account: str) -> None:
        """Register a connected account, for ``POST /v1/account_sessions``.

        `add_card` with an *account* registers that account too.
        """
        _check_account(account)
        self._state.add_account(account)

    def create_nonce(self, card_id: str, *, account: str | None = None) -> str:
        """Mint a nonce for *card_id*, as ``stripe.createEphemeralKeyNonce`` would.

        The nonce is good for one key, for that card, under *account* (by
        default the account that owns the card; the platform for a card that
        was never added).
        """
        _check_card_id(card_id)
        _check_account(account)
        return self._state.create_nonce(card_id, account)

    def now(self) -> int:
        """The fake's time, in epoch seconds."""
        return self._state.now()

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on, for example past a key's ``expires``."""
        self._state.advance(seconds)

    # -- card lifecycle events (see testing/_models.py and _events.py) --------

    def deliver_events_to(self, url: str | None, secret: str | None) -> None:
        """Post every event from now on to *url*, signed with *secret*.

        As a Stripe webhook endpoint gets them (or ``stripe listen
        --forward-to``): JSON, ``Stripe-Signature: t=<seconds>,v1=<HMAC-SHA256
        of "t.body">``, one POST per event, before the update that made it
        is answered. ``None`` and ``None`` stop delivering.
        """
        self._delivery.configure(url, secret)

    def block_cardholder(self, cardholder: str) -> None:
        """Block *cardholder*, as Stripe does (the API cannot): one event."""
        _check_cardholder(cardholder)
        self._state.block_cardholder(cardholder)
        self._dispatcher.flush_events()

    def signed_event(
        self, event_id: str, *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would post for the event *event_id*, now.

        For posting it yourself, through a framework's test client (no
        server to deliver to): the ``Stripe-Signature`` is made with *secret*,
        by default the one given to
        [`deliver_events_to`][issuing_elements.testing.FakeStripe.deliver_events_to].
        """
        event = self._state.event(event_id)
        return event.body, self._delivery.headers_for(event, self.now(), secret)

    def redeliver(self, event_id: str) -> None:
        """Post the event *event_id* again, signed anew, as Stripe's retries do."""
        self._delivery.deliver([self._state.event(event_id)], self.now())

    @property
    def events(self) -> tuple[StripeEvent, ...]:
        """Every event the fake made, in order."""
        return self._state.events

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """Every POST of an event to the webhook endpoint, and its answer."""
        return self._delivery.deliveries

    # -- latency: for the secret-key endpoints, every call -------------------

    @property
    def latency(self) -> float:
        """Seconds every secret-key call waits before its answer (0: none)."""
        return self._faults.latency

    def set_latency(self, seconds: float) -> None:
        """Make every secret-key call from now on wait *seconds*, then answer.

        A steady latency, as from a far-away Stripe, unlike
        [`delay_next`][issuing_elements.testing.FakeStripe.delay_next]'s
        one-off faults (which add to it). Calls are
        held in parallel, one thread per connection: 500 concurrent calls
        at 0.1 s take about 0.1 s, not 50. The browser-facing endpoints
        answer at once.
        """
        _check_seconds(seconds)
        self._faults.latency = seconds

    # -- faults: for the secret-key endpoints, consumed in order ------------

    def fail_next(  # noqa: PLR0913 - each one shapes the answer
        self,
        status: int = 503,
        *,
        times: int = 1,
        retry_after: int | None = None,
        stripe_should_retry: bool | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next *times* secret-key calls with a Stripe error.

        The error has the type Stripe uses for *status* (``api_error`` for
        5xx, ``invalid_request_error`` otherwise; 429 gets code
        ``rate_limit``). *retry_after* sets ``Retry-After``;
        *stripe_should_retry* sets ``Stripe-Should-Retry``, which
        stripe-python obeys. The request does not reach the simulation: no
        nonce is used.
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        fault = Fault(
            "fail",
            status=status,
            retry_after=retry_after,
            stripe_should_retry=stripe_should_retry,
            code=code,
            message=message,
        )
        self._faults.add(fault, _check_times(times))

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next *times* secret-key calls for *seconds*, then answer.

        On top of the steady
        [`latency`][issuing_elements.testing.FakeStripe.latency].
        """
        _check_seconds(seconds)
        self._faults.add(Fault("delay", seconds=seconds), _check_times(times))

    def drop_next(self, *, times: int = 1, after_processing: bool = False) -> None:
        """Close the connection of the next *times* secret-key calls, unanswered.

        With *after_processing* the fake does the work first (a key is
        issued, the nonce used) and loses only the answer; a retry with the
        same ``Idempotency-Key`` then gets the saved answer, as from Stripe.
        """
        fault = Fault("drop", after_processing=after_processing)
        self._faults.add(fault, _check_times(times))

    def clear_faults(self) -> None:
        """Forget the faults not yet used."""
        self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many injected faults are still to come."""
        return self._faults.pending

    # -- inspection ----------------------------------------------------------

    @property
    def keys(self) -> tuple[EphemeralKeyRecord, ...]:
        """Every key issued, in order, with its current revocation state."""
        return self._state.keys

    @property
    def revoked_keys(self) -> tuple[EphemeralKeyRecord, ...]:
        """The keys revoked, in the order of revocation."""
        return self._state.revoked_keys

    def key(self, key_id: str) -> EphemeralKeyRecord:
        """The key *key_id* as it stands now; ``KeyError`` if never issued."""
        return self._state.key(key_id)

    @property
    def account_sessions(self) -> tuple[AccountSessionRecord, ...]:
        """Every Account Session created, in order."""
        return self._state.account_sessions

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every request received, in order, with keys redacted."""
        return self._recording.requests

    @property
    def connections(self) -> int:
        """The TCP connections the fake accepted since it started.

        How many a client opened for its calls: one for many calls when it
        keeps connections alive, one per call when it does not.
        """
        return 0 if self._server is None else self._server.accepted


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on *host* that was free a moment ago.

    For servers that cannot pick their own (``uvicorn --port``,
    ``redis-server``): another process may take it first, so retry on a
    clash where that matters.
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _httpx_installed() -> bool:
    return all(importlib.util.find_spec(name) for name in ("httpx", "anyio"))


def _check_card_id(card_id: str) -> None:
    if not card_id.startswith("ic_"):
        raise ValueError(f"card ids start with 'ic_', not {card_id!r}")


def _check_account(account: str | None) -> None:
    if account is not None and not account.startswith("acct_"):
        raise ValueError(f"connected account ids start with 'acct_', not {account!r}")


def _check_cardholder(cardholder: str | None) -> None:
    if cardholder is not None and not cardholder.startswith("ich_"):
        raise ValueError(f"cardholder ids start with 'ich_', not {cardholder!r}")


def _check_seconds(seconds: float, name: str = "seconds") -> None:
    if seconds < 0:
        raise ValueError(f"{name} must not be negative")


def _check_times(times: int) -> int:
    if times < 1:
        raise ValueError("times must be at least 1")
    return times
