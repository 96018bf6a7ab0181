"""Item 2, with the bound intact: ``handle`` on a client whose timeouts bound the call.

``EphemeralKeyIssuer`` calls Stripe inline (no worker thread) when the HTTP
client bounds the call within ``deadline`` on its own. Here that client is
``stripe.RequestsClient(timeout=(1, 1.5))`` under the issuer's defaults
(``deadline=10``, ``max_network_retries=2``: 3 attempts of at most 2.5 s, plus
pauses of at most 1.5 s, 9 s in all):

* over HTTP to the fast stand-in: ``handle`` / raw create;
* in-process, the same ``RequestsClient`` over a requests adapter that answers
  with the canned key (no network): ``handle`` / raw create, and ``handle``
  inline / ``handle`` on a worker thread (the same client under
  ``deadline=5``, which it does not bound): the price of the thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
import stripe
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from benchmarks import subjects
from benchmarks.measure import interleaved
from benchmarks.report import Row
from benchmarks.standin import API_VERSION, KEY_BODY, KEY_HEADERS, SECRET_KEY
from issuing_elements import EphemeralKeyIssuer

if TYPE_CHECKING:
    from benchmarks.measure import Scale

# Connect and read timeouts that bound a call within the default deadline.
TIMEOUT = (1, 1.5)


class CannedAdapter(BaseAdapter):
    """A requests transport that answers every request with the canned key."""

    def send(self, request: Any, *_: Any, **__: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = KEY_BODY
        response.headers = CaseInsensitiveDict(KEY_HEADERS)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def bounded_client(url: str | None = None) -> stripe.StripeClient:
    """A StripeClient whose timeouts bound a call; in-process when *url* is None."""
    session = None
    if url is None:
        url = "http://127.0.0.1:9"
        session = requests.Session()
        session.trust_env = False  # no proxy lookups in os.environ: less to dilute
        session.mount("http://", CannedAdapter())
    return stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": url},
        http_client=stripe.RequestsClient(timeout=TIMEOUT, session=session),
    )


def over_http(url: str, scale: Scale) -> list[Row]:
    calls = subjects.Calls(bounded_client(url))
    n = scale.rounds * scale.calls
    handle = interleaved(
        calls.handle, calls.raw, rounds=scale.rounds, calls=scale.calls
    )
    return [
        Row(
            "2",
            "handle() / raw create, HTTP stand-in, bounded client (inline)",
            handle,
            "<=",
            1.05,
            f"{n} calls each, stripe.RequestsClient(timeout={TIMEOUT})",
        )
    ]


def in_process(scale: Scale) -> list[Row]:
    calls = subjects.Calls(bounded_client())
    threaded = subjects.Calls(calls.stripe_client)
    threaded.issuer = EphemeralKeyIssuer(
        calls.stripe_client, subjects.allow_all, api_version=API_VERSION, deadline=5
    )
    per_round = scale.calls * 5
    handle = interleaved(calls.handle, calls.raw, rounds=scale.rounds, calls=per_round)
    thread = interleaved(
        threaded.handle, calls.handle, rounds=scale.rounds, calls=per_round
    )
    note = (
        f"{scale.rounds * per_round} calls each, stripe.RequestsClient("
        f"timeout={TIMEOUT}) over an in-process requests adapter"
    )
    return [
        Row(
            "2",
            "handle() / raw create, in-process, bounded client (inline)",
            handle,
            "<=",
            1.25,
            note,
        ),
        Row(
            "2",
            "handle() on a worker thread / inline, in-process (the thread's price)",
            thread,
            note=note + "; the thread: the same client under deadline=5",
        ),
    ]
