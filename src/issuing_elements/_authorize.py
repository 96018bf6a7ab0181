"""Decide: turn whatever the application's authorizer did into a grant or a denial.

Fail closed: only a :class:`Grant` or ``True`` allows. ``False``, ``None``,
an exception or any other value denies, and the operator's log says why.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

from ._records import Grant, KeyRequest
from .exceptions import CardNotFoundError, ConfigurationError, IssuingElementsError

logger = logging.getLogger("issuing_elements")

# A public name: a "_contra" suffix would leak into the docs.
UserT = TypeVar("UserT", contravariant=True)  # noqa: PLC0105

Verdict: TypeAlias = Grant | bool | None
"""What an authorizer returns: a :class:`Grant` or ``True`` allows."""

SyncAuthorizer: TypeAlias = Callable[[UserT, KeyRequest], Verdict]
AsyncAuthorizer: TypeAlias = Callable[[UserT, KeyRequest], Awaitable[Verdict]]
Authorizer: TypeAlias = SyncAuthorizer[UserT] | AsyncAuthorizer[UserT]
"""``authorizer(user, request)``: may *user* see ``request.card_id``?

A plain function or a coroutine function. It is the whole security of the
integration: look the card up in your own records and return a
:class:`Grant` (naming the card's connected account, if any) only when the
card belongs to the user.
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


def refuse_awaitable(result: object, request: KeyRequest) -> None:
    """A sync method met an async authorizer: a configuration error, said clearly."""
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # it will never run; don't let it warn
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
    if isinstance(error, IssuingElementsError):
        return error
    logger.error(
        "The authorizer raised %s for card %s; denying.",
        type(error).__name__,
        request.card_id,
        exc_info=error,
    )
    return CardNotFoundError("The authorizer raised; denied.")


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
