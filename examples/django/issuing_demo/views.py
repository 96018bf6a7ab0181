"""The authorizer, the issuer, and the routes that call it: what a Django app copies.

``ephemeral_keys`` is the sync endpoint on ``issuer.handle`` (WSGI);
``aephemeral_keys`` is the same with ``await issuer.ahandle`` (ASGI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from examples._shared import (
    REFRESH_MARGIN,
    Demo,
    demo_users,
    once,
    page_elements,
)
from issuing_elements import EphemeralKeyIssuer, Grant, KeyRequest, MemoryKeyLedger

from . import current_demo

if TYPE_CHECKING:
    from issuing_elements import HttpResponse as IssuerResponse


def authorize(user: str, request: KeyRequest) -> Grant | None:
    """A key for a card the user may see, under the card's connected account.

    Anything else (another user's card, no such card) is ``None``: one
    answer, 404, so that cards cannot be probed. *user* is the username
    (:func:`issuer_user`); yours may be ``request.user`` itself.
    """
    cards = demo_users().visible_cards(user)  # yours: Card.objects.filter(...)
    if request.card_id not in cards:
        return None
    return Grant(stripe_account=cards[request.card_id])


def build_issuer(demo: Demo) -> EphemeralKeyIssuer[str]:
    """The issuer: Stripe, the authorizer, and the controls this app sets."""
    return EphemeralKeyIssuer(
        demo.stripe_client,
        authorize,
        allowed_origins=demo.allowed_origins,
        # Keys follow the card: the ledger knows the live keys, and
        # POST /stripe-events revokes a stopped card's.
        key_ledger=MemoryKeyLedger(),
        webhook_secrets=demo.webhook_secrets,
        # The demo page's bundle: when to fetch the next key, what to mount.
        refresh_margin=REFRESH_MARGIN,
        elements=page_elements,
    )


#: The process's issuer, built on first use (a worker's first request).
process_issuer = once(lambda: build_issuer(current_demo()))


def current_issuer() -> EphemeralKeyIssuer[str]:
    """The issuer ``settings.ISSUING_ISSUER`` names (tests set one, with
    ``ISSUING_DEMO``), else the process's."""
    configured: EphemeralKeyIssuer[str] | None = getattr(
        settings, "ISSUING_ISSUER", None
    )
    return configured if configured is not None else process_issuer()


# Why csrf_exempt is safe here, and only here: CSRF is a cross-site form or
# fetch riding on a credential the browser attaches by itself, the session
# cookie. This endpoint authenticates with an ``Authorization: Bearer``
# header, which a browser never attaches by itself and another site cannot
# set; a forged request arrives without it and gets 401.
#
# An app that signs users in with Django's session cookie must NOT exempt
# the view: keep CsrfViewMiddleware, serve the page with the token
# (``{% csrf_token %}``, ``get_token(request)`` or ``@ensure_csrf_cookie``)
# and have the page's fetch send it as the ``X-CSRFToken`` header.


@csrf_exempt
@require_POST
def ephemeral_keys(request: HttpRequest) -> HttpResponse:
    """``POST /ephemeral-keys`` on ``issuer.handle``."""
    issuer = current_issuer()
    answer = issuer.handle(
        issuer_user(request),
        body=read_body(request, limit=issuer.max_body_bytes),
        # The whole header: request.content_type drops the charset, which
        # the library checks.
        content_type=request.headers.get("Content-Type"),
        headers=request.headers,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return to_django(answer)


@csrf_exempt
@require_POST
async def aephemeral_keys(request: HttpRequest) -> HttpResponse:
    """``POST /ephemeral-keys`` on ``issuer.ahandle``: the same, for ASGI."""
    issuer = current_issuer()
    answer = await issuer.ahandle(
        issuer_user(request),
        body=read_body(request, limit=issuer.max_body_bytes),
        content_type=request.headers.get("Content-Type"),
        headers=request.headers,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return to_django(answer)


# Stripe's webhook carries no cookie and no user: it is authenticated by its
# Stripe-Signature, which the library verifies on the raw body. CSRF does not
# apply to it.


@csrf_exempt
@require_POST
def stripe_events(request: HttpRequest) -> HttpResponse:
    """``POST /stripe-events`` on ``issuer.handle_stripe_event``."""
    issuer = current_issuer()
    answer = issuer.handle_stripe_event(
        read_body(request, limit=issuer.max_event_bytes),
        headers=request.headers,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return to_django(answer)


@csrf_exempt
@require_POST
async def astripe_events(request: HttpRequest) -> HttpResponse:
    """``POST /stripe-events`` on ``issuer.ahandle_stripe_event``, for ASGI."""
    issuer = current_issuer()
    answer = await issuer.ahandle_stripe_event(
        read_body(request, limit=issuer.max_event_bytes),
        headers=request.headers,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return to_django(answer)


def client_config(request: HttpRequest) -> HttpResponse:
    """``GET /client-config[?card_id=ic_...]``: what the page gives ``Stripe()``."""
    answer = current_demo().client_config(
        issuer_user(request),
        request.GET.get("card_id"),
        api_version=current_issuer().api_version,
    )
    return to_django(answer)


def page(request: HttpRequest) -> HttpResponse:
    """``GET /``: the demo page."""
    return to_django(current_demo().page())


def issuer_user(request: HttpRequest) -> str | None:
    """The user the issuer serves: ``None`` for ``AnonymousUser`` (401).

    The demo's authorizer knows users by name; a real app passes
    ``request.user`` itself and its authorizer queries its own models.
    """
    user = request.user
    return user.get_username() if user.is_authenticated else None


def read_body(request: HttpRequest, *, limit: int) -> bytes:
    """The raw body, at most *limit* + 1 bytes.

    One byte over the limit is enough for the library to answer 413, and a
    huge body is never read. Raw bytes, never ``request.POST``: the library
    parses JSON and form bodies itself. Not ``request.body`` either: it reads
    up to DATA_UPLOAD_MAX_MEMORY_SIZE, and raises (a 500) when
    CsrfViewMiddleware has already parsed a multipart body, where ``read``
    gives ``b""`` and the library its 415. (Under ASGI, Django has already
    read the whole body into a temporary file before any view runs.)
    """
    return request.read(limit + 1)


def to_django(answer: IssuerResponse) -> HttpResponse:
    return HttpResponse(answer.body, status=answer.status, headers=answer.headers)
