"""Keys follow the card: ``handle_stripe_event`` and ``ahandle_stripe_event``.

Stripe is the library's FakeStripe: keys are issued through it, cards and
cardholders are stopped through its update endpoints (the real
StripeClient), and the events it makes are posted to the issuer signed as
Stripe signs them. Every test runs on both twins.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from doors_and_twins import Twin
from issuing_elements import (
    AuditEvent,
    EphemeralKeyIssuer,
    Grant,
    HttpResponse,
    KeyRequest,
    MemoryKeyLedger,
)
from issuing_elements._flows import stripe_events
from issuing_elements.exceptions import ConfigurationError
from issuing_elements.testing import FakeStripe
from stripe_wire import Card

if TYPE_CHECKING:
    import stripe

SECRET = "whsec_fake_events_test_current"
ROLLED = "whsec_fake_events_test_rolled"
CARD = "ic_eventsAlice"
OTHER_CARD = "ic_eventsBob"
CONNECT_CARD = "ic_eventsCarol"
ACCOUNT = "acct_eventsCarol"
HOLDER = "ich_eventsAlice"
VERSION = "2020-03-02"

OWNED = {
    "alice": {CARD: None, "ic_eventsAlice2": None, "ic_eventsAlice3": None},
    "bob": {OTHER_CARD: None},
    "carol": {CONNECT_CARD: ACCOUNT},
}


def authorize(user: str, request: KeyRequest) -> Grant | None:
    cards = OWNED.get(user, {})
    if request.card_id not in cards:
        return None
    return Grant(stripe_account=cards[request.card_id])


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """``Stripe-Signature``, written out as Stripe documents it (not stripe-python)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={stamp},v1={digest}"


def event_body(
    event_type: str, data_object: dict[str, Any], account: str | None = None
) -> bytes:
    document: dict[str, Any] = {
        "id": "evt_eventsTest1",
        "object": "event",
        "api_version": VERSION,
        "created": int(time.time()),
        "data": {"object": data_object, "previous_attributes": {"status": "active"}},
        "livemode": False,
        "type": event_type,
    }
    if account is not None:
        document["account"] = account
    return json.dumps(document).encode()


@pytest.fixture
def fake_cards() -> list[Card]:
    return [
        Card(card, account, HOLDER if card.startswith("ic_eventsAlice") else None)
        for user_cards in OWNED.values()
        for card, account in user_cards.items()
    ]


@pytest.fixture
def audited() -> list[AuditEvent]:
    return []


@pytest.fixture
def ledger() -> MemoryKeyLedger:
    return MemoryKeyLedger()


@pytest.fixture
def issuer(
    fake: FakeStripe, ledger: MemoryKeyLedger, audited: list[AuditEvent]
) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        fake.client(),
        authorize,
        api_version=VERSION,
        max_network_retries=0,
        key_ledger=ledger,
        webhook_secrets=[SECRET],
        audit=audited.append,
    )


Door = Callable[..., HttpResponse]


@pytest.fixture
def door(twin: Twin, issuer: EphemeralKeyIssuer[str]) -> Door:
    """The Stripe-event door: ``handle_stripe_event`` or its twin, called alike."""
    return functools.partial(twin.call, issuer, "handle_stripe_event")


def stripe_of(fake: FakeStripe) -> stripe.StripeClient:
    return fake.client(max_network_retries=0)


def issue(
    issuer: EphemeralKeyIssuer[str], fake: FakeStripe, user: str, card: str
) -> str:
    key = issuer.issue(user, card_id=card, nonce=fake.create_nonce(card))
    return key.id


def freeze(fake: FakeStripe, card: str, status: str = "inactive", **more: str) -> bytes:
    """Stop *card* through Stripe's update endpoint; the event it made."""
    account = next(
        (acct for cards in OWNED.values() for c, acct in cards.items() if c == card),
        None,
    )
    options: dict[str, Any] = {"stripe_account": account} if account else {}
    stripe_of(fake).v1.issuing.cards.update(
        card, params={"status": status, **more}, options=options
    )
    return fake.events[-1].body


def deliver(door: Door, body: bytes, signature: str | None = None) -> HttpResponse:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    headers["Stripe-Signature"] = sign(body) if signature is None else signature
    return door(body, headers=headers)


def answer_of(response: HttpResponse) -> tuple[int, Any]:
    return response.status, json.loads(response.body)


# -- a card stopped -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "more"),
    [("inactive", {}), ("canceled", {"cancellation_reason": "lost"})],
)
def test_a_stopped_card_has_every_live_key_revoked(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    status: str,
    more: dict[str, str],
) -> None:
    keys = [issue(issuer, fake, "alice", CARD) for _ in range(2)]
    other = issue(issuer, fake, "bob", OTHER_CARD)

    answer = deliver(door, freeze(fake, CARD, status, **more))

    assert (200, {"received": True, "revoked": 2}) == answer_of(answer)
    assert sorted(keys) == sorted(record.id for record in fake.revoked_keys)
    assert not fake.key(other).revoked


def test_the_event_is_one_audit_event_naming_it(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    audited: list[AuditEvent],
) -> None:
    issue(issuer, fake, "alice", CARD)
    body = freeze(fake, CARD)
    audited.clear()

    deliver(door, body)

    (event,) = [e for e in audited if e.action == "stripe_event"]
    assert (
        "revoked",
        fake.events[-1].id,
        "issuing_card.updated",
        CARD,
        None,
        1,
    ) == (
        event.outcome,
        event.stripe_event_id,
        event.stripe_event_type,
        event.card_id,
        event.cardholder_id,
        event.keys_revoked,
    )
    assert ["revoke"] == [e.action for e in audited if e.action != "stripe_event"]


def test_the_card_is_tombstoned_for_requests_in_flight(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    ledger: MemoryKeyLedger,
) -> None:
    started = time.time() - 1

    deliver(door, freeze(fake, CARD))

    assert ledger.revoked_since(user_id="nobody", card_id=CARD, since=started)
    assert not ledger.revoked_since(user_id="nobody", card_id=OTHER_CARD, since=started)


@pytest.mark.parametrize(
    ("event_type", "data_object"),
    [
        ("issuing_card.updated", {"id": CARD, "status": "active"}),
        ("issuing_cardholder.updated", {"id": HOLDER, "status": "active"}),
        ("issuing_card.created", {"id": CARD, "status": "inactive"}),
        ("customer.updated", {"id": "cus_x"}),
    ],
)
def test_an_event_that_stops_nothing_is_200_and_does_nothing(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    audited: list[AuditEvent],
    event_type: str,
    data_object: dict[str, Any],
) -> None:
    key = issue(issuer, fake, "alice", CARD)
    audited.clear()

    answer = deliver(door, event_body(event_type, data_object))

    assert (200, {"received": True, "revoked": 0}) == answer_of(answer)
    assert not fake.key(key).revoked
    assert [("stripe_event", "ignored")] == [(e.action, e.outcome) for e in audited]


def test_the_same_event_twice_is_200_twice_and_revokes_once(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issue(issuer, fake, "alice", CARD)
    body = freeze(fake, CARD)

    first = deliver(door, body)
    caplog.clear()
    second = deliver(door, body)

    assert [(200, 1), (200, 0)] == [
        (answer.status, json.loads(answer.body)["revoked"])
        for answer in (first, second)
    ]
    assert 1 == len(fake.revoked_keys)
    assert [] == [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- Connect ---------------------------------------------------------------------


def test_a_connected_accounts_card_is_revoked_on_that_account(
    door: Door, issuer: EphemeralKeyIssuer[str], fake: FakeStripe
) -> None:
    key = issue(issuer, fake, "carol", CONNECT_CARD)

    answer = deliver(door, freeze(fake, CONNECT_CARD))

    assert ACCOUNT == fake.events[-1].payload()["account"]
    assert (200, 1) == (answer.status, json.loads(answer.body)["revoked"])
    assert fake.key(key).revoked
    assert ACCOUNT == fake.requests[-1].headers["stripe-account"]


@pytest.mark.parametrize("account", [None, "acct_eventsSomeoneElse"])
def test_an_event_of_another_account_leaves_the_cards_keys(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    account: str | None,
) -> None:
    key = issue(issuer, fake, "carol", CONNECT_CARD)
    data_object = {"id": CONNECT_CARD, "object": "issuing.card", "status": "inactive"}

    answer = deliver(door, event_body("issuing_card.updated", data_object, account))

    assert (200, 0) == (answer.status, json.loads(answer.body)["revoked"])
    assert not fake.key(key).revoked


# -- a cardholder stopped ----------------------------------------------------------


def test_a_stopped_cardholder_has_the_keys_of_every_card_revoked(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stripe_events, "PAGE_SIZE", 2)  # three cards: two pages
    alices = [issue(issuer, fake, "alice", card) for card in OWNED["alice"]]
    other = issue(issuer, fake, "bob", OTHER_CARD)
    stripe_of(fake).v1.issuing.cardholders.update(HOLDER, params={"status": "inactive"})
    body = fake.events[-1].body

    answer = deliver(door, body)

    assert (200, {"received": True, "revoked": 3}) == answer_of(answer)
    assert sorted(alices) == sorted(record.id for record in fake.revoked_keys)
    assert not fake.key(other).revoked
    listed = [r for r in fake.requests if r.path == "/v1/issuing/cards"]
    assert [
        {"cardholder": HOLDER, "limit": "2"},
        {"cardholder": HOLDER, "limit": "2", "starting_after": "ic_eventsAlice2"},
    ] == [dict(r.params) for r in listed]


def test_a_blocked_cardholder_is_stopped_too(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    audited: list[AuditEvent],
) -> None:
    issue(issuer, fake, "alice", "ic_eventsAlice2")
    fake.block_cardholder(HOLDER)
    audited.clear()

    answer = deliver(door, fake.events[-1].body)

    assert (200, 1) == (answer.status, json.loads(answer.body)["revoked"])
    (event,) = [e for e in audited if e.action == "stripe_event"]
    assert (HOLDER, None, "issuing_cardholder.updated") == (
        event.cardholder_id,
        event.card_id,
        event.stripe_event_type,
    )


def test_cards_that_cannot_be_listed_are_503_with_retry_after(
    door: Door, issuer: EphemeralKeyIssuer[str], fake: FakeStripe
) -> None:
    key = issue(issuer, fake, "alice", CARD)
    fake.block_cardholder(HOLDER)
    fake.fail_next(503, retry_after=7)

    answer = deliver(door, fake.events[-1].body)

    assert (503, "stripe_unavailable", "7") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
        answer.headers["Retry-After"],
    )
    assert not fake.key(key).revoked


# -- Stripe keeps a key: 503, and the redelivery finishes ----------------------------


def test_a_revocation_stripe_refuses_is_503_and_the_redelivery_revokes(
    door: Door, issuer: EphemeralKeyIssuer[str], fake: FakeStripe
) -> None:
    key = issue(issuer, fake, "alice", CARD)
    body = freeze(fake, CARD)
    fake.fail_next(503, retry_after=5)

    refused = deliver(door, body)
    again = deliver(door, body)

    assert (503, "5") == (refused.status, refused.headers["Retry-After"])
    assert (200, 1) == (again.status, json.loads(again.body)["revoked"])
    assert fake.key(key).revoked


# -- signatures -----------------------------------------------------------------------


def test_a_rolled_secret_is_accepted_while_listed(
    fake: FakeStripe, ledger: MemoryKeyLedger
) -> None:
    issuer = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        api_version=VERSION,
        key_ledger=ledger,
        webhook_secrets=[SECRET, ROLLED],
    )
    issue(issuer, fake, "alice", CARD)
    body = freeze(fake, CARD)

    answer = issuer.handle_stripe_event(
        body, headers={"Stripe-Signature": sign(body, ROLLED)}
    )

    assert (200, 1) == (answer.status, json.loads(answer.body)["revoked"])


def _signatures() -> list[tuple[str, Callable[[bytes], dict[str, str]]]]:
    def digest_only(body: bytes) -> dict[str, str]:
        return {"Stripe-Signature": sign(body).split(",")[1]}

    return [
        ("signature_missing", lambda _: {}),
        ("signature_missing", lambda _: {"Stripe-Signature": ""}),
        ("signature_malformed", lambda _: {"Stripe-Signature": "garbage"}),
        ("signature_malformed", digest_only),
        (
            "signature_malformed",
            lambda body: {"Stripe-Signature": sign(body).replace("t=", "t=x")},
        ),
        (
            "signature_malformed",
            lambda body: {"Stripe-Signature": sign(body).replace("v1=", "v0=")},
        ),
        (
            "signature_invalid",
            lambda body: {"Stripe-Signature": sign(body, "whsec_fakeWrongSecret")},
        ),
        (
            "signature_invalid",
            lambda body: {
                "Stripe-Signature": sign(body.replace(b"inactive", b"active"))
            },
        ),
        (
            "signature_expired",
            lambda body: {
                "Stripe-Signature": sign(body, timestamp=int(time.time()) - 301)
            },
        ),
    ]


@pytest.mark.parametrize(
    ("code", "headers_for"), _signatures(), ids=lambda value: str(value)[:30]
)
def test_a_bad_signature_is_400_with_its_code_and_revokes_nothing(
    door: Door,
    issuer: EphemeralKeyIssuer[str],
    fake: FakeStripe,
    audited: list[AuditEvent],
    code: str,
    headers_for: Callable[[bytes], dict[str, str]],
) -> None:
    key = issue(issuer, fake, "alice", CARD)
    body = freeze(fake, CARD)
    audited.clear()

    answer = door(body, headers=headers_for(body))

    assert (400, code) == (answer.status, json.loads(answer.body)["error"]["code"])
    assert not fake.key(key).revoked
    assert [("stripe_event", code, None)] == [
        (e.action, e.outcome, e.stripe_event_id) for e in audited
    ]


def test_a_signature_just_within_the_tolerance_is_accepted(
    door: Door, issuer: EphemeralKeyIssuer[str], fake: FakeStripe
) -> None:
    issue(issuer, fake, "alice", CARD)
    body = freeze(fake, CARD)

    answer = deliver(door, body, sign(body, timestamp=int(time.time()) - 250))

    assert (200, 1) == (answer.status, json.loads(answer.body)["revoked"])


def test_an_event_over_the_limit_is_413_unread(
    door: Door, issuer: EphemeralKeyIssuer[str]
) -> None:
    body = b" " * (issuer.max_event_bytes + 1)

    answer = deliver(door, body)

    assert (413, "body_too_large") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
    )


def test_a_signed_body_that_is_no_event_is_400(door: Door) -> None:
    answer = deliver(door, b'{"object": "list"}')

    assert (400, "invalid_request") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
    )


def test_no_signature_secret_or_body_reaches_a_log(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = EphemeralKeyIssuer(  # the default audit sink: JSON lines on a logger
        fake.client(),
        authorize,
        api_version=VERSION,
        max_network_retries=0,
        key_ledger=MemoryKeyLedger(),
        webhook_secrets=[SECRET],
    )
    issue(issuer, fake, "alice", CARD)
    body = freeze(fake, CARD)
    signature = sign(body)
    fake.fail_next(500, stripe_should_retry=False)
    caplog.set_level(logging.DEBUG)

    for headers in (
        {"Stripe-Signature": signature},
        {"Stripe-Signature": sign(body, "whsec_fakeWrongSecret")},
        {"Stripe-Signature": signature},
    ):
        issuer.handle_stripe_event(body, headers=headers)

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "issuing_card.updated" in logged  # the audit trail's own lines
    digest = signature.partition("v1=")[2]
    leaks = [SECRET, "whsec_fake", digest, digest[:16], '"previous_attributes"']
    assert [] == [leak for leak in leaks if leak in logged]


# -- configuration ---------------------------------------------------------------


def test_webhook_secrets_without_a_key_ledger_is_refused(fake: FakeStripe) -> None:
    with pytest.raises(ConfigurationError, match="key_ledger") as refused:
        EphemeralKeyIssuer(fake.client(), authorize, webhook_secrets=[SECRET])

    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    "secrets",
    [SECRET, [], ["sk_test_fakeNotAWebhookSecret"], [SECRET, b"whsec_bytes"], [None]],
    ids=["a bare string", "empty", "a secret key", "bytes", "None"],
)
def test_webhook_secrets_must_be_a_list_of_whsec(
    fake: FakeStripe, secrets: object
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        EphemeralKeyIssuer(
            fake.client(),
            authorize,
            key_ledger=MemoryKeyLedger(),
            webhook_secrets=secrets,  # type: ignore[arg-type]  # the point
        )

    assert "whsec_fake" not in str(refused.value)
    assert "sk_test_fake" not in str(refused.value)


def test_the_secrets_are_in_no_repr(issuer: EphemeralKeyIssuer[str]) -> None:
    shown = repr(issuer) + repr(issuer._settings)

    assert SECRET not in shown


@pytest.mark.parametrize("limit", [16 * 1024 - 1, True, 1.5e6])
def test_the_event_limit_is_checked(fake: FakeStripe, limit: object) -> None:
    with pytest.raises(ConfigurationError, match="max_event_bytes"):
        EphemeralKeyIssuer(
            fake.client(),
            authorize,
            max_event_bytes=limit,  # type: ignore[arg-type]  # the point
        )


def test_without_webhook_secrets_the_door_is_500_with_one_error_line(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture, twin: Twin
) -> None:
    issuer = EphemeralKeyIssuer(fake.client(), authorize, api_version=VERSION)
    body = event_body("issuing_card.updated", {"id": CARD, "status": "inactive"})
    headers = {"Stripe-Signature": sign(body)}

    with caplog.at_level(logging.ERROR, logger="issuing_elements"):
        answer = twin.call(issuer, "handle_stripe_event", body, headers=headers)

    assert (500, "server_misconfigured") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
    )
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert 1 == len(errors)
    assert "webhook_secrets" in errors[0].getMessage()


def test_a_webhook_secret_is_masked_wherever_it_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    for name in ("issuing_elements", "stripe"):
        logging.getLogger(name).warning("configured with %s", SECRET)

    assert ["configured with whsec_[REDACTED]"] * 2 == [
        r.getMessage()
        for r in caplog.records
        if r.name in ("issuing_elements", "stripe")
    ]
