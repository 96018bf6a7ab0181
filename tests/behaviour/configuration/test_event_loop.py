"""Async on a changing event loop never loses a key (issue 9, item 2).

stripe-python's async HTTP clients keep their connections on the event loop
that first used them. A host that runs every request on a new loop (Django
async views under WSGI, ``asyncio.run`` per task) must get, from each call,
either a key or a clear refusal made before Stripe was called: never a 503
for a key that Stripe issued and nobody holds. FakeStripe speaks HTTP/1.1
and keeps connections alive, as Stripe does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
import stripe

from issuing_elements import EphemeralKeyIssuer, Grant
from issuing_elements.testing import FakeStripe
from stripe_wire import CARD, owner_of

JSON = "application/json"
RUNS = 20

ASYNC_CLIENTS = [
    pytest.param(stripe.HTTPXClient, id="HTTPXClient"),
    pytest.param(stripe.AIOHTTPClient, id="AIOHTTPClient"),
]


def on_new_loops(
    fake: FakeStripe, make_http: Callable[[], stripe.HTTPClient], runs: int
) -> list[tuple[int, str | None]]:
    """``runs`` requests with one client, each on a new event loop.

    The first loop is kept (not running) until the end, only so that the
    client's pool, which stays bound to it, can be closed there; every other
    request is a plain ``asyncio.run``.
    """
    http = make_http()
    issuer = EphemeralKeyIssuer(
        fake.client(http_client=http),
        owner_of({CARD: Grant()}),
        max_network_retries=0,
    )

    async def request() -> tuple[int, str | None]:
        body = json.dumps({"card_id": CARD, "nonce": fake.create_nonce(CARD)})
        response = await issuer.ahandle("alice", body=body.encode(), content_type=JSON)
        return response.status, json.loads(response.body).get("error", {}).get("code")

    with asyncio.Runner() as first_loop:
        answers = [first_loop.run(request())]
        answers += [asyncio.run(request()) for _ in range(runs - 1)]
        first_loop.run(http.close_async())  # type: ignore[no-untyped-call]  # untyped
    return answers


@pytest.mark.parametrize("make_http", ASYNC_CLIENTS)
def test_a_new_loop_per_request_gets_a_key_or_a_refusal_never_a_lost_key(
    fake: FakeStripe, make_http: Callable[[], stripe.HTTPClient]
) -> None:
    answers = on_new_loops(fake, make_http, RUNS)

    granted = answers.count((200, None))
    assert (RUNS, granted) == (
        granted + answers.count((500, "server_misconfigured")),
        len(fake.keys),
    )


@pytest.mark.parametrize("make_http", ASYNC_CLIENTS)
def test_the_first_loop_is_served_and_every_other_is_refused(
    fake: FakeStripe, make_http: Callable[[], stripe.HTTPClient]
) -> None:
    answers = on_new_loops(fake, make_http, 3)

    # Refused before calling Stripe: the one POST is the first loop's.
    assert ([200, 500, 500], ["POST"]) == (
        [status for status, _ in answers],
        [request.method for request in fake.requests],
    )


def test_the_refusal_names_the_fix(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    on_new_loops(fake, stripe.HTTPXClient, 2)

    [message] = [
        record.getMessage()
        for record in caplog.records
        if record.name == "issuing_elements" and record.levelname == "ERROR"
    ]
    assert "call the sync methods" in message


@pytest.mark.parametrize("make_http", ASYNC_CLIENTS)
def test_aissue_twice_on_the_same_loop(
    fake: FakeStripe, make_http: Callable[[], stripe.HTTPClient]
) -> None:
    http = make_http()
    issuer = EphemeralKeyIssuer(
        fake.client(http_client=http), owner_of({CARD: Grant()}), max_network_retries=0
    )

    async def twice() -> list[str]:
        try:
            return [
                (
                    await issuer.aissue(
                        "alice", card_id=CARD, nonce=fake.create_nonce(CARD)
                    )
                ).id
                for _ in range(2)
            ]
        finally:
            await http.close_async()  # type: ignore[no-untyped-call]  # untyped

    ids = asyncio.run(twice())

    assert ids == [key.id for key in fake.keys]
