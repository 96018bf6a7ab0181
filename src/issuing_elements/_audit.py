"""The audit trail: one event for every decision the issuer makes.

PCI DSS 10.2.1 asks for a log of every access to cardholder data, failed
attempts included. The issuer hands one frozen
[`AuditEvent`][issuing_elements.AuditEvent] to the
application's sink for every grant, refusal and revocation. An event names
who asked for which card and what came of it; it never holds a secret, a
nonce or an API key.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Literal, Protocol

import attrs

from ._redact import redact
from .exceptions import IssuingElementsError

__all__ = ["AuditEvent", "AuditSink", "Trail", "log_audit_event"]

audit_logger = logging.getLogger("issuing_elements.audit")

Action = Literal["issue", "issue_mobile", "revoke", "account_session", "stripe_event"]

_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)

# Header values the adapter passes are the browser's: keep what is logged short.
_MAX_HEADER_CHARS = 256


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = "AuditEvent.time must be an aware datetime"
        raise ValueError(msg)
    return value.astimezone(dt.timezone.utc)


def _clip(value: str | None) -> str | None:
    # The client's own text: a secret pasted into a header is masked too.
    return value if value is None else redact(value)[:_MAX_HEADER_CHARS]


@attrs.frozen(kw_only=True)
class AuditEvent:
    """One decision of the issuer, for the audit trail.

    Attributes:
        time: When the decision was made, an aware UTC datetime.
        action: ``"issue"`` (a page asked for a key), ``"issue_mobile"`` (a
            mobile app asked for one), ``"revoke"``, or ``"account_session"``
            (an Account Session was asked for; its ``stripe_account`` is the
            connected account), or ``"stripe_event"`` (Stripe posted an
            event to ``handle_stripe_event``; its ``stripe_account`` is the
            event's account).
        outcome: ``"granted"`` or ``"revoked"`` on success (``"ignored"``:
            a Stripe event that stops no card), otherwise the
            error code the answer carries (``"card_not_found"``,
            ``"rate_limited"``, ``"stripe_unavailable"``, ...).
        reason: The operator's text: why, in a sentence. Never a secret.
        user_id: Who asked (``EphemeralKeyIssuer(user_id=...)``), or
            ``None`` when nobody was authenticated.
        card_id: The card asked for, once the request named a well-formed one.
        stripe_account: The connected account the key was (or would have
            been) issued under.
        key_id: The ephemeral key's id (``ephkey_...``), never its secret.
        stripe_request_id: Stripe's request id, when Stripe answered.
        request_id: The adapter's request id (``X-Request-Id``), if any.
        client_ip: The client's address, as the adapter passed it.
        user_agent: The browser's ``User-Agent``, cut to 256 characters.
        stripe_event_id: A Stripe event's id (``evt_...``), once verified.
        stripe_event_type: Its type (``issuing_card.updated``, ...).
        cardholder_id: The cardholder (``ich_...``) a cardholder event names.
        keys_revoked: How many keys a Stripe event revoked.
    """

    time: dt.datetime = attrs.field(converter=_utc)
    action: Action
    outcome: str
    reason: str
    user_id: str | None = None
    card_id: str | None = None
    stripe_account: str | None = None
    key_id: str | None = None
    stripe_request_id: str | None = None
    request_id: str | None = attrs.field(default=None, converter=_clip)
    client_ip: str | None = attrs.field(default=None, converter=_clip)
    user_agent: str | None = attrs.field(default=None, converter=_clip)
    stripe_event_id: str | None = None
    stripe_event_type: str | None = None
    cardholder_id: str | None = None
    keys_revoked: int | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        """The event as JSON-ready values, ``time`` in ISO 8601."""
        fields = attrs.asdict(self)
        fields["time"] = self.time.isoformat()
        return fields


class AuditSink(Protocol):
    """Where audit events go: ``sink(event)``.

    A sink that raises makes the decision fail closed: no key leaves (one
    already issued is revoked) and the endpoint answers 500.
    """

    def __call__(self, event: AuditEvent, /) -> None: ...


def log_audit_event(event: AuditEvent, /) -> None:
    """The default sink: one JSON line per event, on ``issuing_elements.audit``.

    Granted keys and revocations are logged at INFO, refusals at WARNING.
    When nothing would record INFO from that logger (logging left
    unconfigured, as most applications leave it), one line on stderr says
    so, once per process, rather than let the trail vanish unseen.
    """
    level = (
        logging.INFO
        if event.outcome in ("granted", "revoked", "ignored")
        else logging.WARNING
    )
    if not audit_logger.isEnabledFor(level):
        _say_the_trail_is_dropped()  # no JSON built for a line nobody keeps
    elif level == logging.INFO and not audit_logger.hasHandlers():
        _say_the_trail_is_dropped()  # Python's last resort prints WARNING and up
    else:
        audit_logger.log(level, "%s", _ENCODER.encode(event.to_dict()))


_dropped_said = False


def _say_the_trail_is_dropped() -> None:
    """Once per process: grants are going nowhere, and how to keep them."""
    global _dropped_said  # noqa: PLW0603 - one line per process, by design
    if _dropped_said:
        return
    _dropped_said = True
    sys.stderr.write(
        "issuing_elements: the audit trail's grants and revocations (INFO on the "
        "'issuing_elements.audit' logger) are recorded nowhere: logging is not "
        "configured for INFO. Route that logger to a handler (for example "
        "logging.basicConfig(level=logging.INFO)), or pass "
        "EphemeralKeyIssuer(audit=your_sink).\n"
    )


class Trail:
    """What the audit event of one decision knows, as the flow learns it.

    A flow starts a trail with what the request says about itself (its
    request id, user agent and address) and fills in the user, the card,
    the account and the key as it decides; `event` then writes the
    event for whatever outcome was reached.
    """

    __slots__ = (
        "card_id",
        "cardholder_id",
        "client_ip",
        "key_id",
        "keys_revoked",
        "request_id",
        "stripe_account",
        "stripe_event_id",
        "stripe_event_type",
        "user_agent",
        "user_id",
    )

    def __init__(  # noqa: PLR0913 - one keyword per audit field
        self,
        *,
        request_id: str | None = None,
        user_agent: str | None = None,
        client_ip: str | None = None,
        user_id: str | None = None,
        card_id: str | None = None,
        stripe_account: str | None = None,
        key_id: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.user_agent = user_agent
        self.client_ip = client_ip
        self.user_id = user_id
        self.card_id = card_id
        self.stripe_account = stripe_account
        self.key_id = key_id
        self.stripe_event_id: str | None = None
        self.stripe_event_type: str | None = None
        self.cardholder_id: str | None = None
        self.keys_revoked: int | None = None

    def event(
        self, action: Action, outcome: str | IssuingElementsError, reason: str
    ) -> AuditEvent:
        """The event for *outcome*: ``"granted"``, ``"revoked"`` or an error."""
        stripe_request_id = None
        if isinstance(outcome, IssuingElementsError):
            stripe_request_id = outcome.stripe_request_id
            outcome = outcome.code
        return AuditEvent(
            time=dt.datetime.now(dt.timezone.utc),
            action=action,
            outcome=outcome,
            reason=reason,
            user_id=self.user_id,
            card_id=self.card_id,
            stripe_account=self.stripe_account,
            key_id=self.key_id,
            stripe_request_id=stripe_request_id,
            request_id=self.request_id,
            client_ip=self.client_ip,
            user_agent=self.user_agent,
            stripe_event_id=self.stripe_event_id,
            stripe_event_type=self.stripe_event_type,
            cardholder_id=self.cardholder_id,
            keys_revoked=self.keys_revoked,
        )
