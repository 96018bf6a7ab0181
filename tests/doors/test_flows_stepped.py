"""The flows stepped by hand: each need a flow yields, asserted, and answered.

No Stripe double, no network, no performer: the test is the performer. It
sends each need's result into the flow (``send``) or throws the error in
(``throw``), as ``_driver.run`` would.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
import stripe

from issuing_elements import (
    AccountSessionGrant,
    AccountSessionRequest,
    EphemeralKeyIssuer,
    Grant,
    IssuingCardComponent,
    KeyRequest,
    MemoryKeyLedger,
    MemoryRateLimiter,
    RateLimit,
)
from issuing_elements._flows import exchange, stripe_events
from issuing_elements._flows.account_sessions import ACCOUNT_SESSION
from issuing_elements._flows.keys import MOBILE, WEB
from issuing_elements._needs import (
    AskAuthorizer,
    AskLedger,
    CallStripe,
    FindLostKey,
    HitLimit,
    WriteTrail,
)
from issuing_elements._stripe_answers import StripeAnswer

if TYPE_CHECKING:
    from issuing_elements._needs import Flow
    from issuing_elements._records import HttpResponse
    from issuing_elements._settings import Settings

CARD = "ic_steppedCard"
NONCE = "ephkn_pub_steppedNonce"
KEY_ID = "ephkey_steppedKey"
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()


def authorize(user: str, request: KeyRequest) -> Grant | None:
    return Grant() if user == "alice" else None


@pytest.fixture
def settings() -> Settings[str]:
    issuer = EphemeralKeyIssuer(
        stripe.StripeClient("sk_test_fakeStepped"),
        authorize,
        api_version="2020-03-02",
        key_ledger=MemoryKeyLedger(),
    )
    return issuer._settings


def web(settings: Settings[str], user: str | None) -> Flow[HttpResponse]:
    return through(settings, WEB, user, BODY)


def through(
    settings: Settings[str], door: exchange.Door[Any], user: str | None, body: bytes
) -> Flow[HttpResponse]:
    return exchange.handle(
        settings,
        door,
        user,
        body=body,
        content_type="application/json",
        headers=None,
        client_ip=None,
    )


def key_answer(expires_in: int = 900) -> StripeAnswer:
    import time  # noqa: PLC0415 - the answer's clock only

    now = int(time.time())
    return StripeAnswer(
        {
            "id": KEY_ID,
            "object": "ephemeral_key",
            "secret": "ek_test_c3RlcHBlZA_00fake",
            "created": now,
            "expires": now + expires_in,
            "livemode": False,
            "associated_objects": [{"type": "issuing.card", "id": CARD}],
        }
    )


def finish(flow: Flow[Any], result: object = None) -> object:
    with pytest.raises(StopIteration) as stopped:
        flow.send(result)
    return stopped.value.value


def test_the_web_door_happy_path(settings: Settings[str]) -> None:
    flow = web(settings, "alice")

    asked = next(flow)
    assert (AskAuthorizer, "alice", KeyRequest(CARD, NONCE)) == (
        type(asked),
        asked.user,
        asked.request,
    )
    created = flow.send(Grant())
    assert ("create_key", {"issuing_card": CARD, "nonce": NONCE}, True) == (
        created.operation,
        created.params,
        created.revoke_if_late,
    )
    recorded = flow.send(key_answer())
    assert (AskLedger, "record", KEY_ID) == (
        type(recorded),
        recorded.operation,
        recorded.entry.key_id,
    )
    looked = flow.send(None)
    assert (AskLedger, "revoked_since", CARD) == (
        type(looked),
        looked.operation,
        looked.card_id,
    )
    audited = flow.send(False)  # noqa: FBT003 - the ledger's answer
    assert (WriteTrail, "granted") == (type(audited), audited.event.outcome)
    response = finish(flow)

    assert 200 == response.status  # type: ignore[attr-defined]


def test_the_web_door_denied_audits_and_answers_404(settings: Settings[str]) -> None:
    flow = web(settings, "mallory")

    next(flow)
    audited = flow.send(None)

    assert (WriteTrail, "card_not_found") == (type(audited), audited.event.outcome)
    assert 404 == finish(flow).status  # type: ignore[attr-defined]


def test_a_stripe_refusal_is_its_answer(settings: Settings[str]) -> None:
    flow = web(settings, "alice")
    next(flow)
    flow.send(Grant())

    audited = flow.throw(
        stripe.InvalidRequestError(
            "No such nonce", param="nonce", code="resource_missing", http_status=400
        )
    )

    assert (WriteTrail, "invalid_nonce") == (type(audited), audited.event.outcome)
    assert 400 == finish(flow).status  # type: ignore[attr-defined]


def test_a_lost_answer_looks_for_the_key_in_the_background(
    settings: Settings[str],
) -> None:
    flow = web(settings, "alice")
    next(flow)
    created = flow.send(Grant())

    search = flow.throw(stripe.APIConnectionError("lost"))

    assert (FindLostKey, created.params, created.options, "was lost") == (
        type(search),
        search.params,
        search.options,
        search.why,
    )
    audited = flow.send(None)
    assert "stripe_unavailable" == audited.event.outcome
    assert 503 == finish(flow).status  # type: ignore[attr-defined]


def test_a_tombstone_revokes_the_key_and_answers_404(settings: Settings[str]) -> None:
    flow = web(settings, "alice")
    next(flow)
    flow.send(Grant())
    flow.send(key_answer())
    flow.send(None)

    revoked = flow.send(True)  # noqa: FBT003 - a tombstone since the request started

    assert (CallStripe, "revoke_key", KEY_ID) == (
        type(revoked),
        revoked.operation,
        revoked.key_id,
    )
    forgotten = flow.send(StripeAnswer({"id": KEY_ID, "deleted": True}))
    assert ("forget", KEY_ID) == (forgotten.operation, forgotten.entry.key_id)
    assert "revoked" == flow.send(None).event.outcome
    assert "card_not_found" == flow.send(None).event.outcome
    assert 404 == finish(flow).status  # type: ignore[attr-defined]


def test_cancellation_after_the_key_revokes_it_then_leaves(
    settings: Settings[str],
) -> None:
    flow = web(settings, "alice")
    next(flow)
    flow.send(Grant())
    flow.send(key_answer())

    revoked = flow.throw(asyncio.CancelledError())

    assert ("revoke_key", KEY_ID) == (revoked.operation, revoked.key_id)
    # Cancelled while the ledger recorded it: nothing to forget.
    audited = flow.send(StripeAnswer({"id": KEY_ID, "deleted": True}))
    assert (WriteTrail, "revoked") == (type(audited), audited.event.outcome)
    with pytest.raises(asyncio.CancelledError):
        flow.send(None)


# -- the mobile door ----------------------------------------------------------

SDK_VERSION = "2024-06-20"
MOBILE_BODY = json.dumps({"card_id": CARD, "api_version": SDK_VERSION}).encode()


def test_the_mobile_door_asks_for_a_key_without_a_nonce_under_the_sdk_version(
    settings: Settings[str],
) -> None:
    flow = through(settings, MOBILE, "alice", MOBILE_BODY)

    asked = next(flow)
    assert KeyRequest(CARD, None) == asked.request
    created = flow.send(Grant())
    assert ("create_key", {"issuing_card": CARD}, SDK_VERSION) == (
        created.operation,
        created.params,
        created.options["stripe_version"],
    )
    assert "record" == flow.send(key_answer()).operation
    assert "revoked_since" == flow.send(None).operation
    audited = flow.send(False)  # noqa: FBT003 - the ledger's answer
    assert ("issue_mobile", "granted") == (audited.event.action, audited.event.outcome)
    response = finish(flow)
    assert (200, "ephemeral_key") == (
        response.status,  # type: ignore[attr-defined]
        json.loads(response.body)["object"],  # type: ignore[attr-defined]
    )


def test_the_mobile_door_denied_is_404(settings: Settings[str]) -> None:
    flow = through(settings, MOBILE, "mallory", MOBILE_BODY)
    next(flow)

    audited = flow.send(None)

    assert ("issue_mobile", "card_not_found") == (
        audited.event.action,
        audited.event.outcome,
    )
    assert 404 == finish(flow).status  # type: ignore[attr-defined]


def test_the_mobile_door_stripe_refusing_the_version_is_400(
    settings: Settings[str],
) -> None:
    flow = through(settings, MOBILE, "alice", MOBILE_BODY)
    next(flow)
    flow.send(Grant())

    audited = flow.throw(
        stripe.InvalidRequestError(
            f"Invalid Stripe API version: {SDK_VERSION}", param=None, http_status=400
        )
    )

    assert "unsupported_api_version" == audited.event.outcome
    assert 400 == finish(flow).status  # type: ignore[attr-defined]


# -- the limiter, on any door -------------------------------------------------


@pytest.fixture
def limited() -> Settings[str]:
    issuer = EphemeralKeyIssuer(
        stripe.StripeClient("sk_test_fakeStepped"),
        authorize,
        api_version="2020-03-02",
        rate_limiter=MemoryRateLimiter(per_user=RateLimit(1, 60)),
    )
    return issuer._settings


@pytest.mark.parametrize(
    ("door", "body"), [(WEB, BODY), (MOBILE, MOBILE_BODY)], ids=["web", "mobile"]
)
def test_over_the_users_budget_is_429_before_the_authorizer(
    limited: Settings[str], door: exchange.Door[Any], body: bytes
) -> None:
    flow = through(limited, door, "alice", body)

    hit = next(flow)
    assert HitLimit("user", "alice", hit.deadline_at) == hit
    audited = flow.send(29.5)

    assert "rate_limited" == audited.event.outcome
    response = finish(flow)
    assert (429, "30") == (
        response.status,  # type: ignore[attr-defined]
        dict(response.headers)["Retry-After"],  # type: ignore[attr-defined]
    )


# -- the Account Session door -------------------------------------------------

ACCOUNT = "acct_steppedAda"
COMPONENTS = (IssuingCardComponent(card_management=True),)


def admin(user: str, request: AccountSessionRequest) -> AccountSessionGrant | None:
    return AccountSessionGrant(account=ACCOUNT, components=COMPONENTS)


@pytest.fixture
def sessions() -> Settings[str]:
    issuer = EphemeralKeyIssuer(
        stripe.StripeClient("sk_test_fakeStepped"),
        authorize,
        api_version="2025-01-27.acacia",
        account_sessions=admin,
    )
    return issuer._settings


def session_answer(grant: AccountSessionGrant) -> StripeAnswer:
    from issuing_elements._stripe_answers import session_params  # noqa: PLC0415

    return StripeAnswer(
        {
            "object": "account_session",
            "account": grant.account,
            "client_secret": "_fakeSteppedSessionSecret",
            "expires_at": 2_000_000_000,
            "components": session_params(grant)["components"],
        }
    )


def test_the_account_session_door_happy_path(sessions: Settings[str]) -> None:
    flow = through(sessions, ACCOUNT_SESSION, "ada", b"{}")

    asked = next(flow)
    assert (admin, AccountSessionRequest(account=None)) == (
        asked.authorizer,
        asked.request,
    )
    grant = AccountSessionGrant(account=ACCOUNT, components=COMPONENTS)
    created = flow.send(grant)
    assert ("create_session", ACCOUNT, None) == (
        created.operation,
        created.params["account"],
        created.options.get("stripe_account"),
    )
    audited = flow.send(session_answer(grant))
    assert ("account_session", "granted", ACCOUNT) == (
        audited.event.action,
        audited.event.outcome,
        audited.event.stripe_account,
    )
    response = finish(flow)
    assert (200, "_fakeSteppedSessionSecret") == (
        response.status,  # type: ignore[attr-defined]
        json.loads(response.body)["clientSecret"],  # type: ignore[attr-defined]
    )


def test_the_account_session_door_denied_is_404(sessions: Settings[str]) -> None:
    flow = through(sessions, ACCOUNT_SESSION, "ada", b"{}")
    next(flow)

    audited = flow.send(None)

    assert "account_not_found" == audited.event.outcome
    assert 404 == finish(flow).status  # type: ignore[attr-defined]


def test_the_account_session_door_lost_answer_is_503_and_nothing_to_revoke(
    sessions: Settings[str],
) -> None:
    flow = through(sessions, ACCOUNT_SESSION, "ada", b"{}")
    next(flow)
    flow.send(AccountSessionGrant(account=ACCOUNT, components=COMPONENTS))

    audited = flow.throw(stripe.APIConnectionError("lost"))

    assert (WriteTrail, "stripe_unavailable") == (type(audited), audited.event.outcome)
    assert 503 == finish(flow).status  # type: ignore[attr-defined]


def test_the_account_session_door_cancelled_leaves_at_once(
    sessions: Settings[str],
) -> None:
    flow = through(sessions, ACCOUNT_SESSION, "ada", b"{}")
    next(flow)
    flow.send(AccountSessionGrant(account=ACCOUNT, components=COMPONENTS))

    with pytest.raises(asyncio.CancelledError):
        flow.throw(asyncio.CancelledError())


# -- the Stripe event door ----------------------------------------------------

WEBHOOK_SECRET = "whsec_fakeSteppedEventsSecret01"


@pytest.fixture
def events() -> Settings[str]:
    issuer = EphemeralKeyIssuer(
        stripe.StripeClient("sk_test_fakeStepped"),
        authorize,
        api_version="2020-03-02",
        key_ledger=MemoryKeyLedger(),
        webhook_secrets=[WEBHOOK_SECRET],
    )
    return issuer._settings


def signed(
    data_object: dict[str, Any], event_type: str
) -> tuple[bytes, dict[str, str]]:
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415
    import time  # noqa: PLC0415

    body = json.dumps(
        {
            "id": "evt_steppedEvent",
            "object": "event",
            "api_version": "2020-03-02",
            "created": int(time.time()),
            "data": {
                "object": data_object,
                "previous_attributes": {"status": "active"},
            },
            "livemode": False,
            "type": event_type,
        }
    ).encode()
    stamp = int(time.time())
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={digest}"}


def stripe_event(
    settings: Settings[str], data_object: dict[str, Any], event_type: str
) -> Flow[HttpResponse]:
    body, headers = signed(data_object, event_type)
    return stripe_events.handle(settings, body=body, headers=headers, client_ip=None)


def live(key_id: str = KEY_ID) -> Any:
    from issuing_elements import LiveKey  # noqa: PLC0415

    return LiveKey(
        key_id=key_id,
        card_id=CARD,
        user_id="alice",
        stripe_account=None,
        expires=2_000_000_000,
    )


def test_a_frozen_card_lays_its_tombstone_then_revokes_its_keys(
    events: Settings[str],
) -> None:
    flow = stripe_event(
        events,
        {"id": CARD, "object": "issuing.card", "status": "inactive"},
        "issuing_card.updated",
    )

    tombstone = next(flow)
    assert ("mark_revoked", CARD) == (tombstone.operation, tombstone.card_id)
    read = flow.send(None)
    assert ("keys_for_card", CARD) == (read.operation, read.card_id)
    revoked = flow.send([live()])
    assert ("revoke_key", KEY_ID) == (revoked.operation, revoked.key_id)
    forgotten = flow.send(StripeAnswer({"id": KEY_ID, "deleted": True}))
    assert ("forget", KEY_ID) == (forgotten.operation, forgotten.entry.key_id)
    assert "revoked" == flow.send(None).event.outcome  # the key's
    audited = flow.send(None)
    assert ("stripe_event", "revoked", 1) == (
        audited.event.action,
        audited.event.outcome,
        audited.event.keys_revoked,
    )
    response = finish(flow)
    assert (200, {"received": True, "revoked": 1}) == (
        response.status,  # type: ignore[attr-defined]
        json.loads(response.body),  # type: ignore[attr-defined]
    )


def test_a_key_stripe_keeps_is_503_for_a_redelivery(events: Settings[str]) -> None:
    flow = stripe_event(
        events,
        {"id": CARD, "object": "issuing.card", "status": "canceled"},
        "issuing_card.updated",
    )
    next(flow)
    flow.send(None)
    flow.send([live()])

    audited = flow.throw(stripe.APIConnectionError("Stripe is away"))

    assert "stripe_unavailable" == audited.event.outcome  # the key's, kept
    assert "stripe_unavailable" == flow.send(None).event.outcome  # the event's
    assert 503 == finish(flow).status  # type: ignore[attr-defined]


def test_a_blocked_cardholder_lists_its_cards_from_stripe(
    events: Settings[str],
) -> None:
    flow = stripe_event(
        events,
        {
            "id": "ich_steppedHolder",
            "object": "issuing.cardholder",
            "status": "blocked",
        },
        "issuing_cardholder.updated",
    )

    listed = next(flow)

    assert ("list_cards", "ich_steppedHolder") == (
        listed.operation,
        listed.params["cardholder"],
    )
    tombstone = flow.send(StripeAnswer({"data": [{"id": CARD}], "has_more": False}))
    assert ("mark_revoked", CARD) == (tombstone.operation, tombstone.card_id)


def test_an_event_that_stops_nothing_asks_for_nothing_but_the_trail(
    events: Settings[str],
) -> None:
    flow = stripe_event(
        events,
        {"id": CARD, "object": "issuing.card", "status": "active"},
        "issuing_card.updated",
    )

    audited = next(flow)

    assert (WriteTrail, "ignored") == (type(audited), audited.event.outcome)
    assert 200 == finish(flow).status  # type: ignore[attr-defined]


def test_a_bad_signature_asks_for_nothing_but_the_trail(events: Settings[str]) -> None:
    body, _ = signed(
        {"id": CARD, "object": "issuing.card", "status": "inactive"},
        "issuing_card.updated",
    )
    flow = stripe_events.handle(
        events, body=body, headers={"Stripe-Signature": "t=1,v1=00"}, client_ip=None
    )

    audited = next(flow)

    assert (WriteTrail, "stripe_event") == (type(audited), audited.event.action)
    assert 400 == finish(flow).status  # type: ignore[attr-defined]
