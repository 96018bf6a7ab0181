"""The demo, as ``make demo`` runs it, in headless Chromium from the system.

``python -m examples.demo`` runs in a process of its own, offline (no Stripe key in
its environment); Playwright drives Debian's ``chromium`` through the page:
sign in, show a card, refresh the key, replay a used nonce, try another
user's card. Nothing downloads a browser: without ``chromium`` on the PATH
the tests skip (and fail in CI, which sets ISSUING_ELEMENTS_REQUIRE_SYSTEM=1).
"""

# ruff: noqa: SIM300 - STYLE.md: tests read `expected == actual`

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from examples._shared.testing import EXAMPLES, running
from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

STRIPE_VARIABLES = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# How long a wait for the page or the demo's log may last: it ends as soon as
# what it waits for is there, so only a failing test waits it out, and it
# holds on a machine at load 8 on 2 cores.
PATIENCE_SECONDS = 60
expect.set_options(timeout=PATIENCE_SECONDS * 1000)


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo") / "demo.log"


@pytest.fixture(scope="module")
def demo_url(demo_log: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "examples.demo", "--port", str(port)]
    with running(argv, port=port, env={}, log=demo_log, unset=STRIPE_VARIABLES) as url:
        yield f"{url}/"


@pytest.fixture(scope="module")
def browsers() -> Iterator[Callable[[str], Browser]]:
    """Launches Chromium from a path, once per module; closes it afterwards."""
    with contextlib.ExitStack() as stack:
        launched: list[Browser] = []

        def launch(executable: str) -> Browser:
            if not launched:
                playwright = stack.enter_context(sync_playwright())
                browser = playwright.chromium.launch(
                    executable_path=executable, args=CHROMIUM_ARGS
                )
                stack.callback(browser.close)
                launched.append(browser)
            return launched[0]

        yield launch


@pytest.fixture
def page(
    require_system: Callable[[str], str],
    browsers: Callable[[str], Browser],
    demo_url: str,
) -> Iterator[Page]:
    """The demo page, loaded and ready, in a fresh browser context."""
    context = browsers(require_system("chromium")).new_context()
    context.set_default_timeout(PATIENCE_SECONDS * 1000)
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(demo_url)
    expect(opened.locator("body")).to_have_attribute("data-ready", "true")
    yield opened
    context.close()
    assert [] == errors


def show(page: Page, user: str, card: str) -> None:
    page.select_option("#user", label=user)
    page.click("#sign-in")
    page.select_option("#card", card)
    page.click("#show")


def test_the_page_says_what_is_simulated(page: Page) -> None:
    expect(page.locator("#mode")).to_contain_text("Offline demo")
    expect(page.locator("#mode")).to_contain_text("FakeStripe")
    expect(page.locator("#mode")).to_contain_text("no Issuing Element is mounted")


def test_signed_in_user_sees_the_key_and_the_card(page: Page) -> None:
    show(page, "alice", "ic_demoAliceVirtual")

    expect(page.locator("#who")).to_contain_text("Signed in as alice")
    expect(page.locator("#card-data")).to_have_text(
        re.compile(r"Visa ending 4242, expires 12/\d{4} \(simulated\)")
    )
    expect(page.locator("#expires")).to_have_text(re.compile(r"\d"))
    expect(page.locator("#refresh-at")).to_have_text(re.compile(r"\d"))
    options = page.locator("#options")
    expect(options).to_contain_text('"type": "issuingCardNumberDisplay"')
    expect(options).to_contain_text('"issuingCard": "ic_demoAliceVirtual"')
    expect(options).to_contain_text("(masked)")
    assert "" == page.locator("#error").text_content()


def test_refresh_gets_a_new_nonce_and_key(page: Page) -> None:
    show(page, "alice", "ic_demoAliceVirtual")
    expect(page.locator("#key")).to_be_visible()
    before = page.locator("#options").text_content()

    page.click("#refresh")

    expect(page.locator("#options")).not_to_have_text(before or "")
    # Four steps showed the card; a refresh is three more: nonce, key, card.
    expect(page.locator("#steps li.done")).to_have_count(7)
    assert "" == page.locator("#error").text_content()


def test_a_used_nonce_is_refused(page: Page) -> None:
    show(page, "alice", "ic_demoAliceVirtual")
    expect(page.locator("#key")).to_be_visible()

    page.click("#reuse")

    expect(page.locator("#error")).to_contain_text("invalid_nonce")


def test_another_users_card_is_denied(page: Page) -> None:
    show(page, "bob", "ic_demoAliceVirtual")

    expect(page.locator("#error")).to_contain_text("card_not_found")
    expect(page.locator("#key")).to_be_hidden()


def test_a_connect_card_is_shown_under_its_account(page: Page) -> None:
    show(page, "carol", "ic_demoCarolConnect")

    expect(page.locator("#steps")).to_contain_text(
        '"stripeAccount":"acct_demoConnected"'
    )
    expect(page.locator("#card-data")).to_contain_text("(simulated)")
    assert "" == page.locator("#error").text_content()


def test_the_printed_curl_line_gets_a_key(demo_url: str, demo_log: Path) -> None:
    printed = _wait_for_line(demo_log, "curl ")
    argv = shlex.split(printed.strip())

    first, second = (_run_curl_with_httpx(argv) for _ in range(2))

    assert 200 == first.status_code
    assert "ic_demoAliceVirtual" == first.json()["issuingCard"]
    assert "invalid_nonce" == second.json()["error"]["code"]


def test_the_printed_mobile_curl_line_gets_stripes_key_object(
    demo_url: str, demo_log: Path
) -> None:
    printed = _wait_for_line(demo_log, "curl -s http://127.0.0.1:")
    mobile = next(
        line
        for line in demo_log.read_text().splitlines()
        if "mobile/ephemeral-keys" in line
    )

    answer = _run_curl_with_httpx(shlex.split(mobile.strip()))

    assert (True, 200, "ephemeral_key", ["ic_demoAliceVirtual"]) == (
        printed.strip().startswith("curl"),
        answer.status_code,
        answer.json()["object"],
        [item["id"] for item in answer.json()["associated_objects"]],
    )


def test_the_printed_admin_page_is_served(demo_url: str, demo_log: Path) -> None:
    line = _wait_for_line(demo_log, "The platform admin's page")

    page = httpx.get(line.rsplit(" ", 1)[1], timeout=10)

    assert (200, True) == (page.status_code, "platform admin" in page.text)


def _wait_for_line(
    log: Path,
    start: str,
    seconds: float = PATIENCE_SECONDS,
    writer: subprocess.Popen[bytes] | None = None,
) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.strip().startswith(start):
                return line
        if writer is not None and writer.poll() is not None:
            break  # it exited without the line
        time.sleep(0.1)
    pytest.fail(f"no line starting {start!r} in:\n{log.read_text()}")


# What make demo's environment must not hold: the development group's tools
# and the frameworks the demo does not serve.
NOT_FOR_THE_DEMO = {
    "pytest",
    "mypy",
    "pyright",
    "playwright",
    "mkdocs",
    "django",
    "fastapi",
}


@pytest.mark.venv
def test_make_demo_answers_from_a_light_environment_of_its_own(
    tmp_path: Path, require_system: Callable[[str], str]
) -> None:
    """``make demo`` as on a fresh clone: a venv of the library and Flask only."""
    venv = tmp_path / "venv-demo"
    log = tmp_path / "make-demo.log"
    unset = {*STRIPE_VARIABLES, "PYTHONPATH", "VIRTUAL_ENV"}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env |= {"PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - make, our own Makefile
            [require_system("make"), "demo", f"DEMO_VENV={venv}"],
            cwd=EXAMPLES.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make and the demo it starts: one group
        )
    try:
        # Building the venv takes most of it: PyPI through pip's cache.
        line = _wait_for_line(
            log, "curl -s http://127.0.0.1:", seconds=900, writer=process
        )
        answer = _run_curl_with_httpx(shlex.split(line.strip()))
        listed = subprocess.run(  # noqa: S603 - the demo venv's own pip
            [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=PATIENCE_SECONDS)
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}

    assert (200, True, set()) == (
        answer.status_code,
        {"issuing-elements", "flask", "stripe"} <= installed,
        NOT_FOR_THE_DEMO & installed,
    )


def _run_curl_with_httpx(argv: list[str]) -> httpx.Response:
    """What ``curl -s URL -H ... -H ... -d BODY`` sends, sent with httpx.

    (curl itself need not be installed where the tests run.)
    """
    assert argv[:2] == ["curl", "-s"]
    url, rest = argv[2], argv[3:]
    headers = dict(
        value.split(": ", 1)
        for flag, value in zip(rest[::2], rest[1::2], strict=True)
        if flag == "-H"
    )
    body = rest[rest.index("-d") + 1]
    return httpx.post(url, headers=headers, content=body.encode(), timeout=10)


def test_the_demo_refuses_live_keys() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--port", "0"],
        env={"STRIPE_SECRET_KEY": "sk_live_fake_issuing_elements", "PATH": ""},
        cwd=EXAMPLES.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert 2 == result.returncode
    assert "refuses live keys" in result.stderr
