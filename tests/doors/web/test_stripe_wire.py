"""What the issuer sends to Stripe, byte for byte, through the real stripe SDK."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from issuing_elements import EphemeralKeyIssuer, Grant, IssuedKey
from issuing_elements.exceptions import InvalidRequestError, ServerMisconfiguredError
from stripe_wire import (
    ACCOUNT,
    CARD,
    CREATED,
    EXPIRES,
    KEY_ID,
    KEY_SECRET,
    NONCE,
    OTHER_CARD,
    key_object,
    owner_of,
    stripe_error,
)


def only_request(httpserver: HTTPServer) -> Request:
    assert len(httpserver.log) == 1
    return httpserver.log[0][0]


def test_create_sends_exactly_the_card_and_the_nonce(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request(
        "/v1/ephemeral_keys", method="POST"
    ).respond_with_json(key_object())

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    request = only_request(httpserver)
    assert ("POST", "/v1/ephemeral_keys") == (request.method, request.path)
    assert "application/x-www-form-urlencoded" == request.mimetype
    assert [("issuing_card", CARD), ("nonce", NONCE)] == parse_qsl(
        request.get_data(as_text=True), strict_parsing=True
    )


def test_create_pins_the_configured_api_version(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert "2020-03-02" == only_request(httpserver).headers["Stripe-Version"]


def test_default_api_version_is_the_clients_pin(
    httpserver: HTTPServer, stripe_http: stripe.HTTPXClient
) -> None:
    client = stripe.StripeClient(
        "sk_test_fake_pinned",
        base_addresses={"api": httpserver.url_for("").rstrip("/")},
        http_client=stripe_http,
        stripe_version="2024-06-20.acacia",
    )
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    EphemeralKeyIssuer(client, owner_of({CARD: True})).issue(
        "alice", card_id=CARD, nonce=NONCE
    )

    assert "2024-06-20.acacia" == only_request(httpserver).headers["Stripe-Version"]


def test_no_stripe_account_header_without_a_grant_account(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert "Stripe-Account" not in only_request(httpserver).headers


def test_grant_account_becomes_the_stripe_account_header(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: Grant(ACCOUNT)}))
    httpserver.expect_oneshot_request(
        "/v1/ephemeral_keys", headers={"Stripe-Account": ACCOUNT}
    ).respond_with_json(key_object())

    key = issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert ACCOUNT == only_request(httpserver).headers["Stripe-Account"]
    assert ACCOUNT == key.stripe_account


def test_create_carries_an_idempotency_key(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert (
        only_request(httpserver)
        .headers["Idempotency-Key"]
        .startswith("issuing-elements-")
    )


def test_create_authenticates_with_the_clients_key(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert (
        "Bearer sk_test_fake_wire_checks"
        == only_request(httpserver).headers["Authorization"]
    )


def test_a_5xx_is_retried_with_the_same_idempotency_key(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: True}), max_network_retries=1
    )
    httpserver.expect_ordered_request("/v1/ephemeral_keys").respond_with_response(
        Response('{"error": {"type": "api_error", "message": "boom"}}', status=500)
    )
    httpserver.expect_ordered_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    key = issuer.issue("alice", card_id=CARD, nonce=NONCE)

    first, second = (entry[0] for entry in httpserver.log)
    assert KEY_ID == key.id
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.get_data() == second.get_data()


def test_retries_leave_the_callers_client_untouched(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: True}))
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert stripe_client._requestor._options.max_network_retries is None


def test_issued_key_is_read_from_stripes_answer(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    key = issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert (
        IssuedKey(
            id=KEY_ID,
            secret=KEY_SECRET,
            expires=EXPIRES,
            livemode=False,
            card_id=CARD,
            nonce=NONCE,
            stripe_account=None,
            created=CREATED,
        )
        == key
    )


def test_aissue_sends_the_same_request(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: Grant(ACCOUNT)}), api_version="2020-03-02"
    )
    httpserver.expect_oneshot_request(
        "/v1/ephemeral_keys", method="POST"
    ).respond_with_json(key_object())

    key = asyncio.run(issuer.aissue("alice", card_id=CARD, nonce=NONCE))

    request = only_request(httpserver)
    assert KEY_SECRET == key.secret
    assert [("issuing_card", CARD), ("nonce", NONCE)] == parse_qsl(
        request.get_data(as_text=True)
    )
    assert ("2020-03-02", ACCOUNT) == (
        request.headers["Stripe-Version"],
        request.headers["Stripe-Account"],
    )


@pytest.mark.parametrize("account", [None, ACCOUNT])
def test_revoke_deletes_the_key_under_its_account(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str], account: str | None
) -> None:
    httpserver.expect_oneshot_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))

    issuer.revoke(KEY_ID, stripe_account=account)

    request = only_request(httpserver)
    assert ("DELETE", "2020-03-02", account) == (
        request.method,
        request.headers["Stripe-Version"],
        request.headers.get("Stripe-Account"),
    )


def test_revoke_sends_no_idempotency_key(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))

    issuer.revoke(KEY_ID)

    assert [] == only_request(httpserver).headers.getlist("Idempotency-Key")


def test_arevoke_deletes_the_key(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))

    asyncio.run(issuer.arevoke(KEY_ID, stripe_account=ACCOUNT))

    assert ACCOUNT == only_request(httpserver).headers["Stripe-Account"]


# -- the account comes from the Grant only (issue 7, item 4) ------------------


def test_a_plain_grant_sends_no_stripe_account_header(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: Grant()}))
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert [] == only_request(httpserver).headers.getlist("Stripe-Account")


def test_a_grant_account_is_the_only_stripe_account_header(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: Grant(ACCOUNT)}))
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert [ACCOUNT] == only_request(httpserver).headers.getlist("Stripe-Account")


# -- what Stripe answered is checked against what was asked (item 6) ----------

WRONG_KEYS = [
    pytest.param([{"id": OTHER_CARD, "type": "issuing.card"}], id="another card"),
    pytest.param([], id="no associated object"),
    pytest.param([{"id": "cus_1Fake", "type": "customer"}], id="no issuing.card"),
    pytest.param(
        [
            {"id": CARD, "type": "issuing.card"},
            {"id": OTHER_CARD, "type": "issuing.card"},
        ],
        id="two cards",
    ),
]


def stripe_answers_a_wrong_key(httpserver: HTTPServer, associated: object) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object(associated_objects=associated), headers={"Request-Id": "req_fake7"}
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))


@pytest.mark.parametrize("associated", WRONG_KEYS)
def test_a_key_for_another_card_answers_500(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str], associated: object
) -> None:
    stripe_answers_a_wrong_key(httpserver, associated)

    response = issuer.handle(
        "alice",
        body=json.dumps({"card_id": CARD, "nonce": NONCE}).encode(),
        content_type="application/json",
    )

    assert (500, "server_misconfigured") == (
        response.status,
        json.loads(response.body)["error"]["code"],
    )


@pytest.mark.parametrize("associated", WRONG_KEYS)
def test_a_key_for_another_card_is_revoked(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str], associated: object
) -> None:
    stripe_answers_a_wrong_key(httpserver, associated)

    with pytest.raises(ServerMisconfiguredError):
        issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert [
        ("POST", "/v1/ephemeral_keys"),
        ("DELETE", f"/v1/ephemeral_keys/{KEY_ID}"),
    ] == [(request.method, request.path) for request, _ in httpserver.log]


def test_a_key_for_another_card_is_logged(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stripe_answers_a_wrong_key(httpserver, WRONG_KEYS[0].values[0])

    with pytest.raises(ServerMisconfiguredError):
        issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert [
        (
            "Stripe answered the ephemeral key request for card ic_1FakeCard with a "
            "key that is not for the card asked for (Stripe request id req_fake7); "
            "refusing it."
        )
    ] == [
        record.getMessage()
        for record in caplog.records
        if record.levelname == "ERROR" and "Stripe answered" in record.getMessage()
    ]


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param({"id": KEY_ID + "/x"}, id="a key id with a tail"),
        pytest.param({"id": "ephkey_"}, id="a bare key id prefix"),
        pytest.param({"secret": "fake_secret_of_another_kind"}, id="not an ek_ secret"),
        pytest.param({"secret": None}, id="no secret"),
    ],
)
def test_a_key_object_of_the_wrong_shape_answers_500(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str], wrong: dict[str, object]
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object(**wrong)
    )

    response = issuer.handle(
        "alice",
        body=json.dumps({"card_id": CARD, "nonce": NONCE}).encode(),
        content_type="application/json",
    )

    assert (500, "server_misconfigured") == (
        response.status,
        json.loads(response.body)["error"]["code"],
    )


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param({"secret": None}, id="no secret"),
        pytest.param(
            {"associated_objects": [{"id": OTHER_CARD, "type": "issuing.card"}]},
            id="another card",
        ),
    ],
)
def test_a_rejected_key_object_keeps_stripes_request_id(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str], wrong: dict[str, object]
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object(**wrong), headers={"Request-Id": "req_fake7"}
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))

    with pytest.raises(ServerMisconfiguredError) as raised:
        issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert "req_fake7" == raised.value.stripe_request_id


def test_revoking_an_unknown_key_keeps_stripes_request_id_and_code(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_data(
        stripe_error(
            "invalid_request_error",
            f"No such ephemeral key: '{KEY_ID}'",
            code="resource_missing",
            param="id",
        ),
        status=404,
        headers={"Request-Id": "req_fake404"},
        content_type="application/json",
    )

    with pytest.raises(InvalidRequestError) as raised:
        issuer.revoke(KEY_ID)

    assert ("req_fake404", "resource_missing", "key_id") == (
        raised.value.stripe_request_id,
        raised.value.stripe_code,
        raised.value.field,
    )
