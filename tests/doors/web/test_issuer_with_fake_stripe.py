"""Stateful flows: the issuer against FakeStripe, through the real StripeClient."""

from __future__ import annotations

import asyncio
import json

import pytest

from issuing_elements import EphemeralKeyIssuer, Grant
from issuing_elements.exceptions import (
    InvalidNonceError,
    InvalidRequestError,
    ServerMisconfiguredError,
    StripeUnavailableError,
)
from issuing_elements.testing import FakeStripe
from stripe_wire import Card, owner_of

PLATFORM_CARD = "ic_1PlatformCard"
CONNECTED_CARD = "ic_1ConnectedCard"
ACCOUNT = "acct_1Connected"
JSON = "application/json"


@pytest.fixture
def fake_cards() -> list[Card]:
    return [Card(PLATFORM_CARD), Card(CONNECTED_CARD, ACCOUNT)]


@pytest.fixture
def issuer(fake: FakeStripe) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        fake.client(),
        owner_of({PLATFORM_CARD: Grant(), CONNECTED_CARD: Grant(ACCOUNT)}),
        max_network_retries=0,
    )


def body(card_id: str, nonce: str) -> bytes:
    return json.dumps({"card_id": card_id, "nonce": nonce}).encode()


def test_a_used_nonce_is_refused_the_second_time(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    nonce = fake.create_nonce(PLATFORM_CARD)

    first = issuer.handle("alice", body=body(PLATFORM_CARD, nonce), content_type=JSON)
    second = issuer.handle("alice", body=body(PLATFORM_CARD, nonce), content_type=JSON)

    assert (200, 400) == (first.status, second.status)
    assert "invalid_nonce" == json.loads(second.body)["error"]["code"]
    assert 1 == len(fake.keys)


def test_a_nonce_made_for_another_card_is_refused(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    nonce = fake.create_nonce(CONNECTED_CARD)

    with pytest.raises(InvalidNonceError):
        issuer.issue("alice", card_id=PLATFORM_CARD, nonce=nonce)


def test_a_connected_card_is_issued_under_its_account(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    key = issuer.issue(
        "alice", card_id=CONNECTED_CARD, nonce=fake.create_nonce(CONNECTED_CARD)
    )

    assert [(CONNECTED_CARD, ACCOUNT)] == [(r.card_id, r.account) for r in fake.keys]
    assert ACCOUNT == key.stripe_account


def test_an_authorizer_naming_the_wrong_account_gets_no_key(
    fake: FakeStripe,
) -> None:
    issuer = EphemeralKeyIssuer(fake.client(), owner_of({CONNECTED_CARD: Grant()}))

    response = issuer.handle(
        "alice",
        body=body(CONNECTED_CARD, fake.create_nonce(CONNECTED_CARD)),
        content_type=JSON,
    )

    assert 404 == response.status
    assert () == fake.keys


def test_the_key_lives_as_long_as_stripe_says(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    key = issuer.issue(
        "alice", card_id=PLATFORM_CARD, nonce=fake.create_nonce(PLATFORM_CARD)
    )

    assert fake.keys[0].expires == key.expires


def test_revoke_invalidates_the_key(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    key = issuer.issue(
        "alice", card_id=CONNECTED_CARD, nonce=fake.create_nonce(CONNECTED_CARD)
    )

    issuer.revoke(key.id, stripe_account=key.stripe_account)

    assert [key.id] == [record.id for record in fake.revoked_keys]


def test_revoking_twice_is_an_error_naming_the_key(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    key = issuer.issue(
        "alice", card_id=PLATFORM_CARD, nonce=fake.create_nonce(PLATFORM_CARD)
    )
    issuer.revoke(key.id)

    with pytest.raises(InvalidRequestError) as raised:
        issuer.revoke(key.id)

    assert "key_id" == raised.value.field


def test_revoking_under_the_wrong_account_leaves_the_key_alive(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    key = issuer.issue(
        "alice", card_id=CONNECTED_CARD, nonce=fake.create_nonce(CONNECTED_CARD)
    )

    with pytest.raises(InvalidRequestError):
        issuer.revoke(key.id)

    assert () == fake.revoked_keys


def test_async_issue_and_revoke(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    async def issue_then_revoke() -> str:
        key = await issuer.aissue(
            "alice", card_id=PLATFORM_CARD, nonce=fake.create_nonce(PLATFORM_CARD)
        )
        await issuer.arevoke(key.id)
        return key.id

    key_id = asyncio.run(issue_then_revoke())

    assert [key_id] == [record.id for record in fake.revoked_keys]


def test_arevoke_when_stripe_is_down(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    fake.fail_next(503)

    with pytest.raises(StripeUnavailableError):
        asyncio.run(issuer.arevoke("ephkey_1Unknown"))


def test_revoke_with_a_bad_api_key_is_misconfigured(fake: FakeStripe) -> None:
    issuer = EphemeralKeyIssuer(
        fake.client(api_key="sk_test_fake_not_the_fakes"), owner_of({})
    )

    with pytest.raises(ServerMisconfiguredError):
        issuer.revoke("ephkey_1Unknown")


def test_a_retried_create_after_a_lost_answer_issues_one_key(fake: FakeStripe) -> None:
    issuer = EphemeralKeyIssuer(
        fake.client(), owner_of({PLATFORM_CARD: True}), max_network_retries=1
    )
    fake.drop_next(after_processing=True)

    key = issuer.issue(
        "alice", card_id=PLATFORM_CARD, nonce=fake.create_nonce(PLATFORM_CARD)
    )

    assert [key.id] == [record.id for record in fake.keys]


def test_a_conflict_that_outlasts_retries_is_unavailable(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    fake.fail_next(409, code="lock_timeout")

    with pytest.raises(StripeUnavailableError):
        issuer.issue(
            "alice", card_id=PLATFORM_CARD, nonce=fake.create_nonce(PLATFORM_CARD)
        )
