"""Response out: the endpoint's JSON answers, exactly as the wire contract says."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from ._records import HttpResponse, IssuedKey

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._components import AccountSession
    from .exceptions import IssuingElementsError

_HEADERS: Mapping[str, str] = {
    "Content-Type": "application/json",
    # The body holds a secret: no cache, shared or private, may keep it.
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


# Built once: json.dumps with options builds an encoder per call. NaN and
# infinities are not JSON: refuse them rather than send a body no parser takes.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _json(
    status: int, document: object, extra: Mapping[str, str] | None = None
) -> HttpResponse:
    body = _ENCODER.encode(document).encode()
    return HttpResponse(status=status, headers={**_HEADERS, **(extra or {})}, body=body)


def check_json_value(value: object, where: str = "value") -> None:
    """Refuse anything that is not plainly JSON: only JSON's own types, finite numbers.

    ``json`` would turn a tuple into a list and an integer key into a
    string, and fail only later on a ``set`` or a ``Decimal``; a page
    option must be exactly what the page will read.

    Raises:
        TypeError: on a value of another type, or a non-string key.
        ValueError: on NaN or an infinity.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}, which JSON cannot hold")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise TypeError(f"{where} has a key of type {type(name).__name__}")
            check_json_value(item, f"{where}[{name!r}]")
        return
    raise TypeError(f"{where} is a {type(value).__name__}, not a JSON value")


def key_response(
    key: IssuedKey, page_fields: Mapping[str, object] | None = None
) -> HttpResponse:
    """200: what Stripe.js needs, and nothing more (not the key's id, not livemode).

    *page_fields* are the opt-in extras (``refreshIn``, ``elements``) that
    follow the four base fields; they never replace one.
    """
    base: dict[str, object] = {
        "ephemeralKeySecret": key.secret,
        "issuingCard": key.card_id,
        "nonce": key.nonce,
        "expires": key.expires,
    }
    extras = {
        name: value for name, value in (page_fields or {}).items() if name not in base
    }
    if extras:
        check_json_value(extras, "the page fields")
    return _json(200, {**base, **extras})


def mobile_key_response(key: IssuedKey) -> HttpResponse:
    """200 for a mobile app: Stripe's whole key object, as its SDK reads it."""
    return _json(200, key.stripe_object())


def error_response(error: IssuingElementsError) -> HttpResponse:
    """The error object, with ``Retry-After`` where the browser may retry."""
    retry_after = getattr(error, "retry_after", None)
    extra = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _json(
        error.status,
        {"error": {"code": error.code, "message": error.public_message}},
        extra,
    )


def event_response(revoked: int) -> HttpResponse:
    """200 to Stripe: the event is done, and how many keys it revoked."""
    return _json(200, {"received": True, "revoked": revoked})


def session_response(session: AccountSession) -> HttpResponse:
    """200 for an Account Session: what ``fetchClientSecret`` needs, and its expiry."""
    return _json(
        200, {"clientSecret": session.client_secret, "expiresAt": session.expires_at}
    )
