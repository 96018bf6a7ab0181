"""FakeStripe's ``POST /v1/account_sessions``, through a real StripeClient."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import pytest
import stripe

from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ACCOUNT = "acct_sessionOwner"
CARDLESS_ACCOUNT = "acct_noCardsYet"
NOW = 1_800_000_000.0
NO_FEATURES = {
    "card_management": False,
    "card_spend_dispute_management": False,
    "cardholder_management": False,
    "spend_control_management": False,
}
CARD_ONLY: dict[str, Any] = {
    "issuing_card": {"enabled": True, "features": {"card_management": True}}
}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(clock=lambda: NOW) as fake:
        fake.add_card("ic_sessionCard", account=ACCOUNT)
        fake.add_account(CARDLESS_ACCOUNT)
        yield fake


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return fake.client()


def create(
    client: stripe.StripeClient,
    params: dict[str, Any],
    **options: Any,
) -> stripe.AccountSession:
    return client.v1.account_sessions.create(
        params=params,  # type: ignore[arg-type]  # the test sends what Stripe may refuse
        options=options,  # type: ignore[arg-type]  # same
    )


def refusal(client: stripe.StripeClient, params: dict[str, Any], **options: Any) -> Any:
    with pytest.raises(stripe.StripeError) as caught:
        create(client, params, **options)
    error = caught.value
    assert error.error is not None
    return (error.http_status, error.error.type, error.code, error.error.param)


def test_a_session_answers_stripes_shape(client: stripe.StripeClient) -> None:
    session = create(client, {"account": ACCOUNT, "components": CARD_ONLY})

    assert {
        "object": "account_session",
        "account": ACCOUNT,
        "expires_at": int(NOW) + 30 * 60,
        "livemode": False,
        "issuing_card": {
            "enabled": True,
            "features": {**NO_FEATURES, "card_management": True},
        },
        "issuing_cards_list": {
            "enabled": False,
            "features": {**NO_FEATURES, "disable_stripe_user_authentication": False},
        },
    } == {
        **{
            name: value
            for name, value in session.to_dict().items()
            if name not in {"client_secret", "components"}
        },
        **{
            name: value
            for name, value in session.to_dict()["components"].items()
            if name.startswith("issuing_")
        },
    }


def stripes_components() -> dict[str, list[str]]:
    """Every component of stripe-python's AccountSession, with its features."""
    components = stripe.AccountSession.Components
    return {
        name: sorted(components._inner_class_types[name].Features.__annotations__)
        for name in components.__annotations__
        if not name.startswith("_")
    }


def test_a_session_lists_every_component_of_stripes_object_the_others_disabled(
    client: stripe.StripeClient,
) -> None:
    session = create(client, {"account": ACCOUNT, "components": CARD_ONLY})

    answered = session.to_dict()["components"]
    assert (stripes_components(), ["issuing_card"]) == (
        {name: sorted(value["features"]) for name, value in answered.items()},
        [name for name, value in answered.items() if value["enabled"]],
    )


def test_the_secret_has_the_shape_of_stripes_fixtures(
    client: stripe.StripeClient,
) -> None:
    session = create(client, {"account": ACCOUNT, "components": CARD_ONLY})

    assert re.fullmatch(r"accs_secret__[A-Za-z0-9]{47}", session.client_secret)


def test_the_suites_leak_check_finds_a_minted_secret(
    client: stripe.StripeClient, find_secrets: Callable[[list[str]], list[str]]
) -> None:
    session = create(client, {"account": ACCOUNT, "components": CARD_ONLY})

    assert [session.client_secret] == find_secrets([f"x={session.client_secret}."])


def test_each_session_has_a_secret_of_its_own(client: stripe.StripeClient) -> None:
    first = create(client, {"account": ACCOUNT, "components": CARD_ONLY})
    second = create(client, {"account": ACCOUNT, "components": CARD_ONLY})

    assert first.client_secret != second.client_secret


def test_a_component_enabled_without_features_has_every_feature_false(
    client: stripe.StripeClient,
) -> None:
    session = create(
        client,
        {"account": ACCOUNT, "components": {"issuing_cards_list": {"enabled": True}}},
    )

    listed = session.components.issuing_cards_list
    assert (True, False) == (listed.enabled, any(listed.features.to_dict().values()))


def test_a_session_is_recorded_with_its_secret_hidden_from_repr(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    session = create(
        client,
        {"account": ACCOUNT, "components": CARD_ONLY},
        stripe_version="2024-06-20",
    )

    [record] = fake.account_sessions
    assert (ACCOUNT, session.client_secret, "2024-06-20", int(NOW)) == (
        record.account,
        record.client_secret,
        record.stripe_version,
        record.created,
    )
    assert session.client_secret not in repr(record)


def test_the_secret_is_in_no_recorded_request(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    session = create(client, {"account": ACCOUNT, "components": CARD_ONLY})

    assert session.client_secret not in repr(fake.requests)


def test_the_request_is_recorded_as_sent(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    create(client, {"account": ACCOUNT, "components": CARD_ONLY})

    [request] = fake.requests
    assert ("POST", "/v1/account_sessions", 200) == (
        request.method,
        request.path,
        request.status,
    )
    assert {
        "account": ACCOUNT,
        "components[issuing_card][enabled]": "true",
        "components[issuing_card][features][card_management]": "true",
    } == dict(request.params)


def test_an_account_known_from_add_account_gets_a_session(
    client: stripe.StripeClient,
) -> None:
    session = create(client, {"account": CARDLESS_ACCOUNT, "components": CARD_ONLY})

    assert CARDLESS_ACCOUNT == session.account


def test_an_unknown_account_is_refused_like_stripe(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    answer = refusal(client, {"account": "acct_stranger", "components": CARD_ONLY})

    assert (400, "invalid_request_error", "resource_missing", "account") == answer
    assert () == fake.account_sessions


def test_a_missing_account_is_a_missing_parameter(client: stripe.StripeClient) -> None:
    answer = refusal(client, {"components": CARD_ONLY})

    assert (400, "invalid_request_error", "parameter_missing", "account") == answer


def test_missing_components_are_a_missing_parameter(
    client: stripe.StripeClient,
) -> None:
    answer = refusal(client, {"account": ACCOUNT})

    assert (400, "invalid_request_error", "parameter_missing", "components") == answer


def test_features_without_enabled_are_a_missing_parameter(
    client: stripe.StripeClient,
) -> None:
    params = {
        "account": ACCOUNT,
        "components": {"issuing_card": {"features": {"card_management": True}}},
    }

    answer = refusal(client, params)

    assert (
        400,
        "invalid_request_error",
        "parameter_missing",
        "components[issuing_card][enabled]",
    ) == answer


@pytest.mark.parametrize(
    ("components", "param"),
    [
        ({"payments": {"enabled": True}}, "components[payments][enabled]"),
        (
            {"issuing_card": {"enabled": True, "features": {"refunds": True}}},
            "components[issuing_card][features][refunds]",
        ),
        (
            {
                "issuing_card": {
                    "enabled": True,
                    "features": {"disable_stripe_user_authentication": True},
                }
            },
            "components[issuing_card][features][disable_stripe_user_authentication]",
        ),
    ],
)
def test_an_unknown_component_or_feature_is_refused_by_name(
    client: stripe.StripeClient, components: dict[str, Any], param: str
) -> None:
    answer = refusal(client, {"account": ACCOUNT, "components": components})

    assert (400, "invalid_request_error", None, param) == answer


def test_a_stripe_account_header_is_refused(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    answer = refusal(
        client, {"account": ACCOUNT, "components": CARD_ONLY}, stripe_account=ACCOUNT
    )

    assert (400, "invalid_request_error", None, None) == answer
    assert () == fake.account_sessions


def test_the_wrong_api_key_is_refused(fake: FakeStripe) -> None:
    client = fake.client(api_key="sk_test_wrong_key_for_sessions")

    answer = refusal(client, {"account": ACCOUNT, "components": CARD_ONLY})

    assert (401, "invalid_request_error", None, None) == answer


def test_an_idempotent_retry_replays_the_session(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    params = {"account": ACCOUNT, "components": CARD_ONLY}
    first = create(client, params, idempotency_key="session-retry-1")
    second = create(client, params, idempotency_key="session-retry-1")

    assert (first.client_secret, 1) == (
        second.client_secret,
        len(fake.account_sessions),
    )


def test_injected_faults_apply_to_account_sessions(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    fake.fail_next(500, stripe_should_retry=False)

    answer = refusal(client, {"account": ACCOUNT, "components": CARD_ONLY})

    assert ((500, "api_error", None, None), ()) == (answer, fake.account_sessions)


def test_a_session_is_created_async_too(client: stripe.StripeClient) -> None:
    session = asyncio.run(
        client.v1.account_sessions.create_async(
            params={"account": ACCOUNT, "components": CARD_ONLY}  # type: ignore[typeddict-item]  # a plain dict
        )
    )

    assert ACCOUNT == session.account
