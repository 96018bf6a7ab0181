"""The shapes of Stripe identifiers, checked before anything reaches Stripe."""

from __future__ import annotations

import datetime as dt
import re
from typing import TypeGuard

from ._redact import describe

# Stripe ids are a prefix and an opaque run of letters and digits (and, for
# nonces, underscores between parts). The bounds keep hostile input small.
_CARD_ID = re.compile(r"ic_[A-Za-z0-9]{1,250}")
_NONCE = re.compile(r"ephkn_[A-Za-z0-9_]{1,500}")
_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,250}")
_CARDHOLDER_ID = re.compile(r"ich_[A-Za-z0-9]{1,250}")
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9]{1,250}")
_KEY_ID = re.compile(r"ephkey_[A-Za-z0-9]{1,250}")
_API_VERSION = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:\.[a-z][a-z0-9_]{0,63})?")

# Issuing Elements need Stripe-Version 2020-03-02 or later.
MINIMUM_API_VERSION = "2020-03-02"


def is_card_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _CARD_ID.fullmatch(value) is not None


def is_nonce(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _NONCE.fullmatch(value) is not None


def is_account_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _ACCOUNT_ID.fullmatch(value) is not None


def is_cardholder_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _CARDHOLDER_ID.fullmatch(value) is not None


def is_event_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _EVENT_ID.fullmatch(value) is not None


def is_key_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None


def api_version_problem(value: object) -> str | None:
    """Say what is wrong with *value* as a Stripe API version, or ``None``."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    match = _API_VERSION.fullmatch(value)
    if match is None:
        # Not the value: it may be anything, a secret given in the wrong place.
        return (
            "must be a Stripe API version (YYYY-MM-DD or YYYY-MM-DD.name), "
            f"not {describe(value)}"
        )
    try:
        dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return f"{value!r} is not a real date"
    if match.group(0)[:10] < MINIMUM_API_VERSION:
        # A value of this shape is a date, never a secret: show it.
        return (
            f"{value!r} is older than {MINIMUM_API_VERSION}, "
            "the first version Issuing Elements work with"
        )
    return None
