"""FakeStripe's injected faults, as the real StripeClient experiences them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from typing_extensions import Unpack

from issuing_elements.testing import FakeStripe

CARD = "ic_card1"
VERSION = "2020-03-02"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        fake.add_card(CARD)
        yield fake


def create(
    fake: FakeStripe, **options: Unpack[stripe.RequestOptions]
) -> stripe.EphemeralKey:
    """One create call for CARD with a fresh nonce; *options* are request options."""
    return fake.client().v1.ephemeral_keys.create(
        params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
        options={"stripe_version": VERSION, **options},
    )


def answers(fake: FakeStripe) -> list[tuple[int | None, str | None]]:
    return [(request.status, request.fault) for request in fake.requests]


def test_503_then_success_with_one_retry(fake: FakeStripe) -> None:
    fake.fail_next(503)

    key = create(fake, max_network_retries=1)

    assert ([(503, "fail 503"), (200, None)], [key.id]) == (
        answers(fake),
        [record.id for record in fake.keys],
    )


def test_retry_reuses_the_idempotency_key(fake: FakeStripe) -> None:
    fake.fail_next(503)

    create(fake, max_network_retries=1)

    first, second = fake.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


def test_503_without_retries_is_an_api_error(fake: FakeStripe) -> None:
    fake.fail_next(503)

    with pytest.raises(stripe.APIError) as caught:
        create(fake)

    assert (503, "api_error") == (
        caught.value.http_status,
        caught.value.error and caught.value.error.type,
    )


def test_failure_does_not_use_the_nonce(fake: FakeStripe) -> None:
    fake.fail_next(500)
    nonce = fake.create_nonce(CARD)
    client = fake.client()
    params: stripe.params.EphemeralKeyCreateParams = {
        "issuing_card": CARD,
        "nonce": nonce,
    }
    with pytest.raises(stripe.APIError):
        client.v1.ephemeral_keys.create(params, {"stripe_version": VERSION})

    key = client.v1.ephemeral_keys.create(params, {"stripe_version": VERSION})

    assert nonce == fake.key(key.id).nonce


def test_stripe_should_retry_false_stops_the_retry(fake: FakeStripe) -> None:
    fake.fail_next(503, stripe_should_retry=False)

    with pytest.raises(stripe.APIError):
        create(fake, max_network_retries=1)

    assert [(503, "fail 503")] == answers(fake)


def test_stripe_should_retry_true_retries_a_400(fake: FakeStripe) -> None:
    fake.fail_next(400, stripe_should_retry=True)

    create(fake, max_network_retries=1)

    assert [(400, "fail 400"), (200, None)] == answers(fake)


def test_retry_after_is_sent(fake: FakeStripe) -> None:
    fake.fail_next(429, retry_after=7)

    with pytest.raises(stripe.RateLimitError) as caught:
        create(fake)

    assert "7" == (caught.value.headers or {})["Retry-After"]


def test_429_is_a_rate_limit_error(fake: FakeStripe) -> None:
    fake.fail_next(429)

    with pytest.raises(stripe.RateLimitError) as caught:
        create(fake)

    assert (429, "rate_limit") == (
        caught.value.http_status,
        caught.value.error and caught.value.error.code,
    )


def test_failure_code_and_message_can_be_chosen(fake: FakeStripe) -> None:
    fake.fail_next(403, code="platform_not_enabled", message="No Connect here.")

    with pytest.raises(stripe.PermissionError) as caught:
        create(fake)

    assert ("platform_not_enabled", "No Connect here.") == (
        caught.value.error and caught.value.error.code,
        caught.value.user_message,
    )


def test_times_repeats_the_fault(fake: FakeStripe) -> None:
    fake.fail_next(502, times=2)

    create(fake, max_network_retries=2)

    assert [502, 502, 200] == [request.status for request in fake.requests]


def test_faults_apply_in_the_order_given(fake: FakeStripe) -> None:
    fake.fail_next(500)
    fake.drop_next()

    create(fake, max_network_retries=2)

    assert [(500, "fail 500"), (None, "drop"), (200, None)] == answers(fake)


def test_dropped_connection_is_an_api_connection_error(fake: FakeStripe) -> None:
    fake.drop_next()

    with pytest.raises(stripe.APIConnectionError):
        create(fake)

    assert ([(None, "drop")], ()) == (answers(fake), fake.keys)


def test_dropped_connection_then_success_with_one_retry(fake: FakeStripe) -> None:
    fake.drop_next()

    key = create(fake, max_network_retries=1)

    assert [key.id] == [record.id for record in fake.keys]


def test_drop_after_processing_then_retry_replays_the_same_key(
    fake: FakeStripe,
) -> None:
    fake.drop_next(after_processing=True)

    key = create(fake, max_network_retries=1)

    assert ([key.id], [None, 200]) == (
        [record.id for record in fake.keys],
        [request.status for request in fake.requests],
    )


def test_delay_holds_the_answer(fake: FakeStripe) -> None:
    fake.delay_next(0.3)
    started = time.monotonic()

    create(fake)

    assert (True, "delay 0.3s") == (
        time.monotonic() - started >= 0.3,
        fake.requests[-1].fault,
    )


def test_delay_beyond_the_client_timeout_is_an_api_connection_error(
    fake: FakeStripe,
) -> None:
    fake.delay_next(5)
    client = fake.client(timeout=0.2)

    with pytest.raises(stripe.APIConnectionError):
        client.v1.ephemeral_keys.create(
            params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
            options={"stripe_version": VERSION},
        )

    assert 0 == fake.pending_faults


def test_async_create_retries_after_a_503(fake: FakeStripe) -> None:
    fake.fail_next(503)
    client = fake.client()

    key = asyncio.run(
        client.v1.ephemeral_keys.create_async(
            params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
            options={"stripe_version": VERSION, "max_network_retries": 1},
        )
    )

    assert ([(503, "fail 503"), (200, None)], [key.id]) == (
        answers(fake),
        [record.id for record in fake.keys],
    )


def test_async_dropped_connection_is_an_api_connection_error(fake: FakeStripe) -> None:
    fake.drop_next()
    client = fake.client()

    with pytest.raises(stripe.APIConnectionError):
        asyncio.run(
            client.v1.ephemeral_keys.create_async(
                params={"issuing_card": CARD, "nonce": fake.create_nonce(CARD)},
                options={"stripe_version": VERSION},
            )
        )

    assert [(None, "drop")] == answers(fake)


def test_faults_skip_the_browser_endpoints(fake: FakeStripe) -> None:
    key = create(fake)
    fake.fail_next(503)

    fake.client(api_key=str(key.secret)).v1.issuing.cards.retrieve(CARD)

    assert 1 == fake.pending_faults


def test_faults_apply_to_delete(fake: FakeStripe) -> None:
    key = create(fake)
    fake.fail_next(503)

    with pytest.raises(stripe.APIError):
        fake.client().v1.ephemeral_keys.delete(key.id)

    assert False is fake.key(key.id).revoked


def test_clear_faults_forgets_them(fake: FakeStripe) -> None:
    fake.fail_next(503, times=3)

    fake.clear_faults()

    assert 0 == fake.pending_faults


@pytest.mark.parametrize(
    ("inject", "message"),
    [
        (lambda fake: fake.fail_next(200), "status must be an HTTP error status"),
        (lambda fake: fake.fail_next(times=0), "times must be at least 1"),
        (lambda fake: fake.delay_next(-1), "seconds must not be negative"),
        (lambda fake: fake.drop_next(times=-2), "times must be at least 1"),
    ],
)
def test_nonsense_faults_are_refused(
    fake: FakeStripe, inject: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        inject(fake)
