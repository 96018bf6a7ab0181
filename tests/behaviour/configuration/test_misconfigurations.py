"""A client that one twin can never use is refused, naming the fix (issue 21, item 3).

A sync method on a StripeClient whose HTTP client makes async requests only,
a blocking ``redis.Redis`` under the async methods, a ``redis.asyncio``
client under the sync ones: each request is answered 500
``server_misconfigured`` before anything is called, and the operator's log
(the ``issuing_elements`` logger) holds exactly one ERROR line that says
what to change. A combination under which neither twin can ever issue a key
is refused at construction.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import stripe

from issuing_elements import (
    EphemeralKeyIssuer,
    Grant,
    RateLimit,
    RedisKeyLedger,
    RedisRateLimiter,
)
from issuing_elements.exceptions import ConfigurationError
from issuing_elements.testing import FakeStripe
from redis_server import RedisServer
from stripe_wire import CARD, owner_of

JSON = "application/json"


def body(fake: FakeStripe) -> bytes:
    return json.dumps({"card_id": CARD, "nonce": fake.create_nonce(CARD)}).encode()


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The ERROR (and worse) lines of the ``issuing_elements`` loggers."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.split(".")[0] == "issuing_elements"
        and record.levelno >= logging.ERROR
    ]


def issuer_for(fake: FakeStripe, **options: Any) -> EphemeralKeyIssuer[str]:
    http_client = options.pop("http_client", None)
    client = (
        fake.client() if http_client is None else fake.client(http_client=http_client)
    )
    return EphemeralKeyIssuer(
        client,
        owner_of({CARD: Grant()}),
        max_network_retries=0,
        **options,
    )


# -- the Stripe client's HTTP client ------------------------------------------

ASYNC_ONLY = [
    pytest.param(
        stripe.AIOHTTPClient,
        "stripe.AIOHTTPClient, makes async requests only",
        "http_client=stripe.RequestsClient(async_fallback_client="
        "stripe.AIOHTTPClient(...))",
        id="AIOHTTPClient",
    ),
    pytest.param(
        stripe.HTTPXClient,
        "stripe.HTTPXClient, was built without allow_sync_methods=True",
        "build it as stripe.HTTPXClient(allow_sync_methods=True)",
        id="HTTPXClient-async-only",
    ),
]


@pytest.mark.parametrize(("make_http", "named", "fix"), ASYNC_ONLY)
def test_handle_on_an_async_only_http_client_names_the_fix(
    fake: FakeStripe,
    caplog: pytest.LogCaptureFixture,
    make_http: Callable[[], stripe.HTTPClient],
    named: str,
    fix: str,
) -> None:
    issuer = issuer_for(fake, http_client=make_http())

    response = issuer.handle("alice", body=body(fake), content_type=JSON)

    (line,) = error_lines(caplog)
    assert (500, "server_misconfigured", True, True, True, ()) == (
        response.status,
        json.loads(response.body)["error"]["code"],
        named in line,
        "Fix: call the async methods (ahandle, aissue, ...) from async code" in line,
        fix in line,
        fake.requests,  # refused before Stripe was called
    )


def test_the_fix_named_serves_both_twins(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    aiohttp = stripe.AIOHTTPClient()
    issuer = issuer_for(
        fake, http_client=stripe.RequestsClient(async_fallback_client=aiohttp)
    )

    async def request() -> int:
        try:
            response = await issuer.ahandle("alice", body=body(fake), content_type=JSON)
        finally:
            await aiohttp.close_async()  # type: ignore[no-untyped-call]  # untyped
        return response.status

    synchronous = issuer.handle("alice", body=body(fake), content_type=JSON).status
    assert (200, 200, []) == (synchronous, asyncio.run(request()), error_lines(caplog))


def test_issue_on_an_async_only_http_client_raises_and_logs_once(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_for(fake, http_client=stripe.AIOHTTPClient())

    with pytest.raises(ConfigurationError) as raised:
        issuer.issue("alice", card_id=CARD, nonce=fake.create_nonce(CARD))

    assert [str(raised.value) + " Answering 500."] == error_lines(caplog)


def test_the_async_twin_still_serves_an_async_only_http_client(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    http = stripe.AIOHTTPClient()
    issuer = issuer_for(fake, http_client=http)

    async def request() -> int:
        try:
            response = await issuer.ahandle("alice", body=body(fake), content_type=JSON)
        finally:
            await http.close_async()  # type: ignore[no-untyped-call]  # untyped
        return response.status

    assert (200, []) == (asyncio.run(request()), error_lines(caplog))


def test_account_session_on_an_async_only_http_client_names_the_fix(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_account("acct_1Misconfigured")
    issuer = issuer_for(
        fake,
        http_client=stripe.AIOHTTPClient(),
        api_version="2025-01-27.acacia",
        account_sessions=lambda _user, _request: None,
    )

    response = issuer.handle_account_session("alice", body=b"{}", content_type=JSON)

    (line,) = error_lines(caplog)
    assert (500, True) == (response.status, "stripe.AIOHTTPClient" in line)


def test_arevoke_on_a_sync_only_http_client_names_the_fix(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_for(fake, http_client=stripe.UrllibClient())

    with pytest.raises(ConfigurationError):
        asyncio.run(issuer.arevoke("ephkey_1NeverIssued"))

    (line,) = error_lines(caplog)
    assert (True, True, ()) == (
        "stripe.UrllibClient, makes sync requests only" in line,
        "Fix: call the sync methods (handle, issue, ...), or give it an async "
        "transport: http_client=stripe.RequestsClient(async_fallback_client="
        "stripe.AIOHTTPClient())" in line,
        fake.requests,
    )


def test_a_sync_only_http_client_still_serves_the_sync_twin(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_for(fake, http_client=stripe.UrllibClient())

    response = issuer.handle("alice", body=body(fake), content_type=JSON)

    assert (200, []) == (response.status, error_lines(caplog))


# -- the Redis stores ---------------------------------------------------------

STORES = [
    pytest.param(
        lambda client: {"rate_limiter": RedisRateLimiter(client, per_user=RL)},
        "RedisRateLimiter",
        id="rate-limiter",
    ),
    pytest.param(
        lambda client: {"key_ledger": RedisKeyLedger(client)},
        "RedisKeyLedger",
        id="key-ledger",
    ),
]
RL = RateLimit(limit=5, window_seconds=60)


@pytest.mark.parametrize(("store", "owner"), STORES)
def test_ahandle_with_a_blocking_redis_client_names_the_fix(
    fake: FakeStripe,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    store: Callable[[object], dict[str, object]],
    owner: str,
) -> None:
    issuer = issuer_for(fake, **store(redis_client))

    response = asyncio.run(issuer.ahandle("alice", body=body(fake), content_type=JSON))

    (line,) = error_lines(caplog)
    assert (500, True, True, (), []) == (
        response.status,
        f"{owner} was built with a blocking redis.Redis client" in line,
        f"Fix: build the {owner} with a redis.asyncio client" in line,
        fake.requests,  # no key made, then revoked: Stripe never called
        redis_client.keys("*"),
    )


@pytest.mark.parametrize(("store", "owner"), STORES)
def test_handle_with_a_redis_asyncio_client_names_the_fix(
    fake: FakeStripe,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    store: Callable[[object], dict[str, object]],
    owner: str,
) -> None:
    issuer = issuer_for(fake, **store(redis_server.async_client()))

    response = issuer.handle("alice", body=body(fake), content_type=JSON)

    (line,) = error_lines(caplog)
    assert (500, True, True, ()) == (
        response.status,
        f"{owner} was built with a redis.asyncio client" in line,
        f"Fix: build the {owner} with a blocking redis.Redis client" in line,
        fake.requests,
    )


def test_revoke_user_with_a_redis_asyncio_ledger_names_the_fix(
    fake: FakeStripe, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_for(fake, key_ledger=RedisKeyLedger(redis_server.async_client()))

    with pytest.raises(ConfigurationError):
        issuer.revoke_user("alice")

    (line,) = error_lines(caplog)
    assert "RedisKeyLedger was built with a redis.asyncio client" in line


# -- at construction: combinations that can never work ------------------------


def test_an_async_only_http_client_and_a_blocking_store_are_refused_at_once(
    fake: FakeStripe, redis_client: redis.Redis
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        issuer_for(
            fake,
            http_client=stripe.AIOHTTPClient(),
            rate_limiter=RedisRateLimiter(redis_client, per_user=RL),
        )

    message = str(raised.value)
    assert (True, True) == (
        "stripe.AIOHTTPClient" in message,
        "RedisRateLimiter was built with a blocking redis.Redis client" in message,
    )


def test_a_blocking_limiter_and_an_asyncio_ledger_are_refused_at_once(
    fake: FakeStripe, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    with pytest.raises(ConfigurationError, match="Neither the sync nor the async"):
        issuer_for(
            fake,
            rate_limiter=RedisRateLimiter(redis_client, per_user=RL),
            key_ledger=RedisKeyLedger(redis_server.async_client()),
        )


# -- the lines docs/errors.md shows are the lines a user sees ------------------


def test_the_lines_in_errors_md_are_the_lines_logged(
    fake: FakeStripe,
    redis_client: redis.Redis,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    docs = (Path(__file__).parents[3] / "docs" / "errors.md").read_text()
    issuer_for(fake, http_client=stripe.AIOHTTPClient()).handle(
        "alice", body=body(fake), content_type=JSON
    )
    with pytest.raises(ConfigurationError):
        asyncio.run(
            issuer_for(fake, http_client=stripe.UrllibClient()).arevoke(
                "ephkey_1NeverIssued"
            )
        )
    limited = issuer_for(fake, rate_limiter=RedisRateLimiter(redis_client, per_user=RL))
    asyncio.run(limited.ahandle("alice", body=body(fake), content_type=JSON))
    ledger = RedisKeyLedger(redis_server.async_client())
    issuer_for(fake, key_ledger=ledger).handle(
        "alice", body=body(fake), content_type=JSON
    )

    lines = error_lines(caplog)
    assert (4, []) == (len(lines), [line for line in lines if line not in docs])
