"""Stripe answers the issuer cannot take as they are, on both key doors and both twins.

Stripe is pytest-httpserver, spoken to by the real stripe SDK: a 200 whose
body cannot be read (a key may exist all the same: found again with its
idempotency key and revoked), a key that is dead or nearly (refused and
revoked), the mobile app's API version refused by Stripe (the caller's
error, not the server's), and a ``Retry-After`` that is not a sane number
of seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from doors_and_twins import MOBILE, SYNC, WEB, Door, Twin
from issuing_elements import (
    AccountSessionGrant,
    EphemeralKeyIssuer,
    Grant,
    HttpResponse,
    IssuingCardComponent,
)
from issuing_elements._stripe_answers import (
    MAX_RETRY_AFTER,
    MIN_KEY_LIFETIME,
    _retry_after,
)
from issuing_elements.exceptions import UnsupportedApiVersionError
from stripe_wire import (
    CARD,
    KEY_ID,
    MOBILE_VERSION,
    NONCE,
    key_object,
    owner_of,
    stripe_error,
)

JSON = "application/json"
KEYS = "/v1/ephemeral_keys"
STRIPE_REQUEST_ID = "req_fakeUnreadableAnswer"
# In every unreadable body: no log line may show it.
MARKER = "fakeBodyTextMarker"


def issuer_for(client: stripe.StripeClient) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        client, owner_of({CARD: True}), max_network_retries=0, audit=lambda _: None
    )


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    """Poll for a background step; the bound only stops a broken test hanging."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def knock(
    issuer: EphemeralKeyIssuer[str],
    door: Door,
    twin: Twin,
    settled: Callable[[], bool] = lambda: True,
) -> HttpResponse:
    """One request through *door* and *twin*; then wait until *settled*.

    Under ``ahandle`` the background search is a task of the request's
    loop: the loop stays up until *settled*.
    """
    body = door.encoded(CARD, NONCE)
    if not twin.is_async:
        answer = getattr(issuer, door.method)("alice", body=body, content_type=JSON)
        wait_until(settled)
        return answer

    async def run() -> HttpResponse:
        answer: HttpResponse = await getattr(issuer, twin.method(door.method))(
            "alice", body=body, content_type=JSON
        )
        await asyncio.to_thread(wait_until, settled)
        return answer

    return asyncio.run(run())


def outcome_of(response: HttpResponse) -> tuple[int, str]:
    return response.status, json.loads(response.body)["error"]["code"]


def ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The library's log lines (stripe-python logs bodies at DEBUG: its own)."""
    return [r.getMessage() for r in caplog.records if r.name == "issuing_elements"]


def deletes(httpserver: HTTPServer) -> list[str]:
    return [r.path for r, _ in httpserver.log if r.method == "DELETE"]


def creates(httpserver: HTTPServer) -> list[Request]:
    return [r for r, _ in httpserver.log if r.method == "POST"]


# -- a 200 that cannot be read ----------------------------------------------

_WHOLE = json.dumps(key_object(associated_objects=[{"id": CARD, MARKER: 1}]))
UNREADABLE = [
    pytest.param(
        _WHOLE[: _WHOLE.index(MARKER) + len(MARKER) + 3], JSON, id="truncated JSON"
    ),
    pytest.param(f"<html><body>{MARKER}</body></html>", "text/html", id="not JSON"),
    pytest.param(json.dumps([MARKER, key_object()]), JSON, id="a JSON array"),
]


def first_unreadable_then_the_key(body: str, content_type: str) -> Any:
    """Stripe: the first answer cannot be read; asked again, the same key."""
    answers: list[Response] = []

    def create(_: Request) -> Response:
        answers.append(
            Response(
                body,
                mimetype=content_type,
                headers={"Request-Id": STRIPE_REQUEST_ID},
            )
            if not answers
            else Response(json.dumps(key_object()), mimetype=JSON)
        )
        return answers[-1]

    return create


@pytest.mark.parametrize(("body", "content_type"), UNREADABLE)
def test_a_key_in_an_unreadable_200_is_found_again_and_revoked(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
    door: Door,
    twin: Twin,
    body: str,
    content_type: str,
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_handler(
        first_unreadable_then_the_key(body, content_type)
    )
    httpserver.expect_request(f"{KEYS}/{KEY_ID}", method="DELETE").respond_with_json(
        {"id": KEY_ID, "object": "ephemeral_key", "deleted": True}
    )

    response = knock(
        issuer_for(stripe_client), door, twin, lambda: bool(deletes(httpserver))
    )

    asked = creates(httpserver)
    assert ((500, "server_misconfigured"), 2, 1, [f"{KEYS}/{KEY_ID}"]) == (
        outcome_of(response),
        len(asked),
        len({r.headers["Idempotency-Key"] for r in asked}),
        deletes(httpserver),
    )
    [idempotency_key] = {r.headers["Idempotency-Key"] for r in asked}
    logged = ours(caplog)
    assert (True, []) == (
        any(idempotency_key in message for message in logged),
        [message for message in logged if MARKER in message],
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [p for p in UNREADABLE if p.id != "a JSON array"],
)
def test_an_unreadable_200_is_logged_by_its_size_and_type_never_its_text(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
    door: Door,
    body: str,
    content_type: str,
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_handler(
        first_unreadable_then_the_key(body, content_type)
    )
    httpserver.expect_request(f"{KEYS}/{KEY_ID}", method="DELETE").respond_with_json(
        {"id": KEY_ID, "object": "ephemeral_key", "deleted": True}
    )

    knock(issuer_for(stripe_client), door, SYNC, lambda: bool(deletes(httpserver)))

    [idempotency_key] = {r.headers["Idempotency-Key"] for r in creates(httpserver)}
    [line] = [message for message in ours(caplog) if "cannot be read" in message]
    assert [True] * 4 == [
        STRIPE_REQUEST_ID in line,
        idempotency_key in line,
        f"{len(body.encode())} bytes of {content_type}" in line,
        MARKER not in line,
    ]


def test_a_key_that_cannot_be_found_again_is_logged(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_response(
        Response(f"<p>{MARKER}</p>", mimetype="text/html")
    )

    def logged() -> bool:
        return any("asking again failed too" in line for line in ours(caplog))

    response = knock(issuer_for(stripe_client), WEB, SYNC, logged)

    assert ((500, "server_misconfigured"), 2, [], True) == (
        outcome_of(response),
        len(creates(httpserver)),
        deletes(httpserver),
        logged(),
    )


def test_an_unreadable_account_session_is_refused_and_logged_without_its_body(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = "acct_1FakeUnreadable"
    sessions = httpserver.expect_request("/v1/account_sessions", method="POST")
    sessions.respond_with_response(
        Response(
            f'{{"object": "account_session", "client_secret": "_{MARKER}',
            mimetype=JSON,
            headers={"Request-Id": STRIPE_REQUEST_ID},
        )
    )
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        stripe_client,
        lambda _user, _request: Grant(),
        api_version="2025-01-27.acacia",
        max_network_retries=0,
        account_sessions=lambda _user, _request: AccountSessionGrant(
            account=account, components=(IssuingCardComponent(),)
        ),
        audit=lambda _: None,
    )

    response = issuer.handle_account_session(
        "admin", body=json.dumps({"account": account}).encode(), content_type=JSON
    )

    [request] = [r for r, _ in httpserver.log]
    logged = ours(caplog)
    [line] = [message for message in logged if "cannot be read" in message]
    assert ((500, "server_misconfigured"), True, True, []) == (
        outcome_of(response),
        request.headers["Idempotency-Key"] in line,
        STRIPE_REQUEST_ID in line,
        [message for message in logged if MARKER in message],
    )


# -- a key that is dead, or nearly ------------------------------------------

# Stripe's published fixture (openapi/fixtures3.json), with the fields the
# library needs added: it expired in February 2009.
STRIPE_FIXTURE = {
    "created": 1234567890,
    "expires": 1234567890,
    "id": "ephkey_1MoqxSLgUG5tbmjc0YqD4HmT",
    "livemode": False,
    "object": "ephemeral_key",
}


def stripe_answers_the_key(httpserver: HTTPServer, **fields: object) -> str:
    key = key_object(**fields)
    httpserver.expect_request(KEYS, method="POST").respond_with_json(key)
    httpserver.expect_request(f"{KEYS}/{key['id']}", method="DELETE").respond_with_json(
        {"id": key["id"], "object": "ephemeral_key", "deleted": True}
    )
    return str(key["id"])


def test_stripes_published_fixture_is_refused_and_revoked(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
    door: Door,
    twin: Twin,
) -> None:
    key_id = stripe_answers_the_key(httpserver, **STRIPE_FIXTURE)

    response = knock(issuer_for(stripe_client), door, twin)

    [why] = [line for line in ours(caplog) if "expired" in line]
    assert ((500, "server_misconfigured"), [f"{KEYS}/{key_id}"], True) == (
        outcome_of(response),
        deletes(httpserver),
        "1234567890" in why,
    )


@pytest.mark.parametrize(
    ("left", "handed_out"),
    [
        pytest.param(MIN_KEY_LIFETIME - 5, False, id="less than a minute left"),
        pytest.param(MIN_KEY_LIFETIME + 120, True, id="minutes left"),
    ],
)
def test_a_key_that_leaves_less_than_a_minute_is_refused_and_revoked(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    door: Door,
    twin: Twin,
    left: int,
    handed_out: bool,
) -> None:
    now = int(time.time())
    key_id = stripe_answers_the_key(
        httpserver, created=now + left - 900, expires=now + left
    )

    response = knock(issuer_for(stripe_client), door, twin)

    expected = (200, []) if handed_out else (500, [f"{KEYS}/{key_id}"])
    assert expected == (response.status, deletes(httpserver))


# -- the mobile app's API version, refused by Stripe ------------------------

# How Stripe words it (type invalid_request_error, no code, no param).
STRIPE_REFUSES_THE_VERSION = stripe_error(
    "invalid_request_error", f"Invalid Stripe API version: {MOBILE_VERSION}"
)
VERSION_REFUSED = [
    pytest.param(STRIPE_REFUSES_THE_VERSION, id="Stripe's message"),
    pytest.param(
        stripe_error(
            "invalid_request_error", "Unknown version.", code="api_version_invalid"
        ),
        id="a code naming the version",
    ),
]


@pytest.mark.parametrize("stripe_says", VERSION_REFUSED)
def test_stripe_refusing_the_apps_api_version_is_the_callers_400(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
    twin: Twin,
    stripe_says: str,
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_response(
        Response(stripe_says, status=400, mimetype=JSON)
    )

    response = knock(issuer_for(stripe_client), MOBILE, twin)

    assert (
        400,
        {
            "code": "unsupported_api_version",
            "message": f"Stripe does not accept API version {MOBILE_VERSION}.",
        },
        [],
    ) == (
        response.status,
        json.loads(response.body)["error"],
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR],
    )


def test_the_issue_mobile_refusal_names_the_api_version_field(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_response(
        Response(STRIPE_REFUSES_THE_VERSION, status=400, mimetype=JSON)
    )

    with pytest.raises(UnsupportedApiVersionError) as refused:
        issuer_for(stripe_client).issue_mobile(
            "alice", card_id=CARD, api_version=MOBILE_VERSION
        )

    assert ("api_version", 400, "unsupported_api_version") == (
        refused.value.field,
        refused.value.status,
        refused.value.code,
    )


def test_stripe_refusing_the_servers_own_api_version_stays_500(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, twin: Twin
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_response(
        Response(STRIPE_REFUSES_THE_VERSION, status=400, mimetype=JSON)
    )

    response = knock(issuer_for(stripe_client), WEB, twin)

    assert (500, "server_misconfigured") == outcome_of(response)


def test_another_400_on_the_mobile_door_is_not_blamed_on_the_version(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_response(
        Response(
            stripe_error(
                "invalid_request_error",
                "Received unknown parameter: issuing_card.",
                param="issuing_card",
            ),
            status=400,
            mimetype=JSON,
        )
    )

    response = knock(issuer_for(stripe_client), MOBILE, SYNC)

    assert (500, "server_misconfigured") == outcome_of(response)


# -- Retry-After -------------------------------------------------------------


@pytest.mark.parametrize(
    ("stripe_says", "passed_on"),
    [
        pytest.param("7", "7", id="seconds"),
        pytest.param("99999999999999999999", str(MAX_RETRY_AFTER), id="huge"),
        pytest.param(str(MAX_RETRY_AFTER + 1), str(MAX_RETRY_AFTER), id="past the cap"),
        pytest.param("0", "1", id="zero"),
        pytest.param("-30", "1", id="negative"),
        pytest.param("2.5", "2", id="a fraction"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", "2", id="an HTTP date"),
    ],
)
def test_stripes_retry_after_is_passed_on_from_1_to_the_cap(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    stripe_says: str,
    passed_on: str,
) -> None:
    httpserver.expect_request(KEYS, method="POST").respond_with_response(
        Response(
            stripe_error("rate_limit_error", "Too many requests."),
            status=429,
            mimetype=JSON,
            headers={"Retry-After": stripe_says},
        )
    )

    response = knock(issuer_for(stripe_client), WEB, SYNC)

    assert ((503, "stripe_unavailable"), passed_on) == (
        outcome_of(response),
        response.headers["Retry-After"],
    )


@pytest.mark.parametrize(
    ("stripe_says", "seconds"),
    [("0", 1), ("-30", 1), ("99999999999999999999", MAX_RETRY_AFTER), ("7", 7)],
)
def test_stripes_retry_after_is_read_from_1_to_the_cap(
    stripe_says: str, seconds: int
) -> None:
    # The error classes clamp too: this holds the reading itself.
    error = stripe.RateLimitError(
        "Too many requests.", http_status=429, headers={"Retry-After": stripe_says}
    )

    assert seconds == _retry_after(error)


def test_the_docs_state_the_retry_after_cap_and_the_shortest_key() -> None:
    docs = Path(__file__).parents[3] / "docs"

    assert [True, True] == [
        f"seconds from 1 to {MAX_RETRY_AFTER} (`MAX_RETRY_AFTER`)"
        in (docs / "errors.md").read_text(),
        f"(`MIN_KEY_LIFETIME`, {MIN_KEY_LIFETIME} s"
        in " ".join((docs / "security.md").read_text().split()),
    ]
