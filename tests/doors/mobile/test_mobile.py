"""The mobile door: keys for Stripe's iOS, Android and React Native SDKs.

Stripe is pytest-httpserver for the exact wire (and FakeStripe, through the
real SDK, for the stateful checks: limits, the ledger, bulk revocation).
The suite-wide check in the root conftest sees that no secret reaches a log.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl, urlencode

import pytest
import stripe
from pytest_httpserver import HTTPServer

from doors_and_twins import Twin
from issuing_elements import (
    AuditEvent,
    EphemeralKeyIssuer,
    Grant,
    HttpResponse,
    IssuedKey,
    KeyRequest,
    MemoryKeyLedger,
    MemoryRateLimiter,
    RateLimit,
)
from issuing_elements.exceptions import CardNotFoundError, InvalidRequestError
from issuing_elements.testing import FakeStripe
from stripe_wire import (
    ACCOUNT,
    CARD,
    CREATED,
    EXPIRES,
    KEY_ID,
    KEY_SECRET,
    NONCE,
    Card,
    key_object,
    owner_of,
    stripe_error,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SDK_VERSION = "2020-08-27"
MOBILE_BODY = json.dumps({"card_id": CARD, "api_version": SDK_VERSION}).encode()


def mobile_issuer(
    stripe_client: stripe.StripeClient, verdict: object = True
) -> tuple[EphemeralKeyIssuer[str], list[AuditEvent], list[KeyRequest]]:
    """An issuer whose authorizer gives alice *verdict* for CARD, and notes requests."""
    events: list[AuditEvent] = []
    asked: list[KeyRequest] = []

    def authorize(user: str, request: KeyRequest) -> object:
        asked.append(request)
        return verdict if (user, request.card_id) == ("alice", CARD) else None

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        stripe_client,
        authorize,  # type: ignore[arg-type]  # verdicts of any type, on purpose
        api_version="2024-06-20",
        max_network_retries=0,
        audit=events.append,
    )
    return issuer, events, asked


def document(response: HttpResponse) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(response.body)
    return parsed


# -- the wire -------------------------------------------------------------


@pytest.mark.parametrize("content_type", [JSON, FORM])
def test_stripe_gets_the_card_alone_under_the_sdks_version(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, content_type: str
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, _, _ = mobile_issuer(stripe_client)
    fields = {"card_id": CARD, "api_version": SDK_VERSION}
    body = (
        json.dumps(fields).encode()
        if content_type == JSON
        else urlencode(fields).encode()
    )

    response = issuer.handle_mobile("alice", body=body, content_type=content_type)

    [(request, _)] = httpserver.log
    assert (
        200,
        "POST",
        [("issuing_card", CARD)],
        SDK_VERSION,
        None,
        True,
    ) == (
        response.status,
        request.method,
        parse_qsl(request.get_data(as_text=True)),
        request.headers.get("Stripe-Version"),
        request.headers.get("Stripe-Account"),
        request.headers.get("Idempotency-Key", "").startswith("issuing-elements-"),
    )


def test_the_grants_account_is_the_stripe_account(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, _, _ = mobile_issuer(stripe_client, Grant(stripe_account=ACCOUNT))

    response = issuer.handle_mobile("alice", body=MOBILE_BODY, content_type=JSON)

    [(request, _)] = httpserver.log
    assert (200, ACCOUNT) == (response.status, request.headers.get("Stripe-Account"))


def test_the_app_gets_stripes_whole_key_object_uncached(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, _, _ = mobile_issuer(stripe_client)

    response = issuer.handle_mobile("alice", body=MOBILE_BODY, content_type=JSON)

    assert (
        200,
        {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
        {
            "id": KEY_ID,
            "object": "ephemeral_key",
            "associated_objects": [{"id": CARD, "type": "issuing.card"}],
            "created": CREATED,
            "expires": EXPIRES,
            "livemode": False,
            "secret": KEY_SECRET,
        },
    ) == (response.status, dict(response.headers), document(response))


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(key_object(object="customer"), id="another object"),
        pytest.param(key_object(created=None), id="no created"),
        pytest.param(key_object(created="yesterday"), id="created not a number"),
        pytest.param(
            key_object(associated_objects=[{"id": "ic_other", "type": "issuing.card"}]),
            id="for another card",
        ),
        pytest.param(key_object(secret="sk_test_notAKeySecret"), id="another secret"),
    ],
)
def test_a_key_object_not_whole_is_refused_and_revoked(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    answer: dict[str, object],
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(answer)
    httpserver.expect_oneshot_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))
    issuer, events, _ = mobile_issuer(stripe_client)

    response = issuer.handle_mobile("alice", body=MOBILE_BODY, content_type=JSON)

    assert (500, ["POST", "DELETE"], "server_misconfigured") == (
        response.status,
        [request.method for request, _ in httpserver.log],
        events[-1].outcome,
    )


# -- refused before Stripe ------------------------------------------------


@pytest.mark.parametrize(
    "api_version",
    [
        pytest.param("latest", id="latest"),
        pytest.param("2020-03-01", id="before 2020-03-02"),
        pytest.param("2024-02-30", id="not a real date"),
        pytest.param("2024-13-01", id="month 13"),
        pytest.param("2024-1-01", id="short month"),
        pytest.param("2024-06-20\r\nStripe-Account: acct_1Evil", id="header injection"),
        pytest.param("2024-06-20.Acacia", id="capitalized name"),
        pytest.param("2024-06-20.", id="empty name"),
        pytest.param(" 2024-06-20", id="leading space"),
        pytest.param("", id="empty"),
        pytest.param(20240620, id="a number"),
        pytest.param(None, id="null"),
        pytest.param(["2024-06-20"], id="a list"),
    ],
)
def test_a_bad_api_version_is_refused_before_stripe(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, api_version: object
) -> None:
    issuer, _, asked = mobile_issuer(stripe_client)
    body = json.dumps({"card_id": CARD, "api_version": api_version}).encode()

    response = issuer.handle_mobile("alice", body=body, content_type=JSON)

    assert ((400, "invalid_request"), [], []) == (
        (response.status, document(response)["error"]["code"]),  # type: ignore[index]
        httpserver.log,
        asked,
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"card_id": CARD}, id="no api_version"),
        pytest.param({"api_version": SDK_VERSION}, id="no card_id"),
        pytest.param(
            {"card_id": CARD, "api_version": SDK_VERSION, "nonce": NONCE},
            id="a nonce",
        ),
        pytest.param(
            {"card_id": CARD, "api_version": SDK_VERSION, "stripe_account": ACCOUNT},
            id="an account from the app",
        ),
        pytest.param(
            {"issuingCard": CARD, "api_version": SDK_VERSION}, id="issuingCard"
        ),
        pytest.param(
            {"card_id": "acct_1", "api_version": SDK_VERSION}, id="not a card"
        ),
        pytest.param([CARD, SDK_VERSION], id="a JSON array"),
    ],
)
def test_a_bad_body_is_refused_before_stripe(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, body: object
) -> None:
    issuer, _, asked = mobile_issuer(stripe_client)

    response = issuer.handle_mobile(
        "alice", body=json.dumps(body).encode(), content_type=JSON
    )

    assert ((400, "invalid_request"), [], []) == (
        (response.status, document(response)["error"]["code"]),  # type: ignore[index]
        httpserver.log,
        asked,
    )


def test_a_form_body_with_the_field_twice_is_refused(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer, _, _ = mobile_issuer(stripe_client)
    body = f"card_id={CARD}&api_version=2024-06-20&api_version=2020-03-02".encode()

    response = issuer.handle_mobile("alice", body=body, content_type=FORM)

    assert (400, []) == (response.status, httpserver.log)


def test_nobody_signed_in_is_401_before_anything(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer, _, asked = mobile_issuer(stripe_client)

    response = issuer.handle_mobile(None, body=MOBILE_BODY, content_type=JSON)

    assert (401, [], []) == (response.status, httpserver.log, asked)


def test_denied_and_missing_cards_answer_the_same_bytes(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_data(
        stripe_error(
            "invalid_request_error",
            "No such issuing card: 'ic_1FakeCard'",
            code="resource_missing",
            param="issuing_card",
        ),
        status=404,
        content_type=JSON,
    )
    issuer, _, _ = mobile_issuer(stripe_client)
    denied_body = json.dumps({"card_id": "ic_bob", "api_version": SDK_VERSION})

    missing = issuer.handle_mobile("alice", body=MOBILE_BODY, content_type=JSON)
    denied = issuer.handle_mobile("alice", body=denied_body.encode(), content_type=JSON)

    assert (404, missing.body, dict(missing.headers)) == (
        denied.status,
        denied.body,
        dict(denied.headers),
    )


def test_the_web_endpoint_still_requires_its_nonce(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer, _, _ = mobile_issuer(stripe_client)

    without = issuer.handle(
        "alice", body=json.dumps({"card_id": CARD}).encode(), content_type=JSON
    )
    mobile_shaped = issuer.handle("alice", body=MOBILE_BODY, content_type=JSON)

    assert (
        (400, "Missing field 'nonce'."),
        400,
        [],
    ) == (
        (without.status, _message(without)),
        mobile_shaped.status,
        httpserver.log,
    )


def _message(response: HttpResponse) -> str:
    message: str = document(response)["error"]["message"]  # type: ignore[index]
    return message


# -- the authorizer, the audit trail, issue_mobile ------------------------


def test_the_authorizer_sees_a_request_without_a_nonce(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, _, asked = mobile_issuer(stripe_client)

    issuer.handle_mobile("alice", body=MOBILE_BODY, content_type=JSON)

    assert [KeyRequest(card_id=CARD, nonce=None)] == asked


def test_the_trail_tells_mobile_keys_apart(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, events, _ = mobile_issuer(stripe_client)

    issuer.handle_mobile("alice", body=MOBILE_BODY, content_type=JSON)
    issuer.handle_mobile(None, body=MOBILE_BODY, content_type=JSON)

    assert [
        ("issue_mobile", "granted", "alice", CARD, KEY_ID),
        ("issue_mobile", "unauthenticated", None, None, None),
    ] == [
        (event.action, event.outcome, event.user_id, event.card_id, event.key_id)
        for event in events
    ]
    assert not any(KEY_SECRET in repr(event) for event in events)


def test_issue_mobile_is_audited_as_a_mobile_key(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, twin: Twin
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, events, _ = mobile_issuer(stripe_client)

    twin.call(issuer, "issue_mobile", "alice", card_id=CARD, api_version=SDK_VERSION)

    assert [("issue_mobile", "granted", KEY_ID)] == [
        (event.action, event.outcome, event.key_id) for event in events
    ]


def test_issue_mobile_gives_the_key_and_the_object_for_the_sdk(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient, twin: Twin
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )
    issuer, _, _ = mobile_issuer(stripe_client)

    key = twin.call(
        issuer, "issue_mobile", "alice", card_id=CARD, api_version=SDK_VERSION
    )

    [(request, _)] = httpserver.log
    assert (
        IssuedKey(
            id=KEY_ID,
            secret=KEY_SECRET,
            expires=EXPIRES,
            livemode=False,
            card_id=CARD,
            nonce=None,
            created=CREATED,
            api_version=SDK_VERSION,
        ),
        key_object(),
        SDK_VERSION,
        False,
    ) == (
        key,
        key.stripe_object(),
        request.headers.get("Stripe-Version"),
        KEY_SECRET in repr(key),
    )


@pytest.mark.parametrize(
    ("card_id", "api_version", "error"),
    [
        (CARD, "latest", InvalidRequestError),
        ("ic_bob", SDK_VERSION, CardNotFoundError),
    ],
)
def test_issue_mobile_raises_the_librarys_errors(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    card_id: str,
    api_version: str,
    error: type[Exception],
) -> None:
    issuer, _, _ = mobile_issuer(stripe_client)

    with pytest.raises(error) as raised:
        issuer.issue_mobile("alice", card_id=card_id, api_version=api_version)

    assert ([], False) == (httpserver.log, KEY_SECRET in str(raised.value))


def test_an_ill_formed_api_version_is_blamed_on_api_version(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer, _, _ = mobile_issuer(stripe_client)

    with pytest.raises(InvalidRequestError) as raised:
        issuer.issue_mobile("alice", card_id=CARD, api_version="latest")

    assert ("api_version", []) == (raised.value.field, httpserver.log)


def test_ahandle_mobile_answers_as_handle_mobile(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys").respond_with_json(key_object())
    issuer, _, _ = mobile_issuer(stripe_client)

    sync = issuer.handle_mobile("alice", body=MOBILE_BODY, content_type=JSON)
    async_ = asyncio.run(
        issuer.ahandle_mobile("alice", body=MOBILE_BODY, content_type=JSON)
    )

    assert (sync.status, sync.body) == (async_.status, async_.body)


def test_an_app_sends_no_origin_and_passes_the_origin_check(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys").respond_with_json(key_object())
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        stripe_client,
        owner_of({CARD: True}),
        max_network_retries=0,
        allowed_origins=("https://app.example.com",),
    )

    app = issuer.handle_mobile(
        "alice", body=MOBILE_BODY, content_type=JSON, headers={"User-Agent": "iOS"}
    )
    page = issuer.handle_mobile(
        "alice",
        body=MOBILE_BODY,
        content_type=JSON,
        headers={"Origin": "https://evil.example"},
    )

    assert (200, 403) == (app.status, page.status)


# -- limits, the ledger and bulk revocation across both doors -------------

ALICE_CARD = "ic_aliceCard"


@pytest.fixture
def fake_cards() -> list[Card]:
    return [Card(ALICE_CARD)]


def alice_only(user: str, request: KeyRequest) -> bool:
    return (user, request.card_id) == ("alice", ALICE_CARD)


def web_body(fake: FakeStripe) -> bytes:
    nonce = fake.create_nonce(ALICE_CARD)
    return json.dumps({"card_id": ALICE_CARD, "nonce": nonce}).encode()


def app_body() -> bytes:
    return json.dumps({"card_id": ALICE_CARD, "api_version": SDK_VERSION}).encode()


def test_one_rate_limit_counts_both_doors(fake: FakeStripe) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        alice_only,
        rate_limiter=MemoryRateLimiter(per_user=RateLimit(limit=2, window_seconds=60)),
    )

    answers = [
        issuer.handle("alice", body=web_body(fake), content_type=JSON).status,
        issuer.handle_mobile("alice", body=app_body(), content_type=JSON).status,
        issuer.handle_mobile("alice", body=app_body(), content_type=JSON).status,
    ]

    assert ([200, 200, 429], 2) == (answers, len(fake.keys))


def test_revoke_user_revokes_web_and_mobile_keys(fake: FakeStripe, twin: Twin) -> None:
    ledger = MemoryKeyLedger()
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), alice_only, key_ledger=ledger
    )
    web = issuer.handle("alice", body=web_body(fake), content_type=JSON)
    app = issuer.handle_mobile("alice", body=app_body(), content_type=JSON)

    revoked = twin.call(issuer, "revoke_user", "alice")

    assert (
        (200, 200),
        2,
        [(False, SDK_VERSION), (True, issuer.api_version)],
        [True, True],
        [],
    ) == (
        (web.status, app.status),
        revoked,
        sorted(
            (record.nonce is not None, record.stripe_version) for record in fake.keys
        ),
        [record.revoked_at is not None for record in fake.keys],
        ledger.keys_for_user("alice"),
    )
