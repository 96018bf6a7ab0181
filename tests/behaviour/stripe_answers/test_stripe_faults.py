"""The Stripe fault table, through handle() and handle_mobile(), retries=2.

Stripe is pytest-httpserver (or a socket that hangs up), spoken to by the
real stripe SDK. For each fault: the documented answer, the documented
number of attempts (stripe-python retries 409, 5xx and network errors, and
obeys ``Stripe-Should-Retry``), one ``Idempotency-Key`` for every attempt,
and exactly one audit event. The suite-wide check sees that no secret
reached a log.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from doors_and_twins import SYNC, Door
from issuing_elements import EphemeralKeyIssuer, HttpResponse
from issuing_elements._audit import AuditEvent
from socket_stand_ins import HangUpServer
from stripe_wire import API_KEY, CARD, NONCE, key_object, owner_of, stripe_error

JSON = "application/json"
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()
RETRIES = 2


pytestmark = pytest.mark.usefixtures("no_retry_pause")


def knock(issuer: EphemeralKeyIssuer[str], door: Door) -> HttpResponse:
    """One request to the endpoint behind *door*."""
    return door.knock(issuer, SYNC, nonce=NONCE)


def issuer_for(
    client: stripe.StripeClient,
) -> tuple[EphemeralKeyIssuer[str], list[AuditEvent]]:
    events: list[AuditEvent] = []
    issuer = EphemeralKeyIssuer(
        client,
        owner_of({CARD: True}),
        max_network_retries=RETRIES,
        audit=events.append,
    )
    return issuer, events


def outcome_of(response: HttpResponse) -> tuple[int, str]:
    return response.status, json.loads(response.body)["error"]["code"]


def api_error(status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        stripe_error("api_error", "Something went wrong."),
        status=status,
        mimetype=JSON,
        headers=headers,
    )


FAULTS = [
    pytest.param(api_error(500), (503, "stripe_unavailable"), 3, id="500"),
    pytest.param(api_error(502), (503, "stripe_unavailable"), 3, id="502"),
    pytest.param(api_error(503), (503, "stripe_unavailable"), 3, id="503"),
    pytest.param(api_error(504), (503, "stripe_unavailable"), 3, id="504"),
    pytest.param(
        Response(
            stripe_error(
                "invalid_request_error", "Request in flight.", code="lock_timeout"
            ),
            status=409,
            mimetype=JSON,
        ),
        (503, "stripe_unavailable"),
        3,
        id="409",
    ),
    pytest.param(
        Response(
            stripe_error("rate_limit_error", "Too many requests."),
            status=429,
            mimetype=JSON,
        ),
        (503, "stripe_unavailable"),
        1,
        id="429",
    ),
    pytest.param(
        Response(
            stripe_error("rate_limit_error", "Too many requests."),
            status=429,
            mimetype=JSON,
            headers={"Stripe-Should-Retry": "true"},
        ),
        (503, "stripe_unavailable"),
        3,
        id="429 that Stripe says to retry",
    ),
    pytest.param(
        api_error(500, {"Stripe-Should-Retry": "false"}),
        (503, "stripe_unavailable"),
        1,
        id="500 that Stripe says not to retry",
    ),
    # A 200 that cannot be read: test_stripe_answers.py (the key is looked for).
    pytest.param(
        Response(
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            status=502,
            mimetype="text/html",
        ),
        (503, "stripe_unavailable"),
        3,
        id="HTML error page",
    ),
]


@pytest.mark.parametrize(("stripe_says", "expected", "attempts"), FAULTS)
def test_fault(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    stripe_says: Response,
    expected: tuple[int, str],
    attempts: int,
    door: Door,
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys").respond_with_response(stripe_says)
    issuer, events = issuer_for(stripe_client)

    response = knock(issuer, door)

    idempotency_keys = {r.headers["Idempotency-Key"] for r, _ in httpserver.log}
    assert (expected, attempts, 1, [expected[1]]) == (
        outcome_of(response),
        len(httpserver.log),
        len(idempotency_keys),
        [event.outcome for event in events],
    )


@pytest.fixture
def stripe_too_slow(httpserver: HTTPServer) -> Iterator[threading.Event]:
    """Stripe answers only once released (or after 5 s); the client waits 0.3 s."""
    released = threading.Event()

    def slow(_: Request) -> Response:
        released.wait(5)
        return Response("{}", mimetype=JSON)

    httpserver.expect_request("/v1/ephemeral_keys").respond_with_handler(slow)
    yield released
    released.set()


def test_fault_timeout(
    httpserver: HTTPServer, stripe_too_slow: threading.Event
) -> None:
    http = stripe.HTTPXClient(timeout=0.3, allow_sync_methods=True)
    client = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": httpserver.url_for("").rstrip("/")},
        http_client=http,
    )
    issuer, events = issuer_for(client)

    response = issuer.handle("alice", body=BODY, content_type=JSON)

    # Let the stand-in serve the attempts it queued, here and not in the next test.
    stripe_too_slow.set()
    end = time.monotonic() + 30  # a poll: only a failing test waits it out
    # The attempts, then one more: the search for a key whose answer was lost.
    while len(httpserver.log) < RETRIES + 2 and time.monotonic() < end:
        time.sleep(0.02)
    http.close()  # type: ignore[no-untyped-call]  # stripe-python is untyped here
    idempotency_keys = {r.headers["Idempotency-Key"] for r, _ in httpserver.log}
    assert ((503, "stripe_unavailable"), 4, 1, ["stripe_unavailable"]) == (
        outcome_of(response),
        len(httpserver.log),
        len(idempotency_keys),
        [event.outcome for event in events],
    )


def test_fault_dropped_connection(stripe_http: stripe.HTTPXClient, door: Door) -> None:
    with HangUpServer() as server:
        client = stripe.StripeClient(
            API_KEY, base_addresses={"api": server.url}, http_client=stripe_http
        )
        issuer, events = issuer_for(client)

        response = knock(issuer, door)
        # The attempts, then one more: the search for a key whose answer was lost.
        end = time.monotonic() + 30  # a poll: only a failing test waits it out
        while len(server.heads) < RETRIES + 2 and time.monotonic() < end:
            time.sleep(0.02)

    assert ((503, "stripe_unavailable"), 4, 1, ["stripe_unavailable"]) == (
        outcome_of(response),
        len(server.heads),
        len({head["idempotency-key"] for head in server.heads}),
        [event.outcome for event in events],
    )


def test_a_retry_that_succeeds_grants_once(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, door: Door
) -> None:
    httpserver.expect_ordered_request("/v1/ephemeral_keys").respond_with_response(
        api_error(503)
    )
    httpserver.expect_ordered_request("/v1/ephemeral_keys").respond_with_response(
        api_error(502)
    )
    httpserver.expect_ordered_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, events = issuer_for(stripe_client)

    response = knock(issuer, door)

    idempotency_keys = {r.headers["Idempotency-Key"] for r, _ in httpserver.log}
    assert (200, 3, 1, ["granted"]) == (
        response.status,
        len(httpserver.log),
        len(idempotency_keys),
        [event.outcome for event in events],
    )
