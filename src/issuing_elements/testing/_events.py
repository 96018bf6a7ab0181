"""The events Stripe sends, and their delivery to a webhook endpoint, signed.

`StripeEvent` is one event as the state made it (``_models``);
`EventDelivery` posts each, in order, to the endpoint the test names, with
``Stripe-Signature: t=<seconds>,v1=<HMAC-SHA256 of "t.body">``, as Stripe's
webhooks (and ``stripe listen --forward-to``) do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@attrs.frozen
class StripeEvent:
    """An event the fake made, as Stripe would send it.

    Attributes:
        id: ``evt_...``.
        type: ``issuing_card.updated`` or ``issuing_cardholder.updated``.
        account: The connected account it happened on, ``None`` for the
            platform.
        body: The JSON body, exactly as delivered (bytes).
    """

    id: str
    type: str
    account: str | None
    body: bytes = attrs.field(repr=False)

    def payload(self) -> dict[str, object]:
        """The body, parsed."""
        loaded: dict[str, object] = json.loads(self.body)
        return loaded


@attrs.frozen
class Delivery:
    """One POST of an event to the webhook endpoint, and what came back.

    Attributes:
        event_id: The event delivered.
        headers: The request's headers (``Stripe-Signature`` included).
        status: The endpoint's status, ``None`` if it could not be reached.
        body: The endpoint's answer.
    """

    event_id: str
    headers: Mapping[str, str]
    status: int | None
    body: bytes = attrs.field(repr=False)


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """``Stripe-Signature`` as Stripe writes it: ``t=<seconds>,v1=<hex>``.

    Written out here on purpose, not taken from stripe-python: the code
    under test verifies with stripe-python, and a stand-in that borrowed
    its code would agree with its mistakes.
    """
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class EventDelivery:
    """Where the fake posts its events, signed with the endpoint's secret."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._url: str | None = None
        self._secret: str | None = None
        self._deliveries: list[Delivery] = []

    def configure(self, url: str | None, secret: str | None) -> None:
        if (url is None) != (secret is None):
            raise ValueError("give both webhook_url and webhook_secret, or neither")
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        if secret is not None and not secret.startswith("whsec_"):
            raise ValueError("webhook_secret must be a signing secret (whsec_...)")
        with self._lock:
            self._url, self._secret = url, secret

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        with self._lock:
            return tuple(self._deliveries)

    def headers_for(
        self, event: StripeEvent, now: int, secret: str | None = None
    ) -> dict[str, str]:
        """The headers Stripe sends with *event*, signed with *secret* (or the
        endpoint's)."""
        if secret is None:
            with self._lock:
                secret = self._secret
        if secret is None or not secret.startswith("whsec_"):
            raise ValueError("sign with a webhook signing secret (whsec_...)")
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": signature_header(event.body, secret, now),
        }

    def deliver(self, events: list[StripeEvent], now: int) -> None:
        """POST each event, in order, to the endpoint, if one is configured."""
        with self._lock:
            url = self._url
        if url is None:
            return
        for event in events:
            headers = self.headers_for(event, now)
            status, answer = _post(url, event.body, headers)
            with self._lock:
                self._deliveries.append(
                    Delivery(
                        event_id=event.id, headers=headers, status=status, body=answer
                    )
                )


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked in configure
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the same
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None, b""
