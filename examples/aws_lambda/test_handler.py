"""The Lambda handler, with the events API Gateway and function URLs send.

``events/`` holds one realistic event per front door (REST API payload 1.0,
HTTP API payload 2.0, function URL); each test starts from one and changes
only what it is about. Stripe is the library's FakeStripe, reached
through ``STRIPE_API_BASE``.
"""

# ruff: noqa: SIM300 - STYLE.md: tests read `expected == actual`

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from examples._shared.testing import (
    ALICE,
    ALICE_CARD,
    BOB,
    CAROL,
    CAROL_ACCOUNT,
    CAROL_CARD,
    ENVIRON_NAMES,
    EXAMPLES,
    NONCE,
    WEBHOOK_SECRET,
    StripeStandIn,
    spoofing_headers,
)
from examples.aws_lambda.handler import build_issuer, route

if TYPE_CHECKING:
    from examples._shared import Demo

EVENTS = Path(__file__).resolve().parent / "events"
#: One event from stdin through ``handler``, its answer to stdout.
INVOKE_HANDLER = """
import json, sys
from examples.aws_lambda.handler import handler
print(json.dumps(handler(json.load(sys.stdin), None)))
"""
SHAPES = ["rest_api", "http_api", "function_url"]
JSON_BODY = json.dumps({"card_id": ALICE_CARD, "nonce": NONCE})


def key_body(nonce: str) -> str:
    """Alice's key request, with a nonce the stand-in minted."""
    return json.dumps({"card_id": ALICE_CARD, "nonce": nonce})


def event(  # noqa: PLR0913 - each keyword is one part of the request
    shape: str,
    *,
    method: str = "POST",
    path: str = "/ephemeral-keys",
    headers: dict[str, str] | None = None,
    body: str | None = JSON_BODY,
    encode: bool = False,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The shipped *shape* event, for this request.

    *headers* replace the event's ``Authorization`` and ``Content-Type``,
    spelt as the front door spells them (REST APIs keep the client's case,
    the others lower-case names). *encode* base64-encodes the body.
    """
    sent: dict[str, Any] = json.loads((EVENTS / f"{shape}.json").read_text())
    old = {"authorization", "content-type"}
    kept = {k: v for k, v in sent["headers"].items() if k.lower() not in old}
    given = headers if headers is not None else {"Authorization": f"Bearer {ALICE}"}
    if body is not None and headers is None:
        given = {**given, "Content-Type": "application/json"}
    if shape == "rest_api":
        sent["headers"] = {**kept, **given}
        sent["multiValueHeaders"] = {k: [v] for k, v in sent["headers"].items()}
        sent["httpMethod"], sent["path"] = method, path
        sent["requestContext"]["httpMethod"] = method
        sent["queryStringParameters"] = query
    else:
        sent["headers"] = {**kept, **{k.lower(): v for k, v in given.items()}}
        sent["rawPath"] = path
        sent["requestContext"]["http"].update(method=method, path=path)
        sent["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
        if query:
            sent["queryStringParameters"] = query
    sent["isBase64Encoded"] = encode
    sent["body"] = base64.b64encode(body.encode()).decode() if encode and body else body
    return sent


@pytest.fixture
def handle(demo: Demo) -> Any:
    """``route(demo, issuer, event)``: the handler, with the test's Demo."""
    issuer = build_issuer(demo)
    return lambda sent: route(demo, issuer, sent)


@pytest.mark.parametrize("shape", SHAPES)
def test_allowed_user_gets_a_key_in_the_right_shape(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str
) -> None:
    nonce = stripe_stand_in.nonce_for(ALICE_CARD)

    answer = handle(event(shape, body=key_body(nonce)))

    assert {"statusCode", "headers", "body", "isBase64Encoded"} == set(answer)
    assert (200, False) == (answer["statusCode"], answer["isBase64Encoded"])
    assert "no-store" == answer["headers"]["Cache-Control"]
    assert (
        stripe_stand_in.last_key_secret()
        == json.loads(answer["body"])["ephemeralKeySecret"]
    )
    assert {"issuing_card": ALICE_CARD, "nonce": nonce} == (
        stripe_stand_in.sent().params
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_base64_form_body_is_decoded(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str
) -> None:
    nonce = stripe_stand_in.nonce_for(ALICE_CARD)
    headers = {
        "Authorization": f"Bearer {ALICE}",
        "Content-Type": "application/x-www-form-urlencoded",
    }

    answer = handle(
        event(
            shape,
            headers=headers,
            body=f"card_id={ALICE_CARD}&nonce={nonce}",
            encode=True,
        )
    )

    assert 200 == answer["statusCode"]
    assert nonce == stripe_stand_in.sent().params["nonce"]


@pytest.mark.parametrize("shape", SHAPES)
def test_no_token_is_unauthenticated(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str
) -> None:
    answer = handle(event(shape, headers={"Content-Type": "application/json"}))

    assert 401 == answer["statusCode"]
    assert "unauthenticated" == json.loads(answer["body"])["error"]["code"]
    assert [] == stripe_stand_in.requests


@pytest.mark.parametrize("shape", SHAPES)
def test_other_users_card_is_not_found(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str
) -> None:
    headers = {"Authorization": f"Bearer {BOB}", "Content-Type": "application/json"}

    answer = handle(event(shape, headers=headers))

    assert 404 == answer["statusCode"]
    assert [] == stripe_stand_in.requests


@pytest.mark.parametrize("shape", SHAPES)
def test_connect_card_sends_its_account_to_stripe(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str
) -> None:
    nonce = stripe_stand_in.nonce_for(CAROL_CARD)
    headers = {"Authorization": f"Bearer {CAROL}", "Content-Type": "application/json"}
    body = json.dumps({"card_id": CAROL_CARD, "nonce": nonce})

    answer = handle(event(shape, headers=headers, body=body))

    assert 200 == answer["statusCode"]
    assert CAROL_ACCOUNT == stripe_stand_in.sent().headers["stripe-account"]


@pytest.mark.parametrize("shape", SHAPES)
def test_stripe_down_is_503_with_retry_after(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str
) -> None:
    stripe_stand_in.is_down()

    answer = handle(event(shape))

    assert 503 == answer["statusCode"]
    assert answer["headers"]["Retry-After"].isdigit()


@pytest.mark.parametrize("shape", SHAPES)
def test_client_config_reads_the_query(handle: Any, shape: str) -> None:
    answer = handle(
        event(
            shape,
            method="GET",
            path="/client-config",
            headers={"Authorization": f"Bearer {CAROL}"},
            body=None,
            query={"card_id": CAROL_CARD},
        )
    )

    assert 200 == answer["statusCode"]
    assert CAROL_ACCOUNT == json.loads(answer["body"])["options"]["stripeAccount"]


@pytest.mark.parametrize("shape", SHAPES)
def test_page_is_served(handle: Any, shape: str) -> None:
    answer = handle(event(shape, method="GET", path="/", headers={}, body=None))

    assert 200 == answer["statusCode"]
    assert answer["headers"]["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("shape", SHAPES)
def test_no_header_name_turns_the_origin_check_off(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str
) -> None:
    statuses = {
        name: handle(
            event(
                shape,
                headers={
                    **spoofing_headers(ALICE, name),
                    "Content-Type": "application/json",
                },
            )
        )["statusCode"]
        for name in ENVIRON_NAMES
    }

    assert (dict.fromkeys(ENVIRON_NAMES, 403), []) == (
        statuses,
        stripe_stand_in.requests,
    )


def test_rest_api_headers_match_in_any_case(
    handle: Any, stripe_stand_in: StripeStandIn
) -> None:
    nonce = stripe_stand_in.nonce_for(ALICE_CARD)
    headers = {"AUTHORIZATION": f"bearer {ALICE}", "content-TYPE": "application/json"}

    answer = handle(event("rest_api", headers=headers, body=key_body(nonce)))

    assert 200 == answer["statusCode"]


def test_http_api_named_stage_is_not_part_of_the_route(
    handle: Any, stripe_stand_in: StripeStandIn
) -> None:
    nonce = stripe_stand_in.nonce_for(ALICE_CARD)
    sent = event("http_api", path="/prod/ephemeral-keys", body=key_body(nonce))
    sent["requestContext"]["stage"] = "prod"

    answer = handle(sent)

    assert 200 == answer["statusCode"]


def test_rest_api_without_headers_is_unauthenticated(handle: Any) -> None:
    sent = event("rest_api")
    sent["headers"] = sent["multiValueHeaders"] = None

    answer = handle(sent)

    assert 401 == answer["statusCode"]


def test_broken_base64_is_an_invalid_request(
    handle: Any, stripe_stand_in: StripeStandIn
) -> None:
    sent = event("function_url")
    sent["body"] = "not base64!"

    answer = handle(sent)

    assert 400 == answer["statusCode"]
    assert "invalid_request" == json.loads(answer["body"])["error"]["code"]
    assert [] == stripe_stand_in.requests


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/ephemeral-keys", 405), ("POST", "/", 405), ("GET", "/admin", 404)],
)
def test_other_routes_are_refused(
    handle: Any, method: str, path: str, status: int
) -> None:
    answer = handle(event("http_api", method=method, path=path))

    assert status == answer["statusCode"]


def test_handler_builds_its_demo_from_the_environment(
    stripe_env: dict[str, str], stripe_stand_in: StripeStandIn
) -> None:
    """``handler`` in a fresh process, as a new execution environment runs it."""
    nonce = stripe_stand_in.nonce_for(ALICE_CARD)

    done = subprocess.run(  # noqa: S603 - our own interpreter and handler
        [sys.executable, "-c", INVOKE_HANDLER],
        input=json.dumps(event("http_api", body=key_body(nonce))),
        env={**os.environ, **stripe_env},
        cwd=EXAMPLES.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert 0 == done.returncode, done.stderr
    assert 200 == json.loads(done.stdout)["statusCode"]


@pytest.mark.parametrize("shape", SHAPES)
def test_audit_event_names_the_callers_address(
    handle: Any,
    stripe_stand_in: StripeStandIn,
    shape: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nonce = stripe_stand_in.nonce_for(ALICE_CARD)

    with caplog.at_level("INFO", logger="issuing_elements.audit"):
        answer = handle(event(shape, body=key_body(nonce)))

    assert 200 == answer["statusCode"]
    [line] = [r.getMessage() for r in caplog.records if r.name.endswith(".audit")]
    audited = json.loads(line)
    assert ("granted", "alice", "203.0.113.10") == (
        audited["outcome"],
        audited["user_id"],
        audited["client_ip"],
    )


@pytest.mark.parametrize("encode", [False, True], ids=["plain", "base64"])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_frozen_cards_event_revokes_its_key(
    handle: Any, stripe_stand_in: StripeStandIn, shape: str, encode: bool
) -> None:
    fake = stripe_stand_in.fake
    issued = handle(event(shape, body=key_body(fake.create_nonce(ALICE_CARD))))
    secret = json.loads(issued["body"])["ephemeralKeySecret"]
    key = next(record for record in fake.keys if record.secret == secret)
    client = fake.client(max_network_retries=0)
    client.v1.issuing.cards.update(ALICE_CARD, params={"status": "inactive"})
    try:
        body, headers = fake.signed_event(fake.events[-1].id, secret=WEBHOOK_SECRET)

        answer = handle(
            event(
                shape,
                path="/stripe-events",
                headers=headers,
                body=body.decode(),
                encode=encode,
            )
        )
    finally:
        client.v1.issuing.cards.update(ALICE_CARD, params={"status": "active"})

    assert (200, {"received": True, "revoked": 1}) == (
        answer["statusCode"],
        json.loads(answer["body"]),
    )
    assert fake.key(key.id).revoked


@pytest.mark.parametrize("shape", SHAPES)
def test_an_unsigned_event_is_400(handle: Any, shape: str) -> None:
    answer = handle(
        event(
            shape,
            path="/stripe-events",
            headers={"Content-Type": "application/json"},
            body='{"id": "evt_x", "object": "event"}',
        )
    )

    assert (400, "signature_missing") == (
        answer["statusCode"],
        json.loads(answer["body"])["error"]["code"],
    )
