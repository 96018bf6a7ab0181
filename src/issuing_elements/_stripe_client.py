"""The Stripe client: what its HTTP client bounds, which twins it serves, its loop.

* `check_client`, `resolve_api_version`: the client holds a secret key,
  names no account of its own, and pins (or is given) a valid version.
* `client_bound`: the most seconds a call through the client can wait on
  Stripe, read from its HTTP client, so that the performer calls Stripe
  inline (no worker thread) where that fits in what is left of a deadline.
* `sync_refusal` / `async_refusal`: why the sync, or the async, methods can
  never call Stripe through it (an async-only transport, say).
* `check_event_loop`: stripe-python's async HTTP clients keep one connection
  pool bound to the event loop that first used them; on any other loop a
  request can reach Stripe and still fail, losing the key it created. The
  async path therefore refuses, before calling Stripe, a client first used
  on another loop.

How `client_bound` counts, for stripe-python's own transports (any
other transport, or one whose ``request`` / ``request_async`` or backoff is
overridden, is unknown: the thread stays). One attempt is bounded by its
connect timeout plus its read timeout: ``RequestsClient(timeout=t)`` and
``HTTPXClient(timeout=t)`` by ``2 * t``, ``RequestsClient(timeout=(c, r))``
and ``HTTPXClient(timeout=httpx.Timeout(r, connect=c))`` by ``c + r``,
``AIOHTTPClient(timeout=t)`` by ``t`` (aiohttp's total);
``UrllibClient`` (no timeout) is unknown. The call is ``max_network_retries
+ 1`` attempts plus stripe-python's pauses between them (at most 0.5 s, 1 s,
2 s, 4 s, then 5 s each). Not counted: writing the small request body,
waiting for a free connection in a full pool, and a response trickled slower
than the read timeout allows per read; a hung Stripe does none of these.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import weakref

import stripe

from ._ids import api_version_problem
from .exceptions import ConfigurationError

__all__ = [
    "async_refusal",
    "check_client",
    "check_event_loop",
    "client_api_key",
    "client_bound",
    "resolve_api_version",
    "sync_refusal",
]

logger = logging.getLogger("issuing_elements")


# -- the client's own settings ------------------------------------------------

# The client-level settings stripe-python sends with every request that name
# another account than the Grant's: Stripe-Account, and Stripe-Context, which
# Stripe reads in its place when both are sent.
ACCOUNT_SETTINGS = ("stripe_account", "stripe_context")


def _client_setting(client: stripe.StripeClient, name: str) -> object:
    # stripe-python keeps a client's settings private; read them defensively.
    options = getattr(getattr(client, "_requestor", None), "_options", None)
    return getattr(options, name, None)


def _client_option(client: stripe.StripeClient, name: str) -> str | None:
    value = _client_setting(client, name)
    return value if isinstance(value, str) else None


def client_api_version(client: stripe.StripeClient) -> str | None:
    """The API version *client* is pinned to, if it can be read."""
    return _client_option(client, "stripe_version")


def client_api_key(client: stripe.StripeClient) -> str | None:
    """The API key *client* holds, if it can be read; never log it."""
    return _client_option(client, "api_key")


def resolve_api_version(client: stripe.StripeClient, configured: str | None) -> str:
    """The version to send: the configured one, else the client's pin; checked."""
    version = configured if configured is not None else client_api_version(client)
    if version is None:
        raise ConfigurationError(
            "Cannot read the Stripe client's API version: pass api_version=."
        )
    problem = api_version_problem(version)
    if problem is not None:
        raise ConfigurationError(f"api_version {problem}.")
    return version


def check_client(client: object) -> None:
    if not isinstance(client, stripe.StripeClient):
        raise ConfigurationError(
            f"stripe_client must be a stripe.StripeClient, not {type(client).__name__}."
        )
    for name in ACCOUNT_SETTINGS:
        value = _client_setting(client, name)
        # stripe-python sends the header for any value that is not empty
        # (a str, or a StripeContext whose str() is not "").
        if value is not None and str(value) != "":
            raise ConfigurationError(
                f"The Stripe client names a {name} of its own, which it would "
                "send with every request: the account must come from each "
                f"Grant. Create the StripeClient without {name}."
            )
    key = client_api_key(client) or ""
    if key.startswith("pk_"):
        raise ConfigurationError(
            "The Stripe client holds a publishable key; ephemeral keys need a "
            "secret (sk_) or restricted (rk_) key."
        )


# -- the HTTP client's own bound ---------------------------------------------


def client_bound(
    client: stripe.StripeClient,
    max_network_retries: int,
    *,
    asynchronous: bool = False,
) -> float | None:
    """The most seconds a call through *client* can wait on Stripe, or ``None``.

    Every attempt and the pauses between them, counted as the module
    docstring says; ``None`` when the HTTP client is not one of
    stripe-python's own or has no timeout: then the bound is unknown.
    """
    http: object = _http_client(client)
    if not isinstance(http, stripe.HTTPClient) or not _own_retries(http):
        return None
    if asynchronous:
        transport: object = http
        if _same(http, "request_async", stripe.HTTPClient):
            transport = getattr(http, "_async_fallback_client", None)
        attempt = _async_attempt_bound(transport)
    else:
        attempt = _attempt_bound(http)
    if attempt is None:
        return None
    return (max_network_retries + 1) * attempt + _pauses(max_network_retries)


def _own_retries(http: stripe.HTTPClient) -> bool:
    """Whether *http* retries and pauses as stripe-python's ``HTTPClient`` does."""
    return all(
        _same(http, name, stripe.HTTPClient)
        for name in (
            "_request_with_retries_internal",
            "_request_with_retries_internal_async",
            "_sleep_time_seconds",
            "_add_jitter_time",
        )
    )


def _pauses(retries: int) -> float:
    """stripe-python's pauses between *retries* + 1 attempts, at their longest."""
    first = float(stripe.HTTPClient.INITIAL_DELAY)
    most = float(stripe.HTTPClient.MAX_DELAY)
    return sum(
        (
            max(first, min(first * 2.0 ** (retry - 1), most))
            for retry in range(1, retries + 1)
        ),
        0.0,
    )


def _same(http: object, name: str, owner: type[object]) -> bool:
    """Whether *http*'s class has *owner*'s own *name*, not an override."""
    return getattr(type(http), name, None) is getattr(owner, name)


def _attempt_bound(http: object) -> float | None:
    requests_client = stripe.RequestsClient
    if _same(http, "request", requests_client) and _same(
        http, "_request_internal", requests_client
    ):
        timeout = getattr(http, "_timeout", None)
        if isinstance(timeout, tuple) and len(timeout) == 2:
            return _sum(*timeout)
        return _sum(timeout, timeout)
    if _same(http, "request", stripe.HTTPXClient):
        return _httpx_attempt_bound(http)
    return None


def _async_attempt_bound(http: object) -> float | None:
    if _same(http, "request_async", stripe.HTTPXClient):
        return _httpx_attempt_bound(http)
    if _same(http, "request_async", stripe.AIOHTTPClient) and _same(
        http, "_get_request_args_kwargs", stripe.AIOHTTPClient
    ):
        timeout = getattr(http, "_timeout", None)
        total = _seconds(timeout)  # a number is aiohttp's total
        if total is None:
            total = _seconds(getattr(timeout, "total", None))
        if total is not None:
            return total
        connect = getattr(timeout, "connect", None)
        if connect is None:
            connect = getattr(timeout, "sock_connect", None)
        return _sum(connect, getattr(timeout, "sock_read", None))
    return None


def _httpx_attempt_bound(http: object) -> float | None:
    if not _same(http, "_get_request_args_kwargs", stripe.HTTPXClient):
        return None
    timeout = getattr(http, "_timeout", None)
    if _seconds(timeout) is not None:
        return _sum(timeout, timeout)
    return _sum(getattr(timeout, "connect", None), getattr(timeout, "read", None))


def _seconds(value: object) -> float | None:
    """*value* as a positive, finite number of seconds, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not 0 < value < math.inf:
        return None
    return float(value)


def _sum(connect: object, read: object) -> float | None:
    first, second = _seconds(connect), _seconds(read)
    if first is None or second is None:
        return None
    return first + second


# -- which twins the HTTP client serves ---------------------------------------

SYNC_METHODS = "the sync methods (handle, issue, ...)"
ASYNC_METHODS = "the async methods (ahandle, aissue, ...)"


def sync_refusal(client: stripe.StripeClient) -> str | None:
    """Why the sync methods can never call Stripe through *client*, or ``None``.

    Only what is certain: stripe-python's async-only transports
    (``AIOHTTPClient``, an ``HTTPXClient`` without ``allow_sync_methods``)
    and an ``HTTPClient`` with no ``request`` of its own. The text names
    the fix, for the operator's log.
    """
    http: object = _http_client(client)
    if not isinstance(http, stripe.HTTPClient):
        return None
    name = _name(http)
    if isinstance(http, stripe.HTTPXClient) and _same(
        http, "request", stripe.HTTPXClient
    ):
        if getattr(http, "_client", None) is not None:
            return None
        why = f"its HTTP client, {name}, was built without allow_sync_methods=True"
        fix = "build it as stripe.HTTPXClient(allow_sync_methods=True)"
    elif _same(http, "request", stripe.AIOHTTPClient) or _same(
        http, "request", stripe.HTTPClient
    ):
        why = f"its HTTP client, {name}, makes async requests only"
        fix = (
            "give it a sync transport beside this one: http_client="
            f"stripe.RequestsClient(async_fallback_client={name}(...))"
        )
    else:
        return None
    return (
        f"The StripeClient cannot serve {SYNC_METHODS}: {why}. Fix: call "
        f"{ASYNC_METHODS} from async code, or {fix}."
    )


def async_refusal(client: stripe.StripeClient) -> str | None:
    """Why the async methods can never call Stripe through *client*, or ``None``.

    Only what is certain: an HTTP client with no ``request_async`` of its
    own and no async fallback (or stripe-python's stand-in for a missing
    httpx and aiohttp). The text names the fix, for the operator's log.
    """
    http: object = _http_client(client)
    if not isinstance(http, stripe.HTTPClient):
        return None
    transport: object = http
    for _ in range(_MAX_FALLBACKS):  # a fallback may have its own fallback
        if not _same(transport, "request_async", stripe.HTTPClient):
            break
        transport = getattr(transport, "_async_fallback_client", None)
    if transport is None:
        why = (
            f"its HTTP client, {_name(http)}, makes sync requests only and has "
            "no async_fallback_client"
        )
    elif type(transport).__name__ == "NoImportFoundAsyncClient":
        why = "no async HTTP library (aiohttp or httpx) is installed"
    else:
        return None
    return (
        f"The StripeClient cannot serve {ASYNC_METHODS}: {why}. Fix: call "
        f"{SYNC_METHODS}, or give it an async transport: http_client="
        "stripe.RequestsClient(async_fallback_client=stripe.AIOHTTPClient()) "
        "(pip install 'issuing-elements[async]')."
    )


_MAX_FALLBACKS = 4


def _http_client(client: stripe.StripeClient) -> object:
    return getattr(getattr(client, "_requestor", None), "_client", None)


def _name(http: object) -> str:
    kind = type(http)
    own = getattr(stripe, kind.__name__, None) is kind
    return f"stripe.{kind.__name__}" if own else kind.__qualname__


# -- the event loop -----------------------------------------------------------

_client_loops: weakref.WeakKeyDictionary[
    stripe.StripeClient, weakref.ReferenceType[asyncio.AbstractEventLoop]
] = weakref.WeakKeyDictionary()
_client_loops_lock = threading.Lock()


def check_event_loop(client: stripe.StripeClient) -> None:
    """Refuse to call Stripe's async API from a second event loop.

    Raises:
        ConfigurationError: *client* first made an async call on another
            event loop (the endpoint answers 500, and Stripe is not called).
    """
    loop = asyncio.get_running_loop()
    with _client_loops_lock:
        first = _client_loops.get(client)
        if first is None:
            _client_loops[client] = weakref.ref(loop)
            return
    if first() is loop:
        return
    logger.error(
        "This StripeClient made its first async call on another event loop. "
        "stripe-python's async HTTP clients (HTTPXClient, AIOHTTPClient) keep "
        "their connections on that loop, so a call from this one can reach "
        "Stripe and still fail, losing the key. Refusing before calling "
        "Stripe. Fix: create the StripeClient and the issuer on the event "
        "loop that serves requests (an ASGI lifespan, or one per "
        "asyncio.run()), or call the sync methods (handle, issue) where "
        "each request runs on a new loop, as Django's async views do under "
        "WSGI."
    )
    raise ConfigurationError(
        "The StripeClient is bound to another event loop: create one per event "
        "loop, or use the sync methods."
    )
