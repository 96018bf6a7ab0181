"""The FastAPI example, through Starlette's test client and through uvicorn.

Every test runs twice: in-process (``TestClient``, lifespan included) and over
HTTP to ``uvicorn`` in a process of its own. Both reach Stripe through
``STRIPE_API_BASE``: a pytest-httpserver stand-in.
"""

# ruff: noqa: SIM300 - STYLE.md: tests read `expected == actual`

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient

from _shared.testing import (
    ALICE,
    ALICE_CARD,
    BOB,
    CAROL,
    CAROL_ACCOUNT,
    CAROL_CARD,
    EXAMPLES,
    FAKE_KEY_SECRET,
    NONCE,
    PAGE_ELEMENTS,
    Answer,
    StripeStandIn,
    bearer,
    call_with_httpx,
    environment_for,
    free_port,
    load_example,
    running,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pytest_httpserver import HTTPServer

    from _shared import Demo


@pytest.fixture
def in_process(demo: Demo) -> Iterator[Callable[..., Answer]]:
    app = load_example("fastapi/app.py").create_app(demo)
    with TestClient(app) as client:
        yield call_with_httpx(client)


@pytest.fixture(scope="module")
def server_url(
    make_httpserver: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES / "fastapi")]
    argv += ["app:app", "--host", "127.0.0.1", "--port", str(port)]
    stripe_url = make_httpserver.url_for("/").rstrip("/")
    log = tmp_path_factory.mktemp("fastapi") / "server.log"
    with running(argv, port=port, env=environment_for(stripe_url), log=log) as url:
        yield url


@pytest.fixture
def over_http(server_url: str, stripe_stand_in: StripeStandIn) -> Iterator[Any]:
    with httpx.Client(base_url=server_url, timeout=10) as client:
        yield call_with_httpx(client)


@pytest.fixture(params=["in_process", "over_http"])
def call(request: pytest.FixtureRequest) -> Callable[..., Answer]:
    """The app, through the test client or through a real server."""
    found: Callable[..., Answer] = request.getfixturevalue(request.param)
    return found


def test_allowed_user_gets_a_key(
    call: Callable[..., Answer], stripe_stand_in: StripeStandIn
) -> None:
    stripe_stand_in.issues_key(ALICE_CARD)

    answer = call(
        "POST",
        "/ephemeral-keys",
        headers=bearer(ALICE),
        json={"card_id": ALICE_CARD, "nonce": NONCE},
    )

    assert (200, "no-store") == (answer.status, answer.headers["Cache-Control"])
    key = answer.json()
    assert (FAKE_KEY_SECRET, ALICE_CARD, NONCE) == (
        key["ephemeralKeySecret"],
        key["issuingCard"],
        key["nonce"],
    )
    assert 0 < key["refreshIn"] < 900
    assert PAGE_ELEMENTS == [element["type"] for element in key["elements"]]
    sent = stripe_stand_in.sent()
    assert {"issuing_card": ALICE_CARD, "nonce": NONCE} == sent.form.to_dict()
    assert "Stripe-Account" not in sent.headers


def test_form_body_works_too(
    call: Callable[..., Answer], stripe_stand_in: StripeStandIn
) -> None:
    stripe_stand_in.issues_key(ALICE_CARD)

    answer = call(
        "POST",
        "/ephemeral-keys",
        headers=bearer(ALICE),
        data={"card_id": ALICE_CARD, "nonce": NONCE},
    )

    assert 200 == answer.status
    assert ALICE_CARD == stripe_stand_in.sent().form["issuing_card"]


def test_other_users_card_is_not_found_and_stripe_is_not_asked(
    call: Callable[..., Answer], stripe_stand_in: StripeStandIn
) -> None:
    answer = call(
        "POST",
        "/ephemeral-keys",
        headers=bearer(BOB),
        json={"card_id": ALICE_CARD, "nonce": NONCE},
    )

    assert (404, "card_not_found") == (answer.status, answer.json()["error"]["code"])
    assert [] == stripe_stand_in.requests


@pytest.mark.parametrize("headers", [{}, bearer("not-a-demo-token")])
def test_no_user_is_unauthenticated(
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

    assert (401, "unauthenticated") == (answer.status, answer.json()["error"]["code"])
    assert [] == stripe_stand_in.requests


def test_connect_card_sends_its_account_to_stripe(
    call: Callable[..., Answer], stripe_stand_in: StripeStandIn
) -> None:
    stripe_stand_in.issues_key(CAROL_CARD)

    answer = call(
        "POST",
        "/ephemeral-keys",
        headers=bearer(CAROL),
        json={"card_id": CAROL_CARD, "nonce": NONCE},
    )

    assert 200 == answer.status
    assert CAROL_ACCOUNT == stripe_stand_in.sent().headers["Stripe-Account"]


def test_the_browser_cannot_choose_the_account(
    call: Callable[..., Answer], stripe_stand_in: StripeStandIn
) -> None:
    answer = call(
        "POST",
        "/ephemeral-keys",
        headers=bearer(ALICE),
        json={"card_id": ALICE_CARD, "nonce": NONCE, "stripe_account": CAROL_ACCOUNT},
    )

    assert (400, "invalid_request") == (answer.status, answer.json()["error"]["code"])
    assert [] == stripe_stand_in.requests


def test_stripe_down_is_503_with_retry_after(
    call: Callable[..., Answer], stripe_stand_in: StripeStandIn
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


def test_huge_body_is_refused_unread(call: Callable[..., Answer]) -> None:
    answer = call(
        "POST",
        "/ephemeral-keys",
        headers={**bearer(ALICE), "Content-Type": "application/json"},
        content=b"x" * 100_000,
    )

    assert (413, "body_too_large") == (answer.status, answer.json()["error"]["code"])


def test_client_config_of_a_connect_card_names_its_account(
    call: Callable[..., Answer],
) -> None:
    answer = call("GET", f"/client-config?card_id={CAROL_CARD}", headers=bearer(CAROL))

    assert 200 == answer.status
    assert CAROL_ACCOUNT == answer.json()["options"]["stripeAccount"]


def test_client_config_of_another_users_card_is_not_found(
    call: Callable[..., Answer],
) -> None:
    answer = call("GET", f"/client-config?card_id={CAROL_CARD}", headers=bearer(BOB))

    assert 404 == answer.status


def test_page_is_served(call: Callable[..., Answer]) -> None:
    answer = call("GET", "/")

    assert 200 == answer.status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Issuing Elements" in answer.text
