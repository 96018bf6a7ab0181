"""FakeStripe's state and Stripe's rules, called directly: no server, no HTTP.

Each rule refuses with the `StripeError` the endpoint renders: its status,
type, code, param and message, as Stripe's error object has them.
"""

from __future__ import annotations

import pytest

from issuing_elements.testing import FakeStripe, StripeError, StripeState

CARD = "ic_card1"
OTHER_CARD = "ic_card2"
ACCOUNT = "acct_owner"
CARDHOLDER = "ich_holder"
VERSION = "2020-03-02"
NOW = 1_800_000_000.0


@pytest.fixture
def state() -> StripeState:
    state = StripeState(
        api_key="sk_test_state",
        publishable_key="pk_test_state",
        key_lifetime=900,
        clock=lambda: NOW,
    )
    state.add_card(CARD, None, CARDHOLDER)
    state.add_card(OTHER_CARD, None)
    return state


def refusal(error: pytest.ExceptionInfo[StripeError]) -> tuple[object, ...]:
    e = error.value
    return (e.status, e.type, e.code, e.param, e.message)


def test_a_nonce_is_good_for_one_key(state: StripeState) -> None:
    nonce = state.create_nonce(CARD)
    state.issue_key(CARD, nonce, None, VERSION)

    with pytest.raises(StripeError) as error:
        state.issue_key(CARD, nonce, None, VERSION)

    assert refusal(error) == (
        400,
        "invalid_request_error",
        None,
        "nonce",
        "This nonce has already been used to create a key.",
    )


def test_a_nonce_opens_only_its_card(state: StripeState) -> None:
    nonce = state.create_nonce(CARD)

    with pytest.raises(StripeError) as error:
        state.issue_key(OTHER_CARD, nonce, None, VERSION)

    assert (error.value.status, error.value.param, error.value.message) == (
        400,
        "nonce",
        "This nonce was created for a different issuing card.",
    )
    # The refusal spent nothing: the nonce still opens its own card.
    assert state.issue_key(CARD, nonce, None, VERSION).nonce == nonce


def test_a_nonce_opens_only_under_its_account(state: StripeState) -> None:
    state.add_card("ic_connected", ACCOUNT)
    nonce = state.create_nonce("ic_connected", "acct_other")

    with pytest.raises(StripeError) as error:
        state.issue_key("ic_connected", nonce, ACCOUNT, VERSION)

    assert refusal(error) == (
        400,
        "invalid_request_error",
        None,
        "nonce",
        "This nonce was created for a different account.",
    )


def test_a_card_is_keyed_only_under_its_owner(state: StripeState) -> None:
    state.add_card("ic_connected", ACCOUNT)
    nonce = state.create_nonce("ic_connected")

    with pytest.raises(StripeError) as error:
        state.issue_key("ic_connected", nonce, "acct_other", VERSION)

    assert refusal(error) == (
        400,
        "invalid_request_error",
        "resource_missing",
        "issuing_card",
        "No such issuing card: 'ic_connected'",
    )


def test_an_unknown_nonce_is_refused(state: StripeState) -> None:
    with pytest.raises(StripeError) as error:
        state.issue_key(CARD, "ephkn_pub_nothing", None, VERSION)

    assert error.value.message == "No such ephemeral key nonce: 'ephkn_pub_nothing'"


def test_a_revoked_key_is_gone(state: StripeState) -> None:
    key = state.issue_key(CARD, None, None, VERSION)
    revoked = state.revoke_key(key.id, None)

    with pytest.raises(StripeError) as error:
        state.revoke_key(key.id, None)

    assert revoked.revoked_at == int(NOW)
    assert state.revoked_keys == (revoked,)
    assert refusal(error) == (
        404,
        "invalid_request_error",
        "resource_missing",
        "id",
        f"No such ephemeral key: '{key.id}'",
    )


def test_a_key_is_revoked_only_under_its_account(state: StripeState) -> None:
    key = state.issue_key(CARD, None, None, VERSION)

    with pytest.raises(StripeError) as error:
        state.revoke_key(key.id, ACCOUNT)

    assert error.value.status == 404
    assert state.key(key.id).revoked_at is None


def test_the_secret_key_is_told_apart_from_the_publishable_one(
    state: StripeState,
) -> None:
    with pytest.raises(StripeError) as publishable:
        state.authenticate_secret("pk_test_state")
    with pytest.raises(StripeError) as wrong:
        state.authenticate_secret("sk_test_wrong_key_1234")
    with pytest.raises(StripeError) as secret_for_nonce:
        state.authenticate_publishable("sk_test_state")

    assert publishable.value.status == wrong.value.status == 401
    assert "publishable API key" in publishable.value.message
    assert wrong.value.message == "Invalid API Key provided: sk_test_****1234"
    assert "sk_test_state" not in secret_for_nonce.value.message


def test_an_ephemeral_key_reads_its_card_until_it_expires(
    state: StripeState,
) -> None:
    key = state.issue_key(CARD, None, None, VERSION)
    state.authorize_card_reader(key.secret, None, CARD)

    with pytest.raises(StripeError) as other_card:
        state.authorize_card_reader(key.secret, None, OTHER_CARD)
    state.advance(900)
    with pytest.raises(StripeError) as expired:
        state.authorize_card_reader(key.secret, None, CARD)

    assert other_card.value.status == 403
    assert (expired.value.status, expired.value.code) == (401, "api_key_expired")
    assert key.secret not in expired.value.message


def test_an_account_session_needs_a_known_account(state: StripeState) -> None:
    with pytest.raises(StripeError) as error:
        state.open_account_session(ACCOUNT, {}, VERSION)

    state.add_account(ACCOUNT)
    session = state.open_account_session(ACCOUNT, {}, VERSION)

    assert refusal(error) == (
        400,
        "invalid_request_error",
        "resource_missing",
        "account",
        f"No such account: '{ACCOUNT}'",
    )
    assert session.expires_at - session.created == 30 * 60
    assert state.account_sessions == (session,)


def test_a_canceled_card_stays_canceled(state: StripeState) -> None:
    state.update_card(CARD, None, "canceled", "lost")

    with pytest.raises(StripeError) as error:
        state.update_card(CARD, None, "active", None)

    assert refusal(error) == (
        400,
        "invalid_request_error",
        None,
        "status",
        "A canceled card cannot be reactivated.",
    )
    assert state.card(CARD)["cancellation_reason"] == "lost"
    assert [event.type for event in state.events] == ["issuing_card.updated"]


def test_a_status_change_makes_one_event_and_a_repeat_none(
    state: StripeState,
) -> None:
    state.update_card(CARD, None, "inactive", None)
    state.update_card(CARD, None, "inactive", None)

    assert [event.payload()["data"] for event in state.events] == [
        {
            "object": state.card(CARD),
            "previous_attributes": {"status": "active"},
        }
    ]
    assert state.take_outbox() == list(state.events)
    assert state.take_outbox() == []


def test_blocked_is_stripes_to_set(state: StripeState) -> None:
    with pytest.raises(StripeError) as error:
        state.update_cardholder(CARDHOLDER, None, "blocked")
    state.block_cardholder(CARDHOLDER)

    assert (error.value.status, error.value.param) == (400, "status")
    assert state.update_cardholder(CARDHOLDER, None, None)["status"] == "blocked"


def test_a_card_page_starts_after_a_card_of_the_list(state: StripeState) -> None:
    page = state.list_cards(None, cardholder=None, limit=1, starting_after=CARD)

    with pytest.raises(StripeError) as error:
        state.list_cards(None, cardholder=CARDHOLDER, limit=1, starting_after="ic_x")

    assert ([card["id"] for card in page.cards], page.has_more) == ([OTHER_CARD], False)
    assert (error.value.status, error.value.param) == (400, "starting_after")


def test_a_fake_exposes_its_state() -> None:
    fake = FakeStripe(clock=lambda: NOW)
    fake.add_card(CARD)
    key = fake.state.issue_key(CARD, fake.create_nonce(CARD), None, VERSION)

    assert fake.keys == fake.state.keys == (key,)
    assert fake.key(key.id) == key
    assert fake.now() == fake.state.now() == int(NOW)
