"""Rate limits per user and per card, in memory and in a real redis-server."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator

import attrs
import pytest
import redis
import stripe

from doors_and_twins import Twin
from issuing_elements import (
    EphemeralKeyIssuer,
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
)
from issuing_elements._rate_limit import _seconds
from issuing_elements.exceptions import ConfigurationError, ServiceUnavailableError
from redis_server import RedisServer

Hit = Callable[[str], "float | None"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@attrs.frozen
class Hits:
    """One limiter's two budgets, each called as a plain ``hit(id)``."""

    user: Hit
    card: Hit


class Limiters:
    """Builds one kind of limiter (*store*) and calls it through `Hits`.

    The async twin runs every ``ahit_*`` on the twin's one loop, which lives
    as long as the test, as an application's would; the Redis kinds let real
    time pass.
    """

    def __init__(self, store: str, twin: Twin, server: RedisServer | None) -> None:
        self.store = store
        self.twin = twin
        self.server = server
        self.clock = FakeClock()
        self.async_clients: list[redis.asyncio.Redis] = []
        self.clients: list[redis.Redis] = []

    def make(
        self, *, per_user: RateLimit | None = None, per_card: RateLimit | None = None
    ) -> Hits:
        limiter: RateLimiter
        if self.store == "memory":
            limiter = MemoryRateLimiter(
                per_user=per_user, per_card=per_card, clock=self.clock
            )
        else:
            assert self.server is not None
            limiter = RedisRateLimiter(
                self._client(), per_user=per_user, per_card=per_card
            )
        return Hits(
            functools.partial(self.twin.call, limiter, "hit_user"),
            functools.partial(self.twin.call, limiter, "hit_card"),
        )

    def _client(self) -> redis.Redis | redis.asyncio.Redis:
        assert self.server is not None
        if not self.twin.is_async:
            client = self.server.client()
            self.clients.append(client)
            return client
        async_client = self.server.async_client()
        self.async_clients.append(async_client)
        return async_client

    def wait(self, seconds: float) -> None:
        if self.store == "memory":
            self.clock.now += seconds
        else:
            time.sleep(seconds)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for async_client in self.async_clients:
            self.twin.call(async_client, "close")  # redis.asyncio's aclose


@pytest.fixture(params=["memory", "redis"])
def limiters(request: pytest.FixtureRequest, twin: Twin) -> Iterator[Limiters]:
    server = None
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        request.getfixturevalue("redis_client")  # empties the server
    made = Limiters(request.param, twin, server)
    yield made
    made.close()


def allowed(hit: Hit, *ids: str) -> list[bool]:
    return [hit(one) is None for one in ids]


def test_the_user_limit_counts_each_request(limiters: Limiters) -> None:
    hits = limiters.make(per_user=RateLimit(3, 60))

    outcomes = allowed(hits.user, "alice", "alice", "alice", "alice")

    assert [True, True, True, False] == outcomes


def test_the_user_limit_leaves_other_users_alone(limiters: Limiters) -> None:
    hits = limiters.make(per_user=RateLimit(1, 60))

    outcomes = allowed(hits.user, "alice", "alice", "bob")

    assert [True, False, True] == outcomes


def test_the_card_limit_leaves_other_cards_alone(limiters: Limiters) -> None:
    hits = limiters.make(per_card=RateLimit(2, 60))

    outcomes = allowed(hits.card, "ic_1", "ic_1", "ic_1", "ic_2")

    assert [True, True, False, True] == outcomes


def test_the_two_budgets_are_spent_apart(limiters: Limiters) -> None:
    hits = limiters.make(per_user=RateLimit(1, 60), per_card=RateLimit(1, 60))

    # Alice's budget spent leaves the card's whole, and the other way round.
    outcomes = [
        hits.user("alice") is None,
        hits.user("alice") is None,
        hits.card("ic_1") is None,
        hits.card("ic_1") is None,
    ]

    assert [True, False, True, False] == outcomes


def test_a_budget_not_configured_always_allows(limiters: Limiters) -> None:
    hits = limiters.make(per_user=RateLimit(1, 60))

    assert [True, True, True] == allowed(hits.card, "ic_1", "ic_1", "ic_1")


def test_a_refused_request_is_not_recorded(limiters: Limiters) -> None:
    hits = limiters.make(per_user=RateLimit(2, 0.3))
    first = allowed(hits.user, "alice", "alice", "alice", "alice", "alice")

    limiters.wait(0.35)

    # Had the three refusals been recorded, the window would still be full.
    assert ([True, True, False, False, False], True) == (
        first,
        hits.user("alice") is None,
    )


def test_a_user_id_and_a_card_id_never_share_a_count(limiters: Limiters) -> None:
    hits = limiters.make(per_user=RateLimit(1, 60), per_card=RateLimit(1, 60))

    outcomes = [hits.user("ic_1") is None, hits.card("ic_1") is None]

    assert [True, True] == outcomes


def test_a_refusal_says_when_the_oldest_slot_frees(limiters: Limiters) -> None:
    hits = limiters.make(per_user=RateLimit(2, 60))
    started = time.monotonic()
    hits.user("alice")
    hits.user("alice")

    retry_after = hits.user("alice")

    # The window's 60 s, less what has passed since the first hit, at most.
    took = time.monotonic() - started
    assert retry_after is not None
    assert 60 - took <= retry_after <= 60


def test_a_slot_frees_when_the_window_passes(limiters: Limiters) -> None:
    hits = limiters.make(per_card=RateLimit(2, 0.3))
    hits.card("ic_1")
    hits.card("ic_1")
    refused = hits.card("ic_1")

    limiters.wait(0.35)

    assert (True, True) == (refused is not None, hits.card("ic_1") is None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_the_window_slides_from_each_request(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(per_user=RateLimit(2, 10), clock=clock)
    limiter.hit_user("alice")
    clock.now += 9
    limiter.hit_user("alice")
    clock.now += 1

    # The first request has left the window, the second not: one slot, then 9 s.
    assert [None, 9.0] == [limiter.hit_user("alice"), limiter.hit_user("alice")]


def test_the_retry_after_is_exact_in_memory(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(per_card=RateLimit(1, 30), clock=clock)
    limiter.hit_card("ic_1")
    clock.now += 10

    assert 20.0 == limiter.hit_card("ic_1")


# Memory stays bounded, and never forgets a window that has not passed


def test_memory_holds_only_the_users_of_the_last_window(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(per_user=RateLimit(10, 1.0), clock=clock)
    sizes = set()
    for number in range(200_000):
        clock.now += 2**-10  # exact in binary: 1024 requests a window
        limiter.hit_user(f"user-{number}")
        if number >= 1024 and number % 1000 == 0:
            sizes.add(limiter._sizes())

    assert {(1024, 0)} == sizes


def test_a_full_table_refuses_a_new_key_and_forgets_no_live_one(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = MemoryRateLimiter(per_card=RateLimit(1, 60), clock=clock, max_keys=2)
    limiter.hit_card("ic_1")
    clock.now += 10
    limiter.hit_card("ic_2")

    with pytest.raises(ServiceUnavailableError) as raised:
        limiter.hit_card("ic_3")

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (503, 50, 1) == (raised.value.status, raised.value.retry_after, len(errors))
    assert "max_keys=2 cards" in errors[0]
    # The two windows stand: each card's one slot is still spent.
    assert [50.0, 60.0, (0, 2)] == [
        limiter.hit_card("ic_1"),
        limiter.hit_card("ic_2"),
        limiter._sizes(),
    ]


def is_full(limiter: MemoryRateLimiter, card_id: str) -> bool:
    """Whether the card table refuses *card_id* for want of room."""
    try:
        limiter.hit_card(card_id)
    except ServiceUnavailableError:
        return True
    return False


def test_a_victims_spent_budget_survives_a_flood_of_new_ids(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(per_card=RateLimit(3, 3600), clock=clock, max_keys=100)
    spent = [limiter.hit_card("ic_victim") for _ in range(4)]
    refused = sum(is_full(limiter, f"ic_random{number}") for number in range(1000))

    assert ([None, None, None, 3600.0], 901, 3600.0) == (
        spent,
        refused,
        limiter.hit_card("ic_victim"),
    )


def test_the_default_table_holds_100_000_cards(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(per_card=RateLimit(1, 60), clock=clock)

    refused = [n for n in range(100_001) if is_full(limiter, f"ic_card{n}")]

    assert [100_000] == refused


def test_a_full_table_makes_room_as_windows_pass(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(per_user=RateLimit(1, 60), clock=clock, max_keys=1)
    limiter.hit_user("alice")
    clock.now += 60

    assert [None, (1, 0)] == [limiter.hit_user("bob"), limiter._sizes()]


def test_a_full_table_may_fail_open_when_asked(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = MemoryRateLimiter(
        per_user=RateLimit(1, 60), clock=clock, max_keys=1, fail_open=True
    )
    limiter.hit_user("alice")

    outcomes = [limiter.hit_user("bob"), limiter.hit_user("bob")]

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert ([None, None], 60.0, (1, 0), 2) == (
        outcomes,
        limiter.hit_user("alice"),
        limiter._sizes(),
        len(warnings),
    )
    assert "uncounted (fail_open=True)" in warnings[0]


@pytest.mark.parametrize(
    ("limiter", "missing"),
    [
        pytest.param(
            "earlier",
            "hit_user, ahit_user, hit_card, ahit_card. It has the hit(user_id, "
            "card_id) of earlier versions",
            id="hit and ahit only",
        ),
        pytest.param("half", "hit_card, ahit_card.", id="no card budget"),
    ],
)
def test_a_limiter_without_the_protocols_methods_is_refused(
    stripe_client: stripe.StripeClient, limiter: str, missing: str
) -> None:
    class Earlier:
        def hit(self, _user_id: str, _card_id: str) -> None: ...

        async def ahit(self, _user_id: str, _card_id: str) -> None: ...

    class Half:
        def hit_user(self, _user_id: str) -> None: ...

        async def ahit_user(self, _user_id: str) -> None: ...

    made = Earlier() if limiter == "earlier" else Half()

    with pytest.raises(ConfigurationError) as raised:
        EphemeralKeyIssuer(stripe_client, lambda _u, _r: True, rate_limiter=made)  # type: ignore[arg-type]  # wrong on purpose

    assert (
        "rate_limiter must implement hit_user, ahit_user, hit_card, ahit_card "
        f"(the RateLimiter protocol); {type(made).__name__} lacks {missing}"
    ) in str(raised.value)


class _Declaring:
    """A limiter of the protocol's four methods that allows everything."""

    def hit_user(self, _user_id: str) -> None: ...

    async def ahit_user(self, _user_id: str) -> None: ...

    def hit_card(self, _card_id: str) -> None: ...

    async def ahit_card(self, _card_id: str) -> None: ...


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"in_process": False}, "rate_limiter must declare fail_open = True or False"),
        ({"fail_open": False}, "rate_limiter must declare in_process = True or False"),
        (
            {"in_process": False, "fail_open": "yes"},
            "RateLimiter protocol); _Declaring.fail_open is 'yes'",
        ),
    ],
    ids=["no fail_open", "no in_process", "fail_open not a bool"],
)
def test_a_limiter_that_does_not_declare_itself_is_refused(
    stripe_client: stripe.StripeClient, declared: dict[str, object], message: str
) -> None:
    limiter = _Declaring()
    for name, value in declared.items():
        setattr(limiter, name, value)

    with pytest.raises(ConfigurationError) as raised:
        EphemeralKeyIssuer(stripe_client, lambda _u, _r: True, rate_limiter=limiter)  # type: ignore[arg-type]  # undeclared on purpose

    assert message in str(raised.value)


def test_a_limiter_that_declares_itself_is_accepted(
    stripe_client: stripe.StripeClient,
) -> None:
    limiter = _Declaring()
    limiter.in_process = True  # type: ignore[attr-defined]  # declared here
    limiter.fail_open = False  # type: ignore[attr-defined]  # declared here

    issuer = EphemeralKeyIssuer(
        stripe_client, lambda _u, _r: True, rate_limiter=limiter
    )  # type: ignore[arg-type]  # a plain class

    assert "EphemeralKeyIssuer(" in repr(issuer)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0, 60), "RateLimit.limit must be an int >= 1, not 0"),
        ((True, 60), "RateLimit.limit must be an int >= 1, not True"),
        ((2.5, 60), "RateLimit.limit must be an int >= 1, not 2.5"),
        ((1, 0), "RateLimit.window_seconds must be a finite number > 0, not 0"),
        ((1, -1.0), "RateLimit.window_seconds must be a finite number > 0, not -1.0"),
        ((1, float("inf")), "must be a finite number > 0, not inf"),
        ((1, "60"), "must be a finite number > 0, not '60'"),
    ],
)
def test_a_rate_limit_refuses_values_out_of_range(
    arguments: tuple[object, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RateLimit(*arguments)  # type: ignore[arg-type]  # wrong on purpose


def test_a_memory_limiter_needs_a_limit() -> None:
    with pytest.raises(ConfigurationError, match="per_user=RateLimit"):
        MemoryRateLimiter()


def test_a_limit_must_be_a_rate_limit() -> None:
    with pytest.raises(ConfigurationError, match="per_card must be a RateLimit"):
        MemoryRateLimiter(per_card=10)  # type: ignore[arg-type]  # wrong on purpose


def test_a_memory_limiter_needs_room_for_a_key() -> None:
    with pytest.raises(ConfigurationError, match="max_keys must be an int >= 1"):
        MemoryRateLimiter(per_user=RateLimit(1, 1), max_keys=0)


def test_a_redis_limiter_needs_a_limit(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigurationError, match="per_user=RateLimit"):
        RedisRateLimiter(redis_client)


def test_a_redis_limiter_needs_a_redis_client() -> None:
    with pytest.raises(ConfigurationError, match=r"needs a redis\.Redis .* not str"):
        RedisRateLimiter("redis://127.0.0.1:6379", per_user=RateLimit(1, 1))  # type: ignore[arg-type]  # on purpose


def test_a_redis_limiter_needs_a_prefix(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigurationError, match="prefix must be a non-empty str"):
        RedisRateLimiter(redis_client, per_user=RateLimit(1, 1), prefix="")


def test_the_limiters_show_their_limits(redis_client: redis.Redis) -> None:
    per_user = RateLimit(5, 60)
    shown = "per_user=RateLimit(limit=5, window_seconds=60), per_card=None"

    assert [
        f"MemoryRateLimiter({shown})",
        f"RedisRateLimiter({shown}, prefix='issuing_elements:rate:', fail_open=False)",
    ] == [
        repr(MemoryRateLimiter(per_user=per_user)),
        repr(RedisRateLimiter(redis_client, per_user=per_user)),
    ]


# Redis: what is stored, and for how long


def test_redis_keys_hash_the_ids_and_expire_with_the_window(
    redis_client: redis.Redis,
) -> None:
    limiter = RedisRateLimiter(
        redis_client, per_user=RateLimit(5, 60), per_card=RateLimit(5, 30)
    )
    started = time.monotonic()
    limiter.hit_user("alice@example.com")
    limiter.hit_card("ic_1")

    stored = {
        key.decode(): (redis_client.llen(key), redis_client.pttl(key))
        for key in redis_client.scan_iter()
    }
    # What has passed since the hit: the TTLs are that much shorter, at most.
    took = math.ceil((time.monotonic() - started) * 1000)

    assert [
        "issuing_elements:rate:c:<sha256>",
        "issuing_elements:rate:u:<sha256>",
    ] == sorted(re.sub("[0-9a-f]{64}$", "<sha256>", key) for key in stored)
    pttls = sorted(pttl for _, pttl in stored.values())
    assert 30_000 - took <= pttls[0] <= 30_000
    assert 60_000 - took <= pttls[1] <= 60_000


def test_a_redis_log_keeps_at_most_limit_timestamps(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, per_user=RateLimit(3, 0.5))
    outcomes = []
    for _ in range(5):
        # From the fourth on, each request frees the oldest slot: 0.6 s > 0.5 s.
        outcomes.append(limiter.hit_user("alice"))
        time.sleep(0.2)

    (key,) = redis_client.scan_iter()

    assert ([None] * 5, 3) == (outcomes, redis_client.llen(key))


def test_the_redis_limiter_prefix_places_its_keys(redis_client: redis.Redis) -> None:
    RedisRateLimiter(
        redis_client, per_user=RateLimit(1, 60), prefix="{app}:limits:"
    ).hit_user("alice")

    (key,) = redis_client.scan_iter()

    assert key.startswith(b"{app}:limits:u:")


def test_hit_refuses_an_asyncio_client(redis_server: RedisServer) -> None:
    async def call_hit() -> None:
        async with redis_server.async_client() as client:
            RedisRateLimiter(client, per_user=RateLimit(1, 1)).hit_user("alice")

    with pytest.raises(ConfigurationError, match=r"await RedisRateLimiter\.ahit_user"):
        asyncio.run(call_hit())


def test_ahit_refuses_a_blocking_client(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, per_user=RateLimit(1, 1))

    with pytest.raises(ConfigurationError, match=r"call RedisRateLimiter\.hit_card"):
        asyncio.run(limiter.ahit_card("ic_1"))


# Redis down


def test_a_stopped_redis_fails_closed(redis_to_stop: RedisServer) -> None:
    with redis_to_stop.client() as client:
        limiter = RedisRateLimiter(client, per_user=RateLimit(5, 60))
        limiter.hit_user("alice")
        redis_to_stop.stop()

        with pytest.raises(ServiceUnavailableError) as raised:
            limiter.hit_user("alice")

    assert (503, "service_unavailable") == (raised.value.status, raised.value.code)


def test_a_stopped_redis_fails_closed_for_ahit(redis_to_stop: RedisServer) -> None:
    async def after_stopping() -> float | None:
        async with redis_to_stop.async_client() as client:
            limiter = RedisRateLimiter(client, per_user=RateLimit(5, 60))
            await limiter.ahit_user("alice")
            redis_to_stop.stop()
            return await limiter.ahit_user("alice")

    with pytest.raises(ServiceUnavailableError):
        asyncio.run(after_stopping())


def test_a_stopped_redis_is_named_as_the_rate_limiters(
    redis_to_stop: RedisServer,
) -> None:
    with redis_to_stop.client() as client:
        limiter = RedisRateLimiter(client, per_user=RateLimit(5, 60))
        redis_to_stop.stop()

        with pytest.raises(ServiceUnavailableError) as raised:
            limiter.hit_user("alice")

    assert "the rate limiter's Redis failed" == str(raised.value).partition(": ")[0]


def test_a_stopped_redis_is_named_as_the_rate_limiters_for_ahit(
    redis_to_stop: RedisServer,
) -> None:
    async def after_stopping() -> float | None:
        async with redis_to_stop.async_client() as client:
            limiter = RedisRateLimiter(client, per_user=RateLimit(5, 60))
            redis_to_stop.stop()
            return await limiter.ahit_user("alice")

    with pytest.raises(ServiceUnavailableError) as raised:
        asyncio.run(after_stopping())

    assert "the rate limiter's Redis failed" == str(raised.value).partition(": ")[0]


def test_a_budget_not_configured_asks_redis_nothing(
    redis_to_stop: RedisServer,
) -> None:
    with redis_to_stop.client() as client:
        limiter = RedisRateLimiter(client, per_user=RateLimit(5, 60))
        redis_to_stop.stop()

        assert None is limiter.hit_card("ic_1")


def test_fail_open_allows_and_warns_when_redis_is_down(
    redis_to_stop: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with redis_to_stop.client() as client:
        limiter = RedisRateLimiter(client, per_user=RateLimit(1, 60), fail_open=True)
        limiter.hit_user("alice")
        redis_to_stop.stop()

        outcome = limiter.hit_user("alice")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert None is outcome
    assert 1 == len(warnings)
    assert "allowing the request (fail_open=True)" in warnings[0]


def test_fail_open_allows_ahit_when_redis_is_down(redis_to_stop: RedisServer) -> None:
    async def after_stopping() -> float | None:
        async with redis_to_stop.async_client() as client:
            limiter = RedisRateLimiter(
                client, per_user=RateLimit(1, 60), fail_open=True
            )
            await limiter.ahit_user("alice")
            redis_to_stop.stop()
            return await limiter.ahit_user("alice")

    assert None is asyncio.run(after_stopping())


# Concurrency: threads in one process, and processes sharing one Redis


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_threads_together_never_exceed_the_limit(
    kind: str, request: pytest.FixtureRequest
) -> None:
    limiter: RateLimiter
    if kind == "memory":
        limiter = MemoryRateLimiter(per_user=RateLimit(100, 60))
    else:
        limiter = RedisRateLimiter(
            request.getfixturevalue("redis_client"), per_user=RateLimit(100, 60)
        )
    start = threading.Barrier(8)
    allowed_counts: list[int] = []

    def hammer() -> None:
        start.wait()
        count = sum(limiter.hit_user("alice") is None for _ in range(100))
        allowed_counts.append(count)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (8, 100) == (len(allowed_counts), sum(allowed_counts))


HAMMER = textwrap.dedent(
    """
    import asyncio, sys, time
    import redis, redis.asyncio
    from issuing_elements import RateLimit, RedisRateLimiter

    port, attempts, limit, flavour = map(str, sys.argv[1:5])
    attempts, limit = int(attempts), int(limit)
    rate = RateLimit(limit, 60)

    def start_together(client):
        client.incr("hammer:ready")
        while int(client.get("hammer:ready")) < 2:
            time.sleep(0.001)

    with redis.Redis(port=int(port)) as client:
        start_together(client)
        if flavour == "sync":
            limiter = RedisRateLimiter(client, per_user=rate, prefix="hammer:")
            allowed = sum(limiter.hit_user("alice") is None for _ in range(attempts))

    async def hammer():
        async with redis.asyncio.Redis(port=int(port)) as client:
            limiter = RedisRateLimiter(client, per_user=rate, prefix="hammer:")
            return sum([await limiter.ahit_user("alice") is None
                        for _ in range(attempts)])

    if flavour == "async":
        allowed = asyncio.run(hammer())
    print(allowed)
    """
)


def test_two_processes_sharing_redis_never_exceed_the_limit(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    record_property: Callable[[str, object], None],
) -> None:
    # As many slots as one process tries: both must share them to fill them.
    attempts, limit = 600, 600
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [
                sys.executable,
                "-c",
                HAMMER,
                str(redis_server.port),
                str(attempts),
                str(limit),
                flavour,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for flavour in ("sync", "async")
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    counts = [int(output) for output in outputs]

    figure = (
        f"two processes (sync and async) sharing one redis-server: "
        f"{sum(counts)} allowed ({counts[0]} + {counts[1]}) of {2 * attempts} "
        f"attempts, limit {limit}"
    )
    record_property("two_processes", figure)
    print(figure)  # noqa: T201 - the figure the docs quote
    assert [0, 0] == [process.returncode for process in processes]
    assert limit == sum(counts)


def test_redis_microseconds_become_seconds_and_zero_allows() -> None:
    assert (None, 0.000001, 1.5) == (_seconds(0), _seconds(1), _seconds(1_500_000))
