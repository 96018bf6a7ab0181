"""Item 6: the FastAPI example under uvicorn against a minimal FastAPI endpoint.

Both apps run under uvicorn in processes of their own, against the same
FakeStripe (in a process of its own too); one load generator (raw asyncio,
keep-alive, ``CONCURRENCY`` connections) drives them in turn, round by round,
alternating which goes first. Every request carries a fresh nonce, minted
before its run. Per round: requests per second and the 99th percentile
latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import fake
from benchmarks.report import Row
from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.fake import RunningFake
    from benchmarks.measure import Scale

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 20
# Requests per second the warm-up mints nonces for: past what either app
# serves on a small machine; the timed runs then mint for twice the rate seen.
WARM_UP_RATE = 5000
FIELDS = {"ephemeralKeySecret", "issuingCard", "nonce", "expires"}


def _request(nonce: str) -> bytes:
    body = json.dumps({"card_id": fake.DEMO_CARD_ID, "nonce": nonce})
    return (
        "POST /ephemeral-keys HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: Bearer {fake.DEMO_TOKEN}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def _requests(server: RunningFake, n: int) -> deque[bytes]:
    """*n* requests, each with a nonce of its own."""
    return deque(_request(nonce) for nonce in server.nonces(n, fake.DEMO_CARD_ID))


@contextlib.contextmanager
def _uvicorn(app: str, env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(argv, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn {app} did not start")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _worker(
    port: int, until: float, latencies: list[float], requests: deque[bytes]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            if not requests:
                raise RuntimeError("out of nonces: mint more for the load run")
            request = requests.popleft()
            start = time.perf_counter()
            status, body = await _one(reader, writer, request)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"answer {status}: {body[:200]!r}")
    finally:
        writer.close()


async def load(
    port: int, seconds: float, requests: deque[bytes]
) -> tuple[float, float]:
    """Requests per second and p99 latency over *seconds* of closed-loop load."""
    latencies: list[float] = []
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(_worker(port, until, latencies, requests) for _ in range(CONCURRENCY))
    )
    elapsed = time.perf_counter() - start
    p99 = statistics.quantiles(latencies, n=100)[98]
    return len(latencies) / elapsed, p99


def _check_body(port: int, request: bytes) -> None:
    async def once() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            status, body = await _one(reader, writer, request)
        finally:
            writer.close()
        if status != 200:
            raise RuntimeError(f"answer {status}: {body[:200]!r}")
        return body

    fields = set(json.loads(asyncio.run(once())))
    if fields != FIELDS:
        raise RuntimeError(f"the 200 body has {sorted(fields)}, not {sorted(FIELDS)}")


def run(scale: Scale) -> list[Row]:
    with fake.running() as server:
        env = {
            **os.environ,
            "STRIPE_SECRET_KEY": server.api_key,
            "STRIPE_PUBLISHABLE_KEY": server.publishable_key,
            "STRIPE_API_BASE": server.url,
        }
        with (
            _uvicorn("benchmarks.apps.example_fastapi:app", env) as example,
            _uvicorn("benchmarks.apps.minimal_fastapi:app", env) as minimal,
        ):
            # Enough nonces for a run at WARM_UP_RATE, and then for one at
            # twice the fastest rate the warm-up saw.
            seen = 0.0
            for port in (example, minimal):
                _check_body(port, _request(server.nonces(1, fake.DEMO_CARD_ID)[0]))
                requests = _requests(server, int(WARM_UP_RATE * scale.load_seconds))
                warm = asyncio.run(load(port, scale.load_seconds / 2, requests))
                seen = max(seen, warm[0])
            rate = 2 * seen + 100
            throughput, p99 = [], []
            for round_ in range(scale.load_rounds):
                order = (example, minimal) if round_ % 2 == 0 else (minimal, example)
                figures = {
                    port: asyncio.run(
                        load(
                            port,
                            scale.load_seconds,
                            _requests(server, int(rate * scale.load_seconds)),
                        )
                    )
                    for port in order
                }
                throughput.append(figures[example][0] / figures[minimal][0])
                p99.append(figures[example][1] / figures[minimal][1])
    note = (
        f"uvicorn, {CONCURRENCY} keep-alive connections, "
        f"{scale.load_seconds:g} s per app per round, same FakeStripe, "
        "a fresh nonce per request"
    )
    return [
        Row(
            "6",
            "FastAPI example / minimal endpoint, throughput",
            throughput,
            ">=",
            0.95,
            note,
        ),
        Row("6", "FastAPI example / minimal endpoint, p99 latency", p99, "<=", 1.10),
    ]
