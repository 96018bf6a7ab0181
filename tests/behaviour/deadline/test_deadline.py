"""A hung Stripe holds a request for the deadline, not for minutes (issue 7, item 5).

Stripe here is a server that accepts every connection and never answers,
and the client's HTTP timeout is long (80 s, stripe-python's default): the
issuer's ``deadline`` alone ends the wait. A key that Stripe issues after
the deadline is revoked.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from issuing_elements import EphemeralKeyIssuer, Grant, HttpResponse
from issuing_elements._bounded_calls import _late_tasks, _workers
from issuing_elements.exceptions import StripeUnavailableError
from socket_stand_ins import SilentServer
from stripe_wire import ACCOUNT, API_KEY, CARD, KEY_ID, NONCE, key_object, owner_of

DEADLINE = 0.5
# The bound is the deadline, not the client's 80 s: a margin that holds on a
# machine at load 8 on 2 cores, and still a fifth of the fault's own 80 s.
MARGIN = 15.0
# How long a poll waits for what the late calls do: it ends as soon as they
# are done, so only a failing test waits it out.
SETTLE = 30.0
JSON = "application/json"
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()


def wait_for_workers() -> None:
    """Let the calls abandoned at their deadline finish, inside this test."""
    end = time.monotonic() + SETTLE
    while _workers._idle < _workers._count and time.monotonic() < end:
        time.sleep(0.01)


# stripe-python pauses between attempts; the calls cut at teardown need not.
pytestmark = pytest.mark.usefixtures("no_retry_pause")


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server
    # Closing cut the connections: the abandoned calls fail now, not later.
    wait_for_workers()


def httpx_client(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": url},
        http_client=stripe.HTTPXClient(timeout=80, allow_sync_methods=True),
    )


def default_client(url: str) -> stripe.StripeClient:
    if importlib.util.find_spec("requests") is None:
        pytest.skip("requests is not installed: stripe-python's default is urllib")
    # As the README has it: no http_client, stripe-python's own default.
    return stripe.StripeClient(API_KEY, base_addresses={"api": url})


CLIENTS = [
    pytest.param(httpx_client, id="HTTPXClient(timeout=80)"),
    pytest.param(default_client, id="default client"),
]


def issue(issuer: EphemeralKeyIssuer[str]) -> object:
    return issuer.issue("alice", card_id=CARD, nonce=NONCE)


def aissue(issuer: EphemeralKeyIssuer[str]) -> object:
    return asyncio.run(issuer.aissue("alice", card_id=CARD, nonce=NONCE))


def revoke(issuer: EphemeralKeyIssuer[str]) -> object:
    return issuer.revoke(KEY_ID)


def arevoke(issuer: EphemeralKeyIssuer[str]) -> object:
    return asyncio.run(issuer.arevoke(KEY_ID))


def handle(issuer: EphemeralKeyIssuer[str]) -> HttpResponse:
    return issuer.handle("alice", body=BODY, content_type=JSON)


def ahandle(issuer: EphemeralKeyIssuer[str]) -> HttpResponse:
    return asyncio.run(issuer.ahandle("alice", body=BODY, content_type=JSON))


@pytest.mark.parametrize("make_client", CLIENTS)
@pytest.mark.parametrize("call", [issue, aissue, revoke, arevoke])
def test_a_hung_stripe_is_unavailable_by_the_deadline(
    silent: SilentServer,
    make_client: Callable[[str], stripe.StripeClient],
    call: Callable[[EphemeralKeyIssuer[str]], object],
) -> None:
    issuer = EphemeralKeyIssuer(
        make_client(silent.url), owner_of({CARD: True}), deadline=DEADLINE
    )
    started = time.monotonic()

    with pytest.raises(StripeUnavailableError) as raised:
        call(issuer)

    elapsed = time.monotonic() - started
    assert (True, 1) == (elapsed < DEADLINE + MARGIN, raised.value.retry_after)


@pytest.mark.parametrize("make_client", CLIENTS)
@pytest.mark.parametrize("call", [handle, ahandle])
def test_a_hung_stripe_answers_503_by_the_deadline(
    silent: SilentServer,
    make_client: Callable[[str], stripe.StripeClient],
    call: Callable[[EphemeralKeyIssuer[str]], HttpResponse],
) -> None:
    issuer = EphemeralKeyIssuer(
        make_client(silent.url), owner_of({CARD: True}), deadline=DEADLINE
    )
    started = time.monotonic()

    response = call(issuer)

    elapsed = time.monotonic() - started
    assert (True, 503, "stripe_unavailable", "1") == (
        elapsed < DEADLINE + MARGIN,
        response.status,
        json.loads(response.body)["error"]["code"],
        response.headers["Retry-After"],
    )


def test_the_deadline_covers_every_attempt(silent: SilentServer) -> None:
    issuer = EphemeralKeyIssuer(
        httpx_client(silent.url),
        owner_of({CARD: True}),
        deadline=DEADLINE,
        max_network_retries=5,
    )
    started = time.monotonic()

    response = handle(issuer)

    assert (503, True) == (
        response.status,
        time.monotonic() - started < DEADLINE + MARGIN,
    )


def test_a_hung_stripe_is_logged(
    silent: SilentServer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = EphemeralKeyIssuer(
        httpx_client(silent.url), owner_of({CARD: True}), deadline=DEADLINE
    )

    handle(issuer)

    assert ["ERROR"] == [
        record.levelname
        for record in caplog.records
        if record.name == "issuing_elements"
        and "did not answer within the request's deadline of 0.5 s"
        in record.getMessage()
    ]


# -- a key that Stripe issues after the deadline --------------------------------


@pytest.fixture
def stripe_answers_late(httpserver: HTTPServer) -> Iterator[threading.Event]:
    """Stripe issues the key, but answers only after twice the deadline."""
    released = threading.Event()

    def late(_: Request) -> Response:
        released.wait(2 * DEADLINE)
        return Response(json.dumps(key_object()), mimetype=JSON)

    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_handler(
        late
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))
    yield released
    released.set()


def deletes(httpserver: HTTPServer) -> list[str]:
    return [request.path for request, _ in httpserver.log if request.method == "DELETE"]


def wait_for_a_delete(httpserver: HTTPServer) -> list[str]:
    end = time.monotonic() + SETTLE
    while not deletes(httpserver) and time.monotonic() < end:
        time.sleep(0.02)
    return deletes(httpserver)


@pytest.mark.usefixtures("stripe_answers_late")
def test_a_key_issued_after_the_deadline_is_revoked(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: Grant()}), deadline=DEADLINE
    )

    response = handle(issuer)

    revoked = wait_for_a_delete(httpserver)
    wait_for_workers()
    assert (503, [f"/v1/ephemeral_keys/{KEY_ID}"]) == (response.status, revoked)


@pytest.mark.usefixtures("stripe_answers_late")
def test_a_key_issued_after_the_deadline_is_revoked_async(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    stripe_http: stripe.HTTPXClient,
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: Grant()}), deadline=DEADLINE
    )

    async def serve() -> tuple[int, list[str]]:
        # An ASGI server's loop runs on after the answer; so does this one.
        response = await issuer.ahandle("alice", body=BODY, content_type=JSON)
        end = time.monotonic() + SETTLE
        # The revocation runs as a task of this loop; let it finish here.
        while _late_tasks and time.monotonic() < end:  # noqa: ASYNC110 - a set of tasks, no event
            await asyncio.sleep(0.02)
        await stripe_http.close_async()  # type: ignore[no-untyped-call]  # untyped
        return response.status, deletes(httpserver)

    assert (503, [f"/v1/ephemeral_keys/{KEY_ID}"]) == asyncio.run(serve())
    # The late call and its revocation were held until done, then let go.
    assert set() == _late_tasks


def test_an_abandoned_call_that_fails_late_is_let_go_quietly(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    stripe_http: stripe.HTTPXClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = threading.Event()

    def fails_late(_: Request) -> Response:
        released.wait(2 * DEADLINE)
        return Response(
            json.dumps({"error": {"type": "api_error", "message": "Down."}}),
            status=500,
            mimetype=JSON,
        )

    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_handler(
        fails_late
    )
    issuer = EphemeralKeyIssuer(
        stripe_client,
        owner_of({CARD: Grant()}),
        deadline=DEADLINE,
        max_network_retries=0,
    )

    async def serve() -> int:
        response = await issuer.ahandle("alice", body=BODY, content_type=JSON)
        end = time.monotonic() + SETTLE
        while _late_tasks and time.monotonic() < end:  # noqa: ASYNC110 - a set of tasks, no event
            await asyncio.sleep(0.02)
        await stripe_http.close_async()  # type: ignore[no-untyped-call]  # untyped
        return response.status

    try:
        assert 503 == asyncio.run(serve())
    finally:
        released.set()
    # Nothing to revoke, nothing held, and no error raised inside the loop's
    # callbacks (asyncio would log "Exception in callback").
    assert ([], set()) == (deletes(httpserver), _late_tasks)
    errors = [r for r in caplog.records if r.name == "asyncio" and r.levelno >= 40]
    assert [] == [r.getMessage() for r in errors]


def delete_accounts(httpserver: HTTPServer) -> list[str | None]:
    return [
        request.headers.get("Stripe-Account")
        for request, _ in httpserver.log
        if request.method == "DELETE"
    ]


@pytest.mark.usefixtures("stripe_answers_late")
def test_a_late_key_is_revoked_under_its_account(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: Grant(ACCOUNT)}), deadline=DEADLINE
    )

    handle(issuer)

    wait_for_a_delete(httpserver)
    wait_for_workers()
    assert [ACCOUNT] == delete_accounts(httpserver)


@pytest.mark.usefixtures("stripe_answers_late")
def test_a_late_key_is_revoked_under_its_account_async(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    stripe_http: stripe.HTTPXClient,
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: Grant(ACCOUNT)}), deadline=DEADLINE
    )

    async def serve() -> list[str | None]:
        await issuer.ahandle("alice", body=BODY, content_type=JSON)
        end = time.monotonic() + SETTLE
        while _late_tasks and time.monotonic() < end:  # noqa: ASYNC110 - a set of tasks, no event
            await asyncio.sleep(0.02)
        await stripe_http.close_async()  # type: ignore[no-untyped-call]  # untyped
        return delete_accounts(httpserver)

    assert [ACCOUNT] == asyncio.run(serve())


def test_a_key_that_arrives_in_time_is_not_revoked(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object()
    )
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: Grant()}), deadline=DEADLINE
    )

    response = handle(issuer)

    assert (200, ["POST"]) == (
        response.status,
        [request.method for request, _ in httpserver.log],
    )


@pytest.mark.usefixtures("stripe_answers_late")
def test_a_key_issued_after_the_caller_went_away_is_revoked(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    stripe_http: stripe.HTTPXClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: Grant()}), deadline=5)

    async def hang_up() -> list[str]:
        # An ASGI server cancels the request's task when the browser leaves.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(
                issuer.aissue("alice", card_id=CARD, nonce=NONCE), DEADLINE / 2
            )
        end = time.monotonic() + SETTLE
        while _late_tasks and time.monotonic() < end:  # noqa: ASYNC110 - a set of tasks, no event
            await asyncio.sleep(0.02)
        await stripe_http.close_async()  # type: ignore[no-untyped-call]  # untyped
        return deletes(httpserver)

    assert [f"/v1/ephemeral_keys/{KEY_ID}"] == asyncio.run(hang_up())
