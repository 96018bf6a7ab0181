"""The opt-in page fields: ``refreshIn`` and the element bundle, through handle().

A real StripeClient speaks HTTP to pytest-httpserver standing in for Stripe.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import stripe

from doors_and_twins import Twin
from issuing_elements import (
    AddToWalletButton,
    CardCopyButton,
    CardNumberDisplay,
    CardPinDisplay,
    ElementOptions,
    EphemeralKeyIssuer,
    IssuedKey,
    KeyRequest,
    Style,
)
from issuing_elements._page import refresh_in
from issuing_elements.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from pytest_httpserver import HTTPServer

API_KEY = "sk_test_fake_page_fields"
CARD = "ic_fakepagecard"
NONCE = "ephkn_pub_fakepagenonce"
SECRET = "ek_test_fakepagesecret"
LIFETIME = 900
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()
BASE_FIELDS = ["ephemeralKeySecret", "issuingCard", "nonce", "expires"]


def allow_all(user: str, request: KeyRequest) -> bool:
    return True


@pytest.fixture(name="expires")
def expires_fixture(httpserver: HTTPServer) -> int:
    """Stripe answers every create with a key that lives LIFETIME seconds."""
    created = int(time.time())
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        {
            "id": "ephkey_fakepagekey",
            "object": "ephemeral_key",
            "associated_objects": [{"id": CARD, "type": "issuing.card"}],
            "created": created,
            "expires": created + LIFETIME,
            "livemode": False,
            "secret": SECRET,
        }
    )
    return created + LIFETIME


@pytest.fixture(name="http")
def http_fixture() -> Iterator[stripe.HTTPXClient]:
    http = stripe.HTTPXClient(timeout=2, allow_sync_methods=True)
    yield http
    http.close()  # type: ignore[no-untyped-call]  # stripe-python is untyped here


@pytest.fixture(name="make_issuer")
def make_issuer_fixture(
    httpserver: HTTPServer, http: stripe.HTTPXClient
) -> Callable[..., EphemeralKeyIssuer[str]]:
    client = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": httpserver.url_for("").rstrip("/")},
        http_client=http,
    )

    def make(**options: Any) -> EphemeralKeyIssuer[str]:
        return EphemeralKeyIssuer(
            client,
            allow_all,
            api_version="2020-03-02",
            max_network_retries=0,
            **options,
        )

    return make


def answer(issuer: EphemeralKeyIssuer[str]) -> tuple[int, dict[str, Any]]:
    response = issuer.handle("alice", body=BODY, content_type="application/json")
    return response.status, json.loads(response.body)


def page_elements(user: str, key: IssuedKey) -> Sequence[ElementOptions]:
    style = Style(base={"color": "#32325d", "fontSize": "18px"})
    return [
        CardNumberDisplay.from_key(key, style=style),
        CardCopyButton(to_copy="number"),
    ]


# -- the base response does not change ---------------------------------------


def test_without_options_the_body_is_exactly_the_four_fields(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]], expires: int
) -> None:
    status, body = answer(make_issuer())

    assert (status, body) == (
        200,
        {
            "ephemeralKeySecret": SECRET,
            "issuingCard": CARD,
            "nonce": NONCE,
            "expires": expires,
        },
    )


# -- refreshIn -------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires", "now", "margin", "expected"),
    [
        (1_000_900, 1_000_000, 60, 840),
        (1_000_900, 1_000_000.9, 60, 839),
        (1_000_900, 1_000_000, 600, 450),  # half the life left beats the margin
        (1_000_900, 1_000_800, 60, 50),  # late: 100 s left, half is 50
        (1_000_900, 1_000_899, 60, 0),
        (1_000_900, 1_000_900, 60, 0),
        (1_000_900, 1_001_000, 60, 0),  # expired already
    ],
)
def test_refresh_in(expires: int, now: float, margin: int, expected: int) -> None:
    assert refresh_in(expires, now, margin) == expected


def test_refresh_in_is_a_duration_on_the_servers_clock(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]], expires: int
) -> None:
    before = time.time()
    status, body = answer(make_issuer(refresh_margin=60))
    after = time.time()

    assert status == 200
    assert list(body) == [*BASE_FIELDS, "refreshIn"]
    assert refresh_in(expires, after, 60) <= body["refreshIn"]
    assert body["refreshIn"] <= refresh_in(expires, before, 60)
    assert body["refreshIn"] + 60 <= LIFETIME


# -- the page bundle ---------------------------------------------------------


def test_bundle_carries_the_elements_built_for_the_key(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]], expires: int
) -> None:
    status, body = answer(make_issuer(elements=page_elements))

    assert (status, body) == (
        200,
        {
            "ephemeralKeySecret": SECRET,
            "issuingCard": CARD,
            "nonce": NONCE,
            "expires": expires,
            "elements": [
                {
                    "type": "issuingCardNumberDisplay",
                    "options": {
                        "issuingCard": CARD,
                        "nonce": NONCE,
                        "ephemeralKeySecret": SECRET,
                        "style": {"base": {"color": "#32325d", "fontSize": "18px"}},
                    },
                },
                {"type": "issuingCardCopyButton", "options": {"toCopy": "number"}},
            ],
        },
    )


def test_bundle_and_refresh_together(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]], expires: int, twin: Twin
) -> None:
    issuer = make_issuer(elements=page_elements, refresh_margin=30)

    response = twin.call(
        issuer, "handle", "alice", body=BODY, content_type="application/json"
    )
    body = json.loads(response.body)

    assert response.status == 200
    assert list(body) == [*BASE_FIELDS, "refreshIn", "elements"]
    assert [element["type"] for element in body["elements"]] == [
        "issuingCardNumberDisplay",
        "issuingCardCopyButton",
    ]


def test_bundle_callback_gets_the_user_and_the_key(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]], expires: int
) -> None:
    seen: list[tuple[str, IssuedKey]] = []

    def remember(user: str, key: IssuedKey) -> list[ElementOptions]:
        seen.append((user, key))
        return []

    status, body = answer(make_issuer(elements=remember))

    assert (status, body["elements"]) == (200, [])
    assert [(user, key.card_id, key.nonce, key.expires) for user, key in seen] == [
        ("alice", CARD, NONCE, expires)
    ]


def test_bundle_may_depend_on_the_user(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]], expires: int
) -> None:
    def pin_after_two_factor(user: str, key: IssuedKey) -> list[ElementOptions]:
        if user == "alice-2fa":
            return [CardPinDisplay.from_key(key), AddToWalletButton.from_key(key)]
        return [CardNumberDisplay.from_key(key)]

    issuer = make_issuer(elements=pin_after_two_factor)
    plain = json.loads(
        issuer.handle("alice", body=BODY, content_type="application/json").body
    )
    strong = json.loads(
        issuer.handle("alice-2fa", body=BODY, content_type="application/json").body
    )

    assert [element["type"] for element in plain["elements"]] == [
        "issuingCardNumberDisplay"
    ]
    assert [element["type"] for element in strong["elements"]] == [
        "issuingCardPinDisplay",
        "issuingAddToWalletButton",
    ]


def test_errors_carry_no_page_fields(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]],
) -> None:
    issuer = make_issuer(elements=page_elements, refresh_margin=60)

    response = issuer.handle(None, body=BODY, content_type="application/json")

    assert (response.status, json.loads(response.body)) == (
        401,
        {
            "error": {
                "code": "unauthenticated",
                "message": "Sign in to view card details.",
            }
        },
    )


def _raises(user: str, key: IssuedKey) -> list[ElementOptions]:
    raise RuntimeError(SECRET)  # an app bug whose text must not reach the browser


def _returns_dicts(user: str, key: IssuedKey) -> Any:
    return [{"type": "issuingCardNumberDisplay", "options": {}}]


def _returns_one(user: str, key: IssuedKey) -> Any:
    return CardNumberDisplay.from_key(key)


async def _is_async(user: str, key: IssuedKey) -> list[ElementOptions]:
    return []


@pytest.mark.parametrize("callback", [_raises, _returns_dicts, _returns_one, _is_async])
def test_a_failing_bundle_answers_500_and_shows_nothing(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]],
    expires: int,
    callback: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    status, body = answer(make_issuer(elements=callback))

    assert (status, body) == (
        500,
        {
            "error": {
                "code": "server_misconfigured",
                "message": "The server cannot issue keys right now.",
            }
        },
    )
    assert SECRET not in caplog.text
    assert "issuing_elements" in [record.name for record in caplog.records]


# -- construction ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"refresh_margin": 0},
            "refresh_margin must be None or whole seconds from 1 to 600",
        ),
        ({"refresh_margin": 601}, "(keys live 15 minutes), not 601"),
        ({"refresh_margin": 30.0}, "not 30.0"),
        ({"refresh_margin": True}, "not True"),
        ({"refresh_margin": "60"}, "not '60'"),
        (
            {"elements": [CardCopyButton(to_copy="cvc")]},
            "elements must be None or a callable",
        ),
        ({"elements": "page"}, "not str"),
    ],
)
def test_invalid_page_options_are_refused_at_construction(
    make_issuer: Callable[..., EphemeralKeyIssuer[str]],
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_issuer(**options)

    assert message in str(caught.value)
