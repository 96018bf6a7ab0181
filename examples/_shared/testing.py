"""Test helpers for the examples: Stripe stood in for, apps loaded, servers run.

* :class:`StripeStandIn`: the library's ``FakeStripe`` as one test sees it;
  the apps reach it through ``STRIPE_API_BASE`` as they would any
  Stripe-compatible server.
* :func:`running`: an example in a real server process, stopped afterwards.

The fixtures built on them are in ``examples/conftest.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import pytest

from examples._shared import DEMO_USERS_FILE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from issuing_elements.testing import FakeStripe, RecordedRequest

EXAMPLES = Path(__file__).resolve().parent.parent
FAKE_SECRET_KEY = "sk_test_fake_issuing_elements"
FAKE_PUBLISHABLE_KEY = "pk_test_fake_issuing_elements"
#: The page origin the examples' tests configure as allowed.
APP_ORIGIN = "https://cards.example.com"

# From the shipped demo users file.
ALICE = "alice-demo-token"
BOB = "bob-demo-token"
CAROL = "carol-demo-token"
ALICE_CARD = "ic_demoAliceVirtual"
BOB_CARD = "ic_demoBobVirtual"
# Erin's cards are the ones the card lifecycle tests freeze: no other test
# asks for them, so no other test meets their ledger tombstones.
ERIN = "erin-demo-token"
ERIN_CARD = "ic_demoErinVirtual"
ERIN_CONNECT_CARD = "ic_demoErinConnect"
CAROL_CARD = "ic_demoCarolConnect"
CAROL_ACCOUNT = "acct_demoConnected"
NONCE = "ephkn_pub_demoNonce"
#: The examples' webhook signing secrets: the current one and a rolled one.
WEBHOOK_SECRET = "whsec_fake_examples_current"
WEBHOOK_SECRET_ROLLED = "whsec_fake_examples_rolled"
PAGE_ELEMENTS = [
    "issuingCardNumberDisplay",
    "issuingCardExpiryDisplay",
    "issuingCardCvcDisplay",
]

#: Every variable a WSGI (PEP 3333) or CGI (RFC 3875) environ holds, and
#: headers spelt as an environ spells them: sent as request headers with a
#: forbidden ``Origin``, each must leave the origin check as it is (403).
ENVIRON_NAMES = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_USER",
    "AUTH_TYPE",
    "PATH_TRANSLATED",
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
    "wsgi.file_wrapper",
    "Request-Method",
    "Server-Protocol",
    "HTTP_X",
    "HTTP_ORIGIN",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_HOST",
)


def spoofing_headers(token: str, name: str) -> dict[str, str]:
    """*token*'s request from another site's page, plus a header called *name*.

    The extra header's value is the one that would let the request through
    were it read as the environ variable it is named like.
    """
    value = "same-origin" if name == "HTTP_SEC_FETCH_SITE" else APP_ORIGIN
    return {**bearer(token), "Origin": "https://evil.example", name: value}


@attrs.frozen
class StripeStandIn:
    """The examples' one ``FakeStripe``, as one test sees it.

    One FakeStripe serves the whole session: the apps reach it through
    ``STRIPE_API_BASE``, in-process and in their server processes alike.
    This view shows what reached it since the test began.
    """

    fake: FakeStripe
    first_request: int

    @property
    def url(self) -> str:
        return self.fake.url

    def nonce_for(self, card_id: str) -> str:
        """A nonce for *card_id*, as Stripe.js would mint it in the page."""
        return self.fake.create_nonce(card_id)

    def is_down(self) -> None:
        """A Stripe outage: 500, and ``Stripe-Should-Retry: false`` as Stripe sends."""
        self.fake.fail_next(500, stripe_should_retry=False)

    def last_key_secret(self) -> str:
        return self.fake.keys[-1].secret

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self.fake.requests[self.first_request :])

    def sent(self) -> RecordedRequest:
        """The one request the app made to Stripe."""
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


def environment_for(stripe_url: str) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": FAKE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": FAKE_PUBLISHABLE_KEY,
        "STRIPE_API_BASE": stripe_url,
        "ISSUING_ELEMENTS_DEMO_USERS": str(DEMO_USERS_FILE),
        "ISSUING_ELEMENTS_ALLOWED_ORIGINS": f"{APP_ORIGIN}, https://admin.example.com",
        "STRIPE_WEBHOOK_SECRETS": f"{WEBHOOK_SECRET_ROLLED},{WEBHOOK_SECRET}",
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@attrs.frozen
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class HttpClient(Protocol):
    """An ``httpx.Client``, or Starlette's ``TestClient`` (an ``httpx2.Client``)."""

    @property
    def request(self) -> Callable[..., Any]: ...


def call_with_httpx(client: HttpClient) -> Callable[..., Answer]:
    """``call(method, path, **httpx_arguments)`` through an httpx-like client."""

    def call(method: str, path: str, **arguments: Any) -> Answer:
        response = client.request(method, path, **arguments)
        return Answer(response.status_code, response.headers, response.text)

    return call


@contextlib.contextmanager
def running(
    argv: list[str],
    *,
    port: int,
    env: Mapping[str, str],
    log: Path,
    unset: tuple[str, ...] = (),
) -> Iterator[str]:
    """Run *argv* (a server on 127.0.0.1:*port*) until the block ends; yield its URL.

    The process gets this environment plus *env*, without the variables
    named in *unset*; its output goes to *log*.
    """
    url = f"http://127.0.0.1:{port}"
    full_env = {
        name: value
        for name, value in {**os.environ, **env}.items()
        if name not in unset
    }
    full_env["PYTHONUNBUFFERED"] = "1"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            argv,
            env=full_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=EXAMPLES.parent,
        )
    try:
        _wait_until_serving(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def standalone_fake_stripe(*cards: str, log: Path) -> Iterator[dict[str, str]]:
    """``python -m issuing_elements.testing`` with *cards* (``ic_...[@acct_...]``).

    Yields its first line: ``{"url", "api_key", "publishable_key"}``. Stopped
    with SIGTERM afterwards; its stderr goes to *log*.
    """
    argv = [sys.executable, "-m", "issuing_elements.testing", "--port", "0"]
    for card in cards:
        argv += ["--card", card]
    with log.open("wb") as errors:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            argv, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"the stand-in did not start:\n{log.read_text()}")
        yield json.loads(line)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    # Ends as soon as the server listens: a bound for a machine at load 8.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            with socket.create_connection(
                ("127.0.0.1", int(url.rsplit(":", 1)[1])), 0.2
            ):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not start within 60 s:\n{log.read_text()}")
