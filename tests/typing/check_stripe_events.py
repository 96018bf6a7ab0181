"""Never run: mypy checks this file (``make typecheck``) to pin the public types
of the Stripe event endpoint and the stand-in's events.

Each ``# type: ignore[code]`` marks a line that must stay a type error.
"""

from __future__ import annotations

import stripe
from typing_extensions import assert_type

from issuing_elements import (
    AuditEvent,
    EphemeralKeyIssuer,
    HttpResponse,
    KeyRequest,
    MemoryKeyLedger,
)
from issuing_elements.testing import Delivery, FakeStripe, StripeEvent


def authorize(user: str, request: KeyRequest) -> bool:
    return True


async def valid_usage(client: stripe.StripeClient, event: AuditEvent) -> None:
    issuer = EphemeralKeyIssuer(
        client,
        authorize,
        key_ledger=MemoryKeyLedger(),
        webhook_secrets=["whsec_current", "whsec_rolled"],
        max_event_bytes=65536,
    )
    assert_type(issuer.handle_stripe_event(b"{}", headers={}), HttpResponse)
    assert_type(
        await issuer.ahandle_stripe_event(b"{}", headers=None, client_ip="10.0.0.1"),
        HttpResponse,
    )
    assert_type(issuer.max_event_bytes, int)
    assert_type(event.keys_revoked, "int | None")
    assert_type(event.stripe_event_id, "str | None")

    fake = FakeStripe(webhook_url="http://127.0.0.1:8000/e", webhook_secret="whsec_x")
    fake.add_card("ic_1", cardholder="ich_1")
    assert_type(fake.events, tuple[StripeEvent, ...])
    assert_type(fake.deliveries, tuple[Delivery, ...])
    assert_type(fake.signed_event("evt_1"), tuple[bytes, dict[str, str]])


def invalid_usage(issuer: EphemeralKeyIssuer[str]) -> None:
    issuer.handle_stripe_event(b"{}")  # type: ignore[call-arg]
    issuer.handle_stripe_event("{}", headers={})  # type: ignore[arg-type]
