"""Key ledgers: the live keys per user and per card, in memory and in Redis."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Iterator

import pytest
import redis
import stripe

from doors_and_twins import Twin
from issuing_elements import (
    EphemeralKeyIssuer,
    KeyLedger,
    LiveKey,
    MemoryKeyLedger,
    RedisKeyLedger,
)
from issuing_elements._ledger import TOMBSTONE_SECONDS
from issuing_elements.exceptions import ConfigurationError, ServiceUnavailableError
from redis_server import RedisServer

NOW = 1_800_000_000
ACCOUNT_1 = "acct_1Connected"
ACCOUNT_2 = "acct_2Connected"


def live_key(
    number: int,
    user_id: str = "alice",
    card_id: str = "ic_1",
    stripe_account: str | None = None,
    expires: int = NOW + 900,
) -> LiveKey:
    return LiveKey(f"ephkey_{number}", card_id, user_id, stripe_account, expires)


class FakeClock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


class Ledgers:
    """One kind of ledger (*store*), called through one *twin*.

    Memory ledgers run on a fake clock from ``NOW``; Redis ones on the Redis
    server's real clock, so the tests take their times from `now`, except
    for the tombstones' times, which Redis ledgers take from the fake clock.
    """

    def __init__(self, store: str, twin: Twin, server: RedisServer | None) -> None:
        self.store = store
        self.twin = twin
        self.clock = FakeClock()
        self.client: redis.Redis | redis.asyncio.Redis | None = None
        self.ledger: KeyLedger
        if store == "memory":
            self.ledger = MemoryKeyLedger(clock=self.clock)
        else:
            assert server is not None
            self.client = server.async_client() if twin.is_async else server.client()
            self.ledger = RedisKeyLedger(self.client, clock=self.clock)

    def now(self) -> int:
        return NOW if self.store == "memory" else int(time.time())

    def pass_time_until(self, moment: int) -> None:
        """Let the clock reach *moment* (epoch seconds)."""
        if self.store == "memory":
            self.clock.now = moment
            return
        while time.time() < moment + 0.01:
            time.sleep(0.05)

    def record(self, *keys: LiveKey) -> None:
        for key in keys:
            self.twin.call(self.ledger, "record", key)

    def for_user(self, user_id: str) -> list[LiveKey]:
        found: list[LiveKey] = self.twin.call(self.ledger, "keys_for_user", user_id)
        return found

    def for_card(self, card_id: str) -> list[LiveKey]:
        found: list[LiveKey] = self.twin.call(self.ledger, "keys_for_card", card_id)
        return found

    def forget(self, key: LiveKey) -> None:
        self.twin.call(self.ledger, "forget", key)

    def mark_revoked(
        self, *, user_id: str | None = None, card_id: str | None = None
    ) -> float:
        marked: float = self.twin.call(
            self.ledger, "mark_revoked", user_id=user_id, card_id=card_id
        )
        return marked

    def revoked_since(self, user_id: str, card_id: str, since: float) -> bool:
        revoked: bool = self.twin.call(
            self.ledger,
            "revoked_since",
            user_id=user_id,
            card_id=card_id,
            since=since,
        )
        return revoked

    def close(self) -> None:
        if isinstance(self.client, redis.Redis):
            self.client.close()
        elif self.client is not None:
            self.twin.call(self.client, "close")  # redis.asyncio's aclose


@pytest.fixture(params=["memory", "redis"])
def ledgers(request: pytest.FixtureRequest, twin: Twin) -> Iterator[Ledgers]:
    server = None
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        request.getfixturevalue("redis_client")  # empties the server
    made = Ledgers(request.param, twin, server)
    yield made
    made.close()


def keys_of_two_users_two_cards_two_accounts(expires: int) -> list[LiveKey]:
    return [
        live_key(1, "alice", "ic_1", ACCOUNT_1, expires),
        live_key(2, "alice", "ic_2", ACCOUNT_2, expires + 1),
        live_key(3, "bob", "ic_1", ACCOUNT_1, expires + 2),
        live_key(4, "bob", "ic_3", None, expires + 3),
    ]


def test_keys_for_a_user_are_hers_on_every_card_and_account(ledgers: Ledgers) -> None:
    keys = keys_of_two_users_two_cards_two_accounts(ledgers.now() + 900)
    ledgers.record(*keys)

    assert [keys[0], keys[1]] == ledgers.for_user("alice")


def test_keys_for_a_card_are_every_user_s(ledgers: Ledgers) -> None:
    keys = keys_of_two_users_two_cards_two_accounts(ledgers.now() + 900)
    ledgers.record(*keys)

    assert [keys[0], keys[2]] == ledgers.for_card("ic_1")


def test_keys_come_soonest_to_expire_first(ledgers: Ledgers) -> None:
    later = live_key(1, expires=ledgers.now() + 900)
    sooner = live_key(2, expires=ledgers.now() + 60)
    ledgers.record(later, sooner)

    assert [sooner, later] == ledgers.for_user("alice")


def test_nobody_has_no_keys(ledgers: Ledgers) -> None:
    assert ([], []) == (ledgers.for_user("nobody"), ledgers.for_card("ic_none"))


def test_a_key_recorded_after_it_expired_is_not_listed(ledgers: Ledgers) -> None:
    ledgers.record(live_key(1, expires=ledgers.now() - 1))

    assert ([], []) == (ledgers.for_user("alice"), ledgers.for_card("ic_1"))


def test_a_key_leaves_when_it_expires(ledgers: Ledgers) -> None:
    expires = ledgers.now() + 1
    staying = live_key(2, expires=expires + 900)
    ledgers.record(live_key(1, expires=expires), staying)

    ledgers.pass_time_until(expires)

    assert ([staying], [staying]) == (
        ledgers.for_user("alice"),
        ledgers.for_card("ic_1"),
    )


def test_a_forgotten_key_leaves_its_user_and_its_card(ledgers: Ledgers) -> None:
    gone, kept = (
        live_key(1, expires=ledgers.now() + 900),
        live_key(2, card_id="ic_2", expires=ledgers.now() + 900),
    )
    ledgers.record(gone, kept)

    ledgers.forget(gone)

    assert ([kept], []) == (ledgers.for_user("alice"), ledgers.for_card("ic_1"))


def test_forgetting_is_idempotent(ledgers: Ledgers) -> None:
    key = live_key(1, expires=ledgers.now() + 900)
    ledgers.record(key)

    ledgers.forget(key)
    ledgers.forget(key)
    ledgers.forget(live_key(99, user_id="nobody", card_id="ic_none"))

    assert [] == ledgers.for_user("alice")


def test_a_user_id_and_a_card_id_never_share_a_set(ledgers: Ledgers) -> None:
    key = live_key(1, user_id="ic_1", card_id="ic_2", expires=ledgers.now() + 900)
    ledgers.record(key)

    assert [] == ledgers.for_card("ic_1")


# Tombstones


def test_a_user_s_tombstone_is_seen_by_requests_begun_before_it(
    ledgers: Ledgers,
) -> None:
    laid = ledgers.mark_revoked(user_id="alice")

    assert (True, True, False) == (
        ledgers.revoked_since("alice", "ic_1", since=laid - 1),
        ledgers.revoked_since("alice", "ic_1", since=laid),
        ledgers.revoked_since("alice", "ic_1", since=laid + 0.001),
    )


def test_a_card_s_tombstone_is_seen_by_requests_begun_before_it(
    ledgers: Ledgers,
) -> None:
    laid = ledgers.mark_revoked(card_id="ic_1")

    assert (True, True, False) == (
        ledgers.revoked_since("alice", "ic_1", since=laid - 1),
        ledgers.revoked_since("alice", "ic_1", since=laid),
        ledgers.revoked_since("alice", "ic_1", since=laid + 0.001),
    )


def test_a_tombstone_is_laid_at_the_ledger_s_time(ledgers: Ledgers) -> None:
    ledgers.clock.now = NOW + 0.25

    assert (NOW + 0.25, NOW + 0.25) == (
        ledgers.mark_revoked(user_id="alice"),
        ledgers.mark_revoked(card_id="ic_1"),
    )


def test_nothing_revoked_is_nothing_seen(ledgers: Ledgers) -> None:
    assert not ledgers.revoked_since("alice", "ic_1", since=0)


def test_a_user_s_tombstone_is_hers_alone(ledgers: Ledgers) -> None:
    ledgers.mark_revoked(user_id="alice")

    assert (True, True, False) == (
        ledgers.revoked_since("alice", "ic_1", since=0),
        ledgers.revoked_since("alice", "ic_2", since=0),
        ledgers.revoked_since("bob", "ic_1", since=0),
    )


def test_a_card_s_tombstone_is_its_alone(ledgers: Ledgers) -> None:
    ledgers.mark_revoked(card_id="ic_1")

    assert (True, True, False) == (
        ledgers.revoked_since("alice", "ic_1", since=0),
        ledgers.revoked_since("bob", "ic_1", since=0),
        ledgers.revoked_since("alice", "ic_2", since=0),
    )


def test_a_user_and_a_card_of_one_name_have_tombstones_of_their_own(
    ledgers: Ledgers,
) -> None:
    ledgers.mark_revoked(user_id="ic_1")
    ledgers.mark_revoked(card_id="alice")

    assert not ledgers.revoked_since("alice", "ic_1", since=0)


def test_of_two_racing_tombstones_the_later_stays(ledgers: Ledgers) -> None:
    ledgers.clock.now = NOW + 5
    ledgers.mark_revoked(user_id="alice")
    ledgers.clock.now = NOW  # a revocation that read its clock earlier lands now
    ledgers.mark_revoked(user_id="alice")

    assert (True, False) == (
        ledgers.revoked_since("alice", "ic_1", since=NOW + 5),
        ledgers.revoked_since("alice", "ic_1", since=NOW + 5.001),
    )


def test_a_later_tombstone_replaces_an_earlier_one(ledgers: Ledgers) -> None:
    ledgers.mark_revoked(card_id="ic_1")
    ledgers.clock.now = NOW + 5
    ledgers.mark_revoked(card_id="ic_1")

    assert ledgers.revoked_since("alice", "ic_1", since=NOW + 5)


@pytest.mark.parametrize(
    "subject",
    [{}, {"user_id": "alice", "card_id": "ic_1"}],
    ids=["neither", "both"],
)
def test_a_tombstone_is_for_a_user_or_a_card(
    ledgers: Ledgers, subject: dict[str, str]
) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"KeyLedger\.mark_revoked takes exactly one of user_id= and card_id=",
    ):
        ledgers.mark_revoked(**subject)


def test_a_tombstone_needs_a_str_id(ledgers: Ledgers) -> None:
    with pytest.raises(
        ConfigurationError, match=r"mark_revoked needs card_id as a str, not int"
    ):
        ledgers.mark_revoked(card_id=1)  # type: ignore[arg-type]  # on purpose


def test_the_memory_ledger_keeps_a_tombstone_ten_minutes() -> None:
    clock = FakeClock()
    ledger = MemoryKeyLedger(clock=clock)
    ledger.mark_revoked(user_id="alice")
    ledger.mark_revoked(card_id="ic_1")
    kept = []
    for moment in (NOW + 599.9, NOW + 600):
        clock.now = moment
        kept.append(
            (
                ledger.revoked_since(user_id="alice", card_id="ic_2", since=0),
                ledger.revoked_since(user_id="bob", card_id="ic_1", since=0),
            )
        )

    assert (600, [(True, True), (False, False)]) == (TOMBSTONE_SECONDS, kept)


def test_memory_holds_only_kept_tombstones() -> None:
    clock = FakeClock()
    ledger = MemoryKeyLedger(clock=clock)
    # One revocation a second for 20 minutes, each of its own user and card,
    # and every user revoked twice.
    for second in range(1200):
        clock.now = NOW + second
        ledger.mark_revoked(user_id=f"user-{second // 2}")
        ledger.mark_revoked(card_id=f"ic_{second}")

    # Kept: the last ten minutes' 600 cards and 300 users; the heap holds one
    # entry per revocation of the last ten minutes.
    assert (900, 1200) == (len(ledger._tombstones), len(ledger._tombstone_expiries))


def test_a_memory_tombstone_laid_again_is_kept_from_its_later_time() -> None:
    clock = FakeClock()
    ledger = MemoryKeyLedger(clock=clock)
    ledger.mark_revoked(user_id="alice")
    clock.now = NOW + 300
    ledger.mark_revoked(user_id="alice")
    clock.now = NOW + 899

    assert ledger.revoked_since(user_id="alice", card_id="ic_1", since=NOW + 300)


# Memory


def test_memory_holds_only_live_keys() -> None:
    clock = FakeClock()
    ledger = MemoryKeyLedger(clock=clock)
    # A hundred keys a second for 100 s, each living ten seconds.
    for number in range(10_000):
        clock.now = NOW + number // 100
        ledger.record(
            live_key(
                number, f"user-{number}", f"ic_{number}", None, int(clock.now) + 10
            )
        )

    assert (1000, 1000, 1000, 1000) == (
        len(ledger._keys),
        len(ledger._by_user),
        len(ledger._by_card),
        len(ledger._expiries),
    )


def test_recording_a_key_again_replaces_it_and_its_expiry() -> None:
    clock = FakeClock()
    ledger = MemoryKeyLedger(clock=clock)
    ledger.record(live_key(1, expires=NOW + 10))
    ledger.record(live_key(1, user_id="bob", expires=NOW + 900))

    clock.now = NOW + 10  # the first expiry passes; the key lives on as Bob's

    assert ([], [live_key(1, user_id="bob", expires=NOW + 900)]) == (
        ledger.keys_for_user("alice"),
        ledger.keys_for_user("bob"),
    )


def test_the_memory_ledger_shows_its_size() -> None:
    ledger = MemoryKeyLedger(clock=FakeClock())
    ledger.record(live_key(1))

    assert "MemoryKeyLedger(<1 keys>)" == repr(ledger)


# Redis: what is stored, and failures


def test_redis_holds_ids_accounts_and_expiries_only(redis_client: redis.Redis) -> None:
    ledger = RedisKeyLedger(redis_client)
    expires = int(time.time()) + 900
    keys = keys_of_two_users_two_cards_two_accounts(expires)
    for key in keys:
        ledger.record(key)

    names = sorted(name.decode() for name in redis_client.scan_iter())
    members = {
        member.decode() for name in names for member in redis_client.zrange(name, 0, -1)
    }

    assert 5 == len(names)  # alice, bob, ic_1, ic_2, ic_3
    assert all(
        re.fullmatch(r"issuing_elements:keys:(user|card):[0-9a-f]{64}", name)
        for name in names
    )
    assert {
        json.dumps(
            {
                "card_id": key.card_id,
                "expires": key.expires,
                "key_id": key.key_id,
                "stripe_account": key.stripe_account,
                "user_id": key.user_id,
            },
            separators=(",", ":"),
        )
        for key in keys
    } == members
    assert not re.search(r"ek_|ephkn_|sk_", "".join(names) + "".join(members))


def test_each_redis_set_expires_with_its_last_key(redis_client: redis.Redis) -> None:
    ledger = RedisKeyLedger(redis_client)
    expires = int(time.time()) + 900
    ledger.record(live_key(1, expires=expires - 300))
    ledger.record(live_key(2, card_id="ic_2", expires=expires))

    expiries = sorted(
        redis_client.expiretime(name) for name in redis_client.scan_iter()
    )

    # ic_1's set, then ic_2's and alice's.
    assert [expires - 300, expires, expires] == expiries


def test_a_redis_tombstone_holds_its_time_under_a_hashed_name(
    redis_client: redis.Redis,
) -> None:
    clock = FakeClock()
    clock.now = NOW + 0.5
    ledger = RedisKeyLedger(redis_client, clock=clock)
    ledger.mark_revoked(user_id="alice@example.com")
    ledger.mark_revoked(card_id="ic_1")

    stored = {
        name.decode(): redis_client.get(name) for name in redis_client.scan_iter()
    }

    assert [b"1800000000.5", b"1800000000.5"] == list(stored.values())
    assert all(
        re.fullmatch(r"issuing_elements:keys:revoked:(user|card):[0-9a-f]{64}", name)
        for name in stored
    ), stored
    assert not re.search(r"alice|ic_1", "".join(stored))


def test_redis_keeps_a_tombstone_ten_minutes(redis_client: redis.Redis) -> None:
    ledger = RedisKeyLedger(redis_client)
    ledger.mark_revoked(user_id="alice")
    ledger.mark_revoked(card_id="ic_1")

    ttls = [redis_client.ttl(name) for name in redis_client.scan_iter()]

    assert [True, True] == [
        TOMBSTONE_SECONDS - 2 <= ttl <= TOMBSTONE_SECONDS for ttl in ttls
    ]


def test_a_redis_tombstone_laid_again_is_kept_ten_minutes_more(
    redis_client: redis.Redis,
) -> None:
    clock = FakeClock()
    ledger = RedisKeyLedger(redis_client, clock=clock)
    ledger.mark_revoked(user_id="alice")
    (name,) = redis_client.scan_iter()
    redis_client.expire(name, 10)  # as if laid ten minutes less ten seconds ago
    clock.now = NOW - 1  # a racing revocation with an earlier time
    ledger.mark_revoked(user_id="alice")

    assert (b"1800000000.0", True) == (
        redis_client.get(name),
        TOMBSTONE_SECONDS - 2 <= redis_client.ttl(name) <= TOMBSTONE_SECONDS,
    )


def test_the_redis_ledger_prefix_places_its_keys(redis_client: redis.Redis) -> None:
    RedisKeyLedger(redis_client, prefix="{app}:ledger:").record(
        live_key(1, expires=int(time.time()) + 900)
    )

    assert all(name.startswith(b"{app}:ledger:") for name in redis_client.scan_iter())


def test_a_redis_ledger_needs_a_prefix(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigurationError, match="prefix must be a non-empty str"):
        RedisKeyLedger(redis_client, prefix="")


def test_the_redis_ledger_shows_its_prefix(redis_client: redis.Redis) -> None:
    assert "RedisKeyLedger(prefix='issuing_elements:keys:')" == repr(
        RedisKeyLedger(redis_client)
    )


def test_a_redis_ledger_reads_a_client_that_decodes(redis_server: RedisServer) -> None:
    key = live_key(1, expires=int(time.time()) + 900)
    with redis.Redis(port=redis_server.port, decode_responses=True) as client:
        ledger = RedisKeyLedger(client, prefix="decoding:")
        ledger.record(key)

        assert [key] == ledger.keys_for_card("ic_1")


def test_a_redis_ledger_reads_tombstones_from_a_client_that_decodes(
    redis_server: RedisServer,
) -> None:
    with redis.Redis(port=redis_server.port, decode_responses=True) as client:
        ledger = RedisKeyLedger(client, prefix="decoding:")
        laid = ledger.mark_revoked(card_id="ic_1")

        assert (True, False) == (
            ledger.revoked_since(user_id="alice", card_id="ic_1", since=laid),
            ledger.revoked_since(user_id="alice", card_id="ic_1", since=laid + 1),
        )


# The arguments of each ledger method, for the tests that call them all.
CALLS: dict[str, tuple[tuple[object, ...], dict[str, object]]] = {
    "record": ((live_key(1),), {}),
    "keys_for_user": (("alice",), {}),
    "keys_for_card": (("ic_1",), {}),
    "forget": ((live_key(1),), {}),
    "mark_revoked": ((), {"user_id": "alice"}),
    "revoked_since": ((), {"user_id": "alice", "card_id": "ic_1", "since": 0.0}),
}


@pytest.mark.parametrize("method", list(CALLS))
def test_the_sync_methods_refuse_an_asyncio_client(
    redis_server: RedisServer, method: str
) -> None:
    args, kwargs = CALLS[method]

    async def call() -> None:
        async with redis_server.async_client() as client:
            getattr(RedisKeyLedger(client), method)(*args, **kwargs)

    with pytest.raises(ConfigurationError, match=rf"await RedisKeyLedger\.a{method}"):
        asyncio.run(call())


@pytest.mark.parametrize("method", list(CALLS))
def test_the_async_methods_refuse_a_blocking_client(
    redis_client: redis.Redis, method: str
) -> None:
    args, kwargs = CALLS[method]
    ledger = RedisKeyLedger(redis_client)

    with pytest.raises(ConfigurationError, match=rf"call RedisKeyLedger\.{method}"):
        asyncio.run(getattr(ledger, f"a{method}")(*args, **kwargs))


def test_a_stopped_redis_fails_every_ledger_call(redis_to_stop: RedisServer) -> None:
    key = live_key(1, expires=int(time.time()) + 900)
    calls = {
        "record": lambda ledger: ledger.record(key),
        "keys_for_user": lambda ledger: ledger.keys_for_user("alice"),
        "keys_for_card": lambda ledger: ledger.keys_for_card("ic_1"),
        "forget": lambda ledger: ledger.forget(key),
        "mark_revoked": lambda ledger: ledger.mark_revoked(user_id="alice"),
        "revoked_since": lambda ledger: ledger.revoked_since(
            user_id="alice", card_id="ic_1", since=0
        ),
    }
    failed = []
    with redis_to_stop.client() as client:
        ledger = RedisKeyLedger(client)
        ledger.record(key)
        redis_to_stop.stop()
        for name, call in calls.items():
            with pytest.raises(ServiceUnavailableError) as raised:
                call(ledger)
            failed.append((name, raised.value.status, raised.value.code))

    assert [(name, 503, "service_unavailable") for name in calls] == failed


async def outcome(call: Awaitable[object]) -> str:
    try:
        await call
    except ServiceUnavailableError as error:
        return error.code
    return "answered"


def test_a_stopped_redis_fails_the_async_ledger(redis_to_stop: RedisServer) -> None:
    key = live_key(1, expires=int(time.time()) + 900)

    async def after_stopping() -> list[str]:
        async with redis_to_stop.async_client() as client:
            ledger = RedisKeyLedger(client)
            await ledger.arecord(key)
            redis_to_stop.stop()
            return [
                await outcome(ledger.arecord(key)),
                await outcome(ledger.akeys_for_user("alice")),
                await outcome(ledger.akeys_for_card("ic_1")),
                await outcome(ledger.aforget(key)),
                await outcome(ledger.amark_revoked(user_id="alice")),
                await outcome(
                    ledger.arevoked_since(user_id="alice", card_id="ic_1", since=0)
                ),
            ]

    assert ["service_unavailable"] * 6 == asyncio.run(after_stopping())


def test_a_redis_ledger_needs_a_redis_client() -> None:
    with pytest.raises(ConfigurationError, match=r"needs a redis\.Redis .* not str"):
        RedisKeyLedger("redis://127.0.0.1:6379")  # type: ignore[arg-type]  # on purpose


def test_a_stopped_redis_is_named_as_the_key_ledgers(
    redis_to_stop: RedisServer,
) -> None:
    key = live_key(1, expires=int(time.time()) + 900)
    calls = {
        "record": lambda ledger: ledger.record(key),
        "keys_for_user": lambda ledger: ledger.keys_for_user("alice"),
        "keys_for_card": lambda ledger: ledger.keys_for_card("ic_1"),
        "forget": lambda ledger: ledger.forget(key),
        "mark_revoked": lambda ledger: ledger.mark_revoked(card_id="ic_1"),
        "revoked_since": lambda ledger: ledger.revoked_since(
            user_id="alice", card_id="ic_1", since=0
        ),
    }
    said = []
    with redis_to_stop.client() as client:
        ledger = RedisKeyLedger(client)
        redis_to_stop.stop()
        for call in calls.values():
            with pytest.raises(ServiceUnavailableError) as raised:
                call(ledger)
            said.append(str(raised.value).partition(": ")[0])

    assert ["the key ledger's Redis failed"] * len(calls) == said


async def message(call: Awaitable[object]) -> str:
    try:
        await call
    except ServiceUnavailableError as error:
        return str(error).partition(": ")[0]
    return "answered"


def test_a_stopped_redis_is_named_as_the_async_key_ledgers(
    redis_to_stop: RedisServer,
) -> None:
    key = live_key(1, expires=int(time.time()) + 900)

    async def after_stopping() -> list[str]:
        async with redis_to_stop.async_client() as client:
            ledger = RedisKeyLedger(client)
            redis_to_stop.stop()
            return [
                await message(ledger.arecord(key)),
                await message(ledger.akeys_for_user("alice")),
                await message(ledger.akeys_for_card("ic_1")),
                await message(ledger.aforget(key)),
                await message(ledger.amark_revoked(card_id="ic_1")),
                await message(
                    ledger.arevoked_since(user_id="alice", card_id="ic_1", since=0)
                ),
            ]

    assert ["the key ledger's Redis failed"] * 6 == asyncio.run(after_stopping())


def test_a_ledger_that_does_not_declare_in_process_is_refused(
    stripe_client: stripe.StripeClient,
) -> None:
    class Undeclared(MemoryKeyLedger):
        in_process = None  # type: ignore[assignment]  # undeclared on purpose

    with pytest.raises(ConfigurationError) as raised:
        EphemeralKeyIssuer(stripe_client, lambda _u, _r: True, key_ledger=Undeclared())

    assert (
        "key_ledger must declare in_process = True or False (the KeyLedger "
        "protocol); Undeclared.in_process is missing"
    ) in str(raised.value)
