"""What the Redis-backed stores share: key names, the client's kind, failures.

``redis`` is an optional dependency (``issuing-elements[redis]``): nothing
here imports it until a Redis store is built with a client, which proves it
is installed.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError, ServiceUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterator


def key_name(prefix: str, namespace: str, value: str) -> str:
    """The Redis key for *value* (a user or card id) in *namespace*.

    The id is hashed, so that no crafted id can reach another key, and no
    user id (an email address, say) is written into Redis key names.
    """
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}{namespace}:{digest}"


def is_async(client: Any, owner: str) -> bool:
    """Whether *client* is a ``redis.asyncio`` client (else a blocking one).

    Raises:
        ConfigurationError: *client* is not a redis-py client at all.
    """
    if not callable(getattr(client, "register_script", None)):
        raise ConfigurationError(
            f"{owner} needs a redis.Redis or redis.asyncio.Redis client, not "
            f"{type(client).__name__} (pip install 'issuing-elements[redis]', "
            "then pass redis.Redis.from_url(...))"
        )
    import redis.asyncio  # noqa: PLC0415 - optional; the caller holds a client

    return isinstance(client, (redis.asyncio.Redis, redis.asyncio.RedisCluster))


def check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not prefix:
        raise ConfigurationError(f"prefix must be a non-empty str, not {prefix!r}")
    return prefix


def wrong_client(owner: str, method: str, *, async_client: bool) -> ConfigurationError:
    """The error for calling a sync method with an asyncio client, or the reverse."""
    if async_client:
        return ConfigurationError(
            f"{owner}.{method} needs a blocking redis.Redis client, and this one "
            f"is a redis.asyncio client: await {owner}.a{method} instead, or "
            "build the store with redis.Redis"
        )
    return ConfigurationError(
        f"{owner}.a{method} needs a redis.asyncio.Redis client, and this one is "
        f"a blocking client: call {owner}.{method} instead, or build the store "
        "with redis.asyncio.Redis"
    )


def refusals(
    owner: str, what: str, *, async_client: bool
) -> tuple[str | None, str | None]:
    """Why the sync methods, or the async ones, can never use a Redis store.

    *owner* is the store's class, *what* its role ("rate limiter", "key
    ledger"). A ``redis.asyncio`` client cannot serve the sync methods, and
    a blocking one would stall the event loop under the async methods.
    Returns ``(sync, async)`` with ``None`` for the twin that is served; each
    text names the fix, for the operator's log.
    """
    if async_client:
        return (
            f"The {what} cannot serve the sync methods (handle, issue, ...): "
            f"{owner} was built with a redis.asyncio client, which only the "
            f"async methods can await. Fix: build the {owner} with a blocking "
            "redis.Redis client (redis.Redis.from_url(...)), or call the async "
            "methods (ahandle, aissue, ...) from async code."
        ), None
    return None, (
        f"The {what} cannot serve the async methods (ahandle, aissue, ...): "
        f"{owner} was built with a blocking redis.Redis client, which would "
        f"stall the event loop. Fix: build the {owner} with a redis.asyncio "
        "client (redis.asyncio.Redis.from_url(...)), or call the sync methods "
        "(handle, issue, ...)."
    )


@contextmanager
def unavailable(store: str) -> Iterator[None]:
    """Turn any Redis failure inside the block into `ServiceUnavailableError`.

    The message (for the operator's log) names the store and redis-py's
    error, which never holds stored data; the browser sees only the class's
    public message.
    """
    import redis  # noqa: PLC0415 - optional; the caller holds a client

    try:
        yield
    except redis.RedisError as error:
        raise ServiceUnavailableError(
            f"{store}'s Redis failed: {type(error).__name__}: {error}"
        ) from error
