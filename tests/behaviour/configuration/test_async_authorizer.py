"""Async authorizers: awaited by the async methods, refused clearly by the sync ones."""

from __future__ import annotations

import asyncio
import json

import pytest
import stripe
from pytest_httpserver import HTTPServer

from issuing_elements import EphemeralKeyIssuer, Grant, KeyRequest
from issuing_elements.exceptions import CardNotFoundError, ConfigurationError
from stripe_wire import ACCOUNT, CARD, KEY_SECRET, NONCE, key_object

BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()
JSON = "application/json"


async def owns_card(user: str, request: KeyRequest) -> Grant | None:
    await asyncio.sleep(0)
    return Grant(ACCOUNT) if (user, request.card_id) == ("alice", CARD) else None


async def slow_yes(_user: str, _request: KeyRequest) -> bool:
    await asyncio.sleep(0.2)
    return True


async def async_raises(_user: str, _request: KeyRequest) -> bool:
    await asyncio.sleep(0)
    raise LookupError("directory timeout")


def test_aissue_awaits_an_async_authorizer(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request(
        "/v1/ephemeral_keys", headers={"Stripe-Account": ACCOUNT}
    ).respond_with_json(key_object())

    key = asyncio.run(
        EphemeralKeyIssuer(stripe_client, owns_card).aissue(
            "alice", card_id=CARD, nonce=NONCE
        )
    )

    assert (KEY_SECRET, ACCOUNT) == (key.secret, key.stripe_account)


def test_ahandle_accepts_a_sync_authorizer(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    response = asyncio.run(
        EphemeralKeyIssuer(stripe_client, lambda _u, _r: True).ahandle(
            "alice", body=BODY, content_type=JSON
        )
    )

    assert 200 == response.status


def test_async_denial_makes_no_stripe_request(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    with pytest.raises(CardNotFoundError):
        asyncio.run(
            EphemeralKeyIssuer(stripe_client, owns_card).aissue(
                "mallory", card_id=CARD, nonce=NONCE
            )
        )

    assert [] == httpserver.log


def test_async_authorizer_raising_denies(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    response = asyncio.run(
        EphemeralKeyIssuer(stripe_client, async_raises).ahandle(
            "alice", body=BODY, content_type=JSON
        )
    )

    assert 404 == response.status
    assert [] == httpserver.log


def test_sync_issue_refuses_an_async_authorizer(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owns_card)

    with pytest.raises(ConfigurationError, match="aissue"):
        issuer.issue("alice", card_id=CARD, nonce=NONCE)

    assert [] == httpserver.log


def test_sync_handle_with_an_async_authorizer_answers_500(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    response = EphemeralKeyIssuer(stripe_client, owns_card).handle(
        "alice", body=BODY, content_type=JSON
    )

    assert 500 == response.status
    assert [] == httpserver.log


def test_slow_async_authorizer_is_awaited(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys").respond_with_json(key_object())
    issuer = EphemeralKeyIssuer(stripe_client, slow_yes)

    async def two_at_once() -> list[int]:
        responses = await asyncio.gather(
            issuer.ahandle("alice", body=BODY, content_type=JSON),
            issuer.ahandle("bob", body=BODY, content_type=JSON),
        )
        return [response.status for response in responses]

    assert [200, 200] == asyncio.run(two_at_once())
    assert 2 == len(httpserver.log)


def test_cancelled_while_authorizing_reaches_no_stripe(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, slow_yes)

    async def impatient() -> None:
        await asyncio.wait_for(
            issuer.ahandle("alice", body=BODY, content_type=JSON), timeout=0.05
        )

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(impatient())

    assert [] == httpserver.log
