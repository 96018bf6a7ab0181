"""FakeStripe's card lifecycle: status updates, card lists, and signed events.

Driven with the real stripe-python over HTTP; the events are received by
pytest-httpserver and checked with stripe-python's own webhook verification,
so the stand-in signs as Stripe does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
import stripe
from werkzeug import Response

from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_httpserver import HTTPServer
    from werkzeug import Request

SECRET = "whsec_fakeStandInEventsTest"
HOLDER = "ich_fakeHolder"
CARDS = ["ic_fakeOne", "ic_fakeTwo", "ic_fakeThree"]
CONNECTED_CARD = "ic_fakeConnected"
CONNECTED_HOLDER = "ich_fakeConnectedHolder"
ACCOUNT = "acct_fakeConnected"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        for card in CARDS:
            fake.add_card(card, cardholder=HOLDER)
        fake.add_card("ic_fakeNoHolder")
        fake.add_card(CONNECTED_CARD, account=ACCOUNT, cardholder=CONNECTED_HOLDER)
        yield fake


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return fake.client(max_network_retries=0)


def test_a_card_update_makes_an_event_in_stripes_shape(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    card = client.v1.issuing.cards.update(
        CARDS[0], params={"status": "canceled", "cancellation_reason": "stolen"}
    )

    (event,) = fake.events
    body = event.payload()
    assert ("canceled", "stolen") == (card.status, card.cancellation_reason)
    assert (
        "event",
        "issuing_card.updated",
        CARDS[0],
        "canceled",
        "stolen",
        HOLDER,
        {"status": "active", "cancellation_reason": None},
        False,
        "account" in body,
    ) == (
        body["object"],
        body["type"],
        body["data"]["object"]["id"],
        body["data"]["object"]["status"],
        body["data"]["object"]["cancellation_reason"],
        body["data"]["object"]["cardholder"]["id"],
        body["data"]["previous_attributes"],
        body["livemode"],
        False,
    )
    assert event.id == body["id"]
    assert event.id.startswith("evt_")
    assert isinstance(body["created"], int)
    assert isinstance(body["api_version"], str)


def test_a_connected_accounts_event_names_the_account(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    client.v1.issuing.cards.update(
        CONNECTED_CARD,
        params={"status": "inactive"},
        options={"stripe_account": ACCOUNT},
    )

    assert [ACCOUNT] == [event.payload()["account"] for event in fake.events]


def test_a_card_is_updated_on_its_own_account_only(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.issuing.cards.update(CONNECTED_CARD, params={"status": "inactive"})

    assert (404, "resource_missing") == (refused.value.http_status, refused.value.code)
    assert () == fake.events


def test_an_update_that_changes_nothing_makes_no_event(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    client.v1.issuing.cards.update(CARDS[0], params={"status": "active"})

    assert () == fake.events


@pytest.mark.parametrize(
    "params",
    [
        {"status": "frozen"},
        {"status": "inactive", "cancellation_reason": "lost"},
        {"nickname": "x"},
    ],
)
def test_a_bad_card_update_is_refused(
    fake: FakeStripe, client: stripe.StripeClient, params: dict[str, str]
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.issuing.cards.update(CARDS[0], params=params)  # type: ignore[arg-type]  # the point

    assert () == fake.events


def test_a_canceled_card_stays_canceled(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    client.v1.issuing.cards.update(CARDS[0], params={"status": "canceled"})

    with pytest.raises(stripe.InvalidRequestError, match="cannot be reactivated"):
        client.v1.issuing.cards.update(CARDS[0], params={"status": "active"})


def test_a_cardholder_is_deactivated_by_the_api_and_blocked_by_stripe(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    holder = client.v1.issuing.cardholders.update(HOLDER, params={"status": "inactive"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.issuing.cardholders.update(HOLDER, params={"status": "blocked"})  # type: ignore[typeddict-item]  # Stripe's own rule
    fake.block_cardholder(HOLDER)

    assert "inactive" == holder.status
    assert [
        ("issuing_cardholder.updated", "inactive", {"status": "active"}),
        ("issuing_cardholder.updated", "blocked", {"status": "inactive"}),
    ] == [
        (
            e.type,
            e.payload()["data"]["object"]["status"],  # type: ignore[index]
            e.payload()["data"]["previous_attributes"],  # type: ignore[index]
        )
        for e in fake.events
    ]


def test_a_cardholders_cards_are_listed_page_by_page(
    client: stripe.StripeClient,
) -> None:
    first = client.v1.issuing.cards.list(params={"cardholder": HOLDER, "limit": 2})
    second = client.v1.issuing.cards.list(
        params={"cardholder": HOLDER, "limit": 2, "starting_after": first.data[-1].id}
    )

    assert (CARDS[:2], True, CARDS[2:], False) == (
        [card.id for card in first.data],
        first.has_more,
        [card.id for card in second.data],
        second.has_more,
    )


def test_cards_are_listed_on_their_own_account(client: stripe.StripeClient) -> None:
    platform = client.v1.issuing.cards.list(params={"cardholder": CONNECTED_HOLDER})
    connected = client.v1.issuing.cards.list(
        params={"cardholder": CONNECTED_HOLDER}, options={"stripe_account": ACCOUNT}
    )

    assert ([], [CONNECTED_CARD]) == (
        [card.id for card in platform.data],
        [card.id for card in connected.data],
    )


@pytest.mark.parametrize("limit", [0, 101])
def test_a_limit_out_of_stripes_range_is_refused(
    client: stripe.StripeClient, limit: int
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.issuing.cards.list(params={"cardholder": HOLDER, "limit": limit})


def receive(httpserver: HTTPServer, received: list[Request], status: int = 200) -> str:
    def handler(request: Request) -> Response:
        received.append(request)
        return Response('{"received": true}', status, content_type="application/json")

    httpserver.expect_request("/events", method="POST").respond_with_handler(handler)
    return httpserver.url_for("/events")


def test_events_are_posted_signed_as_stripe_signs_them(
    fake: FakeStripe, client: stripe.StripeClient, httpserver: HTTPServer
) -> None:
    received: list[Request] = []
    fake.deliver_events_to(receive(httpserver, received), SECRET)

    client.v1.issuing.cards.update(CARDS[1], params={"status": "inactive"})

    (request,) = received  # delivered before the update was answered
    body = request.get_data()
    signature = request.headers["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(body, signature, SECRET, 300)
    assert fake.events[0].body == body
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["User-Agent"].startswith("Stripe/1.0")
    (delivery,) = fake.deliveries
    assert (fake.events[0].id, 200, b'{"received": true}') == (
        delivery.event_id,
        delivery.status,
        delivery.body,
    )


def test_a_refused_event_can_be_delivered_again(
    fake: FakeStripe, client: stripe.StripeClient, httpserver: HTTPServer
) -> None:
    received: list[Request] = []
    fake.deliver_events_to(receive(httpserver, received, 503), SECRET)
    client.v1.issuing.cards.update(CARDS[1], params={"status": "inactive"})

    fake.redeliver(fake.events[0].id)

    assert [503, 503] == [delivery.status for delivery in fake.deliveries]
    assert 2 == len(received)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("http://127.0.0.1:1/x", None),
        (None, SECRET),
        ("ftp://127.0.0.1/x", SECRET),
        ("http://127.0.0.1:1/x", "sk_test_notAWebhookSecret"),
    ],
)
def test_a_webhook_needs_an_http_url_and_a_whsec_secret(
    url: str | None, secret: str | None
) -> None:
    with pytest.raises(ValueError, match="webhook"):
        FakeStripe(webhook_url=url, webhook_secret=secret)


def test_the_standalone_server_takes_the_event_flags(httpserver: HTTPServer) -> None:
    received: list[Request] = []
    url = receive(httpserver, received)
    argv = [sys.executable, "-m", "issuing_elements.testing", "--port", "0"]
    argv += ["--card", f"{CONNECTED_CARD}@{ACCOUNT}"]
    argv += ["--cardholder", f"{HOLDER}={CARDS[0]},{CARDS[1]}"]
    argv += ["--cardholder", f"{CONNECTED_HOLDER}={CONNECTED_CARD}"]
    argv += ["--webhook-url", url, "--webhook-secret", SECRET]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own interpreter
    try:
        assert process.stdout is not None
        line: dict[str, Any] = json.loads(process.stdout.readline())
        client = stripe.StripeClient(
            line["api_key"], base_addresses={"api": line["url"]}
        )
        listed = client.v1.issuing.cards.list(params={"cardholder": HOLDER})
        client.v1.issuing.cardholders.update(
            CONNECTED_HOLDER,
            params={"status": "inactive"},
            options={"stripe_account": ACCOUNT},
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    assert CARDS[:2] == [card.id for card in listed.data]
    (request,) = received
    body = request.get_data()
    assert stripe.WebhookSignature.verify_header(
        body, request.headers["Stripe-Signature"], SECRET, 300
    )
    assert ("issuing_cardholder.updated", ACCOUNT) == (
        json.loads(body)["type"],
        json.loads(body)["account"],
    )


@pytest.mark.parametrize(
    "arguments",
    [
        ["--cardholder", "ic_x=ic_y"],
        ["--cardholder", "ich_x"],
        ["--webhook-url", "http://127.0.0.1:1/x"],
        ["--webhook-url", "http://127.0.0.1:1/x", "--webhook-secret", "nope"],
    ],
)
def test_bad_event_flags_are_a_usage_error(arguments: list[str]) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "issuing_elements.testing", "--port", "0", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert 2 == done.returncode
