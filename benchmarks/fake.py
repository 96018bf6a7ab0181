"""Stripe for the benchmarks: the library's ``FakeStripe``, in a process of its own.

The benchmarks' only Stripe double is ``issuing_elements.testing.FakeStripe``,
the one the tests, the examples and ``make load`` use. Here it runs in a
child process, so that its server threads never compete with the measured
code for the GIL, and the benchmark drives it over a pipe:

* `RunningFake.nonces` mints fresh nonces in bulk (``create_nonce``,
  what ``stripe.createEphemeralKeyNonce`` does), before the timed section:
  every measured call trades a nonce of its own, as in production;
* `RunningFake.connections` reads the TCP connections the fake has
  accepted (``FakeStripe.connections``).

``running(latency=0.1)`` plays a far-away Stripe: every key call is answered
after 100 ms (``FakeStripe(latency=...)``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
from typing import TYPE_CHECKING

from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from multiprocessing.connection import Connection

CARD_ID = "ic_benchCard"
# The FastAPI and Lambda examples' demo user alice, and her card.
DEMO_TOKEN = "alice-demo-token"
DEMO_CARD_ID = "ic_demoAliceVirtual"
API_VERSION = "2024-06-20"


class RunningFake:
    """A FakeStripe in a child process, seen from the benchmark."""

    def __init__(
        self, pipe: Connection, url: str, api_key: str, publishable_key: str
    ) -> None:
        self._pipe = pipe
        self.url = url
        self.api_key = api_key
        self.publishable_key = publishable_key

    def nonces(self, n: int, card_id: str = CARD_ID) -> list[str]:
        """*n* fresh nonces for *card_id*, each good for one key."""
        self._pipe.send(("nonces", card_id, n))
        nonces: list[str] = self._pipe.recv()
        return nonces

    def connections(self) -> int:
        """The TCP connections the fake accepted since it started."""
        self._pipe.send(("connections",))
        count: int = self._pipe.recv()
        return count


def _serve(pipe: Connection, latency: float, cards: Sequence[str]) -> None:
    """The child: one FakeStripe, serving until the benchmark closes the pipe."""
    with FakeStripe(latency=latency) as fake:
        for card_id in cards:
            fake.add_card(card_id)
        pipe.send((fake.url, fake.api_key, fake.publishable_key))
        while True:
            try:
                request = pipe.recv()
            except EOFError:
                return
            if request[0] == "nonces":
                _, card_id, n = request
                pipe.send([fake.create_nonce(card_id) for _ in range(n)])
            else:
                pipe.send(fake.connections)


@contextlib.contextmanager
def running(latency: float = 0.0) -> Iterator[RunningFake]:
    """A FakeStripe in its own process, for the duration of the block."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_serve,
        args=(theirs, latency, (CARD_ID, DEMO_CARD_ID)),
        name="FakeStripe",
        daemon=True,
    )
    process.start()
    theirs.close()
    try:
        try:
            url, api_key, publishable_key = ours.recv()
        except EOFError:
            raise RuntimeError(
                "FakeStripe's process ended before it served: its traceback is above"
            ) from None
        yield RunningFake(ours, url, api_key, publishable_key)
    finally:
        ours.close()  # the child's recv() ends: it closes the fake and exits
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
