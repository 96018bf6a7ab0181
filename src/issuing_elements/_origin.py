"""Where a request comes from: the endpoint's origin checks.

A browser names the page that sent a request in ``Origin`` (and, in modern
browsers, says whether it was cross-site in ``Sec-Fetch-Site``). With
``allowed_origins`` configured, the endpoint refuses a browser request from
any other page before it reads anything else. A request with neither
header does not come from a browser's fetch and is let through: origin
checks stop other sites' pages, not scripts, which authentication and
rate limits are for.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .exceptions import ConfigurationError, ForbiddenOriginError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["check_origin", "normalize_origins"]

# scheme://host[:port], nothing after: what browsers send in Origin.
_ORIGIN = re.compile(
    r"https?://[a-z0-9.\-]+(?::[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](?::[0-9]{1,5})?"
)


def normalize_origins(origins: Iterable[object] | None) -> frozenset[str] | None:
    """Check ``allowed_origins`` at construction; ``None`` turns the check off."""
    if origins is None:
        return None
    if isinstance(origins, str):
        raise ConfigurationError(
            "allowed_origins must be a list of origins, not one string."
        )
    checked = set()
    for origin in origins:
        if not isinstance(origin, str) or _ORIGIN.fullmatch(origin.lower()) is None:
            raise ConfigurationError(
                "allowed_origins takes origins such as 'https://app.example.com' "
                "(scheme, host and port; no path, no wildcard)."
            )
        checked.add(origin.lower())
    if not checked:
        raise ConfigurationError(
            "allowed_origins is empty: no browser could get a key. Pass None "
            "to turn the check off."
        )
    return frozenset(checked)


def check_origin(
    origin: str | None, fetch_site: str | None, allowed: frozenset[str] | None
) -> None:
    """Refuse a browser request from a page that is not allowed.

    *origin* and *fetch_site* are the request's ``Origin`` and
    ``Sec-Fetch-Site`` headers, if it sent them.

    Raises:
        ForbiddenOriginError: ``Origin`` is present and not allowed, or
            absent while ``Sec-Fetch-Site`` says ``cross-site``.
    """
    if allowed is None:
        return
    if origin is not None:
        if origin.lower() not in allowed:
            raise ForbiddenOriginError("The request's Origin is not allowed.")
        return
    if (fetch_site or "").lower() == "cross-site":
        raise ForbiddenOriginError(
            "A cross-site browser request without Origin is not allowed."
        )
