"""The Flask example, through Flask's test client and through a real server.

Every test runs twice: in-process (``app.test_client()``) and over HTTP to
``flask --app examples.flask.app run`` (werkzeug) in a process of its own.
Both reach Stripe through ``STRIPE_API_BASE``: the library's FakeStripe, one
for the session.
"""

# ruff: noqa: SIM300 - STYLE.md: tests read `expected == actual`

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from examples._shared.endpoint_contract import EndpointContract, MobileContract
from examples._shared.event_contract import StripeEventContract, issue_key
from examples._shared.testing import (
    ALICE,
    CAROL,
    CAROL_ACCOUNT,
    CAROL_CARD,
    ENVIRON_NAMES,
    ERIN,
    ERIN_CARD,
    WEBHOOK_SECRET,
    Answer,
    StripeStandIn,
    bearer,
    call_with_httpx,
    environment_for,
    running,
    spoofing_headers,
)
from examples.flask.app import create_app
from issuing_elements._flows.exchange import CLOCK_MARGIN
from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from examples._shared import Demo
    from issuing_elements.testing import FakeStripe


@pytest.fixture
def in_process(demo: Demo) -> Callable[..., Answer]:
    client = create_app(demo).test_client()

    def call(method: str, path: str, **arguments: Any) -> Answer:
        if "content" in arguments:  # httpx's name for a raw body is Flask's data
            arguments["data"] = arguments.pop("content")
        response = client.open(path, method=method, **arguments)
        return Answer(
            response.status_code, response.headers, response.get_data(as_text=True)
        )

    return call


@pytest.fixture(scope="module")
def server_url(
    fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "flask", "--app", "examples.flask.app"]
    argv += ["run", "--host", "127.0.0.1", "--port", str(port)]
    stripe_url = fake_stripe.url
    log = tmp_path_factory.mktemp("flask") / "server.log"
    with running(argv, port=port, env=environment_for(stripe_url), log=log) as url:
        yield url


class TestFlaskApp(EndpointContract, MobileContract, StripeEventContract):
    """Every route of the contract, the mobile one too, through Flask."""


DANA = "dana-demo-token"  # the demo's platform admin of CAROL_ACCOUNT


class TestFlaskAdminPage:
    """A platform admin's card dashboard: ``GET /admin``, ``POST /account-sessions``."""

    def test_an_admin_gets_an_account_session(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        answer = call("POST", "/account-sessions", headers=bearer(DANA), json={})

        session = stripe_stand_in.fake.account_sessions[-1]
        assert (200, "no-store") == (answer.status, answer.headers["Cache-Control"])
        assert {
            "clientSecret": session.client_secret,
            "expiresAt": session.expires_at,
        } == answer.json()
        sent = stripe_stand_in.sent()
        assert (CAROL_ACCOUNT, "true", "true", None) == (
            sent.params["account"],
            sent.params["components[issuing_card][enabled]"],
            sent.params["components[issuing_cards_list][enabled]"],
            sent.headers.get("stripe-account"),
        )

    def test_the_account_may_be_named_as_a_form(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        answer = call(
            "POST",
            "/account-sessions",
            headers=bearer(DANA),
            data={"account": CAROL_ACCOUNT},
        )

        assert (200, 1) == (answer.status, len(stripe_stand_in.requests))

    @pytest.mark.parametrize(
        ("token", "body", "status"),
        [
            (CAROL, {}, 404),  # a cardholder, not an admin
            (DANA, {"account": "acct_notDanas"}, 404),
            (None, {}, 401),
            (DANA, {"components": {"issuing_card": {"enabled": True}}}, 400),
        ],
    )
    def test_everyone_else_is_refused_before_stripe(
        self,
        call: Callable[..., Answer],
        stripe_stand_in: StripeStandIn,
        token: str | None,
        body: dict[str, Any],
        status: int,
    ) -> None:
        headers = bearer(token) if token is not None else {}

        answer = call("POST", "/account-sessions", headers=headers, json=body)

        assert (status, []) == (answer.status, stripe_stand_in.requests)

    def test_no_header_name_turns_the_origin_check_off(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        statuses = {
            name: call(
                "POST",
                "/account-sessions",
                headers=spoofing_headers(DANA, name),
                json={},
            ).status
            for name in ENVIRON_NAMES
        }

        assert (dict.fromkeys(ENVIRON_NAMES, 403), []) == (
            statuses,
            stripe_stand_in.requests,
        )

    def test_the_admin_sees_the_accounts_cards_through_connect_js_payload(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        nonce = stripe_stand_in.nonce_for(CAROL_CARD)

        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=bearer(DANA),
            json={"issuingCard": CAROL_CARD, "nonce": nonce},
        )

        assert (200, CAROL_CARD) == (answer.status, answer.json()["issuingCard"])
        assert CAROL_ACCOUNT == stripe_stand_in.sent().headers.get("stripe-account")

    def test_the_admin_page_is_served_under_a_csp_for_connect_js(
        self, call: Callable[..., Answer]
    ) -> None:
        answer = call("GET", "/admin")

        policy = answer.headers["Content-Security-Policy"]
        assert (200, True, True) == (
            answer.status,
            "script-src 'self' https://js.stripe.com" in policy
            and "https://connect-js.stripe.com" in policy.split("script-src")[1],
            "fetchClientSecret" in answer.text and "/account-sessions" in answer.text,
        )
        assert "'unsafe-inline'" not in policy


class TestFlaskKeysFollowTheCard:
    """The whole loop over HTTP, with the stand-in delivering as Stripe does.

    A key issued through the app; the card frozen through the stand-in's
    update endpoint; the signed event posted by the stand-in to the app's
    ``POST /stripe-events`` (as ``stripe listen --forward-to`` would); the
    key revoked at the stand-in; the next request for the card decided by
    the authorizer as usual.
    """

    def test_a_frozen_card_loses_its_key_through_a_delivered_event(
        self, server_url: str, stripe_stand_in: StripeStandIn
    ) -> None:
        fake = stripe_stand_in.fake
        stripe = fake.client(max_network_retries=0)
        fake.deliver_events_to(f"{server_url}/stripe-events", WEBHOOK_SECRET)
        try:
            with httpx.Client(base_url=server_url, timeout=10) as http:
                call = call_with_httpx(http)
                key = issue_key(call, fake, ERIN, ERIN_CARD)
                revoked_before = len(fake.revoked_keys)

                # Answered once the stand-in has delivered the event.
                stripe.v1.issuing.cards.update(ERIN_CARD, params={"status": "inactive"})

                revoked = [record.id for record in fake.revoked_keys[revoked_before:]]
                delivery = fake.deliveries[-1]
                event = fake.events[-1]
                assert (event.id, "issuing_card.updated") == (
                    delivery.event_id,
                    event.type,
                )
                assert delivery.headers["Stripe-Signature"].startswith("t=")
                assert (200, {"received": True, "revoked": len(revoked)}) == (
                    delivery.status,
                    json.loads(delivery.body),
                )
                assert key in revoked
                # A request that starts within the ledger's clock margin of
                # the tombstone counts as in flight, and is refused; after it,
                # the authorizer decides, as before the event.
                time.sleep(CLOCK_MARGIN)
                after = issue_key(call, fake, ERIN, ERIN_CARD)
                refused = call(
                    "POST",
                    "/ephemeral-keys",
                    headers=bearer(ALICE),
                    json={"card_id": ERIN_CARD, "nonce": fake.create_nonce(ERIN_CARD)},
                )
                assert not fake.key(after).revoked
                assert 404 == refused.status
        finally:
            fake.deliver_events_to(None, None)
            stripe.v1.issuing.cards.update(ERIN_CARD, params={"status": "active"})
