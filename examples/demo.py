"""``make demo``: the Flask example on 127.0.0.1, offline unless keys are set.

Without ``STRIPE_SECRET_KEY`` the app runs on the library's FakeStripe, so
the whole flow works on a machine with no network. With test keys
(``STRIPE_SECRET_KEY=sk_test_...`` and ``STRIPE_PUBLISHABLE_KEY=pk_test_...``)
the page mounts real Issuing Elements; live keys are refused, since the demo
hands keys to anyone holding a demo token.

    python -m examples.demo [--port 8000]
"""

# ruff: noqa: T201 - a command-line program: it talks to its user on stdout

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys

from werkzeug.serving import make_server

from examples._shared import Demo, DemoConfigurationError
from examples.flask.app import create_app


def curl_line(demo: Demo, url: str) -> str:
    """A ready command that gets a key for the first demo user's first card."""
    token, card = _first_card(demo)
    assert demo.fake is not None
    nonce = demo.fake.create_nonce(card)
    return _curl(f"{url}ephemeral-keys", token, {"card_id": card, "nonce": nonce})


def mobile_curl_line(demo: Demo, url: str) -> str:
    """The same card's key as a mobile SDK asks for it: no nonce, its version."""
    token, card = _first_card(demo)
    body = {"card_id": card, "api_version": "2020-08-27"}
    return _curl(f"{url}mobile/ephemeral-keys", token, body)


def _first_card(demo: Demo) -> tuple[str, str]:
    token, user = next(iter(demo.users.tokens.items()))
    return token, next(iter(demo.users.cards[user]))


def _curl(url: str, token: str, body: dict[str, str]) -> str:
    return shlex.join(
        [
            "curl",
            "-s",
            url,
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(body),
        ]
    )


def stop(signum: int, frame: object) -> None:
    """SIGTERM stops the demo the way Ctrl-C does: cleanly."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    arguments = parser.parse_args()
    if os.environ.get("STRIPE_SECRET_KEY", "").startswith(("sk_live_", "rk_live_")):
        print(
            "The demo refuses live keys: use test keys (sk_test_...).", file=sys.stderr
        )
        return 2
    try:
        demo = Demo.from_environment()
    except DemoConfigurationError as error:
        print(f"Cannot start the demo: {error}", file=sys.stderr)
        return 2
    try:
        app = create_app(demo)
        server = make_server("127.0.0.1", arguments.port, app, threaded=True)
    except OSError as error:
        demo.close()
        print(f"Cannot listen on 127.0.0.1:{arguments.port}: {error}", file=sys.stderr)
        print("Pick another port: python -m examples.demo --port 8001", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{server.server_port}/"
    print(f"Issuing Elements demo: open {url}")
    if demo.fake is not None:
        print(f"Offline: FakeStripe stands in for Stripe at {demo.fake.url}.")
        print("Get a key from the command line (the nonce is single use: run it")
        print("twice and the second answer is invalid_nonce):")
        print()
        print(f"  {curl_line(demo, url)}")
        print()
        print("A key as Stripe's mobile SDKs ask for one (push provisioning):")
        print()
        print(f"  {mobile_curl_line(demo, url)}")
        print()
        print(f"The platform admin's page (Connect embedded components): {url}admin")
    else:
        print("Using your Stripe test keys: the page mounts real Issuing Elements.")
    print()
    print("Ctrl-C to stop.", flush=True)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
