"""No secret rides in an exception or an ERROR line, as an error tracker reads them.

The real sentry-sdk, set up as an application would (its defaults: the local
variables of every frame, the stack of every event, log lines as
breadcrumbs; plus ERROR lines as events, sentry-sdk 2's default), sends its
events to memory. Every error path of every door that comes after Stripe made
a key or a session is driven, sync and async; each exception a door raises or
lets through is captured, as an application's handler or the tracker's
framework integration would. No piece of the key's or the session's secret
may be in the events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sentry_sdk
import stripe
from pytest_httpserver import HTTPServer
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

from doors_and_twins import Twin
from issuing_elements import (
    AccountSessionGrant,
    AuditEvent,
    EphemeralKeyIssuer,
    IssuedKey,
    IssuingCardComponent,
    LiveKey,
    MemoryKeyLedger,
)
from issuing_elements._driver import arun, run
from issuing_elements._needs import Flow, Need, ask
from issuing_elements.exceptions import ServerMisconfiguredError
from issuing_elements.testing import FakeStripe
from stripe_wire import CARD, KEY_SECRET, NONCE, key_object

ACCOUNT = "acct_1FakeTracked"
JSON = "application/json"
MOBILE_VERSION = "2024-06-20"
SESSION_VERSION = "2025-01-27.acacia"
# An Account Session's secret in each of Stripe's two shapes, fake.
SESSION_SECRETS = {
    "bare": "_FakeTrackedSessionSecret0aBcDeFgHiJkLmNoPqRsTu",
    "accs_secret": "accs_secret__FakeTrackedSessionSecret0aBcDeFgHiJ",
}
KEY_DOORS = ["issue", "handle", "issue_mobile", "handle_mobile"]
SESSION_DOORS = ["create_account_session", "handle_account_session"]
TWINS = ["sync", "async"]


class Memory(Transport):
    """sentry-sdk's transport, keeping each envelope as the text it would send."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.sent.append(envelope.serialize().decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def tracker() -> Iterator[Memory]:
    memory = Memory()
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=memory,
        # sentry-sdk 3's default (2's is off): the stack of every event.
        attach_stacktrace=True,
        # sentry-sdk 2's default (3's is breadcrumbs only): ERROR lines,
        # with their exc_info, become events.
        integrations=[LoggingIntegration(event_level=logging.ERROR)],
        # The web frameworks' integrations are the examples' business, and
        # would stay patched into them for the rest of the session.
        auto_enabling_integrations=False,
    )
    yield memory
    sentry_sdk.flush()
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def events(tracker: Memory) -> list[str]:
    """The events of this test alone."""
    sentry_sdk.get_isolation_scope().clear_breadcrumbs()
    tracker.sent.clear()
    return tracker.sent


def errors_in(events: list[str]) -> int:
    """How many error events (an exception, an ERROR line) were sent, logs aside."""
    lines = [line for envelope in events for line in envelope.splitlines()]
    # An envelope is a header line, then each item's header line and payload.
    return sum(1 for line in lines if _is_event_header(line))


def _is_event_header(line: str) -> bool:
    try:
        parsed = json.loads(line)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("type") == "event"


def pieces(secrets: list[str], events: list[str]) -> list[str]:
    """Each secret, and the last three 12-character pieces of each, in *events*."""
    text = "\n".join(events)
    return [
        piece
        for secret in secrets
        for piece in (secret, secret[-36:-24], secret[-24:-12], secret[-12:])
        if piece in text
    ]


def knock(issuer: EphemeralKeyIssuer[str], door: str, twin: Twin, nonce: str) -> None:
    """Call *door* the *twin* way; what it raises is captured as a tracker would."""
    web = json.dumps({"card_id": CARD, "nonce": nonce}).encode()
    mobile = json.dumps({"card_id": CARD, "api_version": MOBILE_VERSION}).encode()
    session = json.dumps({"account": ACCOUNT}).encode()
    arguments: dict[str, dict[str, object]] = {
        "issue": {"card_id": CARD, "nonce": nonce},
        "handle": {"body": web, "content_type": JSON},
        "issue_mobile": {"card_id": CARD, "api_version": MOBILE_VERSION},
        "handle_mobile": {"body": mobile, "content_type": JSON},
        "create_account_session": {"account": ACCOUNT},
        "handle_account_session": {"body": session, "content_type": JSON},
    }
    try:
        twin.call(issuer, door, "alice", **arguments[door])
    except BaseException as error:  # noqa: BLE001 - a tracker captures anything
        sentry_sdk.capture_exception(error)
    sentry_sdk.flush()


def session_grant(_user: str, _request: object) -> AccountSessionGrant:
    return AccountSessionGrant(ACCOUNT, (IssuingCardComponent(card_management=True),))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as running:
        running.add_card(CARD)
        running.add_account(ACCOUNT)
        yield running


def secrets_of(fake: FakeStripe) -> list[str]:
    return [key.secret for key in fake.keys] + [
        session.client_secret for session in fake.account_sessions
    ]


class FailingLedger(MemoryKeyLedger):
    """A key ledger whose write raises, once Stripe has issued the key."""

    def __init__(self, failure: type[BaseException]) -> None:
        super().__init__()
        self.failure = failure

    def record(self, _key: LiveKey) -> None:
        raise self.failure

    async def arecord(self, _key: LiveKey) -> None:
        raise self.failure


def sink_failing_on(
    outcome: str, failure: type[BaseException]
) -> Callable[[AuditEvent], None]:
    def sink(event: AuditEvent) -> None:
        if event.outcome == outcome:
            raise failure(f"the sink is down ({event.action})")

    return sink


def elements_raising(failure: type[BaseException]) -> Callable[..., Any]:
    def elements(_user: str, key: IssuedKey) -> list[object]:
        secret = key.secret  # an application's callback holds it: its frame too
        raise failure(f"no page for a {len(secret)}-character secret")

    return elements


FAILURES = [RuntimeError, KeyboardInterrupt, asyncio.CancelledError]
AFTER_STRIPE_ISSUED: dict[str, Callable[[type[BaseException]], dict[str, Any]]] = {
    "audit sink raises": lambda failure: {"audit": sink_failing_on("granted", failure)},
    "key ledger raises": lambda failure: {"key_ledger": FailingLedger(failure)},
}


@pytest.mark.parametrize("door", KEY_DOORS)
@pytest.mark.parametrize("failure", FAILURES, ids=lambda failure: failure.__name__)
@pytest.mark.parametrize("path", sorted(AFTER_STRIPE_ISSUED))
def test_a_key_door_failing_after_stripe_issued(
    fake: FakeStripe,
    events: list[str],
    path: str,
    failure: type[BaseException],
    door: str,
    twin: Twin,
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        lambda _user, _request: True,
        **AFTER_STRIPE_ISSUED[path](failure),
    )

    knock(issuer, door, twin, fake.create_nonce(CARD))

    assert (True, []) == (errors_in(events) > 0, pieces(secrets_of(fake), events))


PAGE_FAILURES: dict[str, Callable[..., Any]] = {
    "elements raises RuntimeError": elements_raising(RuntimeError),
    "elements raises KeyboardInterrupt": elements_raising(KeyboardInterrupt),
    "elements answers no list": lambda _user, _key: "not a list of builders",
}


@pytest.mark.parametrize("path", sorted(PAGE_FAILURES))
def test_the_page_step_failing_after_stripe_issued(
    fake: FakeStripe, events: list[str], path: str, twin: Twin
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), lambda _user, _request: True, elements=PAGE_FAILURES[path]
    )

    knock(issuer, "handle", twin, fake.create_nonce(CARD))

    assert (True, []) == (errors_in(events) > 0, pieces(secrets_of(fake), events))


@pytest.mark.parametrize("door", SESSION_DOORS)
@pytest.mark.parametrize("failure", FAILURES, ids=lambda failure: failure.__name__)
def test_a_session_door_failing_after_stripe_created_the_session(
    fake: FakeStripe,
    events: list[str],
    failure: type[BaseException],
    door: str,
    twin: Twin,
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        lambda _user, _request: True,
        api_version=SESSION_VERSION,
        account_sessions=session_grant,
        audit=sink_failing_on("granted", failure),
    )

    knock(issuer, door, twin, "")

    assert (True, []) == (errors_in(events) > 0, pieces(secrets_of(fake), events))


@pytest.mark.parametrize("door", ["revoke", "revoke_user"])
def test_a_revocation_interrupted_after_an_issued_key(
    fake: FakeStripe, events: list[str], door: str, twin: Twin
) -> None:
    ledger = MemoryKeyLedger()
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        lambda _user, _request: True,
        key_ledger=ledger,
        audit=sink_failing_on("revoked", KeyboardInterrupt),
    )
    key = issuer.issue("alice", card_id=CARD, nonce=fake.create_nonce(CARD))

    try:
        twin.call(issuer, door, key.id if door == "revoke" else "alice")
    except BaseException as error:  # noqa: BLE001 - a tracker captures anything
        sentry_sdk.capture_exception(error)
    sentry_sdk.flush()

    assert (True, []) == (errors_in(events) > 0, pieces(secrets_of(fake), events))


# Stripe's answers that cannot be handed out, on the wire (pytest-httpserver).
KEY_ANSWERS = {
    "for another card": json.dumps(
        key_object(associated_objects=[{"id": "ic_1Other", "type": "issuing.card"}])
    ),
    "not whole": json.dumps(key_object(expires="in a while")),
    "not JSON": f'{{"id": "ephkey_1FakeKey", "secret": "{KEY_SECRET}", "expi',
}


@pytest.mark.parametrize("door", KEY_DOORS)
@pytest.mark.parametrize("answer", sorted(KEY_ANSWERS))
def test_a_key_answer_that_cannot_be_handed_out(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    events: list[str],
    answer: str,
    door: str,
    twin: Twin,
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_data(
        KEY_ANSWERS[answer], content_type=JSON
    )
    httpserver.expect_request("/v1/ephemeral_keys/ephkey_1FakeKey").respond_with_json(
        {"id": "ephkey_1FakeKey", "object": "ephemeral_key", "deleted": True}
    )
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        stripe_client,
        lambda _user, _request: True,
        api_version="2020-03-02",
        max_network_retries=0,
    )

    knock(issuer, door, twin, NONCE)

    assert (True, []) == (errors_in(events) > 0, pieces([KEY_SECRET], events))


def session_answer(secret: str, problem: str) -> str:
    if problem == "not JSON":
        return f'{{"object": "account_session", "client_secret": "{secret}", "exp'
    if problem == "secret alone":
        return secret
    return json.dumps(
        {
            "object": "account_session",
            "account": "acct_1SomeoneElse",
            "client_secret": secret,
            "expires_at": 1_800_001_800,
            "livemode": False,
            "components": {
                "issuing_card": {"enabled": True, "features": {"card_management": True}}
            },
        }
    )


@pytest.mark.parametrize("door", SESSION_DOORS)
@pytest.mark.parametrize("problem", ["for another account", "not JSON", "secret alone"])
@pytest.mark.parametrize("shape", sorted(SESSION_SECRETS))
def test_a_session_answer_that_cannot_be_handed_out(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    events: list[str],
    shape: str,
    problem: str,
    door: str,
    twin: Twin,
) -> None:
    # No secret in a variable of the test's own: the tracker reads the stack.
    httpserver.expect_request("/v1/account_sessions").respond_with_data(
        session_answer(SESSION_SECRETS[shape], problem), content_type=JSON
    )
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        stripe_client,
        lambda _user, _request: True,
        api_version=SESSION_VERSION,
        max_network_retries=0,
        account_sessions=session_grant,
    )

    knock(issuer, door, twin, "")

    assert (True, []) == (
        errors_in(events) > 0,
        pieces([SESSION_SECRETS[shape]], events),
    )


def test_an_error_out_of_a_door_keeps_no_locals_and_no_hidden_context(
    fake: FakeStripe,
) -> None:
    # Trackers other than sentry-sdk may follow a suppressed context too.
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        lambda _user, _request: True,
        audit=sink_failing_on("granted", RuntimeError),
    )

    with pytest.raises(ServerMisconfiguredError) as raised:
        issuer.issue("alice", card_id=CARD, nonce=fake.create_nonce(CARD))

    error = raised.value
    flows = [
        (frame.f_code.co_name, frame.f_locals)
        for frame, _ in traceback.walk_tb(error.__traceback__)
        if f"{os.sep}_flows{os.sep}" in frame.f_code.co_filename
    ]
    assert (None, True, []) == (
        error.__context__,
        bool(flows),
        [name for name, variables in flows if variables],
    )


def _flow_that_logs_after_an_answer() -> Flow[None]:
    # The flow keeps only the answer's size; an ERROR line is written next.
    need: Need[dict[str, str]] = Need()
    size = len((yield from ask(need)))
    logging.getLogger("issuing_elements").error("Read %s fields.", size)


def _answer(_need: object) -> dict[str, str]:
    return {"client_secret": SESSION_SECRETS["bare"]}


async def _aanswer(need: object) -> dict[str, str]:
    return _answer(need)


@pytest.mark.parametrize("twin", TWINS)
def test_the_runners_hold_no_answer_while_the_flow_runs(
    events: list[str], twin: str
) -> None:
    if twin == "async":
        asyncio.run(arun(_flow_that_logs_after_an_answer(), _aanswer))
    else:
        run(_flow_that_logs_after_an_answer(), _answer)
    sentry_sdk.flush()

    assert (True, []) == (
        errors_in(events) > 0,
        pieces([SESSION_SECRETS["bare"]], events),
    )
