"""FakeStripe on the wire: what a browser and a bare HTTP client see.

Stripe.js's side (the nonce and card endpoints, CORS) and the requests that
stripe-python cannot send (no key, no Stripe-Version, a JSON body).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import stripe

from issuing_elements.testing import FakeStripe

CARD = "ic_card1"
CONNECTED_CARD = "ic_connected"
ACCOUNT = "acct_owner"
BROWSER_ORIGIN = "http://localhost:8000"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        fake.add_card(CARD)
        fake.add_card(CONNECTED_CARD, account=ACCOUNT)
        yield fake


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = {name.lower(): value for name, value in response.getheaders()}
        data = response.read()
        self.body: Any = json.loads(data) if data else None

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.body["error"]
        return error


def send(
    fake: FakeStripe,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    """One request over a fresh connection, the way a browser's fetch would."""
    headers = {"Origin": BROWSER_ORIGIN, **(headers or {})}
    if form is not None:
        body = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection(urlsplit(fake.url).netloc, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers)
        return Answer(connection.getresponse())
    finally:
        connection.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def mint_nonce(fake: FakeStripe, card_id: str, **headers: str) -> Answer:
    return send(
        fake,
        "POST",
        "/v1/ephemeral_key_nonces",
        headers={**bearer(fake.publishable_key), **headers},
        form={"issuing_card": card_id},
    )


def create_form(fake: FakeStripe) -> dict[str, str]:
    return {"issuing_card": CARD, "nonce": fake.create_nonce(CARD)}


# -- the secret-key endpoint, beyond what stripe-python sends --------------------


def test_create_without_stripe_version_is_rejected(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_keys",
        headers=bearer(fake.api_key),
        form=create_form(fake),
    )

    assert (400, "invalid_request_error") == (answer.status, answer.error["type"])


def test_create_without_api_key_is_unauthorized(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_keys",
        headers={"Stripe-Version": "2020-03-02"},
        form=create_form(fake),
    )

    assert (401, "invalid_request_error") == (answer.status, answer.error["type"])


def test_create_with_json_body_is_rejected(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_keys",
        headers={
            **bearer(fake.api_key),
            "Stripe-Version": "2020-03-02",
            "Content-Type": "application/json",
        },
        body=json.dumps(create_form(fake)).encode(),
    )

    assert (400, ()) == (answer.status, fake.keys)


def test_created_key_answer_is_json_with_a_request_id(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_keys",
        headers={**bearer(fake.api_key), "Stripe-Version": "2020-03-02"},
        form=create_form(fake),
    )

    assert ("application/json", fake.requests[-1].request_id, 200) == (
        answer.headers["content-type"],
        answer.headers["request-id"],
        answer.status,
    )


def test_secret_key_endpoint_sends_no_cors_headers(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_keys",
        headers={**bearer(fake.api_key), "Stripe-Version": "2020-03-02"},
        form=create_form(fake),
    )

    assert [] == [name for name in answer.headers if name.startswith("access-control")]


def test_secret_key_endpoint_refuses_a_preflight(fake: FakeStripe) -> None:
    answer = send(fake, "OPTIONS", "/v1/ephemeral_keys")

    assert (404, []) == (
        answer.status,
        [name for name in answer.headers if name.startswith("access-control")],
    )


def test_unknown_route_is_stripes_unrecognized_url(fake: FakeStripe) -> None:
    answer = send(fake, "GET", "/v1/charges", headers=bearer(fake.api_key))

    assert (404, "Unrecognized request URL (GET: /v1/charges).") == (
        answer.status,
        answer.error["message"].split(" FakeStripe")[0],
    )


def test_every_answer_carries_a_request_id(fake: FakeStripe) -> None:
    answers = [
        send(fake, "GET", "/v1/charges"),
        send(fake, "OPTIONS", "/v1/ephemeral_key_nonces"),
        mint_nonce(fake, CARD),
    ]

    assert [request.request_id for request in fake.requests] == [
        answer.headers["request-id"] for answer in answers
    ]


# -- the nonce endpoint (Stripe.js's createEphemeralKeyNonce, simulated) ---------


def test_publishable_key_mints_a_nonce(fake: FakeStripe) -> None:
    answer = mint_nonce(fake, CARD)

    assert (200, "ephemeral_key_nonce", CARD, "ephkn_pub_") == (
        answer.status,
        answer.body["object"],
        answer.body["issuing_card"],
        answer.body["id"][:10],
    )


def test_nonce_answer_allows_any_origin(fake: FakeStripe) -> None:
    answer = mint_nonce(fake, CARD)

    assert "*" == answer.headers["access-control-allow-origin"]


def test_minted_nonce_trades_for_a_key(fake: FakeStripe) -> None:
    nonce = mint_nonce(fake, CARD).body["id"]

    key = fake.client().v1.ephemeral_keys.create(
        params={"issuing_card": CARD, "nonce": nonce},
        options={"stripe_version": "2020-03-02"},
    )

    assert nonce == fake.key(key.id).nonce


def test_nonce_for_a_connected_card_needs_its_account(fake: FakeStripe) -> None:
    answers = [
        mint_nonce(fake, CONNECTED_CARD),
        mint_nonce(fake, CONNECTED_CARD, **{"Stripe-Account": ACCOUNT}),
    ]

    assert [400, 200] == [answer.status for answer in answers]


def test_nonce_endpoint_refuses_the_secret_key(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_key_nonces",
        headers=bearer(fake.api_key),
        form={"issuing_card": CARD},
    )

    assert (401, "*") == (answer.status, answer.headers["access-control-allow-origin"])


def test_nonce_endpoint_answers_the_preflight(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "OPTIONS",
        "/v1/ephemeral_key_nonces",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, stripe-account",
        },
    )

    assert (
        204,
        "*",
        "Authorization, Content-Type, Stripe-Account, Stripe-Version",
    ) == (
        answer.status,
        answer.headers["access-control-allow-origin"],
        answer.headers["access-control-allow-headers"],
    )


# -- the card endpoint, with an ephemeral key ---------------------------------------


def make_key(fake: FakeStripe) -> stripe.EphemeralKey:
    return fake.client().v1.ephemeral_keys.create(
        params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
        options={"stripe_version": "2020-03-02"},
    )


def test_card_answer_allows_any_origin(fake: FakeStripe) -> None:
    key = make_key(fake)

    answer = send(
        fake, "GET", f"/v1/issuing/cards/{CARD}", headers=bearer(str(key.secret))
    )

    assert (200, "*") == (answer.status, answer.headers["access-control-allow-origin"])


def test_card_answer_never_holds_number_or_cvc(fake: FakeStripe) -> None:
    key = make_key(fake)

    answer = send(
        fake, "GET", f"/v1/issuing/cards/{CARD}", headers=bearer(str(key.secret))
    )

    assert set() == {"number", "cvc"} & set(answer.body)


def test_card_endpoint_answers_the_preflight(fake: FakeStripe) -> None:
    answer = send(fake, "OPTIONS", f"/v1/issuing/cards/{CARD}")

    assert (204, "*") == (answer.status, answer.headers["access-control-allow-origin"])


def test_card_without_a_key_is_unauthorized(fake: FakeStripe) -> None:
    answer = send(fake, "GET", f"/v1/issuing/cards/{CARD}")

    assert 401 == answer.status


def test_revoked_key_error_has_stripes_shape(fake: FakeStripe) -> None:
    key = make_key(fake)
    fake.client().v1.ephemeral_keys.delete(key.id)

    answer = send(
        fake, "GET", f"/v1/issuing/cards/{CARD}", headers=bearer(str(key.secret))
    )

    assert (401, {"type", "message"}, f"ek_test_****{str(key.secret)[-4:]}") == (
        answer.status,
        set(answer.error),
        answer.error["message"].removeprefix("Invalid API Key provided: "),
    )


# -- what the fake keeps and shows ---------------------------------------------------


def test_request_log_redacts_the_authorization(fake: FakeStripe) -> None:
    make_key(fake)

    assert "Bearer sk_test_[redacted]" == fake.requests[-1].headers["authorization"]


def test_request_log_keeps_the_form_params(fake: FakeStripe) -> None:
    form = create_form(fake)

    fake.client().v1.ephemeral_keys.create(
        params={"issuing_card": form["issuing_card"], "nonce": form["nonce"]},
        options={"stripe_version": "2020-03-02"},
    )

    assert form == dict(fake.requests[-1].params)


def test_key_record_repr_hides_the_secret(fake: FakeStripe) -> None:
    key = make_key(fake)

    assert False is (str(key.secret) in repr(fake.keys))


def test_fake_repr_shows_no_key(fake: FakeStripe) -> None:
    assert f"<FakeStripe {fake.url}>" == repr(fake)


def test_server_writes_nothing_to_stderr(
    fake: FakeStripe, capfd: pytest.CaptureFixture[str]
) -> None:
    make_key(fake)
    send(fake, "GET", "/v1/charges")

    assert "" == capfd.readouterr().err


# -- life cycle ----------------------------------------------------------------


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeStripe().url


def test_closed_fake_refuses_connections() -> None:
    with FakeStripe() as fake:
        url = fake.url
    client = stripe.StripeClient(
        "sk_test_fake_issuing_elements",
        base_addresses={"api": url},
        http_client=stripe.UrllibClient(),
    )

    with pytest.raises(stripe.APIConnectionError):
        client.v1.ephemeral_keys.delete("ephkey_any")


def test_close_twice_is_fine() -> None:
    fake = FakeStripe().start()
    fake.close()

    fake.close()

    assert "<FakeStripe closed>" == repr(fake)


def test_start_twice_is_an_error(fake: FakeStripe) -> None:
    with pytest.raises(RuntimeError, match="starts once"):
        fake.start()


def test_close_cuts_a_pending_delay_short() -> None:
    fake = FakeStripe().start()
    fake.add_card(CARD)
    fake.delay_next(30)
    client = fake.client(timeout=0.2)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.ephemeral_keys.create(
            params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
            options={"stripe_version": "2020-03-02"},
        )

    fake.close()

    assert "<FakeStripe closed>" == repr(fake)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": "sk_live_fake_issuing_elements"},
        {"api_key": "rk_test_fake_issuing_elements"},
        {"publishable_key": "pk_live_fake_issuing_elements"},
        {"key_lifetime": 0},
    ],
)
def test_constructor_refuses_anything_but_test_keys(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        FakeStripe(**kwargs)


@pytest.mark.parametrize(
    ("card_id", "account"),
    [("card_1", None), ("ic_1", "owner")],
)
def test_add_card_refuses_ids_of_the_wrong_kind(
    fake: FakeStripe, card_id: str, account: str | None
) -> None:
    with pytest.raises(ValueError, match="start with"):
        fake.add_card(card_id, account=account)


def test_importing_the_library_does_not_import_testing() -> None:
    code = (
        "import sys, issuing_elements; print('issuing_elements.testing' in sys.modules)"
    )

    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert "False" == result.stdout.strip()


# -- HTTP Basic auth, as Stripe takes it (the key as the user, no password) ------


def basic(key: str, password: str = "") -> dict[str, str]:
    """What ``curl -u KEY:`` sends."""
    token = base64.b64encode(f"{key}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_auth_with_the_publishable_key_mints_a_nonce(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_key_nonces",
        headers=basic(fake.publishable_key),
        form={"issuing_card": CARD},
    )

    assert (200, "ephemeral_key_nonce") == (answer.status, answer.body["object"])


def test_basic_auth_with_the_secret_key_creates_and_revokes_a_key(
    fake: FakeStripe,
) -> None:
    headers = {**basic(fake.api_key), "Stripe-Version": "2020-03-02"}
    created = send(
        fake, "POST", "/v1/ephemeral_keys", headers=headers, form=create_form(fake)
    )
    revoked = send(
        fake, "DELETE", f"/v1/ephemeral_keys/{created.body['id']}", headers=headers
    )

    assert (200, 200, True) == (
        created.status,
        revoked.status,
        fake.key(created.body["id"]).revoked,
    )


def test_basic_auth_with_an_ephemeral_key_reads_its_card(fake: FakeStripe) -> None:
    key = make_key(fake)

    answer = send(
        fake, "GET", f"/v1/issuing/cards/{CARD}", headers=basic(str(key.secret))
    )

    assert (200, CARD) == (answer.status, answer.body["id"])


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic !!!not-base64", id="not-base64"),
        pytest.param(
            "Basic " + base64.b64encode(b":pk_test_fake_issuing_elements").decode(),
            id="key-as-the-password",
        ),
        pytest.param("Digest pk_test_fake_issuing_elements", id="another-scheme"),
    ],
)
def test_a_credential_stripe_would_not_read_is_no_key(
    fake: FakeStripe, authorization: str
) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_key_nonces",
        headers={"Authorization": authorization},
        form={"issuing_card": CARD},
    )

    assert (401, True) == (
        answer.status,
        answer.error["message"].startswith("You did not provide an API key."),
    )


def test_basic_auth_with_a_wrong_key_is_refused_masked(fake: FakeStripe) -> None:
    answer = send(
        fake,
        "POST",
        "/v1/ephemeral_keys",
        headers={**basic("sk_test_fakeWrongKey1234"), "Stripe-Version": "2020-03-02"},
        form=create_form(fake),
    )

    assert (401, "Invalid API Key provided: sk_test_****1234") == (
        answer.status,
        answer.error["message"],
    )


def test_request_log_redacts_a_basic_authorization(fake: FakeStripe) -> None:
    send(
        fake,
        "POST",
        "/v1/ephemeral_key_nonces",
        headers=basic(fake.publishable_key),
        form={"issuing_card": CARD},
    )

    assert "Basic pk_test_[redacted]" == fake.requests[-1].headers["authorization"]


# -- a Content-Length that is not a number of bytes ----------------------------


def raw_answer(fake: FakeStripe, head: bytes) -> tuple[bytes, bytes]:
    """Send *head* and keep writing open; the status line, and what follows it.

    The generous timeout only ends a test that would hang; nothing is timed.
    """
    address = urlsplit(fake.url)
    with socket.create_connection((address.hostname, address.port)) as peer:
        peer.settimeout(60)
        peer.sendall(head)
        received = b""
        while chunk := peer.recv(65536):  # until the fake hangs up
            received += chunk
    status, _, rest = received.partition(b"\r\n")
    return status, rest


@pytest.mark.parametrize("length", [b"abc", b"-1", b"+5", b"1_0", b""])
def test_a_bad_content_length_is_answered_400_and_the_connection_closed(
    fake: FakeStripe, length: bytes
) -> None:
    status, rest = raw_answer(
        fake,
        b"POST /v1/ephemeral_keys HTTP/1.1\r\nHost: fake\r\n"
        b"Authorization: Bearer " + fake.api_key.encode() + b"\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + length + b"\r\n\r\n",
    )

    _, _, body = rest.partition(b"\r\n\r\n")
    assert (b"HTTP/1.1 400 Bad Request", "invalid_request_error", True) == (
        status,
        json.loads(body)["error"]["type"],
        b"Content-Length" in body,
    )
