"""Fixtures for the library's own tests: a real StripeClient over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe
from pytest_httpserver import HTTPServer

from issuing_elements import EphemeralKeyIssuer, Grant
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
