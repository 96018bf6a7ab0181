"""What Stripe receives for an Account Session, byte for byte (pytest-httpserver)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Response

from issuing_elements import (
    AccountSession,
    AccountSessionGrant,
    AccountSessionRequest,
    EphemeralKeyIssuer,
    Grant,
    IssuingCardComponent,
    IssuingCardsListComponent,
)
from issuing_elements.exceptions import (
    AccountNotFoundError,
    ServerMisconfiguredError,
)

ACCOUNT = "acct_1FakeSessions"
OTHER_ACCOUNT = "acct_1FakeOtherOne"
VERSION = "2025-01-27.acacia"
# Stripe's shape: no prefix, "_" and 47 letters and digits (obviously fake).
SESSION_SECRET = "_FakeSessionSecretForWireTests0000000000000000000"
EXPIRES_AT = 1_800_001_800
PATH = "/v1/account_sessions"

NO_FEATURES = {
    "card_management": False,
    "card_spend_dispute_management": False,
    "cardholder_management": False,
    "spend_control_management": False,
}


def session_object(**overrides: Any) -> dict[str, Any]:
    """Stripe's account_session object: every component listed, most disabled."""
    return {
        "object": "account_session",
        "account": ACCOUNT,
        "client_secret": SESSION_SECRET,
        "expires_at": EXPIRES_AT,
        "livemode": False,
        "components": {
            "account_management": {"enabled": False, "features": {}},
            "issuing_card": {
                "enabled": True,
                "features": {**NO_FEATURES, "card_management": True},
            },
            "issuing_cards_list": {
                "enabled": False,
                "features": {
                    **NO_FEATURES,
                    "disable_stripe_user_authentication": False,
                },
            },
            "payments": {"enabled": False, "features": {"refund_management": False}},
        },
        **overrides,
    }


CARD_GRANT = AccountSessionGrant(
    account=ACCOUNT, components=(IssuingCardComponent(card_management=True),)
)


def grants(
    grant: object = CARD_GRANT,
) -> Any:
    def authorizer(user: str, request: AccountSessionRequest) -> object:
        return grant if user == "admin" else None

    return authorizer


def issuer_for(
    client: stripe.StripeClient, grant: object = CARD_GRANT, **options: Any
) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        client,
        lambda _user, _request: Grant(),
        api_version=VERSION,
        account_sessions=grants(grant),
        **{"max_network_retries": 0, **options},
    )


def form(httpserver: HTTPServer) -> list[tuple[str, str]]:
    assert len(httpserver.log) == 1
    return parse_qsl(httpserver.log[0][0].get_data(as_text=True), strict_parsing=True)


def test_stripe_receives_the_account_and_the_granted_component_only(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        session_object()
    )

    issuer_for(stripe_client).create_account_session("admin", account=ACCOUNT)

    assert [
        ("account", ACCOUNT),
        ("components[issuing_card][enabled]", "true"),
        ("components[issuing_card][features][card_management]", "true"),
        ("components[issuing_card][features][card_spend_dispute_management]", "false"),
        ("components[issuing_card][features][cardholder_management]", "false"),
        ("components[issuing_card][features][spend_control_management]", "false"),
    ] == form(httpserver)


def test_features_are_false_unless_granted_both_components(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    grant = AccountSessionGrant(
        account=ACCOUNT,
        components=(IssuingCardsListComponent(), IssuingCardComponent()),
    )
    both = session_object()
    both["components"]["issuing_card"]["features"] = NO_FEATURES
    both["components"]["issuing_cards_list"]["enabled"] = True
    httpserver.expect_oneshot_request(PATH).respond_with_json(both)

    issuer_for(stripe_client, grant).create_account_session("admin")

    assert [
        ("account", ACCOUNT),
        ("components[issuing_cards_list][enabled]", "true"),
        ("components[issuing_cards_list][features][card_management]", "false"),
        (
            "components[issuing_cards_list][features][card_spend_dispute_management]",
            "false",
        ),
        ("components[issuing_cards_list][features][cardholder_management]", "false"),
        ("components[issuing_cards_list][features][spend_control_management]", "false"),
        (
            "components[issuing_cards_list][features][disable_stripe_user_authentication]",
            "false",
        ),
        ("components[issuing_card][enabled]", "true"),
        ("components[issuing_card][features][card_management]", "false"),
        ("components[issuing_card][features][card_spend_dispute_management]", "false"),
        ("components[issuing_card][features][cardholder_management]", "false"),
        ("components[issuing_card][features][spend_control_management]", "false"),
    ] == form(httpserver)


def test_the_form_is_what_the_builders_say(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_json(session_object())

    issuer_for(stripe_client).create_account_session("admin")

    assert [("account", ACCOUNT), *CARD_GRANT.components[0].form_params().items()] == (
        form(httpserver)
    )


def test_no_stripe_account_header_and_the_pinned_version(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_json(session_object())

    issuer_for(stripe_client).create_account_session("admin")

    headers = httpserver.log[0][0].headers
    assert (None, VERSION, "Bearer sk_test_fake_wire_checks") == (
        headers.get("Stripe-Account"),
        headers["Stripe-Version"],
        headers["Authorization"],
    )


def test_a_retry_reuses_the_idempotency_key_and_the_body(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_response(
        Response('{"error": {"type": "api_error", "message": "boom"}}', status=500)
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(session_object())

    session = issuer_for(stripe_client, max_network_retries=1).create_account_session(
        "admin"
    )

    first, second = (entry[0] for entry in httpserver.log)
    assert first.headers["Idempotency-Key"].startswith("issuing-elements-")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.get_data() == second.get_data()
    assert SESSION_SECRET == session.client_secret


def test_the_session_is_read_from_stripes_answer(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_json(session_object())

    session = issuer_for(stripe_client).create_account_session("admin")

    assert (
        AccountSession(
            account=ACCOUNT,
            client_secret=SESSION_SECRET,
            expires_at=EXPIRES_AT,
            components=CARD_GRANT.components,
        )
        == session
    )


def test_the_page_receives_the_secret_and_expiry_with_no_store(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_json(session_object())

    answer = issuer_for(stripe_client).handle_account_session(
        "admin",
        body=b'{"account": "' + ACCOUNT.encode() + b'"}',
        content_type="application/json",
    )

    assert (
        200,
        {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
        {"clientSecret": SESSION_SECRET, "expiresAt": EXPIRES_AT},
    ) == (answer.status, dict(answer.headers), json.loads(answer.body))


def test_the_async_twin_sends_the_same_request(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_json(session_object())

    session = asyncio.run(
        issuer_for(stripe_client).acreate_account_session("admin", account=ACCOUNT)
    )

    assert SESSION_SECRET == session.client_secret
    assert [("account", ACCOUNT), *CARD_GRANT.components[0].form_params().items()] == (
        form(httpserver)
    )


WRONG_ANSWERS = {
    "another_account": session_object(account=OTHER_ACCOUNT),
    "not_a_session": session_object(object="ephemeral_key"),
    "empty_secret": session_object(client_secret=""),
    "no_secret": session_object(client_secret=None),
    "expiry_as_text": session_object(expires_at="1800001800"),
    "granted_component_disabled": {
        **session_object(),
        "components": {"issuing_card": {"enabled": False, "features": NO_FEATURES}},
    },
    "another_component_enabled": {
        **session_object(),
        "components": {
            **session_object()["components"],
            "payments": {"enabled": True, "features": {"refund_management": False}},
        },
    },
    "a_feature_not_granted": {
        **session_object(),
        "components": {
            "issuing_card": {
                "enabled": True,
                "features": {
                    **NO_FEATURES,
                    "card_management": True,
                    "cardholder_management": True,
                },
            }
        },
    },
    "a_granted_feature_missing": {
        **session_object(),
        "components": {"issuing_card": {"enabled": True, "features": NO_FEATURES}},
    },
    "no_components": {**session_object(), "components": None},
    "a_newer_versions_feature_on": {
        **session_object(),
        "components": {
            "issuing_card": {
                "enabled": True,
                "features": {
                    **NO_FEATURES,
                    "card_management": True,
                    "a_future_feature": True,
                },
            }
        },
    },
}


@pytest.mark.parametrize("answer", WRONG_ANSWERS.values(), ids=list(WRONG_ANSWERS))
def test_an_answer_that_is_not_the_grant_is_refused(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    answer: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_request(PATH).respond_with_json(answer)
    issuer = issuer_for(stripe_client)

    with pytest.raises(ServerMisconfiguredError):
        issuer.create_account_session("admin")
    refused = issuer.handle_account_session("admin", body=b"", content_type=None)

    assert 500 == refused.status
    assert SESSION_SECRET not in caplog.text


def test_a_newer_versions_feature_is_accepted_when_off(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    answer = session_object()
    answer["components"]["issuing_card"]["features"]["a_future_feature"] = False
    httpserver.expect_oneshot_request(PATH).respond_with_json(answer)

    session = issuer_for(stripe_client).create_account_session("admin")

    assert SESSION_SECRET == session.client_secret


def test_stripe_without_the_account_is_the_same_404_as_a_denial(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_response(
        Response(
            json.dumps(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "param": "account",
                        "message": f"No such account: '{ACCOUNT}'",
                    }
                }
            ),
            status=400,
        )
    )
    issuer = issuer_for(stripe_client)

    missing = issuer.handle_account_session("admin", body=b"", content_type=None)
    denied = issuer.handle_account_session("mallory", body=b"", content_type=None)
    with pytest.raises(AccountNotFoundError) as caught:
        issuer.create_account_session("mallory")

    assert (404, denied.body) == (missing.status, missing.body)
    assert 404 == caught.value.status
    assert 1 == len(httpserver.log)
