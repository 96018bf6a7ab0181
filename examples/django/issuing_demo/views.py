"""The routes: read the request, find the user, call the library, answer.

``ephemeral_keys`` is the sync endpoint on ``issuer.handle`` (WSGI);
``aephemeral_keys`` is the same with ``await issuer.ahandle`` (ASGI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import current_demo

if TYPE_CHECKING:
    from issuing_elements import HttpResponse as IssuerResponse

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
    issuer = current_demo().issuer
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
    issuer = current_demo().issuer
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
    issuer = current_demo().issuer
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
    issuer = current_demo().issuer
    answer = await issuer.ahandle_stripe_event(
        read_body(request, limit=issuer.max_event_bytes),
        headers=request.headers,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return to_django(answer)


def client_config(request: HttpRequest) -> HttpResponse:
    """``GET /client-config[?card_id=ic_...]``: what the page gives ``Stripe()``."""
    answer = current_demo().client_config(
        issuer_user(request), request.GET.get("card_id")
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
