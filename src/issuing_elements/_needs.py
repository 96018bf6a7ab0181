"""What a flow needs from outside, said as data.

A flow (``_flows``) is a generator that makes every decision itself. Where
it needs something from outside (the rate limiter, the authorizer, the
audit sink, Stripe, the key ledger) it yields one of the frozen values
below and is sent the result, or has the error thrown in. It never says
how: `_perform` does each need, the sync way or the async way, and alone
owns deadlines, bulkheads, worker threads and the event-loop check. So a
test can step a flow with ``send``/``throw`` and no I/O at all.

Flows write ``result = yield from ask(need)`` rather than ``yield need``,
so that the result comes back typed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import attrs

if TYPE_CHECKING:
    import stripe

    from ._audit import AuditEvent
    from ._ledger import LiveKey

__all__ = [
    "AskAuthorizer",
    "AskLedger",
    "CallStripe",
    "FindLostKey",
    "Flow",
    "HitLimit",
    "Need",
    "RefuseTwin",
    "WriteTrail",
    "ask",
]

T = TypeVar("T")
R = TypeVar("R")


class Need(Generic[T]):
    """What a flow yields; *T* is what it is sent back."""

    __slots__ = ()


# What a flow is: it yields needs, is sent their results, and returns R.
Flow = Generator["Need[Any]", Any, R]


def ask(need: Need[T]) -> Generator[Need[T], T, T]:
    """Yield *need* and return its result: ``x = yield from ask(need)``."""
    return (yield need)


@attrs.frozen
class RefuseTwin(Need[None]):
    """Refuse the twin that runs the flow if it has a reason: 500, one log line.

    *sync* and *asynchronous* are why the sync, or the async, methods can
    never use a dependency the flow calls (the Stripe client, a store).
    """

    sync: str | None
    asynchronous: str | None


@attrs.frozen
class HitLimit(Need["float | None"]):
    """Spend one of the user's (or the card's) rate-limit budget by *deadline_at*.

    Sent back: ``None`` when allowed, else the seconds until a slot frees.
    For an Account Session, the account takes the card's place.
    """

    budget: Literal["user", "card"]
    name: str
    deadline_at: float


@attrs.frozen
class AskAuthorizer(Need[object]):
    """Ask an application's *authorizer* about *request*, for *user*.

    Sent back: its verdict, as it returned it (the sync way, possibly an
    awaitable it cannot await: the flow refuses that); thrown in: what it
    raised.
    """

    authorizer: Callable[[Any, Any], object]
    user: object
    request: object


@attrs.frozen
class WriteTrail(Need[None]):
    """Hand *event* to the audit sink; what the sink raises is thrown in."""

    event: AuditEvent


LedgerOperation = Literal[
    "record",
    "revoked_since",
    "mark_revoked",
    "keys_for_user",
    "keys_for_card",
    "forget",
]


@attrs.frozen(kw_only=True)
class AskLedger(Need[Any]):
    """One call to the key ledger, by *deadline_at*.

    ``record``/``forget`` an *entry*; ``mark_revoked`` lay a tombstone for
    *user_id* or *card_id*; ``keys_for_user``/``keys_for_card`` read the
    live keys; ``revoked_since`` look for a tombstone laid after *since*.
    """

    operation: LedgerOperation
    deadline_at: float
    entry: LiveKey | None = None
    user_id: str | None = None
    card_id: str | None = None
    since: float = 0.0


StripeOperation = Literal["create_key", "create_session", "revoke_key", "list_cards"]


@attrs.frozen(kw_only=True)
class CallStripe(Need[Any]):
    """One call to Stripe, answered by *deadline_at*; sent back held (`StripeAnswer`).

    ``create_key`` (``POST /v1/ephemeral_keys``), ``create_session``
    (``POST /v1/account_sessions``), ``list_cards`` (``GET
    /v1/issuing/cards``) take *params*; ``revoke_key`` (``DELETE
    /v1/ephemeral_keys/{key_id}``) takes *key_id*. A key created after the
    deadline is revoked (*revoke_if_late*), under the account *options*
    name. *in_background*: a late key's revocation, already off the
    request's path, bounded by the HTTP client alone.
    """

    operation: StripeOperation
    options: stripe.RequestOptions
    deadline_at: float
    params: Any = None
    key_id: str | None = None
    revoke_if_late: bool = False
    in_background: bool = False


@attrs.frozen(kw_only=True)
class FindLostKey(Need[None]):
    """In the background, ask Stripe again for a key whose answer was lost; revoke it.

    The same *params* and *options* (its idempotency key) as the lost
    call, no retries; *card_id*, *request_id* and *why* name it in the log.
    """

    params: Any
    options: stripe.RequestOptions
    card_id: str
    request_id: str | None
    why: str
