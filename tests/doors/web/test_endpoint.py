"""The endpoint's wire contract: every row of the error table, through handle and issue.

Stripe is pytest-httpserver, spoken to by the real stripe SDK; requests that
must not reach Stripe are checked to make none.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from doors_and_twins import Twin
from issuing_elements import EphemeralKeyIssuer, Grant, HttpResponse, KeyRequest
from issuing_elements.exceptions import (
    CardNotFoundError,
    InvalidNonceError,
    InvalidRequestError,
    IssuingElementsError,
    RateLimitedError,
    ServerMisconfiguredError,
    StripeUnavailableError,
    UnauthenticatedError,
)
from stripe_wire import (
    CARD,
    EXPIRES,
    KEY_SECRET,
    NONCE,
    OTHER_CARD,
    key_object,
    owner_of,
    stripe_error,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
GOOD_BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()


def error_of(response: HttpResponse) -> tuple[int, str]:
    document = json.loads(response.body)
    assert ["error"] == list(document)
    assert ["code", "message"] == sorted(document["error"])
    return response.status, document["error"]["code"]


def test_granted_request_answers_the_key_and_nothing_more(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert 200 == response.status
    assert {
        "ephemeralKeySecret": KEY_SECRET,
        "issuingCard": CARD,
        "nonce": NONCE,
        "expires": EXPIRES,
    } == json.loads(response.body)


def test_granted_response_is_json_and_never_cached(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert ("application/json", "no-store") == (
        response.headers["Content-Type"],
        response.headers["Cache-Control"],
    )


def test_form_encoded_body_is_accepted(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    response = issuer.handle(
        "alice",
        body=f"card_id={CARD}&nonce={NONCE}".encode(),
        content_type=f"{FORM}; charset=UTF-8",
    )

    assert 200 == response.status


def test_ahandle_answers_the_same_as_handle(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys").respond_with_json(key_object())

    sync = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)
    async_ = asyncio.run(issuer.ahandle("alice", body=GOOD_BODY, content_type=JSON))

    assert sync == async_


def issue_sync(
    issuer: EphemeralKeyIssuer[str], user: str | None, card_id: str, nonce: Any
) -> None:
    issuer.issue(user, card_id=card_id, nonce=nonce)


def issue_async(
    issuer: EphemeralKeyIssuer[str], user: str | None, card_id: str, nonce: Any
) -> None:
    asyncio.run(issuer.aissue(user, card_id=card_id, nonce=nonce))


# -- requests that must never reach Stripe ---------------------------------

BROWSER_ERRORS: list[Any] = [
    pytest.param(None, GOOD_BODY, JSON, 401, "unauthenticated", id="no user"),
    pytest.param("alice", b"{", JSON, 400, "invalid_request", id="malformed json"),
    pytest.param("alice", b"[]", JSON, 400, "invalid_request", id="json array"),
    pytest.param("alice", b"\xff\xfe", JSON, 400, "invalid_request", id="not utf-8"),
    pytest.param(
        "alice",
        json.dumps([["card_id", CARD], ["nonce", NONCE]]).encode(),
        JSON,
        400,
        "invalid_request",
        id="json array of pairs",
    ),
    pytest.param(
        "alice", b"[" * 3000, JSON, 400, "invalid_request", id="json nested too deep"
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": CARD}).encode(),
        JSON,
        400,
        "invalid_request",
        id="missing nonce",
    ),
    pytest.param(
        "alice",
        json.dumps(
            {"card_id": CARD, "nonce": NONCE, "stripe_account": "acct_1X"}
        ).encode(),
        JSON,
        400,
        "invalid_request",
        id="browser picks the account",
    ),
    pytest.param(
        "alice",
        json.dumps(
            {"card_id": CARD, "nonce": NONCE, "api_version": "2019-01-01"}
        ).encode(),
        JSON,
        400,
        "invalid_request",
        id="browser picks the api version",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": "card_1X", "nonce": NONCE}).encode(),
        JSON,
        400,
        "invalid_request",
        id="not a card id",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": CARD, "nonce": "nonce_1"}).encode(),
        JSON,
        400,
        "invalid_request",
        id="not a nonce",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": CARD, "nonce": 7}).encode(),
        JSON,
        400,
        "invalid_request",
        id="nonce not a string",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": "ic_" + "a" * 300, "nonce": NONCE}).encode(),
        JSON,
        400,
        "invalid_request",
        id="card id too long",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": "ic_1_2", "nonce": NONCE}).encode(),
        JSON,
        400,
        "invalid_request",
        id="card id with an underscore",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": "ic_\u0661\u0662", "nonce": NONCE}).encode(),
        JSON,
        400,
        "invalid_request",
        id="card id with non-ascii digits",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": CARD, "nonce": "ephkn_" + "a" * 501}).encode(),
        JSON,
        400,
        "invalid_request",
        id="nonce too long",
    ),
    pytest.param(
        "alice",
        (
            f'{{"card_id": "{CARD}", "card_id": "{OTHER_CARD}", "nonce": "{NONCE}"}}'
        ).encode(),
        JSON,
        400,
        "invalid_request",
        id="duplicate json field",
    ),
    pytest.param(
        "alice",
        f"card_id={CARD}&nonce={NONCE}&card_id={CARD}".encode(),
        FORM,
        400,
        "invalid_request",
        id="duplicate form field",
    ),
    pytest.param(
        "alice",
        f"card_id={CARD}&nonce={NONCE}&stripe_version=x".encode(),
        FORM,
        400,
        "invalid_request",
        id="unknown form field",
    ),
    pytest.param("alice", b"card_id", FORM, 400, "invalid_request", id="bad form"),
    pytest.param(
        "alice",
        f"card_id={CARD}&&nonce={NONCE}".encode(),
        FORM,
        400,
        "invalid_request",
        id="form with an empty field",
    ),
    pytest.param("alice", b"", FORM, 400, "invalid_request", id="empty form"),
    pytest.param(
        "alice", b"x" * 4097, JSON, 413, "body_too_large", id="body too large"
    ),
    pytest.param(
        "alice", GOOD_BODY, "text/plain", 415, "unsupported_media_type", id="text/plain"
    ),
    pytest.param(
        "alice", GOOD_BODY, None, 415, "unsupported_media_type", id="no content type"
    ),
    pytest.param(
        "alice",
        GOOD_BODY,
        "multipart/form-data; boundary=x",
        415,
        "unsupported_media_type",
        id="multipart",
    ),
    pytest.param(
        "alice",
        GOOD_BODY,
        "application/json; charset=latin-1",
        415,
        "unsupported_media_type",
        id="latin-1 json",
    ),
    pytest.param(
        "alice",
        GOOD_BODY,
        "application/json; Charset=latin-1",
        415,
        "unsupported_media_type",
        id="latin-1 json, parameter name capitalized",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": OTHER_CARD, "nonce": NONCE}).encode(),
        JSON,
        404,
        "card_not_found",
        id="another user's card",
    ),
    pytest.param(
        "mallory", GOOD_BODY, JSON, 404, "card_not_found", id="user owns no card"
    ),
]


@pytest.mark.parametrize(
    ("user", "body", "content_type", "status", "code"), BROWSER_ERRORS
)
def test_refused_before_stripe(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    user: str | None,
    body: bytes,
    content_type: str | None,
    status: int,
    code: str,
    twin: Twin,
) -> None:
    response = twin.call(issuer, "handle", user, body=body, content_type=content_type)

    assert (status, code) == error_of(response)
    assert [] == httpserver.log


@pytest.mark.parametrize(
    ("user", "body", "content_type", "status", "code"), BROWSER_ERRORS
)
def test_refusals_are_never_cached(
    issuer: EphemeralKeyIssuer[str],
    user: str | None,
    body: bytes,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    response = issuer.handle(user, body=body, content_type=content_type)

    assert (status, "application/json", "no-store") == (
        response.status,
        response.headers["Content-Type"],
        response.headers["Cache-Control"],
    )


def test_a_body_of_exactly_the_limit_is_accepted(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    body = GOOD_BODY + b" " * (issuer.max_body_bytes - len(GOOD_BODY))

    response = issuer.handle("alice", body=body, content_type=JSON)

    assert (4096, 200) == (len(body), response.status)


def test_a_malformed_body_says_so(issuer: EphemeralKeyIssuer[str]) -> None:
    response = issuer.handle("alice", body=b"{", content_type=JSON)

    assert (
        "The body is malformed: not valid UTF-8 JSON."
        == (json.loads(response.body)["error"]["message"])
    )


def test_unknown_fields_are_named_in_the_message(
    issuer: EphemeralKeyIssuer[str],
) -> None:
    body = json.dumps({"card_id": CARD, "nonce": NONCE, "stripe_account": "acct_1X"})

    response = issuer.handle("alice", body=body.encode(), content_type=JSON)

    assert "'stripe_account'" in json.loads(response.body)["error"]["message"]


def test_values_are_never_echoed(issuer: EphemeralKeyIssuer[str]) -> None:
    body = json.dumps({"card_id": "<script>alert(1)</script>", "nonce": NONCE})

    response = issuer.handle("alice", body=body.encode(), content_type=JSON)

    assert b"script" not in response.body


def test_denial_and_missing_card_answer_the_same_bytes(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, owner_of({CARD: True}), max_network_retries=0
    )
    httpserver.expect_request("/v1/ephemeral_keys").respond_with_data(
        stripe_error(
            "invalid_request_error",
            "No such issuing card: 'ic_1FakeCard'",
            code="resource_missing",
            param="issuing_card",
        ),
        status=404,
    )

    denied = issuer.handle(
        "alice",
        body=json.dumps({"card_id": OTHER_CARD, "nonce": NONCE}).encode(),
        content_type=JSON,
    )
    missing = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert (denied.status, denied.headers, denied.body) == (
        missing.status,
        missing.headers,
        missing.body,
    )


# -- what Stripe says --------------------------------------------------------


def respond(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body, status=status, headers=headers, content_type="application/json"
    )


STRIPE_ERRORS: list[Any] = [
    pytest.param(
        respond(
            400, stripe_error("invalid_request_error", "Invalid nonce.", param="nonce")
        ),
        400,
        "invalid_nonce",
        InvalidNonceError,
        id="nonce rejected",
    ),
    pytest.param(
        respond(
            400,
            stripe_error(
                "invalid_request_error", "The provided nonce has already been used."
            ),
        ),
        400,
        "invalid_nonce",
        InvalidNonceError,
        id="nonce rejected, no param",
    ),
    pytest.param(
        respond(
            404,
            stripe_error(
                "invalid_request_error",
                "No such issuing card",
                code="resource_missing",
                param="issuing_card",
            ),
        ),
        404,
        "card_not_found",
        CardNotFoundError,
        id="no such card",
    ),
    pytest.param(
        respond(
            401,
            stripe_error(
                "invalid_request_error", "Invalid API Key provided: sk_test_****ecks"
            ),
        ),
        500,
        "server_misconfigured",
        ServerMisconfiguredError,
        id="bad api key",
    ),
    pytest.param(
        respond(403, stripe_error("invalid_request_error", "Not permitted.")),
        500,
        "server_misconfigured",
        ServerMisconfiguredError,
        id="permission",
    ),
    pytest.param(
        respond(
            400,
            stripe_error(
                "invalid_request_error",
                "This account cannot retrieve card details.",
                code="feature_missing",
            ),
        ),
        500,
        "server_misconfigured",
        ServerMisconfiguredError,
        id="missing feature",
    ),
    pytest.param(
        respond(200, json.dumps(key_object(secret=None))),
        500,
        "server_misconfigured",
        ServerMisconfiguredError,
        id="key without secret",
    ),
    pytest.param(
        respond(200, json.dumps({"id": "ephkey_1Fake", "object": "ephemeral_key"})),
        500,
        "server_misconfigured",
        ServerMisconfiguredError,
        id="key with fields missing",
    ),
    pytest.param(
        respond(200, json.dumps(key_object(expires="soon"))),
        500,
        "server_misconfigured",
        ServerMisconfiguredError,
        id="key without expiry",
    ),
    pytest.param(
        respond(
            429,
            stripe_error("rate_limit_error", "Too many requests."),
            {"Retry-After": "7"},
        ),
        503,
        "stripe_unavailable",
        StripeUnavailableError,
        id="stripe rate limits us",
    ),
    pytest.param(
        respond(500, stripe_error("api_error", "Something went wrong.")),
        503,
        "stripe_unavailable",
        StripeUnavailableError,
        id="stripe 500",
    ),
    pytest.param(
        respond(503, "<html>Service Unavailable</html>"),
        503,
        "stripe_unavailable",
        StripeUnavailableError,
        id="stripe 503 html",
    ),
]


@pytest.mark.parametrize(("stripe_says", "status", "code", "error_type"), STRIPE_ERRORS)
def test_stripe_outcome_through_handle(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    stripe_says: Response,
    status: int,
    code: str,
    error_type: type[IssuingElementsError],
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        stripe_says
    )

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert (status, code) == error_of(response)
    assert ["POST"] == [r.method for r, _ in httpserver.log if r.method == "POST"]


@pytest.mark.parametrize("issue", [issue_sync, issue_async])
@pytest.mark.parametrize(("stripe_says", "status", "code", "error_type"), STRIPE_ERRORS)
def test_stripe_outcome_through_issue(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    stripe_says: Response,
    status: int,
    code: str,
    error_type: type[IssuingElementsError],
    issue: Callable[..., None],
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        stripe_says
    )

    with pytest.raises(error_type) as raised:
        issue(issuer, "alice", CARD, NONCE)

    assert (status, code) == (raised.value.status, raised.value.code)


def test_stripe_text_never_reaches_the_browser(
    httpserver: HTTPServer, issuer: EphemeralKeyIssuer[str]
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        respond(400, stripe_error("invalid_request_error", "Internal detail 4f2a"))
    )

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert b"4f2a" not in response.body


def test_operator_log_names_stripes_request_id_and_code(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        respond(
            400,
            stripe_error("invalid_request_error", "No.", code="feature_missing"),
            {"Request-Id": "req_fake42"},
        )
    )

    issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    [record] = [r for r in caplog.records if r.name == "issuing_elements"]
    assert ("ERROR", True, True) == (
        record.levelname,
        "req_fake42" in record.getMessage(),
        "feature_missing" in record.getMessage(),
    )


@pytest.mark.parametrize(
    ("stripe_says", "retry_after"),
    [
        pytest.param(
            respond(
                429,
                stripe_error("rate_limit_error", "Slow down."),
                {"Retry-After": "7"},
            ),
            "7",
            id="stripe's own retry-after",
        ),
        pytest.param(
            respond(
                429,
                stripe_error("rate_limit_error", "Slow down."),
                {"Retry-After": "soon"},
            ),
            "2",
            id="unreadable retry-after: the default",
        ),
        pytest.param(respond(502, "bad gateway"), "2", id="5xx: the default"),
    ],
)
def test_stripe_unavailable_answers_a_retry_after(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    stripe_says: Response,
    retry_after: str,
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        stripe_says
    )

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert retry_after == response.headers["Retry-After"]


def test_stripe_timeout_is_unavailable(httpserver: HTTPServer) -> None:
    http = stripe.HTTPXClient(timeout=0.2, allow_sync_methods=True)
    client = stripe.StripeClient(
        "sk_test_fake_timeout",
        base_addresses={"api": httpserver.url_for("").rstrip("/")},
        http_client=http,
    )
    issuer = EphemeralKeyIssuer(client, owner_of({CARD: True}), max_network_retries=0)
    release = threading.Event()

    def too_late(_: Request) -> Response:
        release.wait(5)
        return respond(200, json.dumps(key_object()))

    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_handler(
        too_late
    )

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    # Let the stand-in finish answering here, not during the next test.
    release.set()
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.01)
    http.close()  # type: ignore[no-untyped-call]  # stripe-python is untyped here
    assert (503, "stripe_unavailable") == error_of(response)


def test_stripe_unreachable_is_unavailable(stripe_http: stripe.HTTPXClient) -> None:
    client = stripe.StripeClient(
        "sk_test_fake_unreachable",
        base_addresses={"api": "http://127.0.0.1:9"},
        http_client=stripe_http,
    )
    issuer = EphemeralKeyIssuer(client, owner_of({CARD: True}), max_network_retries=0)

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert (503, "stripe_unavailable") == error_of(response)


# -- the authorizer ------------------------------------------------------------


class Opaque:
    pass


class LooksLikeAGrant:
    """Not a Grant, though it has a Grant's attribute."""

    stripe_account = None


def raising(_user: str, _request: KeyRequest) -> Grant:
    raise LookupError("database down")


def bad_account(_user: str, _request: KeyRequest) -> Grant:
    return Grant(stripe_account="not-an-account")


@pytest.mark.parametrize(
    "authorizer",
    [
        pytest.param(raising, id="raises"),
        pytest.param(lambda _u, _r: None, id="None"),
        pytest.param(lambda _u, _r: False, id="False"),
        pytest.param(lambda _u, _r: "yes", id="'yes'"),
        pytest.param(lambda _u, _r: 1, id="1"),
        pytest.param(lambda _u, _r: Opaque(), id="an object"),
        pytest.param(lambda _u, _r: LooksLikeAGrant(), id="a Grant look-alike"),
        pytest.param(lambda _u, _r: [Grant()], id="a list holding a grant"),
        pytest.param(bad_account, id="grant with a bad account"),
    ],
)
def test_authorizer_faults_deny_without_calling_stripe(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    authorizer: Callable[[str, KeyRequest], Any],
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, authorizer)

    response = issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert (404, "card_not_found") == error_of(response)
    assert [] == httpserver.log


def test_authorizer_fault_is_logged_for_the_operator(
    stripe_client: stripe.StripeClient, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, raising)

    issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    [record] = [r for r in caplog.records if r.name == "issuing_elements"]
    # The traceback travels as masked text (exc_info is dropped: its frames
    # may hold a secret).
    assert ("ERROR", "LookupError: database down") == (
        record.levelname,
        (record.exc_text or "").splitlines()[-1],
    )


def test_authorizer_fault_log_names_the_exception_and_the_card(
    stripe_client: stripe.StripeClient, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, raising)

    issuer.handle("alice", body=GOOD_BODY, content_type=JSON)

    assert ["The authorizer raised LookupError for card ic_1FakeCard; denying."] == [
        r.getMessage() for r in caplog.records if r.name == "issuing_elements"
    ]


def test_authorizer_fault_raises_a_denial_that_says_why(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, raising)

    with pytest.raises(CardNotFoundError) as raised:
        issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert "The authorizer raised; denied." == str(raised.value)


def test_authorizer_sees_the_user_and_the_checked_request(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    seen: list[tuple[str, KeyRequest]] = []

    def authorizer(user: str, request: KeyRequest) -> bool:
        seen.append((user, request))
        return False

    EphemeralKeyIssuer(stripe_client, authorizer).handle(
        "alice", body=GOOD_BODY, content_type=JSON
    )

    assert [("alice", KeyRequest(card_id=CARD, nonce=NONCE))] == seen


def test_authorizer_may_answer_rate_limited(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    def authorizer(_user: str, _request: KeyRequest) -> bool:
        raise RateLimitedError(retry_after=30)

    response = EphemeralKeyIssuer(stripe_client, authorizer).handle(
        "alice", body=GOOD_BODY, content_type=JSON
    )

    assert (429, "rate_limited", "30") == (
        *error_of(response),
        response.headers["Retry-After"],
    )
    assert [] == httpserver.log


@pytest.mark.parametrize("retry_after", [0, -5])
def test_a_retry_after_of_zero_or_less_is_answered_as_one_second(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, retry_after: int
) -> None:
    def authorizer(_user: str, _request: KeyRequest) -> bool:
        raise RateLimitedError(retry_after=retry_after)

    response = EphemeralKeyIssuer(stripe_client, authorizer).handle(
        "alice", body=GOOD_BODY, content_type=JSON
    )

    assert (429, "rate_limited", "1") == (
        *error_of(response),
        response.headers["Retry-After"],
    )


def test_unexpected_failure_answers_500(httpserver: HTTPServer) -> None:
    async_only = stripe.HTTPXClient()  # cannot serve the sync path: a bug, not Stripe
    client = stripe.StripeClient(
        "sk_test_fake_async_only",
        base_addresses={"api": httpserver.url_for("").rstrip("/")},
        http_client=async_only,
    )

    response = EphemeralKeyIssuer(client, owner_of({CARD: True})).handle(
        "alice", body=GOOD_BODY, content_type=JSON
    )

    assert (500, "server_misconfigured") == error_of(response)


@pytest.mark.parametrize(
    ("user", "card_id", "nonce", "error_type"),
    [
        pytest.param(None, CARD, NONCE, UnauthenticatedError, id="no user"),
        pytest.param("alice", "card_1X", NONCE, InvalidRequestError, id="not a card"),
        pytest.param("alice", CARD, "nonce_1", InvalidRequestError, id="not a nonce"),
        pytest.param("alice", CARD, 7, InvalidRequestError, id="nonce not a string"),
        pytest.param("alice", OTHER_CARD, NONCE, CardNotFoundError, id="not hers"),
    ],
)
@pytest.mark.parametrize("issue", [issue_sync, issue_async])
def test_issue_refuses_before_stripe(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    user: str | None,
    card_id: str,
    nonce: Any,
    error_type: type[IssuingElementsError],
    issue: Callable[..., None],
) -> None:
    with pytest.raises(error_type):
        issue(issuer, user, card_id, nonce)

    assert [] == httpserver.log
