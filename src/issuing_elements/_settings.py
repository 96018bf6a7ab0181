"""The issuer's settings: one frozen record that every flow and the performer read.

[`EphemeralKeyIssuer`][issuing_elements.EphemeralKeyIssuer] checks its
arguments and freezes them here. A flow is a function of this record and
one request, and needs nothing else: ``tests/doors/test_flows_stepped.py`` steps
each door's flow on it by hand, with no performer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic

import attrs

from ._authorize import AccountSessionAuthorizer, Authorizer, UserT

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import stripe

    from ._audit import AuditSink
    from ._bounded_calls import Bulkhead
    from ._elements import ElementOptions
    from ._events import WebhookSecrets
    from ._ledger import KeyLedger
    from ._rate_limit import RateLimiter
    from ._records import IssuedKey


# Why the sync methods, and why the async methods, cannot use a dependency.
Refusals = tuple[str | None, str | None]


@attrs.frozen(kw_only=True)
class Settings(Generic[UserT]):
    """Everything a flow needs to know about the issuer, already checked."""

    client: stripe.StripeClient
    authorizer: Authorizer[UserT]
    api_version: str
    max_network_retries: int
    max_body_bytes: int
    deadline: float
    refresh_margin: int | None
    elements: Callable[[UserT, IssuedKey], Sequence[ElementOptions]] | None
    user_id: Callable[[UserT], str] | None
    audit: AuditSink
    rate_limiter: RateLimiter | None
    key_ledger: KeyLedger | None
    allowed_origins: frozenset[str] | None
    account_sessions: AccountSessionAuthorizer[UserT] | None = None
    # The event endpoint's signing secrets, and its body limit.
    webhook_secrets: WebhookSecrets | None = None
    max_event_bytes: int = 262144
    # How long the Stripe client's HTTP client can take over one call, sync
    # and async (None: unknown); within what is left of a request's
    # deadline, Stripe is called inline, without a worker thread.
    stripe_bound: float | None = None
    astripe_bound: float | None = None
    # Why the sync methods, and why the async ones, can never use the Stripe
    # client, the rate limiter or the key ledger (None: nothing known
    # against it): each request through that twin is refused (500).
    stripe_refusals: Refusals = (None, None)
    limiter_refusals: Refusals = (None, None)
    ledger_refusals: Refusals = (None, None)
    # The calls each dependency may have in flight at once (max_concurrent_calls).
    stripe_calls: Bulkhead
    limiter_calls: Bulkhead
    ledger_calls: Bulkhead
