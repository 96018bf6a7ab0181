"""Item 6: the FastAPI example under uvicorn against a minimal FastAPI endpoint.

Both apps run under uvicorn in processes of their own, against the same fast
stand-in; one load generator (raw asyncio, keep-alive, ``CONCURRENCY``
connections) drives them in turn, round by round, alternating which goes
first. Per round: requests per second and the 99th percentile latency.
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
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import standin
from benchmarks.report import Row
from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.measure import Scale

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 20
BODY = json.dumps({"card_id": "ic_demoAliceVirtual", "nonce": "ephkn_pub_demoNonce"})
REQUEST = (
    "POST /ephemeral-keys HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Authorization: Bearer alice-demo-token\r\n"
    "Content-Type: application/json\r\n"
    f"Content-Length: {len(BODY)}\r\n\r\n{BODY}"
).encode()
FIELDS = {"ephemeralKeySecret", "issuingCard", "nonce", "expires"}


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
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[int, bytes]:
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _worker(port: int, until: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            status, body = await _one(reader, writer)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"answer {status}: {body[:200]!r}")
    finally:
        writer.close()


async def load(port: int, seconds: float) -> tuple[float, float]:
    """Requests per second and p99 latency over *seconds* of closed-loop load."""
    latencies: list[float] = []
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(_worker(port, until, latencies) for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    p99 = statistics.quantiles(latencies, n=100)[98]
    return len(latencies) / elapsed, p99


def _check_body(port: int) -> None:
    async def once() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            status, body = await _one(reader, writer)
        finally:
            writer.close()
        if status != 200:
            raise RuntimeError(f"answer {status}: {body[:200]!r}")
        return body

    fields = set(json.loads(asyncio.run(once())))
    if fields != FIELDS:
        raise RuntimeError(f"the 200 body has {sorted(fields)}, not {sorted(FIELDS)}")


def run(scale: Scale) -> list[Row]:
    with standin.running() as server:
        env = {
            **os.environ,
            "STRIPE_SECRET_KEY": standin.SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": standin.PUBLISHABLE_KEY,
            "STRIPE_API_BASE": server.url,
        }
        with (
            _uvicorn("benchmarks.apps.example_fastapi:app", env) as example,
            _uvicorn("benchmarks.apps.minimal_fastapi:app", env) as minimal,
        ):
            for port in (example, minimal):
                _check_body(port)
                asyncio.run(load(port, scale.load_seconds / 2))  # warm up
            throughput, p99 = [], []
            for round_ in range(scale.load_rounds):
                order = (example, minimal) if round_ % 2 == 0 else (minimal, example)
                figures = {
                    port: asyncio.run(load(port, scale.load_seconds)) for port in order
                }
                throughput.append(figures[example][0] / figures[minimal][0])
                p99.append(figures[example][1] / figures[minimal][1])
    note = (
        f"uvicorn, {CONCURRENCY} keep-alive connections, "
        f"{scale.load_seconds:g} s per app per round, same stand-in"
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
