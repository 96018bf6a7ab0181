"""What every web example must do, whatever its framework.

Each framework's test file subclasses :class:`EndpointContract` and provides
the ``in_process`` and ``server_url`` fixtures; the ``call`` fixture in
``examples/conftest.py`` runs every test twice: through the framework's test
client, and over HTTP to a real server process. Stripe is the library's
FakeStripe, reached through ``STRIPE_API_BASE``.
"""

# ruff: noqa: SIM300 - STYLE.md: tests read `expected == actual`

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from examples._shared.testing import (
    ALICE,
    ALICE_CARD,
    APP_ORIGIN,
    BOB,
    CAROL,
    CAROL_ACCOUNT,
    CAROL_CARD,
    ENVIRON_NAMES,
    NONCE,
    PAGE_ELEMENTS,
    Answer,
    StripeStandIn,
    bearer,
    spoofing_headers,
)

if TYPE_CHECKING:
    from collections.abc import Callable


class EndpointContract:
    """The routes of DESIGN.md's wire contract, as a browser meets them."""

    def test_allowed_user_gets_a_key(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        nonce = stripe_stand_in.nonce_for(ALICE_CARD)

        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=bearer(ALICE),
            json={"card_id": ALICE_CARD, "nonce": nonce},
        )

        assert (200, "no-store") == (answer.status, answer.headers["Cache-Control"])
        key = answer.json()
        assert (stripe_stand_in.last_key_secret(), ALICE_CARD, nonce) == (
            key["ephemeralKeySecret"],
            key["issuingCard"],
            key["nonce"],
        )
        assert 0 < key["refreshIn"] < 900
        assert PAGE_ELEMENTS == [element["type"] for element in key["elements"]]
        sent = stripe_stand_in.sent()
        assert {"issuing_card": ALICE_CARD, "nonce": nonce} == sent.params
        assert "stripe-account" not in sent.headers

    def test_form_body_works_too(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        nonce = stripe_stand_in.nonce_for(ALICE_CARD)

        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=bearer(ALICE),
            data={"card_id": ALICE_CARD, "nonce": nonce},
        )

        assert 200 == answer.status
        assert ALICE_CARD == stripe_stand_in.sent().params["issuing_card"]

    def test_other_users_card_is_not_found_and_stripe_is_not_asked(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=bearer(BOB),
            json={"card_id": ALICE_CARD, "nonce": NONCE},
        )

        assert (404, "card_not_found") == (
            answer.status,
            answer.json()["error"]["code"],
        )
        assert [] == stripe_stand_in.requests

    @pytest.mark.parametrize("headers", [{}, bearer("not-a-demo-token")])
    def test_no_user_is_unauthenticated(
        self,
        call: Callable[..., Answer],
        stripe_stand_in: StripeStandIn,
        headers: dict[str, str],
    ) -> None:
        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=headers,
            json={"card_id": ALICE_CARD, "nonce": NONCE},
        )

        assert (401, "unauthenticated") == (
            answer.status,
            answer.json()["error"]["code"],
        )
        assert [] == stripe_stand_in.requests

    def test_connect_card_sends_its_account_to_stripe(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        nonce = stripe_stand_in.nonce_for(CAROL_CARD)

        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=bearer(CAROL),
            json={"card_id": CAROL_CARD, "nonce": nonce},
        )

        assert 200 == answer.status
        assert CAROL_ACCOUNT == stripe_stand_in.sent().headers["stripe-account"]

    def test_the_browser_cannot_choose_the_account(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=bearer(ALICE),
            json={
                "card_id": ALICE_CARD,
                "nonce": NONCE,
                "stripe_account": CAROL_ACCOUNT,
            },
        )

        assert (400, "invalid_request") == (
            answer.status,
            answer.json()["error"]["code"],
        )
        assert [] == stripe_stand_in.requests

    def test_stripe_down_is_503_with_retry_after(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        stripe_stand_in.is_down()

        answer = call(
            "POST",
            "/ephemeral-keys",
            headers=bearer(ALICE),
            json={"card_id": ALICE_CARD, "nonce": NONCE},
        )

        assert (503, "stripe_unavailable") == (
            answer.status,
            answer.json()["error"]["code"],
        )
        assert answer.headers["Retry-After"].isdigit()

    def test_huge_body_is_refused_unread(self, call: Callable[..., Answer]) -> None:
        answer = call(
            "POST",
            "/ephemeral-keys",
            headers={**bearer(ALICE), "Content-Type": "application/json"},
            content=b"x" * 100_000,
        )

        assert (413, "body_too_large") == (
            answer.status,
            answer.json()["error"]["code"],
        )

    def test_client_config_of_a_connect_card_names_its_account(
        self,
        call: Callable[..., Answer],
    ) -> None:
        answer = call(
            "GET", f"/client-config?card_id={CAROL_CARD}", headers=bearer(CAROL)
        )

        assert 200 == answer.status
        assert CAROL_ACCOUNT == answer.json()["options"]["stripeAccount"]

    def test_client_config_of_another_users_card_is_not_found(
        self,
        call: Callable[..., Answer],
    ) -> None:
        answer = call(
            "GET", f"/client-config?card_id={CAROL_CARD}", headers=bearer(BOB)
        )

        assert 404 == answer.status

    def test_page_is_served(self, call: Callable[..., Answer]) -> None:
        answer = call("GET", "/")

        assert 200 == answer.status
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "Issuing Elements" in answer.text

    def test_page_from_an_allowed_origin_gets_a_key(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        nonce = stripe_stand_in.nonce_for(ALICE_CARD)

        answer = call(
            "POST",
            "/ephemeral-keys",
            headers={**bearer(ALICE), "Origin": APP_ORIGIN},
            json={"card_id": ALICE_CARD, "nonce": nonce},
        )

        assert 200 == answer.status

    def test_page_from_another_origin_is_refused_before_stripe(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        answer = call(
            "POST",
            "/ephemeral-keys",
            headers={**bearer(ALICE), "Origin": "https://evil.example"},
            json={"card_id": ALICE_CARD, "nonce": NONCE},
        )

        assert (403, "forbidden_origin") == (
            answer.status,
            answer.json()["error"]["code"],
        )
        assert [] == stripe_stand_in.requests

    def test_no_header_name_turns_the_origin_check_off(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        statuses = {
            name: call(
                "POST",
                "/ephemeral-keys",
                headers=spoofing_headers(ALICE, name),
                json={"card_id": ALICE_CARD, "nonce": NONCE},
            ).status
            for name in ENVIRON_NAMES
        }

        assert (dict.fromkeys(ENVIRON_NAMES, 403), []) == (
            statuses,
            stripe_stand_in.requests,
        )

    def test_page_is_sent_with_a_content_security_policy(
        self, call: Callable[..., Answer]
    ) -> None:
        policy = call("GET", "/").headers["Content-Security-Policy"]

        directives = {
            name: sources
            for name, *sources in (part.split() for part in policy.split(";"))
        }
        assert "https://js.stripe.com" in directives["script-src"]
        assert "'unsafe-inline'" not in directives["script-src"]
        assert any(source.startswith("'sha256-") for source in directives["script-src"])
        assert ["'none'"] == directives["frame-ancestors"]


class MobileContract:
    """The mobile route (``handle_mobile``), as Stripe's mobile SDKs meet it."""

    def test_the_app_gets_stripes_whole_key_object(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        answer = call(
            "POST",
            "/mobile/ephemeral-keys",
            headers=bearer(ALICE),
            json={"card_id": ALICE_CARD, "api_version": "2020-08-27"},
        )

        assert (200, "no-store") == (answer.status, answer.headers["Cache-Control"])
        key = answer.json()
        assert (stripe_stand_in.last_key_secret(), [ALICE_CARD]) == (
            key["secret"],
            [item["id"] for item in key["associated_objects"]],
        )
        sent = stripe_stand_in.sent()
        assert ({"issuing_card": ALICE_CARD}, "2020-08-27") == (
            sent.params,
            sent.headers["stripe-version"],
        )

    def test_a_form_body_works_and_the_account_is_the_servers(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        answer = call(
            "POST",
            "/mobile/ephemeral-keys",
            headers=bearer(CAROL),
            data={"card_id": CAROL_CARD, "api_version": "2024-06-20"},
        )

        assert (200, CAROL_ACCOUNT) == (
            answer.status,
            stripe_stand_in.sent().headers["stripe-account"],
        )

    def test_other_users_card_and_a_bad_version_never_reach_stripe(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:

        not_yours = call(
            "POST",
            "/mobile/ephemeral-keys",
            headers=bearer(BOB),
            json={"card_id": ALICE_CARD, "api_version": "2024-06-20"},
        )
        bad_version = call(
            "POST",
            "/mobile/ephemeral-keys",
            headers=bearer(ALICE),
            json={"card_id": ALICE_CARD, "api_version": "latest"},
        )
        nobody = call(
            "POST",
            "/mobile/ephemeral-keys",
            json={"card_id": ALICE_CARD, "api_version": "2024-06-20"},
        )

        assert ([404, 400, 401], []) == (
            [not_yours.status, bad_version.status, nobody.status],
            stripe_stand_in.requests,
        )

    def test_no_header_name_turns_the_mobile_origin_check_off(
        self, call: Callable[..., Answer], stripe_stand_in: StripeStandIn
    ) -> None:
        statuses = {
            name: call(
                "POST",
                "/mobile/ephemeral-keys",
                headers=spoofing_headers(ALICE, name),
                json={"card_id": ALICE_CARD, "api_version": "2024-06-20"},
            ).status
            for name in ENVIRON_NAMES
        }

        assert (dict.fromkeys(ENVIRON_NAMES, 403), []) == (
            statuses,
            stripe_stand_in.requests,
        )
