"""``python -m issuing_elements.testing``: one FakeStripe that many processes share.

    python -m issuing_elements.testing --port 0 --card ic_demo --card ic_conn@acct_demo
    python -m issuing_elements.testing --port 0 --card ic_demo \
        --cardholder ich_demo=ic_demo \
        --webhook-url http://127.0.0.1:8000/stripe-events --webhook-secret whsec_...

The first line on stdout is one JSON object, ``{"url", "api_key",
"publishable_key"}``; the fake then serves until SIGINT, SIGTERM or SIGHUP
and exits 0. Bad arguments, or an address it cannot listen on, are one line
on stderr and exit status 2; an address beyond loopback is one line of
warning. Point every process at ``url`` (``STRIPE_API_BASE``, or
``base_addresses`` of ``stripe.StripeClient``): they all see the same cards,
nonces and keys.
With ``--webhook-url`` and ``--webhook-secret`` it posts each card or
cardholder status change to that endpoint as a signed Stripe event, as
``stripe listen --forward-to`` does for the real Stripe.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import signal
import sys
import threading
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

from . import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

PROG = "python -m issuing_elements.testing"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {port}")
    return port


# Stripe's ids: a prefix and a run of letters and digits, nothing else.
_CARD_ID = re.compile(r"ic_[A-Za-z0-9]+")
_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]+")
_CARDHOLDER_ID = re.compile(r"ich_[A-Za-z0-9]+")


def _card(text: str) -> tuple[str, str | None]:
    card_id, at, account = text.partition("@")
    if not _CARD_ID.fullmatch(card_id) or (at and not _ACCOUNT_ID.fullmatch(account)):
        raise argparse.ArgumentTypeError(
            "expected CARD_ID or CARD_ID@ACCOUNT, Stripe ids of letters and "
            f"digits (ic_... or ic_...@acct_...), not {text!r}"
        )
    return card_id, account or None


def _account(text: str) -> str:
    if not _ACCOUNT_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "expected a connected account id of letters and digits (acct_...), "
            f"not {text!r}"
        )
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr, then exit 2 (argparse would print the usage first)."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# -- card lifecycle events: the flags ------------------------------------------


def _cardholder(text: str) -> tuple[str, list[str]]:
    holder, equals, cards = text.partition("=")
    card_ids = [card.strip() for card in cards.split(",") if card.strip()]
    if (
        not equals
        or not card_ids
        or not _CARDHOLDER_ID.fullmatch(holder)
        or not all(_CARD_ID.fullmatch(card) for card in card_ids)
    ):
        raise argparse.ArgumentTypeError(
            f"expected CARDHOLDER=CARD[,CARD...] (ich_...=ic_...), not {text!r}"
        )
    return holder, card_ids


def _webhook_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text


def _webhook_secret(text: str) -> str:
    if not text.startswith("whsec_"):
        raise argparse.ArgumentTypeError("a webhook signing secret starts with whsec_")
    return text


def _add_event_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cardholder",
        type=_cardholder,
        action="append",
        default=[],
        metavar="CARDHOLDER=CARD[,CARD...]",
        help="the cardholder (ich_...) of these cards (platform cards unless "
        "given with --card CARD@ACCOUNT); repeat",
    )
    parser.add_argument(
        "--webhook-url",
        type=_webhook_url,
        help="post card and cardholder events here, as Stripe posts to a "
        "webhook endpoint (needs --webhook-secret)",
    )
    parser.add_argument(
        "--webhook-secret",
        type=_webhook_secret,
        help="the endpoint's signing secret (whsec_...) that signs each event",
    )


def _cards_with_holders(
    cards: list[tuple[str, str | None]], holders: list[tuple[str, list[str]]]
) -> list[tuple[str, str | None, str | None]]:
    """Every card to add: its account, and its cardholder if one is named."""
    holder_of = {card: holder for holder, card_ids in holders for card in card_ids}
    accounts = dict(cards)
    named = list(dict.fromkeys([*accounts, *holder_of]))
    return [(card, accounts.get(card), holder_of.get(card)) for card in named]


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Run one FakeStripe, a local stand-in for Stripe's Issuing Elements "
            "endpoints, for several processes to share. Prints one JSON line "
            "(url, api_key, publishable_key), then serves until SIGINT, "
            "SIGTERM or SIGHUP."
        ),
    )
    parser.add_argument(
        "--port", type=_port, required=True, help="the port to listen on; 0: any free"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (127.0.0.1); any other than loopback is "
        "warned about: the fake answers whoever can reach it",
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
    _add_event_flags(parser)
    return parser


def _beyond_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in; returns the exit status (argparse exits 2 on bad usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.webhook_url is None) != (args.webhook_secret is None):
        parser.error("--webhook-url and --webhook-secret go together")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        if hasattr(signal, name):  # no SIGHUP on Windows
            signal.signal(getattr(signal, name), on_signal)
    fake = FakeStripe(
        host=args.host,
        port=args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    try:
        fake.start()
    except OSError as error:  # the port is taken, or the address is not ours
        sys.stderr.write(
            f"{PROG}: error: cannot listen on {args.host}:{args.port}: "
            f"{error.strerror or error}\n"
        )
        return 2
    try:
        if _beyond_loopback(fake.url):
            sys.stderr.write(
                f"{PROG}: warning: listening on {fake.url}, beyond this machine's "
                "loopback: anyone who can reach it can mint keys from it\n"
            )
            sys.stderr.flush()
        for card_id, account, holder in _cards_with_holders(args.card, args.cardholder):
            fake.add_card(card_id, account=account, cardholder=holder)
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
    finally:
        fake.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
