"""Where a request comes from: origin checks for the endpoint, CSP for the page.

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
    from collections.abc import Iterable, Mapping

__all__ = [
    "ContentSecurityPolicy",
    "check_origin",
    "content_security_policy",
    "header",
    "lowercase_headers",
    "normalize_origins",
]

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


def lowercase_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The request headers by lower-case name (frameworks differ in case)."""
    if not headers:
        return {}
    return {str(name).lower(): value for name, value in headers.items()}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """One header's value from :func:`lowercase_headers`, if it is a string."""
    value = headers.get(name)
    return value if isinstance(value, str) else None


def check_origin(headers: Mapping[str, str], allowed: frozenset[str] | None) -> None:
    """Refuse a browser request from a page that is not allowed.

    *headers* come from :func:`lowercase_headers`.

    Raises:
        ForbiddenOriginError: ``Origin`` is present and not allowed, or
            absent while ``Sec-Fetch-Site`` says ``cross-site``.
    """
    if allowed is None:
        return
    origin = header(headers, "origin")
    if origin is not None:
        if origin.lower() not in allowed:
            raise ForbiddenOriginError("The request's Origin is not allowed.")
        return
    if (header(headers, "sec-fetch-site") or "").lower() == "cross-site":
        raise ForbiddenOriginError(
            "A cross-site browser request without Origin is not allowed."
        )


class ContentSecurityPolicy(dict[str, tuple[str, ...]]):
    """CSP directives by name; :meth:`header_value` renders the header."""

    def header_value(self) -> str:
        """The ``Content-Security-Policy`` header's value."""
        return "; ".join(
            " ".join((name, *sources)) if sources else name
            for name, sources in self.items()
        )


_STRIPE_JS = ("https://js.stripe.com", "https://*.js.stripe.com")


def content_security_policy(
    *,
    report_uri: str | None = None,
    frame_ancestors: tuple[str, ...] = ("'self'",),
) -> ContentSecurityPolicy:
    """The CSP directives a page that shows Issuing Elements needs.

    Stripe.js loads from ``js.stripe.com`` and draws each element in a frame
    from it (``hooks.stripe.com`` for some flows), and talks to
    ``api.stripe.com``; everything else is the page's own (``'self'``), no
    plugin may load and no inline script runs. Add your own sources to the
    returned mapping before rendering it with
    :meth:`ContentSecurityPolicy.header_value`.

    Args:
        report_uri: Where browsers report violations, if anywhere.
        frame_ancestors: Who may frame the page itself; ``("'none'",)``
            forbids framing altogether (clickjacking).
    """
    given: object = frame_ancestors
    if isinstance(given, str) or not frame_ancestors:
        raise ConfigurationError(
            "frame_ancestors must be a non-empty tuple of sources, such as "
            "(\"'self'\",) or (\"'none'\",)."
        )
    for source in (*frame_ancestors, report_uri or ""):
        if any(character in source for character in ";,\r\n"):
            raise ConfigurationError(
                "A CSP source may not hold ';', ',' or a line break."
            )
    policy = ContentSecurityPolicy(
        {
            "default-src": ("'self'",),
            "script-src": ("'self'", *_STRIPE_JS),
            "frame-src": (*_STRIPE_JS, "https://hooks.stripe.com"),
            "connect-src": ("'self'", "https://api.stripe.com"),
            "img-src": ("'self'", "data:", "https://*.stripe.com"),
            "object-src": ("'none'",),
            "base-uri": ("'self'",),
            "form-action": ("'self'",),
            "frame-ancestors": tuple(frame_ancestors),
        }
    )
    if report_uri is not None:
        policy["report-uri"] = (report_uri,)
    return policy
