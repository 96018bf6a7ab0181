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

from issuing_elements import EphemeralKeyIssuer, Grant, KeyRequest, MemoryKeyLedger
from issuing_elements._flows import exchange
from issuing_elements._flows.keys import WEB
from issuing_elements._needs import (
    AskAuthorizer,
    AskLedger,
    CallStripe,
    FindLostKey,
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
    return exchange.handle(
        settings,
        WEB,
        user,
        body=BODY,
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


def test_a_custom_limiter_must_declare_fail_open() -> None:
    class Limiter:
        in_process = False

        def hit_user(self, user_id: str) -> None: ...
        async def ahit_user(self, user_id: str) -> None: ...
        def hit_card(self, card_id: str) -> None: ...
        async def ahit_card(self, card_id: str) -> None: ...

    from issuing_elements.exceptions import ConfigurationError  # noqa: PLC0415

    with pytest.raises(ConfigurationError, match="declare fail_open"):
        EphemeralKeyIssuer(
            stripe.StripeClient("sk_test_fakeStepped"),
            authorize,
            api_version="2020-03-02",
            rate_limiter=Limiter(),  # type: ignore[arg-type]  # the point
        )
