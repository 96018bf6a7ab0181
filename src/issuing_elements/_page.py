"""What a page may get next to the key: when to refresh it, and what to mount.

Both are opt-in [`EphemeralKeyIssuer`][issuing_elements.EphemeralKeyIssuer] options;
without them the 200
body is exactly ``{ephemeralKeySecret, issuingCard, nonce, expires}``.

``refreshIn`` is a duration, not a time. ``expires`` is Stripe's clock and a
browser's clock may be minutes off, so a page that compares ``expires`` with
``Date.now()`` refreshes too late (or in a loop). The server's clock is kept
close to Stripe's; the seconds it counts survive the trip to the browser
with only the network's delay, which the margin absorbs.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._elements import ElementOptions
    from ._records import IssuedKey

__all__ = ["check_page_options", "page_fields", "refresh_in"]

logger = logging.getLogger("issuing_elements")

#: Stripe's Issuing Elements keys live 15 minutes; a margin must leave room.
MAX_REFRESH_MARGIN: Final = 600

ElementsCallback = Callable[[Any, "IssuedKey"], "Sequence[ElementOptions]"]


def refresh_in(expires: int, now: float, margin: int) -> int:
    """Whole seconds from *now* until the page should fetch a new key.

    *margin* seconds before *expires*, but never sooner than half the time
    the key has left, so that a key that lives less than twice the margin
    does not make the page refresh in a loop. ``0`` once the key has expired.
    """
    remaining = expires - now
    if remaining <= 0:
        return 0
    return max(0, math.floor(max(remaining - margin, remaining / 2)))


def check_page_options(elements: object, refresh_margin: object) -> None:
    """Refuse, at construction, page options that could only fail later."""
    if elements is not None and not callable(elements):
        raise ConfigurationError(
            "elements must be None or a callable (user, key) -> list of "
            f"element builders, not {type(elements).__name__}"
        )
    if refresh_margin is not None and (
        isinstance(refresh_margin, bool)
        or not isinstance(refresh_margin, int)
        or not 1 <= refresh_margin <= MAX_REFRESH_MARGIN
    ):
        raise ConfigurationError(
            "refresh_margin must be None or whole seconds from 1 to "
            f"{MAX_REFRESH_MARGIN} (keys live 15 minutes), not {refresh_margin!r}"
        )


def _bundle(built: object) -> list[dict[str, object]]:
    if inspect.iscoroutine(built):
        built.close()  # never awaited: say so here, not in a RuntimeWarning
        raise ConfigurationError(
            "the elements callback must be a plain function, not a coroutine function"
        )
    if isinstance(built, (str, bytes, Mapping)) or not isinstance(built, Sequence):
        raise ConfigurationError(
            "the elements callback must return a list of element builders, "
            f"not {type(built).__name__}"
        )
    bundle: list[dict[str, object]] = []
    for element in built:
        name = getattr(element, "name", None)
        to_dict = getattr(element, "to_dict", None)
        options = to_dict() if callable(to_dict) else None
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ConfigurationError(
                "the elements callback returned something that is not an element "
                f"builder (needs name and to_dict()): {type(element).__name__}"
            )
        bundle.append({"type": name, "options": options})
    return bundle


def page_fields(
    user: object,
    key: IssuedKey,
    *,
    elements: ElementsCallback | None,
    refresh_margin: int | None,
    now: float,
) -> dict[str, object]:
    """The opt-in fields of the 200 body; empty when none is configured.

    Raises:
        ConfigurationError: when the elements callback returns something
            other than element builders (the endpoint answers 500).
    """
    fields: dict[str, object] = {}
    if refresh_margin is not None:
        fields["refreshIn"] = refresh_in(key.expires, now, refresh_margin)
    if elements is not None:
        try:
            fields["elements"] = _bundle(elements(user, key))
        except ConfigurationError as error:
            # The endpoint answers a generic 500: the operator needs the why.
            message = f"Cannot build the page bundle (card {key.card_id}): {error}"
            logger.error(message)  # noqa: TRY400 - the message is the whole story
            raise
    return fields
