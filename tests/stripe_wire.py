"""Stripe's side of the wire, for tests: ids, objects and error bodies.

Every value is an obviously fake stand-in; none is a real key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from issuing_elements import Grant, KeyRequest

API_KEY = "sk_test_fake_wire_checks"
CARD = "ic_1FakeCard"
OTHER_CARD = "ic_1OtherCard"
NONCE = "ephkn_pub_fakenonce1"
ACCOUNT = "acct_1FakeConnected"
KEY_ID = "ephkey_1FakeKey"
# Stripe's real shape: base64 text, then ``_00`` and a tail (here the text is
# "acct_1FakeConnected,fakesecret0001").
KEY_SECRET = "ek_test_YWNjdF8xRmFrZUNvbm5lY3RlZCxmYWtlc2VjcmV0MDAwMQ_00FakeTail01"
# The API version a mobile SDK asks for (Stripe's iOS SDK's, at the time).
MOBILE_VERSION = "2024-06-20"
# Far ahead: the issuer refuses a key that has expired on its clock.
CREATED = 4_000_000_000
EXPIRES = CREATED + 900


def key_object(**overrides: Any) -> dict[str, Any]:
    """Stripe's ephemeral_key object, as the API returns it."""
    return {
        "id": KEY_ID,
        "object": "ephemeral_key",
        "associated_objects": [{"id": CARD, "type": "issuing.card"}],
        "created": CREATED,
        "expires": EXPIRES,
        "livemode": False,
        "secret": KEY_SECRET,
        **overrides,
    }


def stripe_error(
    error_type: str, message: str, *, code: str | None = None, param: str | None = None
) -> str:
    """Stripe's JSON error body."""
    error: dict[str, str] = {"type": error_type, "message": message}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    return json.dumps({"error": error})


def owner_of(cards: dict[str, Grant | bool | None]) -> Callable[[str, KeyRequest], Any]:
    """An authorizer: user "alice" sees the cards listed, nobody else sees any."""

    def authorizer(user: str, request: KeyRequest) -> Grant | bool | None:
        return cards.get(request.card_id) if user == "alice" else False

    return authorizer


class Card(NamedTuple):
    """A card ``FakeStripe`` holds: on the platform or *account*, of *holder*."""

    id: str
    account: str | None = None
    holder: str | None = None
