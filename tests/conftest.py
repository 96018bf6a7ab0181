"""Fixtures shared by the library's own tests.

- ``fake``: a running `FakeStripe` holding the cards of ``fake_cards`` (a
  module overrides ``fake_cards`` to hold others), spoken to over real HTTP.
- ``stripe_client`` / ``issuer``: a real StripeClient over real HTTP to
  pytest-httpserver, and an issuer on it.
- ``twin``: every test that takes it runs twice, on the sync method and on its
  async twin (`Twin.call`).
- ``door``: every test that takes it runs on each key door (web, mobile);
  ``any_door`` adds the Account Session door (`Door.knock`).
- ``redis_server`` / ``redis_client`` / ``redis_to_stop``: real redis-servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import stripe
from pytest_httpserver import HTTPServer

from doors_and_twins import MOBILE, SESSIONS, WEB, Door, Twin
from issuing_elements import EphemeralKeyIssuer, Grant
from issuing_elements.testing import FakeStripe
from redis_server import RedisServer
from socket_stand_ins import SilentServer
from stripe_wire import API_KEY, CARD, Card, owner_of


@pytest.fixture
def fake_cards() -> list[Card]:
    """The cards ``fake`` holds: CARD, on the platform. A module overrides it."""
    return [Card(CARD)]


@pytest.fixture
def fake(fake_cards: list[Card]) -> Iterator[FakeStripe]:
    """A running FakeStripe holding ``fake_cards``, stopped after the test."""
    with FakeStripe() as running:
        for card in fake_cards:
            running.add_card(card.id, account=card.account, cardholder=card.holder)
        yield running


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> Iterator[Twin]:
    """The test runs on the sync methods and on their async twins (one loop)."""
    chosen = Twin(is_async=request.param)
    yield chosen
    chosen.close()


@pytest.fixture(params=[WEB, MOBILE], ids=["web", "mobile"])
def door(request: pytest.FixtureRequest) -> Door:
    """The test runs on each key door: the page's and the mobile app's."""
    chosen: Door = request.param
    return chosen


@pytest.fixture(params=[WEB, MOBILE, SESSIONS], ids=["web", "mobile", "sessions"])
def any_door(request: pytest.FixtureRequest) -> Door:
    """The test runs on every door that answers a browser or an app."""
    chosen: Door = request.param
    return chosen


@pytest.fixture
def stripe_http() -> Iterator[stripe.HTTPXClient]:
    """stripe-python's httpx transport (sync and async), closed afterwards."""
    http = stripe.HTTPXClient(timeout=2, allow_sync_methods=True)
    yield http
    http.close()  # type: ignore[no-untyped-call]  # stripe-python is untyped here


@pytest.fixture
def stripe_client(
    httpserver: HTTPServer, stripe_http: stripe.HTTPXClient
) -> stripe.StripeClient:
    """A real StripeClient speaking HTTP to pytest-httpserver."""
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": httpserver.url_for("").rstrip("/")},
        http_client=stripe_http,
    )


@pytest.fixture
def issuer(stripe_client: stripe.StripeClient) -> EphemeralKeyIssuer[str]:
    """Alice owns CARD on the platform; retries off so faults answer at once."""
    return EphemeralKeyIssuer(
        stripe_client,
        owner_of({CARD: Grant()}),
        api_version="2020-03-02",
        max_network_retries=0,
    )


@pytest.fixture
def no_retry_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """stripe-python pauses (0.5 s and more) between attempts; not in this test."""
    monkeypatch.setattr(
        stripe._http_client.HTTPClient, "_sleep_time_seconds", lambda *_: 0
    )


@pytest.fixture
def stalled() -> Iterator[SilentServer]:
    """A server that accepts connections and never answers: a stalled Redis."""
    with SilentServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(
    require_system_once: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisServer]:
    """One real redis-server for the session, on a free loopback port."""
    server = RedisServer(
        require_system_once("redis-server"), tmp_path_factory.mktemp("redis")
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A blocking client to the session's redis-server, emptied before the test."""
    with redis_server.client() as client:
        client.flushall()
        yield client


@pytest.fixture
def redis_to_stop(
    require_system: Callable[[str], str], tmp_path: Path
) -> Iterator[RedisServer]:
    """A redis-server of the test's own, which the test may stop."""
    server = RedisServer(require_system("redis-server"), tmp_path)
    server.start()
    yield server
    server.stop()
