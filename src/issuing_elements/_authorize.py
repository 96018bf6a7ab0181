"""Decide: turn whatever the application's authorizer did into a grant or a denial.

Fail closed: only a [`Grant`][issuing_elements.Grant] or ``True`` allows. ``False``,
``None``, an exception or any other value denies, and the operator's log says why.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

from ._components import AccountSessionGrant, AccountSessionRequest
from ._records import Grant, KeyRequest
from .exceptions import (
    AccountNotFoundError,
    CardNotFoundError,
    ConfigurationError,
    IssuingElementsError,
)

logger = logging.getLogger("issuing_elements")

# A public name: a "_contra" suffix would leak into the docs.
UserT = TypeVar("UserT", contravariant=True)  # noqa: PLC0105

Verdict: TypeAlias = Grant | bool | None
"""What an authorizer returns: a `Grant` or ``True`` allows."""

SyncAuthorizer: TypeAlias = Callable[[UserT, KeyRequest], Verdict]
AsyncAuthorizer: TypeAlias = Callable[[UserT, KeyRequest], Awaitable[Verdict]]
Authorizer: TypeAlias = SyncAuthorizer[UserT] | AsyncAuthorizer[UserT]
"""``authorizer(user, request)``: may *user* see ``request.card_id``?

A plain function or a coroutine function. It is the whole security of the
integration: look the card up in your own records and return a
[`Grant`][issuing_elements.Grant] (naming the card's connected account, if any) only
when the card belongs to the user.
"""


def check_authorizer(authorizer: object) -> None:
    if authorizer is None:
        raise ConfigurationError(
            "An authorizer is required: without one, no keys are issued."
        )
    if not callable(authorizer):
        raise ConfigurationError(
            f"The authorizer must be callable, not {type(authorizer).__name__}."
        )


def never_awaited(result: object) -> bool:
    """Whether a sync method got an awaitable it cannot await (a coroutine is closed).

    For an application's callback called from the sync methods: its
    coroutine will never run, so it is closed here rather than left to warn.
    """
    if not inspect.isawaitable(result):
        return False
    if inspect.iscoroutine(result):
        result.close()
    return True


def refuse_awaitable(result: object, request: KeyRequest) -> None:
    """A sync method met an async authorizer: a configuration error, said clearly."""
    if never_awaited(result):
        logger.error(
            "The authorizer is async; use aissue/ahandle/arevoke, not the sync "
            "methods (card %s denied).",
            request.card_id,
        )
        raise ConfigurationError(
            "The authorizer returned an awaitable: call aissue() or ahandle() "
            "with an async authorizer."
        )


def authorizer_failed(error: Exception, request: KeyRequest) -> IssuingElementsError:
    """What an exception from the authorizer becomes.

    The library's own errors are the authorizer's deliberate answer (a
    ``RateLimitedError``, say) and stand as raised; none of them grants.
    Anything else denies, and is logged for the operator.
    """
    return _denied_on_error(
        error, "authorizer", f"card {request.card_id}", CardNotFoundError
    )


def _denied_on_error(
    error: Exception,
    who: str,
    asked: str,
    denial: type[CardNotFoundError | AccountNotFoundError],
) -> IssuingElementsError:
    """An authorizer's exception: the library's own stands, anything else denies."""
    if isinstance(error, IssuingElementsError):
        return error
    logger.error(
        "The %s raised %s for %s; denying.",
        who,
        type(error).__name__,
        asked,
        exc_info=error,
    )
    return denial(f"The {who} raised; denied.")


def decide(verdict: Any, request: KeyRequest) -> Grant:
    """Turn the authorizer's return value into a grant, or raise a denial."""
    if isinstance(verdict, Grant):
        return verdict
    if verdict is True:
        return Grant()
    if verdict is not False and verdict is not None:
        logger.error(
            "The authorizer returned %s for card %s; only a Grant or True "
            "allows. Denying.",
            type(verdict).__name__,
            request.card_id,
        )
    else:
        logger.info("The authorizer denied card %s.", request.card_id)
    raise CardNotFoundError("The authorizer denied the card.")


# -- Account Sessions: the same rules, for the account_sessions= authorizer --

SessionVerdict: TypeAlias = AccountSessionGrant | bool | None
AccountSessionAuthorizer: TypeAlias = (
    Callable[[UserT, AccountSessionRequest], SessionVerdict]
    | Callable[[UserT, AccountSessionRequest], Awaitable[SessionVerdict]]
)
"""``authorizer(user, request)``: may *user* open a session for the account?

Only an `AccountSessionGrant` allows; it names the account and the
components with their features.
"""


def check_session_authorizer(authorizer: object) -> None:
    if authorizer is not None and not callable(authorizer):
        raise ConfigurationError(
            f"account_sessions must be callable, not {type(authorizer).__name__}."
        )


def _asked(request: AccountSessionRequest) -> str:
    return request.account or "(none named)"


def refuse_session_awaitable(result: object, request: AccountSessionRequest) -> None:
    """Same as `refuse_awaitable`, for the ``account_sessions=`` authorizer."""
    if never_awaited(result):
        logger.error(
            "The account_sessions authorizer is async; use acreate_account_session"
            "/ahandle_account_session, not the sync methods (account %s denied).",
            _asked(request),
        )
        raise ConfigurationError(
            "The account_sessions authorizer returned an awaitable: call "
            "acreate_account_session() or ahandle_account_session()."
        )


def session_authorizer_failed(
    error: Exception, request: AccountSessionRequest
) -> IssuingElementsError:
    """Same as `authorizer_failed`, for the ``account_sessions=`` authorizer."""
    return _denied_on_error(
        error,
        "account_sessions authorizer",
        f"account {_asked(request)}",
        AccountNotFoundError,
    )


def decide_session(verdict: Any, request: AccountSessionRequest) -> AccountSessionGrant:
    """Turn the verdict into a grant for the account asked, or raise a denial.

    Only an `AccountSessionGrant` allows, and only for the account the
    page named (when it named one): a grant for another account is refused
    with the same answer as a denial.
    """
    if isinstance(verdict, AccountSessionGrant):
        if request.account is None or verdict.account == request.account:
            return verdict
        logger.error(
            "The account_sessions authorizer granted account %s when account %s "
            "was asked for; refusing.",
            verdict.account,
            request.account,
        )
    elif verdict is not False and verdict is not None:
        logger.error(
            "The account_sessions authorizer returned %s for account %s; only an "
            "AccountSessionGrant allows. Denying.",
            type(verdict).__name__,
            _asked(request),
        )
    else:
        logger.info(
            "The account_sessions authorizer denied account %s.", _asked(request)
        )
    raise AccountNotFoundError("The account_sessions authorizer denied the account.")
