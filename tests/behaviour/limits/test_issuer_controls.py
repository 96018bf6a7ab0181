"""The issuer with its production controls: rate limits and the key ledger.

The controls are the real ones (the ledger in memory and in a real Redis;
``test_rate_limit.py`` runs the limiters against Redis); Stripe is ``FakeStripe``,
spoken to by the real stripe SDK over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from doors_and_twins import Twin
from issuing_elements import (
    AuditEvent,
    EphemeralKeyIssuer,
    Grant,
    KeyLedger,
    KeyRequest,
    LiveKey,
    MemoryKeyLedger,
    MemoryRateLimiter,
    RateLimit,
    RedisKeyLedger,
    RedisRateLimiter,
)
from issuing_elements.exceptions import (
    ConfigurationError,
    InvalidRequestError,
    ServiceUnavailableError,
)
from issuing_elements.testing import FakeStripe
from redis_server import RedisServer
from stripe_wire import Card

ALICE_CARD = "ic_aliceCard"
ALICE_CONNECTED_CARD = "ic_aliceConnected"
BOB_CARD = "ic_bobCard"
ACCOUNT = "acct_1AliceConnected"
JSON = "application/json"

OWNERS = {
    ALICE_CARD: ("alice", None),
    ALICE_CONNECTED_CARD: ("alice", ACCOUNT),
    BOB_CARD: ("bob", None),
}


def authorize(user: str, request: KeyRequest) -> Grant | None:
    owner, account = OWNERS.get(request.card_id, (None, None))
    return Grant(stripe_account=account) if owner == user else None


@pytest.fixture
def fake_cards() -> list[Card]:
    return [Card(card, account) for card, (_, account) in OWNERS.items()]


@pytest.fixture
def events() -> list[AuditEvent]:
    return []


def body(fake: FakeStripe, card_id: str) -> bytes:
    account = OWNERS[card_id][1]
    nonce = fake.create_nonce(card_id, account=account)
    return json.dumps({"card_id": card_id, "nonce": nonce}).encode()


def discard(event: AuditEvent) -> None:
    """An audit sink for tests about something else."""


def allow_all(user: object, request: KeyRequest) -> bool:
    return True


def redis_down() -> redis.Redis:
    """A client of a Redis that is not there, failing at once (no retries)."""
    return redis.Redis(
        port=closed_port(),
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )


def closed_port() -> int:
    """A loopback port nothing listens on: Redis 'down'."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- rate limits ----------------------------------------------------------


@pytest.fixture
def limited(fake: FakeStripe, events: list[AuditEvent]) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=events.append,
        rate_limiter=MemoryRateLimiter(per_user=RateLimit(limit=2, window_seconds=60)),
    )


def test_over_the_limit_is_429_with_retry_after_and_no_stripe_call(
    fake: FakeStripe,
    limited: EphemeralKeyIssuer[str],
    events: list[AuditEvent],
    twin: Twin,
) -> None:
    started = time.monotonic()
    answers = [
        twin.call(
            limited, "handle", "alice", body=body(fake, ALICE_CARD), content_type=JSON
        )
        for _ in range(3)
    ]
    # The window's 60 s, less the time these requests took (rounded up).
    took = math.ceil(time.monotonic() - started)

    assert [200, 200, 429] == [answer.status for answer in answers]
    assert "rate_limited" == json.loads(answers[2].body)["error"]["code"]
    assert 60 - took - 1 <= int(answers[2].headers["Retry-After"]) <= 60
    assert 2 == len(fake.keys)
    assert ["granted", "granted", "rate_limited"] == [e.outcome for e in events]
    assert ("alice", ALICE_CARD) == (events[2].user_id, events[2].card_id)


def test_requests_the_authorizer_denies_count_too(
    fake: FakeStripe, limited: EphemeralKeyIssuer[str]
) -> None:
    probes = [
        limited.handle("alice", body=body(fake, BOB_CARD), content_type=JSON).status
        for _ in range(2)
    ]

    own = limited.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert ([404, 404], 429) == (probes, own.status)
    assert [] == list(fake.keys)


def test_per_card_limit_holds_across_users(fake: FakeStripe) -> None:
    """Two users the authorizer allows (a shared card) share its budget."""
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        allow_all,
        audit=discard,
        rate_limiter=MemoryRateLimiter(per_card=RateLimit(limit=1, window_seconds=60)),
    )

    first = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)
    second = issuer.handle("bob", body=body(fake, ALICE_CARD), content_type=JSON)

    assert (200, 429) == (first.status, second.status)


def test_a_request_the_cards_budget_refuses_has_spent_the_users(
    fake: FakeStripe,
) -> None:
    """The user's budget is spent before the authorizer, the card's after it.

    So a request the card's budget refuses (429) has spent one of the
    user's: walking card ids costs the walker even where each card is full.
    """
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        allow_all,
        audit=discard,
        rate_limiter=MemoryRateLimiter(
            per_user=RateLimit(2, 3600), per_card=RateLimit(1, 3600)
        ),
    )

    answers = [
        issuer.handle("alice", body=body(fake, card), content_type=JSON).status
        for card in (ALICE_CARD, ALICE_CARD, BOB_CARD)
    ]

    assert [200, 429, 429] == answers
    assert 1 == len(fake.keys)


def test_requests_the_authorizer_denies_leave_the_cards_budget(
    fake: FakeStripe,
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=discard,
        rate_limiter=MemoryRateLimiter(per_card=RateLimit(3, 3600)),
    )

    mallory = [
        issuer.handle("mallory", body=body(fake, ALICE_CARD), content_type=JSON).status
        for _ in range(3)
    ]
    alice = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert ([404, 404, 404], 200) == (mallory, alice.status)


def test_a_user_still_spends_their_own_budget_on_denied_requests(
    fake: FakeStripe,
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=discard,
        rate_limiter=MemoryRateLimiter(
            per_user=RateLimit(3, 3600), per_card=RateLimit(3, 3600)
        ),
    )

    async def walk() -> list[int]:
        return [
            (
                await issuer.ahandle(
                    "mallory", body=body(fake, ALICE_CARD), content_type=JSON
                )
            ).status
            for _ in range(4)
        ]

    mallory = asyncio.run(walk())
    alice = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert ([404, 404, 404, 429], 200) == (mallory, alice.status)


def test_a_flood_of_denied_ids_leaves_a_spent_card_budget_spent(
    fake: FakeStripe,
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=discard,
        rate_limiter=MemoryRateLimiter(per_card=RateLimit(3, 3600), max_keys=50),
    )
    spent = [
        issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON).status
        for _ in range(3)
    ]
    flood = {
        issuer.handle(
            "mallory",
            body=json.dumps(
                {"card_id": f"ic_random{number}", "nonce": "ephkn_pub_x"}
            ).encode(),
            content_type=JSON,
        ).status
        for number in range(500)
    }

    after = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert ([200, 200, 200], {404}, 429) == (spent, flood, after.status)


def test_a_full_memory_limiter_answers_503_with_one_error_line(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture, events: list[AuditEvent]
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=events.append,
        rate_limiter=MemoryRateLimiter(per_card=RateLimit(1, 60), max_keys=1),
    )
    issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)
    caplog.clear()

    answer = issuer.handle("bob", body=body(fake, BOB_CARD), content_type=JSON)

    errors = [
        record.getMessage()
        for record in caplog.records
        if record.name == "issuing_elements" and record.levelname == "ERROR"
    ]
    assert (503, "service_unavailable", 1, 1, "service_unavailable") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
        len(errors),
        len(fake.keys),
        events[-1].outcome,
    )
    assert "max_keys=1 cards" in errors[0]


def test_malformed_and_anonymous_requests_are_refused_before_counting(
    fake: FakeStripe, limited: EphemeralKeyIssuer[str]
) -> None:
    for _ in range(3):
        assert 400 == limited.handle("alice", body=b"{}", content_type=JSON).status
        assert 401 == limited.handle(None, body=b"{}", content_type=JSON).status

    granted = limited.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert 200 == granted.status


def test_unreachable_redis_limiter_fails_closed_with_503(
    fake: FakeStripe, events: list[AuditEvent]
) -> None:
    down = redis_down()
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=events.append,
        rate_limiter=RedisRateLimiter(down, per_user=RateLimit(2, 60)),
    )

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert (503, "service_unavailable") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
    )
    assert "Retry-After" in answer.headers
    assert [] == list(fake.keys)
    assert ["service_unavailable"] == [event.outcome for event in events]


@pytest.mark.parametrize("store", ["rate limiter", "key ledger"])
def test_an_unreachable_redis_is_said_on_the_operators_log(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture, store: str
) -> None:
    """A custom audit sink must not be the only one to hear of the outage."""
    down = redis_down()
    controls: dict[str, object] = (
        {"rate_limiter": RedisRateLimiter(down, per_user=RateLimit(2, 60))}
        if store == "rate limiter"
        else {"key_ledger": RedisKeyLedger(down)}
    )
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=discard,
        **controls,  # type: ignore[arg-type]  # one control per case
    )

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "issuing_elements" and record.levelname == "ERROR"
    ]
    assert (503, 1, []) == (
        answer.status,
        sum(f"The {store} failed:" in line and "Redis" in line for line in lines),
        [key.id for key in fake.keys if key.revoked_at is None],
    )


def test_unreachable_redis_limiter_may_fail_open_when_asked(fake: FakeStripe) -> None:
    down = redis_down()
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=discard,
        rate_limiter=RedisRateLimiter(down, per_user=RateLimit(2, 60), fail_open=True),
    )

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert 200 == answer.status


class StoreDown:
    """An application's own rate limiter that does not fail open: its store is down."""

    fail_open = False
    in_process = False  # a store of its own, called within the deadline

    def hit_user(self, _user_id: str) -> float | None:
        raise ServiceUnavailableError("The application's limiter store is down.")

    async def ahit_user(self, user_id: str) -> float | None:
        return self.hit_user(user_id)

    def hit_card(self, _card_id: str) -> float | None:
        raise ServiceUnavailableError("The application's limiter store is down.")

    async def ahit_card(self, card_id: str) -> float | None:
        return self.hit_card(card_id)


def test_an_applications_own_limiter_whose_store_fails_fails_closed(
    fake: FakeStripe, events: list[AuditEvent]
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize, audit=events.append, rate_limiter=StoreDown()
    )

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert (503, "service_unavailable", [], ["service_unavailable"]) == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
        list(fake.keys),
        [event.outcome for event in events],
    )


class Account:
    """A user object that is neither a string nor an integer."""


def test_limiter_without_a_name_for_the_user_fails_closed(fake: FakeStripe) -> None:
    issuer: EphemeralKeyIssuer[Account] = EphemeralKeyIssuer(
        fake.client(),
        allow_all,
        audit=discard,
        rate_limiter=MemoryRateLimiter(per_user=RateLimit(2, 60)),
    )

    answer = issuer.handle(Account(), body=body(fake, ALICE_CARD), content_type=JSON)

    assert 500 == answer.status
    assert [] == list(fake.keys)


# -- the key ledger -------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def ledger(request: pytest.FixtureRequest) -> KeyLedger:
    """The same ledger tests in memory and against a real redis-server."""
    if request.param == "memory":
        return MemoryKeyLedger()
    client: redis.Redis = request.getfixturevalue("redis_client")
    return RedisKeyLedger(client)


@pytest.fixture
def remembering(
    fake: FakeStripe, events: list[AuditEvent], ledger: KeyLedger
) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        fake.client(),
        authorize,
        audit=events.append,
        key_ledger=ledger,
        max_network_retries=0,
    )


def issue(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str], user: str, card: str
) -> str:
    account = OWNERS[card][1]
    key = issuer.issue(
        user, card_id=card, nonce=fake.create_nonce(card, account=account)
    )
    return key.id


def test_revoke_user_revokes_every_live_key_under_every_account(
    fake: FakeStripe, remembering: EphemeralKeyIssuer[str], events: list[AuditEvent]
) -> None:
    alices = [
        issue(fake, remembering, "alice", ALICE_CARD),
        issue(fake, remembering, "alice", ALICE_CONNECTED_CARD),
        issue(fake, remembering, "alice", ALICE_CARD),
    ]
    bobs = issue(fake, remembering, "bob", BOB_CARD)
    events.clear()

    revoked = remembering.revoke_user("alice")

    assert 3 == revoked
    assert sorted(alices) == sorted(key.id for key in fake.revoked_keys)
    assert not fake.key(bobs).revoked
    assert [("revoke", "revoked")] * 3 == [(e.action, e.outcome) for e in events]
    assert {None, ACCOUNT} == {e.stripe_account for e in events}
    assert 0 == remembering.revoke_user("alice")


def test_revoke_card_revokes_only_that_cards_keys(
    fake: FakeStripe, remembering: EphemeralKeyIssuer[str]
) -> None:
    card_keys = [
        issue(fake, remembering, "alice", ALICE_CONNECTED_CARD) for _ in range(2)
    ]
    other = issue(fake, remembering, "alice", ALICE_CARD)

    assert 2 == remembering.revoke_card(ALICE_CONNECTED_CARD)
    assert sorted(card_keys) == sorted(key.id for key in fake.revoked_keys)
    assert not fake.key(other).revoked


def test_a_key_revoked_already_is_not_counted_and_the_rest_go_on(
    fake: FakeStripe, remembering: EphemeralKeyIssuer[str], events: list[AuditEvent]
) -> None:
    gone = issue(fake, remembering, "alice", ALICE_CARD)
    live = issue(fake, remembering, "alice", ALICE_CONNECTED_CARD)
    remembering.revoke(gone)
    events.clear()

    assert 1 == remembering.revoke_user("alice")
    assert [gone, live] == [key.id for key in fake.revoked_keys]
    assert {"invalid_request", "revoked"} == {e.outcome for e in events}
    assert 0 == remembering.revoke_user("alice")


def test_a_key_stripe_no_longer_has_leaves_the_ledger(
    fake: FakeStripe, remembering: EphemeralKeyIssuer[str], ledger: KeyLedger
) -> None:
    gone = issue(fake, remembering, "alice", ALICE_CARD)
    remembering.revoke(gone)  # at Stripe only: the ledger still lists it

    revoked = remembering.revoke_user("alice")

    assert (0, [], []) == (
        revoked,
        ledger.keys_for_user("alice"),
        ledger.keys_for_card(ALICE_CARD),
    )


def test_a_refused_revocation_is_reported_kept_and_the_rest_go_on(
    fake: FakeStripe, remembering: EphemeralKeyIssuer[str], events: list[AuditEvent]
) -> None:
    first = issue(fake, remembering, "alice", ALICE_CARD)
    second = issue(fake, remembering, "alice", ALICE_CONNECTED_CARD)
    events.clear()
    fake.fail_next(500)

    revoked = remembering.revoke_user("alice")

    assert 1 == revoked
    assert ["stripe_unavailable", "revoked"] == [e.outcome for e in events]
    refused = events[0].key_id
    assert {first, second} == {refused, events[1].key_id}
    # The refused key stays in the ledger: the next call revokes it.
    assert 1 == remembering.revoke_user("alice")
    assert refused is not None
    assert fake.key(refused).revoked


def test_async_revocations_in_memory(fake: FakeStripe) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize, audit=discard, key_ledger=MemoryKeyLedger()
    )

    async def issue_then_revoke() -> tuple[int, int]:
        for card in (ALICE_CARD, ALICE_CONNECTED_CARD):
            nonce = fake.create_nonce(card, account=OWNERS[card][1])
            await issuer.aissue("alice", card_id=card, nonce=nonce)
        return (
            await issuer.arevoke_card(ALICE_CARD),
            await issuer.arevoke_user("alice"),
        )

    assert (1, 1) == asyncio.run(issue_then_revoke())
    assert 2 == len(fake.revoked_keys)


def test_async_revocations_in_redis(
    fake: FakeStripe, redis_server: RedisServer
) -> None:
    async def issue_then_revoke() -> tuple[int, int]:
        async with redis_server.async_client() as client:
            await client.flushall()
            issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
                fake.client(),
                authorize,
                audit=discard,
                key_ledger=RedisKeyLedger(client),
            )
            for card in (ALICE_CARD, ALICE_CONNECTED_CARD):
                nonce = fake.create_nonce(card, account=OWNERS[card][1])
                await issuer.aissue("alice", card_id=card, nonce=nonce)
            return (
                await issuer.arevoke_card(ALICE_CARD),
                await issuer.arevoke_user("alice"),
            )

    assert (1, 1) == asyncio.run(issue_then_revoke())
    assert 2 == len(fake.revoked_keys)


def test_revoke_user_without_a_ledger_is_a_configuration_error(
    fake: FakeStripe,
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize, audit=discard
    )

    with pytest.raises(ConfigurationError, match="key_ledger"):
        issuer.revoke_user("alice")


@pytest.mark.parametrize(
    ("bulk", "error"),
    [("revoke_user", ConfigurationError), ("revoke_card", InvalidRequestError)],
)
def test_an_empty_id_is_refused_and_lays_no_tombstone(
    remembering: EphemeralKeyIssuer[str],
    ledger: KeyLedger,
    bulk: str,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        getattr(remembering, bulk)("")

    assert not ledger.revoked_since(user_id="", card_id="", since=0)


def test_a_key_the_ledger_cannot_record_is_revoked_and_answers_503(
    fake: FakeStripe, events: list[AuditEvent]
) -> None:
    down = redis_down()
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize, audit=events.append, key_ledger=RedisKeyLedger(down)
    )

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert (503, "service_unavailable") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
    )
    [key] = fake.keys
    assert key.revoked
    assert [("issue", "service_unavailable"), ("revoke", "revoked")] == sorted(
        (e.action, e.outcome) for e in events
    )


# -- a bulk revocation while a request is in flight -----------------------


@pytest.mark.parametrize("bulk", ["revoke_user", "revoke_card"])
def test_a_key_in_flight_during_a_bulk_revocation_is_revoked_not_handed_out(
    fake: FakeStripe, ledger: KeyLedger, bulk: str
) -> None:
    at_stripe = threading.Event()

    def authorize_then_signal(user: str, request: KeyRequest) -> Grant | None:
        grant = authorize(user, request)
        at_stripe.set()  # the next step is Stripe, which holds the answer
        return grant

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize_then_signal, audit=discard, key_ledger=ledger
    )
    fake.delay_next(1.0)
    answers: list[int] = []
    request = threading.Thread(
        target=lambda: answers.append(
            issuer.handle(
                "alice", body=body(fake, ALICE_CARD), content_type=JSON
            ).status
        )
    )
    request.start()
    assert at_stripe.wait(10)

    revoked_then = (
        issuer.revoke_user("alice")
        if bulk == "revoke_user"
        else issuer.revoke_card(ALICE_CARD)
    )
    request.join(10)

    assert (0, [404], 1, []) == (
        revoked_then,
        answers,
        len(fake.keys),
        [key.id for key in fake.keys if key.revoked_at is None],
    )


def test_a_key_refused_in_flight_is_revoked_and_leaves_the_ledger(
    fake: FakeStripe, ledger: KeyLedger
) -> None:
    issuers: list[EphemeralKeyIssuer[str]] = []

    def authorize_during_revoke_user(user: str, request: KeyRequest) -> Grant | None:
        # revoke_user lands while this request is in flight, before its key.
        issuers[0].revoke_user(user)
        return authorize(user, request)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize_during_revoke_user, audit=discard, key_ledger=ledger
    )
    issuers.append(issuer)

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert (404, 1, [], []) == (
        answer.status,
        len(fake.keys),
        [key.id for key in fake.keys if key.revoked_at is None],
        ledger.keys_for_user("alice"),
    )


def test_an_async_key_refused_in_flight_leaves_the_ledger(fake: FakeStripe) -> None:
    ledger = MemoryKeyLedger()
    issuers: list[EphemeralKeyIssuer[str]] = []

    async def authorize_during_revoke_user(
        user: str, request: KeyRequest
    ) -> Grant | None:
        await issuers[0].arevoke_user(user)
        return authorize(user, request)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize_during_revoke_user, audit=discard, key_ledger=ledger
    )
    issuers.append(issuer)

    answer = asyncio.run(
        issuer.ahandle("alice", body=body(fake, ALICE_CARD), content_type=JSON)
    )

    assert (404, [], []) == (
        answer.status,
        [key.id for key in fake.keys if key.revoked_at is None],
        ledger.keys_for_user("alice"),
    )


def test_an_async_key_in_flight_during_revoke_user_is_revoked(
    fake: FakeStripe,
) -> None:
    ledger = MemoryKeyLedger()

    async def race() -> tuple[int, int]:
        at_stripe = asyncio.Event()

        async def authorize_then_signal(user: str, request: KeyRequest) -> Grant | None:
            at_stripe.set()
            return authorize(user, request)

        issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            fake.client(), authorize_then_signal, audit=discard, key_ledger=ledger
        )
        fake.delay_next(1.0)
        pending = asyncio.ensure_future(
            issuer.ahandle("alice", body=body(fake, ALICE_CARD), content_type=JSON)
        )
        await asyncio.wait_for(at_stripe.wait(), 10)
        revoked = await issuer.arevoke_user("alice")
        return revoked, (await pending).status

    assert ((0, 404), []) == (
        asyncio.run(race()),
        [key.id for key in fake.keys if key.revoked_at is None],
    )


class HeldLedger(MemoryKeyLedger):
    """A memory ledger that holds one side of the race after its first call.

    The request's side calls `record` and `revoked_since`; the bulk
    revocation's calls `mark_revoked` and then reads. Whichever of its two
    calls *side* makes first, the ledger answers it, then holds that thread
    until `released` is set: the other side runs whole in between.
    """

    def __init__(self, side: str) -> None:
        super().__init__()
        self.side = side
        self.held = threading.Event()
        self.released = threading.Event()

    def _between(self, side: str) -> None:
        if side == self.side and not self.held.is_set():
            self.held.set()
            assert self.released.wait(60)

    def record(self, key: LiveKey) -> None:
        super().record(key)
        self._between("request")

    def revoked_since(self, *, user_id: str, card_id: str, since: float) -> bool:
        seen = super().revoked_since(user_id=user_id, card_id=card_id, since=since)
        self._between("request")
        return seen

    def mark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        laid = super().mark_revoked(user_id=user_id, card_id=card_id)
        self._between("bulk")
        return laid

    def keys_for_user(self, user_id: str) -> list[LiveKey]:
        found = super().keys_for_user(user_id)
        self._between("bulk")
        return found

    def keys_for_card(self, card_id: str) -> list[LiveKey]:
        found = super().keys_for_card(card_id)
        self._between("bulk")
        return found


def bulk_revocation(issuer: EphemeralKeyIssuer[str], bulk: str) -> int:
    if bulk == "revoke_user":
        return issuer.revoke_user("alice")
    return issuer.revoke_card(ALICE_CARD)


@pytest.mark.parametrize("bulk", ["revoke_user", "revoke_card"])
def test_a_bulk_revocation_between_a_requests_two_ledger_calls_revokes_its_key(
    fake: FakeStripe, bulk: str
) -> None:
    """The request records its key, then looks for a tombstone: never the other way."""
    ledger = HeldLedger("request")
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize, audit=discard, key_ledger=ledger
    )
    answers: list[int] = []
    request = threading.Thread(
        target=lambda: answers.append(
            issuer.handle(
                "alice", body=body(fake, ALICE_CARD), content_type=JSON
            ).status
        )
    )
    request.start()
    assert ledger.held.wait(60)

    revoked = bulk_revocation(issuer, bulk)
    ledger.released.set()
    request.join(60)

    assert (1, [404], []) == (
        revoked,
        answers,
        [key.id for key in fake.keys if key.revoked_at is None],
    )


@pytest.mark.parametrize("bulk", ["revoke_user", "revoke_card"])
def test_a_request_between_a_bulk_revocations_two_ledger_calls_is_refused(
    fake: FakeStripe, bulk: str
) -> None:
    """The revocation lays its tombstone, then reads the ledger: never the other way."""
    ledger = HeldLedger("bulk")
    asked = threading.Event()

    def authorize_once_revoking(user: str, request: KeyRequest) -> Grant | None:
        # The request began before the revocation, and goes on while it is held.
        asked.set()
        assert ledger.held.wait(60)
        return authorize(user, request)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize_once_revoking, audit=discard, key_ledger=ledger
    )
    answers: list[int] = []
    request = threading.Thread(
        target=lambda: answers.append(
            issuer.handle(
                "alice", body=body(fake, ALICE_CARD), content_type=JSON
            ).status
        )
    )
    request.start()
    assert asked.wait(60)
    revoking = threading.Thread(target=lambda: bulk_revocation(issuer, bulk))
    revoking.start()

    request.join(60)
    ledger.released.set()
    revoking.join(60)

    assert ([404], 1, []) == (
        answers,
        len(fake.keys),
        [key.id for key in fake.keys if key.revoked_at is None],
    )


def test_a_request_that_starts_after_the_revocation_gets_its_key(
    fake: FakeStripe, ledger: KeyLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize, audit=discard, key_ledger=ledger
    )
    issuer.revoke_user("alice")
    # Past the clocks' margin: the tombstone is older than this request.
    later = time.time() + 2
    monkeypatch.setattr(time, "time", lambda: later)

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert 200 == answer.status


def test_a_tombstone_within_the_clocks_margin_before_a_request_still_counts(
    fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    laid = time.time()
    # The process that revoked keeps a clock half a second behind this one's.
    ledger = MemoryKeyLedger(clock=lambda: laid)
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), authorize, audit=discard, key_ledger=ledger
    )
    issuer.revoke_user("alice")
    monkeypatch.setattr(time, "time", lambda: laid + 0.5)

    answer = issuer.handle("alice", body=body(fake, ALICE_CARD), content_type=JSON)

    assert (404, []) == (
        answer.status,
        [key.id for key in fake.keys if key.revoked_at is None],
    )
