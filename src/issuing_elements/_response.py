"""Response out: the endpoint's JSON answers, exactly as the wire contract says."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ._records import HttpResponse, IssuedKey

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .exceptions import IssuingElementsError

_HEADERS: Mapping[str, str] = {
    "Content-Type": "application/json",
    # The body holds a secret: no cache, shared or private, may keep it.
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def _json(
    status: int, document: object, extra: Mapping[str, str] | None = None
) -> HttpResponse:
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode()
    return HttpResponse(status=status, headers={**_HEADERS, **(extra or {})}, body=body)


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
    return _json(200, {**base, **extras})


def error_response(error: IssuingElementsError) -> HttpResponse:
    """The error object, with ``Retry-After`` where the browser may retry."""
    retry_after = getattr(error, "retry_after", None)
    extra = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _json(
        error.status,
        {"error": {"code": error.code, "message": error.public_message}},
        extra,
    )
