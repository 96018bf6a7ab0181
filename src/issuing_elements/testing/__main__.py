"""``python -m issuing_elements.testing``: one FakeStripe that many processes share.

    python -m issuing_elements.testing --port 0 --card ic_demo --card ic_conn@acct_demo

The first line on stdout is one JSON object, ``{"url", "api_key",
"publishable_key"}``; the fake then serves until SIGINT or SIGTERM and exits
0. Point every process at ``url`` (``STRIPE_API_BASE``, or ``base_addresses``
of ``stripe.StripeClient``): they all see the same cards, nonces and keys.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import TYPE_CHECKING

from . import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {port}")
    return port


def _card(text: str) -> tuple[str, str | None]:
    card_id, at, account = text.partition("@")
    if not card_id.startswith("ic_") or (at and not account.startswith("acct_")):
        raise argparse.ArgumentTypeError(
            f"expected CARD_ID or CARD_ID@ACCOUNT (ic_... or ic_...@acct_...), "
            f"not {text!r}"
        )
    return card_id, account or None


def _account(text: str) -> str:
    if not text.startswith("acct_"):
        raise argparse.ArgumentTypeError(
            f"connected account ids start with 'acct_', not {text!r}"
        )
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m issuing_elements.testing",
        description=(
            "Run one FakeStripe, a local stand-in for Stripe's Issuing Elements "
            "endpoints, for several processes to share. Prints one JSON line "
            "(url, api_key, publishable_key), then serves until SIGINT/SIGTERM."
        ),
    )
    parser.add_argument(
        "--port", type=_port, required=True, help="the port to listen on; 0: any free"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (127.0.0.1)"
    )
    parser.add_argument(
        "--card",
        type=_card,
        action="append",
        default=[],
        metavar="CARD_ID[@ACCOUNT]",
        help="an Issuing card, of the platform or of a connected account; repeat",
    )
    parser.add_argument(
        "--account",
        type=_account,
        action="append",
        default=[],
        metavar="ACCOUNT",
        help="a connected account without cards (for Account Sessions); repeat",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in; returns the exit status (argparse exits 2 on bad usage)."""
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with FakeStripe(host=args.host, port=args.port) as fake:
        for card_id, account in args.card:
            fake.add_card(card_id, account=account)
        for account in args.account:
            fake.add_account(account)
        line = {
            "url": fake.url,
            "api_key": fake.api_key,
            "publishable_key": fake.publishable_key,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        # wait() with a timeout: a signal handler runs between the waits.
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
