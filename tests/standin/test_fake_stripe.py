"""FakeStripe's ephemeral-key semantics, through the real StripeClient over HTTP."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, cast

import pytest
import stripe
from typing_extensions import Unpack

from issuing_elements.testing import EphemeralKeyRecord, FakeStripe

if TYPE_CHECKING:
    from collections.abc import Iterator

CARD = "ic_card1"
OTHER_CARD = "ic_card2"
CONNECTED_CARD = "ic_connected"
ACCOUNT = "acct_owner"
OTHER_ACCOUNT = "acct_stranger"
VERSION = "2020-03-02"


# A clock that stands still unless a test advances it: expiry to the second.
NOW = 1_800_000_000.0


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(clock=lambda: NOW) as fake:
        fake.add_card(CARD)
        fake.add_card(OTHER_CARD)
        fake.add_card(CONNECTED_CARD, account=ACCOUNT)
        yield fake


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return fake.client()


def create(
    client: stripe.StripeClient,
    card_id: str,
    nonce: str,
    **options: Unpack[stripe.RequestOptions],
) -> stripe.EphemeralKey:
    return client.v1.ephemeral_keys.create(
        params={"issuing_card": card_id, "nonce": nonce},
        options={"stripe_version": VERSION, **options},
    )


def create_error(
    client: stripe.StripeClient,
    card_id: str,
    nonce: str,
    **options: Unpack[stripe.RequestOptions],
) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        create(client, card_id, nonce, **options)
    return caught.value


def error_fields(error: stripe.StripeError) -> dict[str, Any]:
    """The parts of a Stripe error that a caller branches on."""
    assert error.error is not None
    return {
        "class": type(error).__name__,
        "status": error.http_status,
        "type": error.error.type,
        "code": error.code,
        "param": error.error.param,
    }


# -- creating a key ------------------------------------------------------------


def test_create_answers_an_ephemeral_key_for_the_card(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    assert {
        "object": "ephemeral_key",
        "associated_objects": [{"id": CARD, "type": "issuing.card"}],
        "livemode": False,
    } == {
        "object": key.object,
        "associated_objects": key.to_dict()["associated_objects"],
        "livemode": key.livemode,
    }


def test_create_answers_a_test_secret_and_an_ephkey_id(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    assert ("ek_test_", "ephkey_") == (str(key.secret)[:8], key.id[:7])


def test_a_secret_has_stripes_real_shape(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    # ek_test_<base64 text>_00<tail>, as Stripe sends it: the log mask must
    # cover the underscores inside, so every test that issues a key checks it.
    key = create(client, CARD, fake.create_nonce(CARD))

    shape = re.compile(r"ek_test_[A-Za-z0-9_-]+_00[A-Za-z0-9]{10}")
    assert shape.fullmatch(str(key.secret)) is not None


def test_key_expires_after_the_key_lifetime(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    assert (int(NOW), int(NOW) + 900) == (key.created, key.expires)


def test_key_lifetime_is_configurable() -> None:
    with FakeStripe(key_lifetime=60) as fake:
        fake.add_card(CARD)
        key = create(fake.client(), CARD, fake.create_nonce(CARD))

    assert 60 == key.expires - key.created


def test_created_key_is_recorded(fake: FakeStripe, client: stripe.StripeClient) -> None:
    nonce = fake.create_nonce(CARD)

    key = create(client, CARD, nonce)

    assert (
        EphemeralKeyRecord(
            id=key.id,
            secret=str(key.secret),
            card_id=CARD,
            account=None,
            nonce=nonce,
            stripe_version=VERSION,
            created=key.created,
            expires=key.expires,
        ),
    ) == fake.keys


def test_create_with_the_owning_account_succeeds(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(
        client,
        CONNECTED_CARD,
        fake.create_nonce(CONNECTED_CARD),
        stripe_account=ACCOUNT,
    )

    assert ACCOUNT == fake.key(key.id).account


def test_create_sends_stripe_account_header(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    create(
        client,
        CONNECTED_CARD,
        fake.create_nonce(CONNECTED_CARD),
        stripe_account=ACCOUNT,
    )

    assert ACCOUNT == fake.requests[-1].headers["stripe-account"]


def test_create_with_the_clients_default_version_succeeds(fake: FakeStripe) -> None:
    # stripe-python sends its own pinned version (YYYY-MM-DD.name) by default.
    key = fake.client().v1.ephemeral_keys.create(
        params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)}
    )

    assert [key.id] == [record.id for record in fake.keys]


def test_create_accepts_expand(fake: FakeStripe, client: stripe.StripeClient) -> None:
    key = client.v1.ephemeral_keys.create(
        params={
            "issuing_card": CARD,
            "nonce": fake.create_nonce(CARD),
            "expand": ["associated_objects"],
        },
        options={"stripe_version": VERSION},
    )

    assert CARD == key.to_dict()["associated_objects"][0]["id"]


def test_create_async_answers_a_key(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    nonce = fake.create_nonce(CARD)

    key = asyncio.run(
        client.v1.ephemeral_keys.create_async(
            params={"issuing_card": CARD, "nonce": nonce},
            options={"stripe_version": VERSION},
        )
    )

    assert [key.id] == [record.id for record in fake.keys]


# -- nonces ----------------------------------------------------------------------


def test_reused_nonce_is_rejected(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    nonce = fake.create_nonce(CARD)
    create(client, CARD, nonce)

    error = create_error(client, CARD, nonce)

    assert {
        "class": "InvalidRequestError",
        "status": 400,
        "type": "invalid_request_error",
        "code": None,
        "param": "nonce",
    } == error_fields(error)


def test_nonce_of_another_card_is_rejected(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    error = create_error(client, CARD, fake.create_nonce(OTHER_CARD))

    assert ("nonce", 400) == (error.error and error.error.param, error.http_status)


def test_unknown_nonce_is_rejected(client: stripe.StripeClient) -> None:
    error = create_error(client, CARD, "ephkn_pub_madeup")

    assert ("nonce", 400) == (error.error and error.error.param, error.http_status)


def test_nonce_minted_for_another_account_is_rejected(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    nonce = fake.create_nonce(CONNECTED_CARD, account=OTHER_ACCOUNT)

    error = create_error(client, CONNECTED_CARD, nonce, stripe_account=ACCOUNT)

    assert ("nonce", 400) == (error.error and error.error.param, error.http_status)


def test_rejected_request_leaves_the_nonce_usable(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    nonce = fake.create_nonce(CARD)
    create_error(client, CARD, nonce, stripe_account=OTHER_ACCOUNT)

    key = create(client, CARD, nonce)

    assert [key.id] == [record.id for record in fake.keys]


# -- cards and accounts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("card_id", "account"),
    [
        pytest.param(CONNECTED_CARD, OTHER_ACCOUNT, id="connected-card-other-account"),
        pytest.param(CONNECTED_CARD, None, id="connected-card-no-account"),
        pytest.param(CARD, ACCOUNT, id="platform-card-with-account"),
        pytest.param("ic_nobody", None, id="unknown-card"),
    ],
)
def test_card_outside_the_requests_account_is_missing(
    fake: FakeStripe, client: stripe.StripeClient, card_id: str, account: str | None
) -> None:
    nonce = fake.create_nonce(card_id, account=account)

    error = create_error(client, card_id, nonce, stripe_account=account)

    assert {
        "class": "InvalidRequestError",
        "status": 400,
        "type": "invalid_request_error",
        "code": "resource_missing",
        "param": "issuing_card",
    } == error_fields(error)


def test_missing_card_message_names_the_card(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    error = create_error(client, "ic_nobody", fake.create_nonce("ic_nobody"))

    assert "No such issuing card: 'ic_nobody'" == error.user_message


# -- Stripe-Version ----------------------------------------------------------------


@pytest.mark.parametrize("version", ["2019-12-03", "2020-03-01", "2017-05-25"])
def test_version_before_2020_03_02_is_rejected(
    fake: FakeStripe, client: stripe.StripeClient, version: str
) -> None:
    error = create_error(client, CARD, fake.create_nonce(CARD), stripe_version=version)

    assert ("InvalidRequestError", 400, "invalid_request_error") == (
        type(error).__name__,
        error.http_status,
        error.error and error.error.type,
    )


def test_malformed_version_is_rejected_like_stripe(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    error = create_error(
        client, CARD, fake.create_nonce(CARD), stripe_version="yesterday"
    )

    assert (400, "Invalid Stripe API version: yesterday") == (
        error.http_status,
        error.user_message,
    )


def test_named_version_after_the_minimum_is_accepted(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(
        client, CARD, fake.create_nonce(CARD), stripe_version="2024-06-20.acacia"
    )

    assert "2024-06-20.acacia" == fake.key(key.id).stripe_version


# -- API keys ----------------------------------------------------------------------


def test_wrong_api_key_is_refused_with_the_key_masked(fake: FakeStripe) -> None:
    client = fake.client(api_key="sk_test_wrong_key_abcd")

    error = create_error(client, CARD, fake.create_nonce(CARD))

    assert (
        "AuthenticationError",
        401,
        "Invalid API Key provided: sk_test_****abcd",
    ) == (type(error).__name__, error.http_status, error.user_message)


def test_publishable_key_is_refused_on_the_secret_endpoint(fake: FakeStripe) -> None:
    client = fake.client(api_key=fake.publishable_key)

    error = create_error(client, CARD, fake.create_nonce(CARD))

    assert ("AuthenticationError", 401) == (type(error).__name__, error.http_status)


def test_refused_key_leaves_the_nonce_usable(fake: FakeStripe) -> None:
    nonce = fake.create_nonce(CARD)
    create_error(fake.client(api_key="sk_test_wrong_key_abcd"), CARD, nonce)

    key = create(fake.client(), CARD, nonce)

    assert [key.id] == [record.id for record in fake.keys]


# -- parameters --------------------------------------------------------------------


def test_unknown_parameter_is_rejected_by_name(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.create(
            # An unknown parameter, on purpose.
            params=cast(
                "Any",
                {
                    "issuing_card": CARD,
                    "nonce": fake.create_nonce(CARD),
                    "colour": "blue",
                },
            ),
            options={"stripe_version": VERSION},
        )

    assert ("colour", "Received unknown parameter: colour") == (
        caught.value.param,
        caught.value.user_message,
    )


def test_missing_card_is_a_missing_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.create(
            params={"nonce": "ephkn_pub_x"}, options={"stripe_version": VERSION}
        )

    assert ("parameter_missing", "issuing_card") == (
        caught.value.code,
        caught.value.param,
    )


def test_customer_keys_are_not_simulated(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.create(
            params={"customer": "cus_someone"}, options={"stripe_version": VERSION}
        )

    assert "customer" == caught.value.param


def test_parameter_over_5000_characters_is_rejected(
    client: stripe.StripeClient,
) -> None:
    error = create_error(client, CARD, "ephkn_pub_" + "x" * 5000)

    assert ("nonce", 400) == (error.error and error.error.param, error.http_status)


# -- Idempotency-Key -----------------------------------------------------------------


def test_idempotency_key_reused_with_other_params_is_an_idempotency_error(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    create(client, CARD, fake.create_nonce(CARD), idempotency_key="same-key")

    error = create_error(
        client, OTHER_CARD, fake.create_nonce(OTHER_CARD), idempotency_key="same-key"
    )

    assert ("IdempotencyError", 400) == (type(error).__name__, error.http_status)


def test_idempotency_key_reused_with_same_params_replays_the_key(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    nonce = fake.create_nonce(CARD)
    first = create(client, CARD, nonce, idempotency_key="same-key")

    second = create(client, CARD, nonce, idempotency_key="same-key")

    assert (first.id, 1) == (second.id, len(fake.keys))


# -- revoking ------------------------------------------------------------------------


def test_delete_answers_the_key_without_its_secret(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    deleted = client.v1.ephemeral_keys.delete(key.id)

    assert {
        "id": key.id,
        "object": "ephemeral_key",
        "associated_objects": [{"id": CARD, "type": "issuing.card"}],
        "created": key.created,
        "expires": key.expires,
        "livemode": False,
    } == deleted.to_dict()


def test_delete_marks_the_key_revoked(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))
    fake.advance(30)

    client.v1.ephemeral_keys.delete(key.id)

    assert ([key.id], fake.now()) == (
        [record.id for record in fake.revoked_keys],
        fake.key(key.id).revoked_at,
    )


def test_delete_async_revokes(fake: FakeStripe, client: stripe.StripeClient) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    asyncio.run(client.v1.ephemeral_keys.delete_async(key.id))

    assert True is fake.key(key.id).revoked


def test_delete_under_the_owning_account_revokes(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(
        client,
        CONNECTED_CARD,
        fake.create_nonce(CONNECTED_CARD),
        stripe_account=ACCOUNT,
    )

    client.v1.ephemeral_keys.delete(key.id, options={"stripe_account": ACCOUNT})

    assert True is fake.key(key.id).revoked


def test_delete_from_another_account_is_missing(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(
        client,
        CONNECTED_CARD,
        fake.create_nonce(CONNECTED_CARD),
        stripe_account=ACCOUNT,
    )

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.delete(key.id)

    assert (404, "resource_missing", False) == (
        caught.value.http_status,
        caught.value.code,
        fake.key(key.id).revoked,
    )


def test_delete_of_unknown_key_is_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.delete("ephkey_madeup")

    assert (404, "resource_missing", "id") == (
        caught.value.http_status,
        caught.value.code,
        caught.value.param,
    )


def test_delete_twice_is_missing_the_second_time(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))
    client.v1.ephemeral_keys.delete(key.id)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.ephemeral_keys.delete(key.id)

    assert 404 == caught.value.http_status


def test_delete_with_wrong_api_key_is_refused(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    with pytest.raises(stripe.AuthenticationError):
        fake.client(api_key="sk_test_wrong_key_abcd").v1.ephemeral_keys.delete(key.id)

    assert False is fake.key(key.id).revoked


# -- using a key: GET /v1/issuing/cards/{id} ---------------------------------------


def card_client(fake: FakeStripe, key: stripe.EphemeralKey) -> stripe.StripeClient:
    """A client that authenticates as the browser does, with the key's secret."""
    return fake.client(api_key=str(key.secret))


def test_key_retrieves_its_card(fake: FakeStripe, client: stripe.StripeClient) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    card = card_client(fake, key).v1.issuing.cards.retrieve(CARD)

    assert (CARD, "issuing.card", "4242") == (card.id, card.object, card.last4)


def test_revoked_key_no_longer_retrieves_the_card(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))
    client.v1.ephemeral_keys.delete(key.id)

    with pytest.raises(stripe.AuthenticationError) as caught:
        card_client(fake, key).v1.issuing.cards.retrieve(CARD)

    assert 401 == caught.value.http_status


def test_expired_key_no_longer_retrieves_the_card(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))
    fake.advance(900)

    with pytest.raises(stripe.AuthenticationError) as caught:
        card_client(fake, key).v1.issuing.cards.retrieve(CARD)

    # stripe-python's AuthenticationError keeps the code only in .error.
    assert (401, "api_key_expired") == (
        caught.value.http_status,
        caught.value.error and caught.value.error.code,
    )


def test_key_still_retrieves_the_card_a_second_before_expiry(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))
    fake.advance(899)

    card = card_client(fake, key).v1.issuing.cards.retrieve(CARD)

    assert CARD == card.id


def test_key_does_not_retrieve_another_card(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    key = create(client, CARD, fake.create_nonce(CARD))

    with pytest.raises(stripe.PermissionError) as caught:
        card_client(fake, key).v1.issuing.cards.retrieve(OTHER_CARD)

    assert 403 == caught.value.http_status


def test_secret_key_retrieves_a_card_of_its_account(
    client: stripe.StripeClient,
) -> None:
    card = client.v1.issuing.cards.retrieve(
        CONNECTED_CARD, options={"stripe_account": ACCOUNT}
    )

    assert CONNECTED_CARD == card.id
