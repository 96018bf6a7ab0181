"""FakeStripe's keys without a nonce, as the mobile SDKs' push provisioning asks.

A real StripeClient over HTTP, as everywhere; the web path's nonce rules are
in ``test_fake_stripe.py`` and still hold when a nonce is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import stripe

from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Iterator

CARD = "ic_mobileCard"
CONNECTED_CARD = "ic_mobileConnected"
ACCOUNT = "acct_mobileOwner"
# What a recent iOS SDK names; any version from 2020-03-02 on is accepted.
SDK_VERSION = "2024-06-20"
NOW = 1_800_000_000.0


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(clock=lambda: NOW) as fake:
        fake.add_card(CARD)
        fake.add_card(CONNECTED_CARD, account=ACCOUNT)
        yield fake


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return fake.client()


def create(
    client: stripe.StripeClient,
    card_id: str,
    version: str = SDK_VERSION,
    account: str | None = None,
) -> stripe.EphemeralKey:
    options: stripe.RequestOptions = {"stripe_version": version}
    if account is not None:
        options["stripe_account"] = account
    return client.v1.ephemeral_keys.create(
        params={"issuing_card": card_id}, options=options
    )


def test_a_key_without_a_nonce_is_stripes_whole_key_object(
    client: stripe.StripeClient,
) -> None:
    key = create(client, CARD)

    assert {
        "object": "ephemeral_key",
        "associated_objects": [{"id": CARD, "type": "issuing.card"}],
        "created": int(NOW),
        "expires": int(NOW) + 900,
        "livemode": False,
    } == {
        name: value
        for name, value in key.to_dict().items()
        if name not in {"id", "secret"}
    }
    assert ("ephkey_", "ek_test_") == (key.id[:7], str(key.secret)[:8])


def test_the_record_has_no_nonce_and_the_requested_version(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, version="2023-10-16")

    record = fake.key(key.id)
    assert (None, "2023-10-16", CARD) == (
        record.nonce,
        record.stripe_version,
        record.card_id,
    )


def test_the_key_answers_under_the_requested_version(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    create(client, CARD, version="2022-08-01")

    assert "2022-08-01" == fake.requests[-1].headers["stripe-version"]
    assert ["2022-08-01"] == [record.stripe_version for record in fake.keys]


def test_a_version_before_2020_03_02_is_refused(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(client, CARD, version="2019-12-03")

    assert (400, ()) == (caught.value.http_status, fake.keys)


def test_a_connected_card_is_issued_under_its_account(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CONNECTED_CARD, account=ACCOUNT)

    assert ACCOUNT == fake.key(key.id).account


def test_a_card_the_fake_does_not_know_is_missing(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(client, "ic_nobodys")

    assert ("resource_missing", "issuing_card", ()) == (
        caught.value.code,
        caught.value.param,
        fake.keys,
    )


def test_a_connected_card_under_the_platform_is_missing(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(client, CONNECTED_CARD)

    assert "resource_missing" == caught.value.code


def test_a_given_nonce_is_still_checked(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    nonce = fake.create_nonce(CARD)
    client.v1.ephemeral_keys.create(
        params={"issuing_card": CARD, "nonce": nonce},
        options={"stripe_version": SDK_VERSION},
    )

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.create(
            params={"issuing_card": CARD, "nonce": nonce},
            options={"stripe_version": SDK_VERSION},
        )

    assert "nonce" == caught.value.param


def test_an_empty_nonce_is_not_taken_for_no_nonce(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.create(
            params={"issuing_card": CARD, "nonce": ""},
            options={"stripe_version": SDK_VERSION},
        )

    assert ("nonce", ()) == (caught.value.param, fake.keys)


def test_nonceless_keys_revoke_like_any_other(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD)

    client.v1.ephemeral_keys.delete(key.id, options={"stripe_version": SDK_VERSION})

    assert [key.id] == [record.id for record in fake.revoked_keys]


def test_a_retry_with_the_same_idempotency_key_gets_the_same_key(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    options: stripe.RequestOptions = {
        "stripe_version": SDK_VERSION,
        "idempotency_key": "mobile-retry-1",
    }
    first = client.v1.ephemeral_keys.create(
        params={"issuing_card": CARD}, options=options
    )
    second = client.v1.ephemeral_keys.create(
        params={"issuing_card": CARD}, options=options
    )

    assert (first.id, 1) == (second.id, len(fake.keys))
