"""``python -m issuing_elements.testing``: one FakeStripe process that others share.

Every test runs the stand-in as a real subprocess and talks to it over HTTP
with the real stripe-python, from this process and from another one.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
import stripe

if TYPE_CHECKING:
    from collections.abc import Iterator

CARD = "ic_sharedCard"
CONNECTED_CARD = "ic_sharedConnected"
ACCOUNT = "acct_sharedOwner"
CARDLESS_ACCOUNT = "acct_sharedNoCards"
VERSION = "2024-06-20"


def start(*arguments: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "issuing_elements.testing", *arguments]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def stop(
    process: subprocess.Popen[str], signum: int = signal.SIGTERM
) -> tuple[int, str]:
    """Send *signum*; the exit status and what the process wrote to stderr."""
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=10)
        return process.returncode, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def standalone() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    process = start(
        "--port",
        "0",
        "--card",
        CARD,
        "--card",
        f"{CONNECTED_CARD}@{ACCOUNT}",
        "--account",
        CARDLESS_ACCOUNT,
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()
    try:
        yield process, json.loads(first_line)
    finally:
        if process.poll() is None:
            stop(process)


def client_for(announced: dict[str, str]) -> stripe.StripeClient:
    return stripe.StripeClient(
        announced["api_key"],
        base_addresses={"api": announced["url"]},
        http_client=stripe.RequestsClient(),
    )


def create_nonce(announced: dict[str, str], card_id: str) -> str:
    """As Stripe.js does: the publishable key, on the browser's endpoint."""
    request = urllib.request.Request(  # noqa: S310 - the local stand-in
        announced["url"] + "/v1/ephemeral_key_nonces",
        data=urllib.parse.urlencode({"issuing_card": card_id}).encode(),
        headers={"Authorization": f"Bearer {announced['publishable_key']}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - same
        nonce: str = json.load(answer)["id"]
    return nonce


def create_key_in_another_process(
    announced: dict[str, str], nonce: str
) -> dict[str, Any]:
    """A second Python process, with its own StripeClient, trades *nonce* for a key."""
    code = textwrap.dedent(
        f"""
        import json, stripe
        client = stripe.StripeClient(
            {announced["api_key"]!r},
            base_addresses={{"api": {announced["url"]!r}}},
            http_client=stripe.RequestsClient(),
        )
        key = client.v1.ephemeral_keys.create(
            params={{"issuing_card": {CARD!r}, "nonce": {nonce!r}}},
            options={{"stripe_version": {VERSION!r}}},
        )
        print(json.dumps({{"id": key.id, "card": key.associated_objects[0].id}}))
        """
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_first_line_is_the_url_and_the_keys(
    standalone: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, announced = standalone

    assert (
        ["api_key", "publishable_key", "url"],
        "sk_test_",
        "pk_test_",
        "http://127.0.0.1:",
    ) == (
        sorted(announced),
        announced["api_key"][:8],
        announced["publishable_key"][:8],
        announced["url"][:17],
    )


def test_a_nonce_made_here_is_used_up_by_another_process(
    standalone: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, announced = standalone
    nonce = create_nonce(announced, CARD)

    create_key_in_another_process(announced, nonce)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client_for(announced).v1.ephemeral_keys.create(
            params={"issuing_card": CARD, "nonce": nonce},
            options={"stripe_version": VERSION},
        )
    assert ("nonce", "This nonce has already been used to create a key.") == (
        caught.value.param,
        caught.value.user_message,
    )


def test_a_key_made_by_another_process_is_revoked_here(
    standalone: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, announced = standalone
    key = create_key_in_another_process(announced, create_nonce(announced, CARD))

    revoked = client_for(announced).v1.ephemeral_keys.delete(
        key["id"], options={"stripe_version": VERSION}
    )

    assert (key["id"], CARD) == (revoked.id, key["card"])


def test_cards_of_connected_accounts_and_accounts_are_known(
    standalone: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, announced = standalone
    client = client_for(announced)

    key = client.v1.ephemeral_keys.create(
        params={"issuing_card": CONNECTED_CARD},
        options={"stripe_version": VERSION, "stripe_account": ACCOUNT},
    )
    session = client.v1.account_sessions.create(
        params={
            "account": CARDLESS_ACCOUNT,
            "components": {"issuing_cards_list": {"enabled": True}},
        }
    )

    assert (CONNECTED_CARD, CARDLESS_ACCOUNT) == (
        key.to_dict()["associated_objects"][0]["id"],
        session.account,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_it_cleanly(
    standalone: tuple[subprocess.Popen[str], dict[str, str]], signum: int
) -> None:
    process, _ = standalone

    assert (0, "") == stop(process, signum)


def test_it_listens_on_the_port_it_is_given() -> None:
    from issuing_elements.testing import free_port  # noqa: PLC0415 - the fixture's twin

    port = free_port()
    process = start("--port", str(port))
    assert process.stdout is not None
    announced = json.loads(process.stdout.readline())
    stop(process)

    assert f"http://127.0.0.1:{port}" == announced["url"]


PROG = "python -m issuing_elements.testing"


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--port", "x"],
        ["--port", "70000"],
        ["--port", "0", "--card", "cus_notACard"],
        ["--port", "0", "--card", "ic_card@notAnAccount"],
        ["--port", "0", "--account", "ic_notAnAccount"],
        ["--port", "0", "--colour", "blue"],
        ["--port", "0", "--card", "ic_a b"],
        ["--port", "0", "--card", "ic_"],
        ["--port", "0", "--card", "ic_card@acct_"],
        ["--port", "0", "--card", "ic_card\n"],
        ["--port", "0", "--account", "acct_"],
        ["--port", "0", "--account", "acct_a-b"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(arguments: list[str]) -> None:
    process = start(*arguments)
    stdout, stderr = process.communicate(timeout=30)

    assert (2, "", 1, f"{PROG}: error: ") == (
        process.returncode,
        stdout,
        len(stderr.splitlines()),
        stderr[: len(PROG) + 9],
    )


def test_a_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start("--port", str(port))
        stdout, stderr = process.communicate(timeout=30)

    assert (2, "", [f"{PROG}: error: cannot listen on 127.0.0.1:{port}"]) == (
        process.returncode,
        stdout,
        [line.partition(": Address")[0] for line in stderr.splitlines()],
    )


def test_listening_beyond_loopback_is_warned_about_in_one_line() -> None:
    process = start("--port", "0", "--host", "0.0.0.0")  # noqa: S104 - the warning's case
    assert process.stdout is not None
    announced = json.loads(process.stdout.readline())
    status, stderr = stop(process)

    assert (0, [f"{PROG}: warning: listening on {announced['url']}"]) == (
        status,
        [line.partition(", beyond")[0] for line in stderr.splitlines()],
    )


def test_basic_auth_mints_a_nonce_as_curl_u_does(
    standalone: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, announced = standalone
    token = base64.b64encode(f"{announced['publishable_key']}:".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - the local stand-in
        announced["url"] + "/v1/ephemeral_key_nonces",
        data=urllib.parse.urlencode({"issuing_card": CARD}).encode(),
        headers={"Authorization": f"Basic {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - same
        nonce = json.load(answer)

    assert ("ephemeral_key_nonce", CARD) == (nonce["object"], nonce["issuing_card"])
