"""One exchange for every door that trades a request for something Stripe makes.

Request in, decide, Stripe, response out: the origin and the user are
admitted, the body read, the request counted against the user's rate
limit and put to the authorizer, and an allowed one counted against its
second budget (the card's, or the account's); Stripe makes the thing
asked for, whose answer is checked; a key is recorded in the key ledger
and handed out. Every decision is audited, and a key that Stripe issued
but that cannot be handed out is revoked before the answer goes back.

The web door (``handle``/``issue``), the mobile door (``handle_mobile``/
``issue_mobile``) and the Account Session door (``handle_account_session``/
``create_account_session``) run this one exchange; what differs between
them is a `Door`, a small record (``keys.WEB``, ``keys.MOBILE``,
``account_sessions.ACCOUNT_SESSION``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from issuing_elements._needs import AskLedger, ask
from issuing_elements._request import NO_CONTEXT
from issuing_elements.exceptions import (
    CardNotFoundError,
    ConfigurationError,
    ServerMisconfiguredError,
)

from .answers import as_outcome, audit, endpoint, trail_of
from .checks import (
    admit,
    count_card,
    count_user,
    deadline_of,
    refuse_misfits,
    user_id_of,
)
from .revocation import revoke_orphan

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from issuing_elements._audit import Action, Trail
    from issuing_elements._authorize import UserT
    from issuing_elements._ledger import LiveKey
    from issuing_elements._needs import Flow
    from issuing_elements._records import HttpResponse, IssuedKey
    from issuing_elements._request import RequestContext
    from issuing_elements._settings import Refusals, Settings

logger = logging.getLogger("issuing_elements")

Made = TypeVar("Made")
R = TypeVar("R")


@attrs.frozen(kw_only=True)
class Door(Generic[Made]):
    """What differs between two doors of the one exchange; nothing else does.

    Attributes:
        action: The audit trail's name for the door.
        uses: The settings' refusals of the dependencies the door calls;
            it raises (500) for a door the issuer was not configured for.
        read: How the body is read: ``read(body, content_type,
            max_body_bytes)``, the request checked, or a 400.
        note: What the request tells the trail (the card, or the account).
        authorize: Ask the door's authorizer: a flow that returns the grant.
        account: The connected account a grant names, for the trail.
        budget: The name the second budget is counted under, and what it is
            called in the log: ``budget(request, grant, user_id)``.
        make: Which Stripe operation, and what its answer is checked
            against: a flow that returns the thing made.
        keeps: Whether the ledger and revocation apply (a key does; an
            Account Session, which Stripe cannot revoke, does not).
        granted: The trail's reason for a grant.
        respond: The 200 of the endpoint, from the thing made.
    """

    action: Action
    uses: Callable[[Settings[Any]], tuple[Refusals, ...]]
    read: Callable[[bytes, str | None, int], Any]
    note: Callable[[Trail, Any], None]
    authorize: Callable[[Settings[Any], Any, Any], Flow[Any]]
    account: Callable[[Any], str | None]
    budget: Callable[[Any, Any, str | None], tuple[str, str]]
    make: Callable[[Settings[Any], Any, Any, Trail, float], Flow[Made]]
    keeps: bool
    granted: str
    respond: Callable[[Settings[Any], Any, Made], HttpResponse]


def handle(  # noqa: PLR0913 - the door, and the endpoint's inputs as the adapter passes them
    settings: Settings[UserT],
    door: Door[Any],
    user: UserT | None,
    *,
    body: bytes,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    client_ip: str | None,
) -> Flow[HttpResponse]:
    """The door as an endpoint: every outcome is a response, never an exception."""

    def read() -> object:
        return door.read(body, content_type, settings.max_body_bytes)

    def respond(made: Any) -> HttpResponse:
        return door.respond(settings, user, made)

    def run(context: RequestContext) -> Flow[HttpResponse]:
        return exchange(settings, door, user, context, read=read, finish=respond)

    return (yield from endpoint(door.action, headers, client_ip, run))


def direct(
    settings: Settings[UserT],
    door: Door[Made],
    user: UserT | None,
    asked: Callable[[], object],
) -> Flow[Made]:
    """The thing made itself, for applications that answer the client themselves.

    *asked* checks the method's arguments and returns the request.
    """
    return (
        yield from exchange(settings, door, user, NO_CONTEXT, read=asked, finish=_same)
    )


def exchange(  # noqa: PLR0913 - who, through which door, from where, and the two ends
    settings: Settings[UserT],
    door: Door[Made],
    user: UserT | None,
    context: RequestContext,
    *,
    read: Callable[[], object],
    finish: Callable[[Made], R],
) -> Flow[R]:
    """Request in, decide, Stripe, response out; audited, fail closed.

    Nothing is read before the origin and the user are admitted; from then
    on the audit event names the user, even when *read* finds the request
    malformed.
    """
    trail = trail_of(context)
    made: Any = None  # a key once Stripe issued one: revoked if not handed out
    recorded: LiveKey | None = None
    started = time.time()
    deadline_at = deadline_of(settings)
    try:
        uses = door.uses(settings)
        admitted = admit(settings, context, user)
        trail.user_id = user_id = user_id_of(settings, admitted)
        yield from refuse_misfits(*uses)
        request = read()
        door.note(trail, request)
        yield from count_user(settings, user_id, deadline_at)
        grant = yield from door.authorize(settings, admitted, request)
        trail.stripe_account = door.account(grant)
        name, subject = door.budget(request, grant, user_id)
        yield from count_card(settings, name, deadline_at, subject=subject)
        made = yield from door.make(settings, request, grant, trail, deadline_at)
        if door.keeps:
            trail.key_id = made.id
            recorded = yield from _record(settings, user_id, made, deadline_at)
            yield from _refuse_if_revoked(settings, recorded, started, deadline_at)
        result = finish(made)
        yield from audit(trail.event(door.action, "granted", door.granted))
    except Exception as error:  # noqa: BLE001 - fail closed on anything
        failure = as_outcome(error)
        if door.keeps and made is not None:
            yield from revoke_orphan(
                settings, made.id, made.stripe_account, trail, recorded=recorded
            )
        try:
            yield from audit(trail.event(door.action, failure, str(failure)))
        except ServerMisconfiguredError as unrecorded:
            # A refusal the trail cannot record fails closed too (500).
            failure = unrecorded
        raise failure from None
    except GeneratorExit:
        raise  # closed unfinished by its driver: nothing may be yielded now
    except BaseException:
        # Cancelled or interrupted (CancelledError, KeyboardInterrupt,
        # SystemExit) once Stripe issued a key: revoke it, then go on leaving.
        if door.keeps and made is not None:
            yield from revoke_orphan(
                settings, made.id, made.stripe_account, trail, recorded=recorded
            )
        raise
    return result


def _same(made: Made) -> Made:
    return made


# -- the key ledger's part, for the doors that keep what they make (keys) ----

# How far apart the clocks of the processes sharing a key ledger may be: a
# tombstone laid up to this long before a request started still counts.
CLOCK_MARGIN = 1.0


def _record(
    settings: Settings[UserT],
    user_id: str | None,
    key: IssuedKey,
    deadline_at: float,
) -> Flow[LiveKey | None]:
    """Record *key* in the key ledger, if there is one; the entry recorded.

    ``revoke_user`` and ``revoke_card`` lay a tombstone, then read the
    ledger; a request records its key, then looks for tombstones
    (`_refuse_if_revoked`). Whichever comes second sees the other, so a key
    issued to a request in flight during a bulk revocation is revoked: by
    the bulk revocation, or by the request, which refuses it (404), revokes
    it and takes it out of the ledger again.
    """
    ledger = settings.key_ledger
    if ledger is None:
        return None
    if user_id is None:
        raise ConfigurationError("A key ledger needs user_id= for these users.")
    entry = _live_key(user_id, key)
    yield from ask(AskLedger(operation="record", entry=entry, deadline_at=deadline_at))
    return entry


def _refuse_if_revoked(
    settings: Settings[UserT],
    entry: LiveKey | None,
    started: float,
    deadline_at: float,
) -> Flow[None]:
    """Refuse (404) the key *entry* records if its user or card was revoked.

    Revoked since *started*, less `CLOCK_MARGIN`. Only once the key is
    recorded (`_record`); without a ledger, there is nothing to look for.
    """
    ledger = settings.key_ledger
    if ledger is None or entry is None:
        return
    since = started - CLOCK_MARGIN
    user_id, card_id = entry.user_id, entry.card_id
    revoked = yield from ask(
        AskLedger(
            operation="revoked_since",
            user_id=user_id,
            card_id=card_id,
            since=since,
            deadline_at=deadline_at,
        )
    )
    if revoked:
        logger.warning(
            "Card %s or its user was revoked while this request was in flight; "
            "revoking its key instead of handing it out.",
            card_id,
        )
        raise CardNotFoundError("Revoked while the request was in flight.")


def _live_key(user_id: str, key: IssuedKey) -> LiveKey:
    from issuing_elements._ledger import LiveKey  # noqa: PLC0415 - only with a ledger

    return LiveKey(
        key_id=key.id,
        card_id=key.card_id,
        user_id=user_id,
        stripe_account=key.stripe_account,
        expires=key.expires,
    )
