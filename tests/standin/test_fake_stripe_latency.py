"""FakeStripe's steady latency and its count of accepted connections."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
import stripe

from issuing_elements.testing import FakeStripe

CARD = "ic_card1"
VERSION = "2020-03-02"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        fake.add_card(CARD)
        yield fake


def create(fake: FakeStripe, client: stripe.StripeClient) -> stripe.EphemeralKey:
    return client.v1.ephemeral_keys.create(
        params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
        options={"stripe_version": VERSION},
    )


async def acreate(fake: FakeStripe, client: stripe.StripeClient) -> object:
    return await client.v1.ephemeral_keys.create_async(
        params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
        options={"stripe_version": VERSION},
    )


def test_latency_is_off_by_default(fake: FakeStripe) -> None:
    assert 0.0 == fake.latency


def test_latency_from_the_constructor_holds_every_key_call() -> None:
    with FakeStripe(latency=0.2) as fake:
        fake.add_card(CARD)
        client = fake.client()
        spent = []
        for _ in range(2):
            started = time.monotonic()
            create(fake, client)
            spent.append(time.monotonic() - started)

    assert ([True, True], [None, None]) == (
        [each >= 0.2 for each in spent],
        [request.fault for request in fake.requests],
    )


def test_set_latency_changes_it(fake: FakeStripe) -> None:
    fake.set_latency(0.25)
    started = time.monotonic()

    create(fake, fake.client())

    assert (0.25, True) == (fake.latency, time.monotonic() - started >= 0.25)


def test_delay_next_adds_to_the_latency(fake: FakeStripe) -> None:
    fake.set_latency(0.2)
    fake.delay_next(0.2)
    started = time.monotonic()

    create(fake, fake.client())

    assert (True, "delay 0.2s") == (
        time.monotonic() - started >= 0.4,
        fake.requests[-1].fault,
    )


def test_latency_beyond_the_client_timeout_is_an_api_connection_error(
    fake: FakeStripe,
) -> None:
    fake.set_latency(5)

    with pytest.raises(stripe.APIConnectionError):
        create(fake, fake.client(timeout=0.2))


def test_latency_skips_the_browser_endpoints(fake: FakeStripe) -> None:
    fake.set_latency(30)
    request = urllib.request.Request(  # noqa: S310 - the fake's own URL
        f"{fake.url}/v1/ephemeral_key_nonces",
        data=urlencode({"issuing_card": CARD}).encode(),
        headers={"Authorization": f"Bearer {fake.publishable_key}"},
    )

    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - same
        status = answer.status

    assert 200 == status


def test_calls_wait_out_the_latency_side_by_side() -> None:
    # One after the other, 50 calls at 1 s would take 50 s: half of that is a
    # margin a machine at load 8 on 2 cores keeps, and still tells them apart.
    with FakeStripe(latency=1.0) as fake:
        fake.add_card(CARD)
        client = fake.client(timeout=60)

        async def burst() -> None:
            await asyncio.gather(*(acreate(fake, client) for _ in range(50)))

        started = time.monotonic()
        asyncio.run(burst())
        spent = time.monotonic() - started

    assert (50, True) == (len(fake.keys), spent < 50 * fake.latency / 2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FakeStripe(latency=-0.1), "latency must not be negative"),
        (lambda: FakeStripe().set_latency(-1), "seconds must not be negative"),
    ],
)
def test_negative_latency_is_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]  # a lambda


def test_no_connections_before_start() -> None:
    assert 0 == FakeStripe().connections


def test_a_kept_alive_connection_counts_once(fake: FakeStripe) -> None:
    client = fake.client()  # sync calls share one httpx connection

    for _ in range(3):
        create(fake, client)

    assert (3, 1) == (len(fake.keys), fake.connections)


def test_each_new_connection_counts(fake: FakeStripe) -> None:
    client = fake.client()  # each async call opens a connection of its own

    async def three() -> None:
        for _ in range(3):
            await acreate(fake, client)

    asyncio.run(three())

    assert (3, 3) == (len(fake.keys), fake.connections)


def test_a_connection_without_a_request_counts(fake: FakeStripe) -> None:
    address = urlsplit(fake.url)
    with socket.create_connection((address.hostname or "", address.port or 0)):
        deadline = time.monotonic() + 5
        while fake.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    assert 1 == fake.connections
