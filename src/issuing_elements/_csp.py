"""The page's Content-Security-Policy: what a page showing Issuing Elements must allow.

Stripe.js loads from ``js.stripe.com``, draws each element in a frame from
it and talks to ``api.stripe.com``; a page that allows that and nothing else
(no inline script, no plugin) keeps a cross-site script from reading what
the page holds, the ephemeral key secret included.
"""

from __future__ import annotations

from .exceptions import ConfigurationError

__all__ = ["ContentSecurityPolicy", "content_security_policy"]


class ContentSecurityPolicy(dict[str, tuple[str, ...]]):
    """CSP directives by name; `header_value` renders the header."""

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
    [`ContentSecurityPolicy.header_value`][issuing_elements.ContentSecurityPolicy.header_value].

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
