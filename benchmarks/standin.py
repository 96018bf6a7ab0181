"""A minimal, fast stand-in for Stripe's ``POST /v1/ephemeral_keys``.

An asyncio HTTP/1.1 server with keep-alive, run in a process of its own so
that it never competes with the measured code for the GIL. It answers every
POST with one canned, Stripe-shaped ``ephemeral_key`` object, optionally after
a fixed delay (to play a far-away Stripe), and counts the TCP connections
that carried key requests:

* ``GET /_stats`` answers ``{"connections": n}``;
* ``POST /_reset`` sets the count to zero.

Run ``python -m benchmarks.standin [--delay SECONDS]``: it prints its port on
the first line of stdout, and serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

CARD_ID = "ic_benchCard"
NONCE = "ephkn_pub_benchNonce"
SECRET_KEY = "sk_test_fake_benchmarks"
PUBLISHABLE_KEY = "pk_test_fake_benchmarks"
API_VERSION = "2024-06-20"

KEY_OBJECT = {
    "id": "ephkey_1BenchStandIn",
    "object": "ephemeral_key",
    "associated_objects": [{"id": CARD_ID, "type": "issuing.card"}],
    "created": 1_900_000_000,
    # Far in the future: the canned key never looks expired.
    "expires": 1_900_000_900,
    "livemode": False,
    "secret": "ek_test_YmVuY2htYXJrIHN0YW5kLWluIGtleQ_00BenchTail",
}
KEY_BODY = json.dumps(KEY_OBJECT).encode()
KEY_HEADERS = {
    "Content-Type": "application/json",
    "Request-Id": "req_benchStandIn",
    "Stripe-Version": API_VERSION,
}


def _response(status: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} OK"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: keep-alive", "", ""]
    return "\r\n".join(lines).encode() + body


_KEY_RESPONSE = _response(200, KEY_BODY, KEY_HEADERS)


class StandIn:
    """The server's state: the delay, and the connections it accepted."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.connections = 0

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        counted = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                method, path = head.split(b" ", 2)[:2]
                if method == b"POST" and path.startswith(b"/v1/") and not counted:
                    self.connections += 1
                    counted = True
                writer.write(await self._answer(method, path))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, method: bytes, path: bytes) -> bytes:
        if path == b"/_stats":
            body = json.dumps({"connections": self.connections}).encode()
            return _response(200, body, {"Content-Type": "application/json"})
        if path == b"/_reset":
            self.connections = 0
            return _response(200, b"{}", {"Content-Type": "application/json"})
        if method != b"POST":
            return _response(405, b"{}", {"Content-Type": "application/json"})
        if self.delay:
            await asyncio.sleep(self.delay)
        return _KEY_RESPONSE


async def _main(delay: float) -> None:
    standin = StandIn(delay)
    server = await asyncio.start_server(
        standin.serve, "127.0.0.1", 0, backlog=2048, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    # Serve until the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    # Clients may still hold keep-alive connections: leave without waiting
    # for them (or logging their cancelled handlers).
    os._exit(0)


class RunningStandIn:
    """A stand-in process seen from the benchmark: its URL and its counter."""

    def __init__(self, url: str) -> None:
        self.url = url

    def connections(self) -> int:
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=10) as answer:  # noqa: S310 - our own local server
            return int(json.load(answer)["connections"])

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/_reset", method="POST")  # noqa: S310 - our own local server
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - same
            pass


@contextlib.contextmanager
def running(delay: float = 0.0) -> Iterator[RunningStandIn]:
    """A stand-in in its own process, for the duration of the block."""
    argv = [sys.executable, "-m", "benchmarks.standin", "--delay", str(delay)]
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield RunningStandIn(f"http://127.0.0.1:{port}")
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.delay))


if __name__ == "__main__":
    main()
