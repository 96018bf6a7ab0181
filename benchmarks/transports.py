"""Items 3 and 5 (async): stripe-python's async transports under concurrency.

Against FakeStripe answering after 100 ms (``FakeStripe(latency=0.1)``, in
a process of its own), for ``stripe.HTTPXClient()``
and ``stripe.AIOHTTPClient()`` as stripe-python builds them (default pools):
the wall time of 500 concurrent ``aissue`` over that of one, and the two
transports' 500-call bursts against each other. On the faster transport,
``ahandle`` x500 against raw ``create_async`` x500. Then, against FakeStripe
without latency, the TCP connections 500 sequential ``aissue`` open per
transport. Every call trades a fresh nonce, minted before its timed section.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import TYPE_CHECKING

import stripe

from benchmarks import fake, subjects
from benchmarks.measure import ainterleaved
from benchmarks.report import Row

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from benchmarks.fake import RunningFake
    from benchmarks.measure import Scale

BURST = 500
LATENCY = 0.1
TRANSPORTS: dict[str, Callable[[], stripe.HTTPClient]] = {
    "HTTPXClient": stripe.HTTPXClient,
    "AIOHTTPClient": stripe.AIOHTTPClient,
}


def burst(
    call: Callable[[], Awaitable[object]], n: int = BURST
) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        return await asyncio.gather(*(call() for _ in range(n)))

    return run


async def _timed(call: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def _transports(server: RunningFake, scale: Scale) -> tuple[list[Row], str]:
    calls = {
        name: subjects.Calls(subjects.client(server, make()), server)
        for name, make in TRANSPORTS.items()
    }
    for each in calls.values():  # warm the pools
        each.stock(20)
        await burst(each.aissue, 20)()
    ratios: dict[str, list[float]] = {name: [] for name in calls}
    bursts: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(scale.burst_rounds):
        names = list(calls) if round_ % 2 == 0 else list(reversed(calls))
        for name in names:
            calls[name].stock(3 + BURST)
            one = statistics.median(
                [await _timed(calls[name].aissue) for _ in range(3)]
            )
            many = await _timed(burst(calls[name].aissue))
            ratios[name].append(many / one)
            bursts[name].append(many)
    httpx_, aiohttp_ = bursts["HTTPXClient"], bursts["AIOHTTPClient"]
    faster = (
        "AIOHTTPClient"
        if statistics.median(aiohttp_) < statistics.median(httpx_)
        else "HTTPXClient"
    )
    rows = [
        Row(
            "3",
            f"{name}: {BURST} concurrent aissue() / 1, stand-in at 100 ms",
            ratios[name],
            note=f"a {BURST}-call burst took "
            + ", ".join(f"{t:.2f}" for t in bursts[name])
            + " s",
        )
        for name in calls
    ]
    rows.append(
        Row(
            "3",
            f"HTTPXClient / AIOHTTPClient, {BURST} concurrent aissue()",
            [h / a for h, a in zip(httpx_, aiohttp_, strict=True)],
        )
    )
    chosen = calls[faster]
    chosen.stock(BURST * (2 + 2 * scale.burst_rounds * 2))
    handle = await ainterleaved(
        burst(chosen.ahandle), burst(chosen.araw), rounds=scale.burst_rounds * 2
    )
    rows.append(
        Row(
            "3",
            f"{BURST} ahandle() / {BURST} raw create_async, {faster}",
            handle,
            "<=",
            1.05,
            f"on the faster transport of the two ({faster})",
        )
    )
    for each in calls.values():
        await each.stripe_client._requestor._client.close_async()
    return rows, faster


async def _connections(server: RunningFake, n: int) -> list[Row]:
    rows = []
    for name, make in TRANSPORTS.items():
        http_client = make()
        calls = subjects.Calls(subjects.client(server, http_client), server)
        calls.stock(n)
        before = server.connections()
        for _ in range(n):
            await calls.aissue()
        await http_client.close_async()  # type: ignore[no-untyped-call]  # stripe-python is untyped here
        rows.append(
            Row(
                "5",
                f"TCP connections, {n} sequential aissue(), {name}",
                [server.connections() - before],
                "<=",
                2,
            )
        )
    return rows


def run(scale: Scale) -> tuple[list[Row], str]:
    """The rows, and the name of the faster transport."""
    with fake.running(latency=LATENCY) as slow:
        rows, faster = asyncio.run(_transports(slow, scale))
    with fake.running() as fast:
        rows += asyncio.run(_connections(fast, scale.sequential))
    return rows, faster
