"""Fixtures for the library's own tests: a real StripeClient over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import stripe
from pytest_httpserver import HTTPServer

from issuing_elements import EphemeralKeyIssuer, Grant
from redis_server import RedisServer
from stripe_wire import API_KEY, CARD, owner_of


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
