"""Issuing Elements behind FastAPI: the library's async endpoint, in a few lines.

Run it (offline, on the built-in FakeStripe, unless STRIPE_SECRET_KEY is set)::

    uvicorn --app-dir examples/fastapi app:app

The glue is the routes below: read the request, find the user, call
the library, write its answer. The rest (the environment, the demo user
store, the page) is in ``examples/_shared``, the same for every example.

What a real app replaces: ``demo.authenticate`` with its own dependency
(OAuth2, a session cookie: then add CSRF protection to the POST), the demo
user file with its database (an async authorizer may query it), and the page.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import stripe

from fastapi import FastAPI, Request, Response

# The examples share one configuration module, examples/_shared.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _shared import Demo

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from issuing_elements import HttpResponse


def create_app(demo: Demo | None = None) -> FastAPI:
    """The app; without *demo*, one built from the environment at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.demo = (
            demo
            if demo is not None
            # An async-only app: aiohttp, the faster transport under concurrency.
            else Demo.from_environment(http_client=stripe.AIOHTTPClient)
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
        user = demo.authenticate(request.headers.get("Authorization"))
        body = await read_body(request, limit=demo.issuer.max_body_bytes)
        answer = await demo.issuer.ahandle(
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
        demo: Demo = request.app.state.demo
        body = await read_body(request, limit=demo.issuer.max_event_bytes)
        answer = await demo.issuer.ahandle_stripe_event(
            body,
            headers=request.headers,
            client_ip=request.client.host if request.client else None,
        )
        return to_fastapi(answer)

    @app.get("/client-config")
    async def config(request: Request, card_id: str | None = None) -> Response:
        demo: Demo = request.app.state.demo
        user = demo.authenticate(request.headers.get("Authorization"))
        return to_fastapi(demo.client_config(user, card_id))

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
