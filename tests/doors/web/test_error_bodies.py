"""Every error answer stays small, whatever the body limit and the body hold."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import stripe

from issuing_elements import AuditEvent, EphemeralKeyIssuer
from stripe_wire import CARD, NONCE

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
LARGE_LIMIT = 4_000_000
LONG = "x" * 90
# Each one 12 bytes once JSON escapes it (a surrogate pair).
ASTRAL = "\N{GRINNING FACE}" * 40


def _json_body(names: list[str]) -> bytes:
    return json.dumps(
        {"card_id": CARD, "nonce": NONCE, **dict.fromkeys(names, "v")}
    ).encode()


def _form_body(names: list[str]) -> bytes:
    pairs = [("card_id", CARD), ("nonce", NONCE), *((name, "v") for name in names)]
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # About 2 MB: 20,000 unknown names of 90 characters.
        (JSON, _json_body([f"{LONG}{n}" for n in range(20_000)])),
        (JSON, _json_body([f"{ASTRAL}{n}" for n in range(8)])),
        # Form bodies hold at most 10 fields; make each name long instead.
        (FORM, _form_body([f"{n}{'y' * 100_000}" for n in range(8)])),
        (FORM, _form_body([f"{ASTRAL}{n}" for n in range(8)])),
    ],
    ids=["json-many-long", "json-astral", "form-long", "form-astral"],
)
def test_an_unknown_fields_answer_stays_under_1_kib(
    stripe_client: stripe.StripeClient, content_type: str, body: bytes
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, lambda _u, _r: True, max_body_bytes=LARGE_LIMIT
    )

    response = issuer.handle("alice", body=body, content_type=content_type)

    assert (400, "invalid_request", True) == (
        response.status,
        json.loads(response.body)["error"]["code"],
        len(response.body) < 1024,
    )


def test_an_unknown_fields_answer_names_three_and_counts_the_rest(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, lambda _u, _r: True)
    body = _json_body(["stripe_account", 'a\u00e9"b', "z" * 41, "four", "five"])

    response = issuer.handle("alice", body=body, content_type=JSON)

    assert (
        "Unknown field(s): 'stripe_account', 'a??b', "
        f"'{'z' * 40}...' and 2 more. Send only card_id and nonce; the server "
        "chooses the Stripe account and API version."
    ) == json.loads(response.body)["error"]["message"]


def test_an_unknown_name_of_the_limit_is_shown_whole_and_three_are_not_counted(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, lambda _u, _r: True)
    body = _json_body(["z" * 40, "two", "three"])

    response = issuer.handle("alice", body=body, content_type=JSON)

    assert (
        f"Unknown field(s): '{'z' * 40}', 'two', 'three'. Send only card_id and "
        "nonce; the server chooses the Stripe account and API version."
    ) == json.loads(response.body)["error"]["message"]


def test_an_unknown_fields_answer_counts_one_more(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, lambda _u, _r: True)
    body = _json_body(["one", "two", "three", "four"])

    response = issuer.handle("alice", body=body, content_type=JSON)

    assert json.loads(response.body)["error"]["message"].startswith(
        "Unknown field(s): 'one', 'two', 'three' and 1 more."
    )


class _Limiter:
    """A rate limiter that always asks to wait *seconds* (the protocol's answer)."""

    in_process = True  # answers at once, from memory
    fail_open = False

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def hit_user(self, _user_id: str) -> float | None:
        return self.seconds

    async def ahit_user(self, _user_id: str) -> float | None:
        return self.seconds

    def hit_card(self, _card_id: str) -> float | None:
        return self.seconds

    async def ahit_card(self, _card_id: str) -> float | None:
        return self.seconds


@pytest.mark.parametrize(
    ("wait", "retry_after"), [(0.2, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60")]
)
def test_retry_after_rounds_the_wait_up_and_keeps_every_base_header(
    stripe_client: stripe.StripeClient, wait: float, retry_after: str
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client, lambda _u, _r: True, rate_limiter=_Limiter(wait)
    )
    body = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()

    response = issuer.handle("alice", body=body, content_type=JSON)

    assert (
        429,
        {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Retry-After": retry_after,
        },
    ) == (response.status, dict(response.headers))


def test_an_unsupported_media_type_is_echoed_with_its_slash(
    stripe_client: stripe.StripeClient,
) -> None:
    events: list[AuditEvent] = []
    issuer = EphemeralKeyIssuer(stripe_client, lambda _u, _r: True, audit=events.append)

    response = issuer.handle("alice", body=b"x", content_type="multipart/form-data")

    assert (415, ["Unsupported media type 'multipart/form-data'."]) == (
        response.status,
        [event.reason for event in events],
    )
