"""Load run (``make load``): the FastAPI example under uvicorn, every control on.

A bounded script, not a timed test: it prints its figures and exits 1 if a
request failed or an audit event is missing.

The setup, all on 127.0.0.1:

* This script starts the library's ``FakeStripe`` and registers the demo
  users' cards. It plays the browser too: for each request it mints a fresh
  nonce for the card in-process (``fake.create_nonce``, what
  ``stripe.createEphemeralKeyNonce`` does), so nonce minting costs the server
  nothing.
* A real ``uvicorn`` process serves ``examples/fastapi/app.py``, configured
  the production way (``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE`` pointed at
  the fake, ``ISSUING_ELEMENTS_ALLOWED_ORIGINS``), so that its Stripe calls go
  over HTTP through stripe-python's own httpx client. uvicorn loads it
  through :func:`create_app` below, which builds the example's ``Demo`` from
  the environment and swaps in an issuer configured as the demo's (same
  authorizer, page elements, body limit, refresh margin, allowed origins)
  plus a ``MemoryRateLimiter`` with a generous limit. Audit events go
  through the default sink (JSON lines on the ``issuing_elements.audit``
  logger), which the server writes to a file; this script counts the lines.
* The load: ``httpx.AsyncClient`` with 50 workers, each sending
  ``POST /ephemeral-keys`` with a user's bearer token, the allowed
  ``Origin`` and a JSON body, round robin over the demo's three users (one of
  them on a connected account).

Printed: requests, errors (non-200), audit events against requests, the
server's RSS (``/proc/PID/status``) after start-up, after a warm-up and at
the end, throughput, and p50/p99 latency of the endpoint call.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI

    from issuing_elements.testing import FakeStripe

ROOT = Path(__file__).resolve().parent.parent
DEMO_USERS_FILE = ROOT / "examples" / "_shared" / "demo_users.json"
AUDIT_FILE_VARIABLE = "ISSUING_ELEMENTS_LOAD_AUDIT_FILE"
WARM_UP = 200


# -- the server side: what uvicorn imports ------------------------------------


def create_app() -> FastAPI:
    """The FastAPI example, its issuer with a memory rate limiter, audit to a file."""
    from examples._shared import (
        MAX_BODY_BYTES,
        REFRESH_MARGIN,
        Demo,
        allowed_origins_from,
        page_elements,
    )
    from examples.fastapi.app import authorize
    from examples.fastapi.app import create_app as create_example_app
    from issuing_elements import (
        EphemeralKeyIssuer,
        MemoryRateLimiter,
        RateLimit,
    )

    audit = logging.getLogger("issuing_elements.audit")
    handler = logging.FileHandler(os.environ[AUDIT_FILE_VARIABLE], encoding="utf-8")
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    audit.propagate = False  # the file only, not uvicorn's console

    demo = Demo.from_environment()
    issuer = EphemeralKeyIssuer(
        demo.stripe_client,
        authorize,
        max_body_bytes=MAX_BODY_BYTES,
        refresh_margin=REFRESH_MARGIN,
        elements=page_elements,
        allowed_origins=allowed_origins_from(
            os.environ.get("ISSUING_ELEMENTS_ALLOWED_ORIGINS")
        ),
        # Generous: the run measures the limiter's cost, not its refusals.
        rate_limiter=MemoryRateLimiter(
            per_user=RateLimit(limit=1_000_000, window_seconds=60),
            per_card=RateLimit(limit=1_000_000, window_seconds=60),
        ),
    )
    return create_example_app(demo, issuer)


# -- the load side --------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process *pid* so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


class Browser:
    """The browsers of the demo's users: a fresh nonce, then the key request."""

    def __init__(self, fake: FakeStripe, base_url: str, origin: str) -> None:
        users = json.loads(DEMO_USERS_FILE.read_text(encoding="utf-8"))
        self.fake = fake
        self.origin = origin
        self.base_url = base_url
        # (token, card, account) per user, round robin.
        self.callers = [
            (token, card, account)
            for token, user in sorted(users["tokens"].items())
            for card, account in users["cards"].get(user, {}).items()
        ]
        for _, card, account in self.callers:
            fake.add_card(card, account=account)
        # Status 0: no answer (a transport error, counted by kind).
        self.statuses: collections.Counter[int] = collections.Counter()
        self.transport_errors: collections.Counter[str] = collections.Counter()
        self.latencies: list[float] = []
        self.bad_bodies = 0

    async def run(self, requests: int, concurrency: int) -> float:
        """Send *requests* with *concurrency* workers; the seconds it took."""
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=self.base_url, limits=limits, timeout=60
        ) as client:
            counter = iter(range(requests))
            started = time.perf_counter()
            await asyncio.gather(
                *(self._worker(client, counter) for _ in range(concurrency))
            )
            return time.perf_counter() - started

    async def _worker(self, client: httpx.AsyncClient, counter: Iterator[int]) -> None:
        for number in counter:
            token, card, account = self.callers[number % len(self.callers)]
            nonce = self.fake.create_nonce(card, account=account)
            body = json.dumps({"card_id": card, "nonce": nonce})
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/ephemeral-keys",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "Origin": self.origin,
                        "User-Agent": "issuing-elements-load",
                        "X-Request-Id": f"load-{number}",
                    },
                )
            except httpx.HTTPError as error:
                self.statuses[0] += 1
                self.transport_errors[f"{type(error).__name__}: {error}"] += 1
                continue
            self.latencies.append(time.perf_counter() - started)
            self.statuses[response.status_code] += 1
            if response.status_code == 200 and not (
                response.json().get("issuingCard") == card
                and response.json().get("ephemeralKeySecret", "").startswith("ek_test_")
            ):
                self.bad_bodies += 1


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            httpx.get(url + "/client-config", timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
        else:
            return
    raise RuntimeError("uvicorn did not start within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    options = parser.parse_args()

    from issuing_elements.testing import FakeStripe

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with (
        FakeStripe() as fake,
        tempfile.TemporaryDirectory(prefix="issuing-elements-load-") as scratch,
    ):
        audit_file = Path(scratch) / "audit.jsonl"
        environment = {
            **os.environ,
            "STRIPE_SECRET_KEY": fake.api_key,
            "STRIPE_PUBLISHABLE_KEY": fake.publishable_key,
            "STRIPE_API_BASE": fake.url,
            "ISSUING_ELEMENTS_ALLOWED_ORIGINS": base_url,
            AUDIT_FILE_VARIABLE: str(audit_file),
            # stripe-python's HTTPXClient hands httpx a str body; httpx warns each time.
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(ROOT),
                "--factory",
                "benchmarks.load:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                # Past any pause in the run: uvicorn closing a kept-alive
                # connection (5 s idle by default) as the client reuses it
                # is a race of the client's, not a failure of the endpoint.
                "--timeout-keep-alive",
                "60",
            ],
            env=environment,
        )
        try:
            _wait_until_up(base_url, server)
            rss_start = _rss_kib(server.pid)
            browser = Browser(fake, base_url, origin=base_url)
            asyncio.run(browser.run(WARM_UP, options.concurrency))
            rss_warm = _rss_kib(server.pid)
            warm_statuses = browser.statuses.copy()
            browser.statuses.clear()
            browser.latencies.clear()
            server_cpu, own_cpu = _cpu_seconds(server.pid), _cpu_seconds(os.getpid())
            seconds = asyncio.run(browser.run(options.requests, options.concurrency))
            rss_end = _rss_kib(server.pid)
            server_cpu = _cpu_seconds(server.pid) - server_cpu
            own_cpu = _cpu_seconds(os.getpid()) - own_cpu
        finally:
            server.terminate()
            server.wait(timeout=30)
        events = [
            json.loads(line)
            for line in audit_file.read_text(encoding="utf-8").splitlines()
        ]

    sent = WARM_UP + options.requests
    errors = sum(n for status, n in browser.statuses.items() if status != 200)
    errors += sum(n for status, n in warm_statuses.items() if status != 200)
    outcomes = collections.Counter(event["outcome"] for event in events)
    missing = sent - len(events)
    latencies = sorted(browser.latencies)
    p50 = _percentile(latencies, 0.50) * 1000
    p99 = _percentile(latencies, 0.99) * 1000
    print(
        f"requests:      {options.requests} at concurrency {options.concurrency}"
        f" (after {WARM_UP} warm-up requests)\n"
        f"errors:        {errors} (statuses {dict(browser.statuses)};"
        f" bad 200 bodies {browser.bad_bodies};"
        f" transport errors {dict(browser.transport_errors)})\n"
        f"audit events:  {len(events)} for {sent} requests"
        f" (missing {missing}; outcomes {dict(outcomes)})\n"
        f"keys issued:   {len(fake.keys)} by FakeStripe\n"
        f"server RSS:    {rss_start / 1024:.1f} MiB at start,"
        f" {rss_warm / 1024:.1f} MiB after warm-up,"
        f" {rss_end / 1024:.1f} MiB at the end"
        f" (growth {(rss_end - rss_warm) / 1024:+.1f} MiB over the run)\n"
        f"throughput:    {options.requests / seconds:.0f} requests/s"
        f" ({seconds:.1f} s)\n"
        f"latency:       p50 {p50:.1f} ms, p99 {p99:.1f} ms\n"
        f"CPU:           server {server_cpu:.1f} s, this script and FakeStripe"
        f" {own_cpu:.1f} s, on {os.cpu_count()} cores"
        f" (load average {os.getloadavg()[0]:.1f})"
    )
    return 0 if errors == 0 and missing == 0 and browser.bad_bodies == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
