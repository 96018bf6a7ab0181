"""A hung Stripe wedges nothing; the deadline is free where the client bounds it.

Issue 15, items 2 and 7. Stripe here is pytest-httpserver, threaded, with a
handler that holds each create until released (at most ``HOLD`` seconds) and
counts the keys it issued and revoked. The client's own timeout is long, as
stripe-python's default is: the issuer alone must keep the pool free.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import issuing_elements._bounded_calls as bounded_calls
from issuing_elements import EphemeralKeyIssuer, Grant, HttpResponse
from issuing_elements._bounded_calls import _late_tasks, _workers, call_within
from issuing_elements._stripe_client import client_bound
from issuing_elements.exceptions import StripeUnavailableError
from socket_stand_ins import SilentServer
from stripe_wire import API_KEY, CARD, NONCE, key_object, owner_of

DEADLINE = 1.0
# The bound is the deadline, not the fault's (HOLD, or forever): a margin
# that holds on a machine at load 8 on 2 cores, and half of HOLD.
MARGIN = 15.0
# The longest any handler holds a request: the fault's own duration.
HOLD = 30.0
HUNG = 70
JSON = "application/json"
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()


class HangingStripe:
    """Issues a new key per create; holds each create until it has recovered.

    ``delete_seconds``: how long each revocation takes (it then succeeds).
    """

    def __init__(self, server: HTTPServer, *, delete_seconds: float = 0) -> None:
        self.recovered = threading.Event()
        self.released = threading.Event()
        self.issued: list[str] = []
        self.revoked: list[str] = []
        self._lock = threading.Lock()
        self._delete_seconds = delete_seconds
        server.expect_request("/v1/ephemeral_keys", method="POST").respond_with_handler(
            self._create
        )
        server.expect_request(
            re.compile(r"/v1/ephemeral_keys/ephkey_\w+"), method="DELETE"
        ).respond_with_handler(self._delete)

    def _create(self, _: Request) -> Response:
        held = not self.recovered.is_set()
        with self._lock:
            key_id = f"ephkey_hang{len(self.issued):03d}"
            self.issued.append(key_id)
        if held:
            self.released.wait(HOLD)
        return Response(json.dumps(key_object(id=key_id)), mimetype=JSON)

    def _delete(self, request: Request) -> Response:
        time.sleep(self._delete_seconds)
        key_id = request.path.rsplit("/", 1)[1]
        with self._lock:
            self.revoked.append(key_id)
        return Response(json.dumps(key_object(id=key_id, secret=None)), mimetype=JSON)

    def wait_for(self, what: list[str], count: int) -> int:
        end = time.monotonic() + HOLD
        while len(what) < count and time.monotonic() < end:
            time.sleep(0.02)
        return len(what)


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def hanging(threaded_server: HTTPServer) -> Iterator[HangingStripe]:
    stand_in = HangingStripe(threaded_server)
    yield stand_in
    stand_in.recovered.set()
    stand_in.released.set()


def long_timeout_client(url: str) -> stripe.StripeClient:
    """stripe-python's default transport and timeout (80 s): the bound is unknown."""
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": url}, http_client=stripe.RequestsClient()
    )


def bounded_client(url: str) -> stripe.StripeClient:
    """A client whose timeouts bound a call (0.2 + 0.3 s, one attempt) within 1 s."""
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": url},
        http_client=stripe.HTTPXClient(
            timeout=httpx.Timeout(0.3, connect=0.2), allow_sync_methods=True
        ),
    )


def handle(issuer: EphemeralKeyIssuer[str]) -> HttpResponse:
    return issuer.handle("alice", body=BODY, content_type=JSON)


def could_not_revoke(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("Could not revoke")
    ]


def revoked_log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Revoked")
    ]


def test_after_70_hung_calls_the_next_request_succeeds_within_a_deadline(
    threaded_server: HTTPServer,
    hanging: HangingStripe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = long_timeout_client(threaded_server.url_for("").rstrip("/"))
    issuer = EphemeralKeyIssuer(client, owner_of({CARD: Grant()}), deadline=DEADLINE)
    answers: list[int] = []
    callers = [
        threading.Thread(target=lambda: answers.append(handle(issuer).status))
        for _ in range(HUNG)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(HOLD)
    hung = hanging.wait_for(hanging.issued, HUNG)
    hanging.recovered.set()  # new calls are answered; the hung ones still hang
    # The same client and the same workers, with a deadline a loaded machine
    # meets: a call queued behind the hung ones would still be 503 at its end,
    # since they hang until after it.
    patient = EphemeralKeyIssuer(
        client, owner_of({CARD: Grant()}), deadline=DEADLINE + MARGIN
    )

    response = handle(patient)

    hanging.released.set()  # the hung calls answer now, late: their keys are revoked
    hanging.wait_for(hanging.revoked, HUNG)
    handed_out = set(hanging.issued) - set(hanging.revoked)
    assert (HUNG, [503] * HUNG, 200) == (hung, answers, response.status)
    assert ([json.loads(response.body)["ephemeralKeySecret"]], []) == (
        [key_object()["secret"]] * len(handed_out),
        could_not_revoke(caplog),
    )
    assert HUNG == len(set(hanging.revoked))


def test_a_late_revocation_is_not_bound_by_the_deadline(
    threaded_server: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Stripe answers the create after the deadline, and takes longer than
    # the deadline again to revoke the key: it is revoked, and said so.
    stand_in = HangingStripe(threaded_server, delete_seconds=1.5 * DEADLINE)
    issuer = EphemeralKeyIssuer(
        long_timeout_client(threaded_server.url_for("").rstrip("/")),
        owner_of({CARD: Grant()}),
        deadline=DEADLINE,
    )
    try:
        response = handle(issuer)
        stand_in.wait_for(stand_in.issued, 1)
        stand_in.released.set()
        stand_in.wait_for(stand_in.revoked, 1)
    finally:
        stand_in.released.set()
    # The revocation's log line follows the DELETE's answer.
    end = time.monotonic() + HOLD
    while not revoked_log_lines(caplog) and time.monotonic() < end:
        time.sleep(0.02)
    revoked_lines = revoked_log_lines(caplog)
    assert (503, ["ephkey_hang000"], [], 1) == (
        response.status,
        stand_in.revoked,
        could_not_revoke(caplog),
        len(revoked_lines),
    )


def test_past_the_thread_cap_a_call_is_refused_at_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bounded_calls, "MAX_THREADS", 2)
    monkeypatch.setattr(bounded_calls, "_workers", bounded_calls._Workers())
    release = threading.Event()

    def hold_a_worker() -> None:
        with pytest.raises(StripeUnavailableError):
            call_within(0.1, lambda: release.wait(HOLD))

    held = [threading.Thread(target=hold_a_worker) for _ in range(2)]
    for caller in held:
        caller.start()
    for caller in held:
        caller.join(HOLD)
    started = time.monotonic()
    try:
        with pytest.raises(StripeUnavailableError) as refused:
            # Waiting for a worker would take all of HOLD: at once is far less.
            call_within(HOLD, lambda: "never called")
    finally:
        release.set()
    elapsed = time.monotonic() - started
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    # Retry-After: the seconds the call was given, as for one that timed out.
    assert (True, int(HOLD), True) == (
        elapsed < HOLD / 2,
        refused.value.retry_after,
        any("2 worker threads are busy" in line for line in lines),
    )


def test_sequential_calls_reuse_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker counts itself idle before its caller wakes: no thread per call.
    workers = bounded_calls._Workers()
    monkeypatch.setattr(bounded_calls, "_workers", workers)

    answers = [call_within(DEADLINE, lambda: "answer") for _ in range(50)]

    assert (["answer"] * 50, 50, 1) == (answers, workers.submitted, workers._count)


# -- the bound without the thread ----------------------------------------------


@pytest.mark.parametrize(
    ("http_client", "retries", "expected"),
    [
        # stripe-python's default: 80 s to connect plus 80 s to read, 3 times,
        # plus pauses of at most 0.5 and 1 s.
        pytest.param(stripe.RequestsClient(), 2, 481.5, id="RequestsClient()"),
        pytest.param(stripe.RequestsClient(timeout=(1, 1.5)), 2, 9.0, id="(1, 1.5)"),
        pytest.param(stripe.RequestsClient(timeout=2), 0, 4.0, id="requests 2 s"),
        pytest.param(
            stripe.HTTPXClient(timeout=httpx.Timeout(3, connect=1)),
            1,
            8.5,
            id="httpx Timeout(3, connect=1)",
        ),
        pytest.param(stripe.HTTPXClient(timeout=None), 2, None, id="httpx no timeout"),
        pytest.param(stripe.UrllibClient(), 2, None, id="urllib"),
    ],
)
def test_the_client_bound_counts_every_attempt_and_pause(
    http_client: stripe.HTTPClient, retries: int, expected: float | None
) -> None:
    client = stripe.StripeClient(API_KEY, http_client=http_client)

    assert expected == client_bound(client, retries)


def test_the_async_bound_is_the_async_transports() -> None:
    aiohttp_client = stripe.StripeClient(
        API_KEY, http_client=stripe.AIOHTTPClient(timeout=3)
    )
    requests_only = stripe.StripeClient(
        API_KEY, http_client=stripe.RequestsClient(timeout=1)
    )

    assert (10.5, None, None) == (
        client_bound(aiohttp_client, 2, asynchronous=True),
        client_bound(aiohttp_client, 2),  # aiohttp has no sync transport
        client_bound(requests_only, 2, asynchronous=True),
    )


def test_a_transport_that_overrides_its_request_has_no_known_bound() -> None:
    class Canned(stripe.RequestsClient):
        # Any override: this transport may not honour the timeout it was given.
        request = stripe.HTTPClient.request  # type: ignore[assignment]  # typed apart

    client = stripe.StripeClient(API_KEY, http_client=Canned(timeout=1))

    assert None is client_bound(client, 0)


def test_the_default_client_keeps_the_worker_thread(
    threaded_server: HTTPServer,
) -> None:
    threaded_server.expect_request(
        "/v1/ephemeral_keys", method="POST"
    ).respond_with_json(key_object())
    url = threaded_server.url_for("").rstrip("/")
    issuer = EphemeralKeyIssuer(
        stripe.StripeClient(API_KEY, base_addresses={"api": url}),
        owner_of({CARD: Grant()}),
    )
    before = _workers.submitted

    response = handle(issuer)

    assert (200, 1) == (response.status, _workers.submitted - before)


def test_a_bounded_client_runs_no_worker_thread(threaded_server: HTTPServer) -> None:
    threaded_server.expect_request(
        "/v1/ephemeral_keys", method="POST"
    ).respond_with_json(key_object())
    issuer = EphemeralKeyIssuer(
        bounded_client(threaded_server.url_for("").rstrip("/")),
        owner_of({CARD: Grant()}),
        deadline=DEADLINE,
        max_network_retries=0,
    )
    before = _workers.submitted

    response = handle(issuer)

    assert (200, 0) == (response.status, _workers.submitted - before)


def test_inline_a_hung_stripe_still_answers_503_within_the_deadline() -> None:
    with SilentServer() as silent:
        issuer = EphemeralKeyIssuer(
            bounded_client(silent.url),
            owner_of({CARD: Grant()}),
            deadline=DEADLINE,
            max_network_retries=0,
        )
        before = _workers.submitted
        started = time.monotonic()

        response = handle(issuer)

        elapsed = time.monotonic() - started
    # One worker only, after the answer: the search for a key whose answer the
    # timeout may have lost (the call itself ran inline).
    assert (503, True, 1) == (
        response.status,
        elapsed < DEADLINE + MARGIN,
        _workers.submitted - before,
    )


def test_inline_async_a_hung_stripe_still_answers_503_within_the_deadline() -> None:
    with SilentServer() as silent:
        client = bounded_client(silent.url)
        issuer = EphemeralKeyIssuer(
            client, owner_of({CARD: Grant()}), deadline=DEADLINE, max_network_retries=0
        )
        started = time.monotonic()

        response = asyncio.run(issuer.ahandle("alice", body=BODY, content_type=JSON))

        elapsed = time.monotonic() - started
    assert (503, True) == (response.status, elapsed < DEADLINE + MARGIN)


def test_inline_async_a_key_issued_after_the_caller_went_away_is_revoked(
    threaded_server: HTTPServer, hanging: HangingStripe
) -> None:
    # The answer comes after the caller left but within the client's timeout.
    http = stripe.HTTPXClient(timeout=httpx.Timeout(3, connect=1))
    client = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": threaded_server.url_for("").rstrip("/")},
        http_client=http,
    )
    issuer = EphemeralKeyIssuer(
        client, owner_of({CARD: Grant()}), deadline=5, max_network_retries=0
    )

    async def hang_up() -> list[str]:
        # An ASGI server cancels the request's task when the browser leaves.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(
                issuer.aissue("alice", card_id=CARD, nonce=NONCE), 0.3
            )
        hanging.released.set()
        end = time.monotonic() + HOLD
        while _late_tasks and time.monotonic() < end:  # noqa: ASYNC110 - a set of tasks, no event
            await asyncio.sleep(0.02)
        await http.close_async()  # type: ignore[no-untyped-call]  # untyped
        return hanging.revoked

    assert ["ephkey_hang000"] == asyncio.run(hang_up())
    assert (4.0, ["ephkey_hang000"]) == (
        client_bound(client, 0, asynchronous=True),
        hanging.issued,
    )
