"""handle/ahandle never raise and never orphan a key (issue 7, item 3).

A page bundle that cannot be sent as JSON fails after Stripe issued the key:
the answer is still a response (500, valid JSON), and the key is revoked on
the wire before it. Stripe is pytest-httpserver or FakeStripe, spoken to by
the real stripe SDK.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Response

from doors_and_twins import WEB, Twin
from issuing_elements import EphemeralKeyIssuer, Grant, HttpResponse, IssuedKey
from issuing_elements.testing import FakeStripe
from stripe_wire import CARD, KEY_ID, NONCE, key_object, owner_of, stripe_error

JSON = "application/json"
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()
SERVER_MISCONFIGURED = {
    "error": {
        "code": "server_misconfigured",
        "message": "The server cannot issue keys right now.",
    }
}


class Element:
    """An element builder whose options hold whatever the test puts there."""

    def __init__(self, options: dict[Any, Any]) -> None:
        self._options = options

    @property
    def name(self) -> str:
        return "issuingCardNumberDisplay"

    def to_dict(self) -> dict[Any, Any]:
        return self._options


NOT_JSON: list[Any] = [
    pytest.param(Decimal("1.5"), id="Decimal"),
    pytest.param({"a", "b"}, id="set"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="inf"),
    pytest.param({1: "one"}, id="dict with an int key"),
]


def bundle_of(value: object) -> Callable[[str, IssuedKey], list[Element]]:
    def elements(_user: str, _key: IssuedKey) -> list[Element]:
        return [Element({"style": {"base": {"fontSize": value}}})]

    return elements


def sync_handle(issuer: EphemeralKeyIssuer[str]) -> HttpResponse:
    return issuer.handle("alice", body=BODY, content_type=JSON)


@pytest.fixture
def stripe_issues_a_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object()
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))


def wire(httpserver: HTTPServer) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request, _ in httpserver.log]


@pytest.mark.usefixtures("stripe_issues_a_key")
@pytest.mark.parametrize("value", NOT_JSON)
def test_a_bundle_that_is_not_json_answers_500_as_valid_json(
    stripe_client: stripe.StripeClient,
    value: object,
    twin: Twin,
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: True}), elements=bundle_of(value)
    )

    response = WEB.knock(issuer, twin, nonce=NONCE)

    assert (500, SERVER_MISCONFIGURED) == (response.status, json.loads(response.body))


@pytest.mark.usefixtures("stripe_issues_a_key")
@pytest.mark.parametrize("value", NOT_JSON)
def test_a_key_that_cannot_be_handed_out_is_revoked(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    value: object,
    twin: Twin,
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: True}), elements=bundle_of(value)
    )

    WEB.knock(issuer, twin, nonce=NONCE)

    assert [
        ("POST", "/v1/ephemeral_keys"),
        ("DELETE", f"/v1/ephemeral_keys/{KEY_ID}"),
    ] == wire(httpserver)


def test_a_body_with_nan_is_never_sent(
    stripe_client: stripe.StripeClient, stripe_issues_a_key: None
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: True}), elements=bundle_of(math.nan)
    )

    response = sync_handle(issuer)

    assert b"NaN" not in response.body


def test_a_failed_revocation_is_logged_and_the_answer_is_still_500(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
    twin: Twin,
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object()
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_response(
        Response(stripe_error("api_error", "boom"), status=500, mimetype=JSON)
    )
    issuer = EphemeralKeyIssuer(
        stripe_client,
        owner_of({CARD: True}),
        elements=bundle_of(Decimal(1)),
        max_network_retries=0,
    )

    response = WEB.knock(issuer, twin, nonce=NONCE)

    assert (500, SERVER_MISCONFIGURED) == (response.status, json.loads(response.body))
    assert [("ERROR", True)] == [
        (record.levelname, "It expires on its own." in record.getMessage())
        for record in caplog.records
        if record.getMessage().startswith(f"Could not revoke key {KEY_ID},")
    ]


# -- stateful: FakeStripe knows which keys are live ----------------------------


def test_fake_stripe_holds_no_live_key_after_a_500(
    fake: FakeStripe, twin: Twin
) -> None:
    issuer = EphemeralKeyIssuer(
        fake.client(), owner_of({CARD: Grant()}), elements=bundle_of({"x"})
    )

    response = WEB.knock(issuer, twin, nonce=fake.create_nonce(CARD))

    assert (500, 1, []) == (
        response.status,
        len(fake.keys),
        [key.id for key in fake.keys if not key.revoked],
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(["Origin", "https://app.example.com"], id="a list"),
        pytest.param("Origin: x", id="a string"),
    ],
)
def test_headers_that_are_not_a_mapping_answer_500(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, headers: Any
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: True}))

    response = issuer.handle("alice", body=BODY, content_type=JSON, headers=headers)

    assert (500, SERVER_MISCONFIGURED, []) == (
        response.status,
        json.loads(response.body),
        httpserver.log,
    )


def test_a_key_object_without_an_id_is_refused_and_nothing_is_revoked(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object(id=None)
    )
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: True}))

    response = sync_handle(issuer)

    assert (500, ["POST"]) == (
        response.status,
        [request.method for request, _ in httpserver.log],
    )
