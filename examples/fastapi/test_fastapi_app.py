"""The FastAPI example, through Starlette's test client and through uvicorn.

Every test runs twice: in-process (``TestClient``, lifespan included) and over
HTTP to ``uvicorn`` in a process of its own. Both reach Stripe through
``STRIPE_API_BASE``: the library's FakeStripe, one for the session.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient

from examples._shared.endpoint_contract import EndpointContract
from examples._shared.event_contract import StripeEventContract
from examples._shared.testing import (
    ALICE,
    ALICE_CARD,
    CAROL_ACCOUNT,
    CAROL_CARD,
    Answer,
    bearer,
    call_with_httpx,
    environment_for,
    running,
    standalone_fake_stripe,
)
from examples.fastapi.app import create_app
from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from examples._shared import Demo
    from issuing_elements.testing import FakeStripe


@pytest.fixture
def in_process(demo: Demo) -> Iterator[Callable[..., Answer]]:
    app = create_app(demo)
    with TestClient(app) as client:
        yield call_with_httpx(client)
        # FakeStripe keeps connections alive: close the async pool in its loop.
        client.portal.call(demo.aclose)


@pytest.fixture(scope="module")
def server_url(
    fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "examples.fastapi.app:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    stripe_url = fake_stripe.url
    log = tmp_path_factory.mktemp("fastapi") / "server.log"
    with running(argv, port=port, env=environment_for(stripe_url), log=log) as url:
        yield url


class TestFastAPIApp(EndpointContract, StripeEventContract):
    """Every route of the contract, through FastAPI."""


def test_two_workers_share_one_stand_in(tmp_path: Path) -> None:
    """``uvicorn --workers 2`` on ``python -m issuing_elements.testing``.

    The nonce comes from the stand-in's own nonce endpoint (as Stripe.js gets
    it), the key from the app: whichever worker answers, it knows the nonce.
    """
    cards = (ALICE_CARD, f"{CAROL_CARD}@{CAROL_ACCOUNT}")
    with standalone_fake_stripe(*cards, log=tmp_path / "stripe.log") as stripe:
        env = {
            **environment_for(stripe["url"]),
            "STRIPE_SECRET_KEY": stripe["api_key"],
            "STRIPE_PUBLISHABLE_KEY": stripe["publishable_key"],
        }
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "examples.fastapi.app:app"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "2"]
        log = tmp_path / "server.log"
        with (
            running(argv, port=port, env=env, log=log) as url,
            httpx.Client(timeout=10) as client,
        ):
            answers = []
            for _ in range(4):
                nonce = client.post(
                    f"{stripe['url']}/v1/ephemeral_key_nonces",
                    data={"issuing_card": ALICE_CARD},
                    headers=bearer(stripe["publishable_key"]),
                ).json()["id"]
                answers.append(
                    client.post(
                        f"{url}/ephemeral-keys",
                        headers=bearer(ALICE),
                        json={"card_id": ALICE_CARD, "nonce": nonce},
                    )
                )
            # The key opens the card on the stand-in: it was issued there.
            secret = answers[-1].json()["ephemeralKeySecret"]
            card = client.get(
                f"{stripe['url']}/v1/issuing/cards/{ALICE_CARD}",
                headers={**bearer(secret), "Stripe-Version": "2020-03-02"},
            )

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    assert (card.status_code, card.json()["id"]) == (200, ALICE_CARD)
