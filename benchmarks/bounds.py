"""Item 2, with the bound intact: ``handle`` on a client whose timeouts bound the call.

``EphemeralKeyIssuer`` calls Stripe inline (no worker thread) when the HTTP
client bounds the call within ``deadline`` on its own. Here that client is
``stripe.RequestsClient(timeout=(1, 1.5))`` under the issuer's defaults
(``deadline=10``, ``max_network_retries=2``: 3 attempts of at most 2.5 s, plus
pauses of at most 1.5 s, 9 s in all):

* over HTTP to FakeStripe: ``handle`` / raw create;
* in-process, the same ``RequestsClient`` over a requests adapter that replays
  a FakeStripe answer (no network): ``handle`` / raw create, and ``handle``
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
from benchmarks.fake import API_VERSION
from benchmarks.measure import calls_per_side, interleaved
from benchmarks.report import Row
from issuing_elements import EphemeralKeyIssuer

if TYPE_CHECKING:
    from benchmarks.fake import RunningFake
    from benchmarks.measure import Scale

# Connect and read timeouts that bound a call within the default deadline.
TIMEOUT = (1, 1.5)


class CannedAdapter(BaseAdapter):
    """A requests transport that replays FakeStripe's recorded answer."""

    def __init__(self) -> None:
        super().__init__()
        self._body, self._headers = subjects.recorded_answer()

    def send(self, request: Any, *_: Any, **__: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = self._body
        response.headers = CaseInsensitiveDict(self._headers)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def bounded_client(server: RunningFake | None = None) -> stripe.StripeClient:
    """A StripeClient whose timeouts bound a call; in-process when *server* is None."""
    session = None
    url, api_key = "http://127.0.0.1:9", "sk_test_fake_benchmarks_in_process"
    if server is None:
        session = requests.Session()
        session.trust_env = False  # no proxy lookups in os.environ: less to dilute
        session.mount("http://", CannedAdapter())
    else:
        url, api_key = server.url, server.api_key
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": url},
        http_client=stripe.RequestsClient(timeout=TIMEOUT, session=session),
    )


def over_http(server: RunningFake, scale: Scale) -> list[Row]:
    calls = subjects.Calls(bounded_client(server), server)
    n = scale.rounds * scale.calls
    calls.stock(2 * calls_per_side(rounds=scale.rounds, calls=scale.calls))
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
