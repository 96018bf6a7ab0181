"""Issuing Elements behind Flask: the authorizers, the issuer, the routes.

Run it from the repository's root (offline, on the built-in FakeStripe,
unless STRIPE_SECRET_KEY is set)::

    flask --app examples.flask.app run

This file is what a Flask app copies: who may have a key for which card
(:func:`authorize`), which platform admin may open which connected account's
card dashboards (:func:`authorize_admin`), the issuer built with them
(:func:`build_issuer`), and the routes that call it (the page, its config,
its keys, the keys of a mobile app, the admin's page, and Stripe's card
events). The demo's plumbing (its users file, the Stripe client or the
offline FakeStripe, the page) is ``examples._shared``, the same for every
example; the other examples leave ``/admin`` and the mobile route out.

What a real app replaces: ``demo.authenticate`` with its login (Flask-Login,
a session cookie: then add CSRF protection to the POST), ``demo_users()``
with its database, and the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, request

from examples._shared import (
    REFRESH_MARGIN,
    Demo,
    demo_users,
    page_elements,
)
from issuing_elements import (
    AccountSessionGrant,
    AccountSessionRequest,
    EphemeralKeyIssuer,
    Grant,
    IssuingCardComponent,
    IssuingCardsListComponent,
    KeyRequest,
    MemoryKeyLedger,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from issuing_elements import HttpResponse


def authorize(user: str, request: KeyRequest) -> Grant | None:
    """A key for a card the user may see, under the card's connected account.

    Anything else (another user's card, no such card) is ``None``: one
    answer, 404, so that cards cannot be probed. An admin of a connected
    account may see all its cards: Stripe's Connect components draw the
    boundary at the account.
    """
    cards = demo_users().visible_cards(user)  # yours: a query of your card table
    if request.card_id not in cards:
        return None
    return Grant(stripe_account=cards[request.card_id])


#: What an admin's Account Session opens: the card dashboards, with the
#: features the platform chooses (the page never names any).
ADMIN_COMPONENTS = (
    IssuingCardComponent(card_management=True, spend_control_management=True),
    IssuingCardsListComponent(card_management=True, spend_control_management=True),
)


def authorize_admin(
    user: str, request: AccountSessionRequest
) -> AccountSessionGrant | None:
    """An Account Session for an account the user administers, and no other.

    A page that names no account gets the admin's only one; an admin of
    several must name one.
    """
    accounts = demo_users().admins.get(user, ())  # yours: your admin table
    account = request.account
    if account is None and len(accounts) == 1:
        (account,) = accounts
    if account is None or account not in accounts:
        return None
    return AccountSessionGrant(account=account, components=ADMIN_COMPONENTS)


def build_issuer(demo: Demo) -> EphemeralKeyIssuer[str]:
    """The issuer: Stripe, the two authorizers, and the controls this app sets."""
    return EphemeralKeyIssuer(
        demo.stripe_client,
        authorize,
        account_sessions=authorize_admin,
        allowed_origins=demo.allowed_origins,
        # Keys follow the card: the ledger knows the live keys, and
        # POST /stripe-events revokes a stopped card's.
        key_ledger=MemoryKeyLedger(),
        webhook_secrets=demo.webhook_secrets,
        # The demo page's bundle: when to fetch the next key, what to mount.
        refresh_margin=REFRESH_MARGIN,
        elements=page_elements,
    )


def create_app(demo: Demo | None = None) -> Flask:
    """The app; without *demo*, one built from the environment.

    ``flask --app examples.flask.app`` calls it with no argument; so does
    ``gunicorn 'examples.flask.app:create_app()'``.
    """
    demo = demo if demo is not None else Demo.from_environment()
    issuer = build_issuer(demo)
    app = Flask(__name__)

    def endpoint(door: Callable[..., HttpResponse]) -> Response:
        """Read the request, find the user, call one of the issuer's doors."""
        user = demo.authenticate(request.headers.get("Authorization"))
        # One byte over the limit is enough for the library to answer 413.
        body = request.stream.read(issuer.max_body_bytes + 1)
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
        return endpoint(issuer.handle)

    @app.post("/mobile/ephemeral-keys")
    def mobile_ephemeral_keys() -> Response:
        # Stripe's iOS, Android and React Native SDKs (push provisioning to
        # Apple Pay and Google Pay): the same authorizer, a key without a nonce.
        return endpoint(issuer.handle_mobile)

    @app.post("/account-sessions")
    def account_sessions() -> Response:
        # The admin page's fetchClientSecret (Connect embedded components).
        return endpoint(issuer.handle_account_session)

    @app.post("/stripe-events")
    def stripe_events() -> Response:
        # Stripe's webhook: no user, the raw bytes (its signature covers them;
        # never request.json), at most one byte over the limit.
        body = request.stream.read(issuer.max_event_bytes + 1)
        answer = issuer.handle_stripe_event(
            body, headers=request.headers, client_ip=request.remote_addr
        )
        return to_flask(answer)

    @app.get("/admin")
    def admin_page() -> Response:
        return to_flask(demo.admin_page())

    @app.get("/client-config")
    def config() -> Response:
        user = demo.authenticate(request.headers.get("Authorization"))
        card_id = request.args.get("card_id")
        return to_flask(
            demo.client_config(user, card_id, api_version=issuer.api_version)
        )

    @app.get("/")
    def page() -> Response:
        return to_flask(demo.page())

    return app


def to_flask(answer: HttpResponse) -> Response:
    return Response(answer.body, status=answer.status, headers=dict(answer.headers))
