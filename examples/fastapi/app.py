"""Issuing Elements behind FastAPI: the authorizer, the issuer, the async routes.

Run it from the repository's root (offline, on the built-in FakeStripe,
unless STRIPE_SECRET_KEY is set)::

    uvicorn examples.fastapi.app:app

This file is what a FastAPI app copies: who may have a key for which card
(:func:`authorize`), the issuer built with it (:func:`build_issuer`), and
the routes that call it: read the request, find the user, call the
library, write its answer. The demo's plumbing (its users file, the Stripe
client or the offline FakeStripe, the page) is ``examples._shared``, the
same for every example.

What a real app replaces: ``demo.authenticate`` with its own dependency
(OAuth2, a session cookie: then add CSRF protection to the POST),
``demo_users()`` with its database (an async authorizer may query it), and
the page.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import stripe
from fastapi import FastAPI, Request, Response

from examples._shared import (
    REFRESH_MARGIN,
    Demo,
    demo_users,
    page_elements,
)
from issuing_elements import EphemeralKeyIssuer, Grant, KeyRequest, MemoryKeyLedger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from issuing_elements import HttpResponse


def authorize(user: str, request: KeyRequest) -> Grant | None:
    """A key for a card the user may see, under the card's connected account.

    Anything else (another user's card, no such card) is ``None``: one
    answer, 404, so that cards cannot be probed.
    """
    cards = demo_users().visible_cards(user)  # yours: a query of your card table
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


def create_app(
    demo: Demo | None = None, issuer: EphemeralKeyIssuer[str] | None = None
) -> FastAPI:
    """The app; without *demo*, one built from the environment at start-up,
    and without *issuer*, :func:`build_issuer`'s."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.demo = (
            demo
            if demo is not None
            # An async-only app: aiohttp, the faster transport under concurrency.
            else Demo.from_environment(http_client=stripe.AIOHTTPClient)
        )
        app.state.issuer = (
            issuer if issuer is not None else build_issuer(app.state.demo)
        )
        try:
            yield
        finally:
            if demo is None:
                await app.state.demo.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/ephemeral-keys")
    async def ephemeral_keys(request: Request) -> Response:
        demo: Demo = request.app.state.demo
        issuer: EphemeralKeyIssuer[str] = request.app.state.issuer
        user = demo.authenticate(request.headers.get("Authorization"))
        body = await read_body(request, limit=issuer.max_body_bytes)
        answer = await issuer.ahandle(
            user,
            body=body,
            content_type=request.headers.get("Content-Type"),
            headers=request.headers,
            client_ip=request.client.host if request.client else None,
        )
        return to_fastapi(answer)

    @app.post("/stripe-events")
    async def stripe_events(request: Request) -> Response:
        # Stripe's webhook: no user, the raw bytes (its signature covers them).
        issuer: EphemeralKeyIssuer[str] = request.app.state.issuer
        body = await read_body(request, limit=issuer.max_event_bytes)
        answer = await issuer.ahandle_stripe_event(
            body,
            headers=request.headers,
            client_ip=request.client.host if request.client else None,
        )
        return to_fastapi(answer)

    @app.get("/client-config")
    async def config(request: Request, card_id: str | None = None) -> Response:
        demo: Demo = request.app.state.demo
        issuer: EphemeralKeyIssuer[str] = request.app.state.issuer
        user = demo.authenticate(request.headers.get("Authorization"))
        return to_fastapi(
            demo.client_config(user, card_id, api_version=issuer.api_version)
        )

    @app.get("/")
    async def page(request: Request) -> Response:
        return to_fastapi(request.app.state.demo.page())

    return app


async def read_body(request: Request, *, limit: int) -> bytes:
    """At most *limit* + 1 bytes: enough for the library to answer 413."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            break
    return body


def to_fastapi(answer: HttpResponse) -> Response:
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


app = create_app()
