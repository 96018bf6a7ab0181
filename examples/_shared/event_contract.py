"""What every example's ``POST /stripe-events`` must do: keys follow the card.

Each framework's test class mixes :class:`StripeEventContract` in beside
the endpoint contract, so every test runs through the test client and over
HTTP to a real server. The card is stopped through the stand-in's update
endpoint (the real StripeClient, as a dashboard or a support tool would),
and the event the stand-in made is posted to the app as Stripe would post
it, signed with the examples' webhook secret.
"""

# ruff: noqa: SIM300 - STYLE.md: tests read `expected == actual`

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from examples._shared.testing import (
    CAROL_ACCOUNT,
    ERIN,
    ERIN_CARD,
    ERIN_CONNECT_CARD,
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_ROLLED,
    Answer,
    StripeStandIn,
    bearer,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from issuing_elements.testing import FakeStripe


def stop_card(fake: FakeStripe, card: str, account: str | None = None) -> str:
    """Freeze *card* through Stripe's update endpoint; the event's id."""
    options: Any = {"stripe_account": account} if account else {}
    fake.client(max_network_retries=0).v1.issuing.cards.update(
        card, params={"status": "inactive"}, options=options
    )
    return fake.events[-1].id


def issue_key(
    call: Callable[..., Answer], fake: FakeStripe, token: str, card: str
) -> str:
    """A key for *card*, through the app; its id at the stand-in."""
    answer = call(
        "POST",
        "/ephemeral-keys",
        headers=bearer(token),
        json={"card_id": card, "nonce": fake.create_nonce(card)},
    )
    assert 200 == answer.status, answer.text
    secret = answer.json()["ephemeralKeySecret"]
    return next(record.id for record in fake.keys if record.secret == secret)


def post_event(
    call: Callable[..., Answer],
    fake: FakeStripe,
    event_id: str,
    secret: str = WEBHOOK_SECRET,
) -> Answer:
    body, headers = fake.signed_event(event_id, secret=secret)
    return call("POST", "/stripe-events", headers=headers, content=body)


class StripeEventContract:
    """``POST /stripe-events``: Stripe's signed card events, on the raw body."""

    @pytest.fixture(autouse=True)
    def cards_back_on(self, stripe_stand_in: StripeStandIn) -> Iterator[None]:
        """The demo's cards active again afterwards: one stand-in for the session."""
        yield
        client = stripe_stand_in.fake.client(max_network_retries=0)
        for card, account in ((ERIN_CARD, None), (ERIN_CONNECT_CARD, CAROL_ACCOUNT)):
            options: Any = {"stripe_account": account} if account else {}
            client.v1.issuing.cards.update(
                card, params={"status": "active"}, options=options
            )

    def test_a_frozen_card_has_its_key_revoked(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        fake = stripe_stand_in.fake
        key = issue_key(call, fake, ERIN, ERIN_CARD)
        revoked_before = len(fake.revoked_keys)

        answer = post_event(call, fake, stop_card(fake, ERIN_CARD))

        revoked_now = fake.revoked_keys[revoked_before:]
        assert (200, {"received": True, "revoked": len(revoked_now)}) == (
            answer.status,
            answer.json(),
        )
        assert key in [record.id for record in revoked_now]

    def test_a_connected_accounts_card_is_revoked_on_its_account(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        fake = stripe_stand_in.fake
        key = issue_key(call, fake, ERIN, ERIN_CONNECT_CARD)

        answer = post_event(
            call,
            fake,
            stop_card(fake, ERIN_CONNECT_CARD, CAROL_ACCOUNT),
            secret=WEBHOOK_SECRET_ROLLED,
        )

        assert 200 == answer.status
        assert fake.key(key).revoked
        deleted = [r for r in stripe_stand_in.requests if r.method == "DELETE"]
        assert {CAROL_ACCOUNT} == {r.headers.get("stripe-account") for r in deleted}

    def test_a_wrong_signature_is_400_and_revokes_nothing(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        fake = stripe_stand_in.fake
        event_id = stop_card(fake, ERIN_CARD)
        asked = len(stripe_stand_in.requests)

        answer = post_event(call, fake, event_id, secret="whsec_fake_not_ours")

        assert (400, "signature_invalid") == (
            answer.status,
            answer.json()["error"]["code"],
        )
        assert [] == stripe_stand_in.requests[asked:]  # nothing revoked, or listed
