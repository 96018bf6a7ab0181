"""Issuing Elements behind Flask: the library's sync endpoint, in a few lines.

Run it (offline, on the built-in FakeStripe, unless STRIPE_SECRET_KEY is set)::

    flask --app examples/flask/app.py run

The glue is the routes below (the page, its config, its keys, the keys of a
mobile app, a platform admin's page, and Stripe's card events): read the
request, find the user, call the library, write its answer. The rest (the
environment, the demo user store, the page) is in ``examples/_shared``, the
same for every example.
``/admin`` and ``POST /account-sessions`` are the platform admin's card
dashboard (Connect embedded components); the other examples leave them out.

What a real app replaces: ``demo.authenticate`` with its login (Flask-Login,
a session cookie: then add CSRF protection to the POST), the demo user file
with its database (the authorizer looks the card up there), and the page.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, Response, request

# The examples share one configuration module, examples/_shared.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _shared import Demo, process_demo

if TYPE_CHECKING:
    from collections.abc import Callable

    from issuing_elements import HttpResponse


def create_app(demo: Demo | None = None) -> Flask:
    """The app; without *demo*, one built from the environment on first use."""
    app = Flask(__name__)

    def current() -> Demo:
        return demo if demo is not None else process_demo()

    def endpoint(door: Callable[..., HttpResponse]) -> Response:
        """Read the request, find the user, call one of the issuer's doors."""
        user = current().authenticate(request.headers.get("Authorization"))
        # One byte over the limit is enough for the library to answer 413.
        body = request.stream.read(current().issuer.max_body_bytes + 1)
        answer = door(
            user,
            body=body,
            content_type=request.headers.get("Content-Type"),
            headers=request.headers,
            client_ip=request.remote_addr,
        )
        return to_flask(answer)

    @app.post("/ephemeral-keys")
    def ephemeral_keys() -> Response:
        return endpoint(current().issuer.handle)

    @app.post("/mobile/ephemeral-keys")
    def mobile_ephemeral_keys() -> Response:
        # Stripe's iOS, Android and React Native SDKs (push provisioning to
        # Apple Pay and Google Pay): the same authorizer, a key without a nonce.
        return endpoint(current().issuer.handle_mobile)

    @app.post("/account-sessions")
    def account_sessions() -> Response:
        # The admin page's fetchClientSecret (Connect embedded components).
        return endpoint(current().issuer.handle_account_session)

    @app.post("/stripe-events")
    def stripe_events() -> Response:
        # Stripe's webhook: no user, the raw bytes (its signature covers them;
        # never request.json), at most one byte over the limit.
        issuer = current().issuer
        body = request.stream.read(issuer.max_event_bytes + 1)
        answer = issuer.handle_stripe_event(
            body, headers=request.headers, client_ip=request.remote_addr
        )
        return to_flask(answer)

    @app.get("/admin")
    def admin_page() -> Response:
        return to_flask(current().admin_page())

    @app.get("/client-config")
    def config() -> Response:
        user = current().authenticate(request.headers.get("Authorization"))
        return to_flask(current().client_config(user, request.args.get("card_id")))

    @app.get("/")
    def page() -> Response:
        return to_flask(current().page())

    return app


def to_flask(answer: HttpResponse) -> Response:
    return Response(answer.body, status=answer.status, headers=dict(answer.headers))


app = create_app()
