"""Which handler answers which request: the route table, and the dispatch around it.

`ROUTES` maps a method and a path pattern to a `StripeResponses` handler (the
pattern's groups are its arguments). `Dispatcher.respond` finds the route,
renders a `StripeError` in Stripe's shape, applies the fault the server took,
records the request, and adds ``Request-Id`` and the echoed ``Stripe-Version``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs

from ._models import StripeError, random_id
from ._responses import (
    ACCOUNT_SESSIONS_PATH,
    CARDHOLDERS_PATH,
    CARDS_PATH,
    EPHEMERAL_KEYS_PATH,
    NONCE_PATH,
    Incoming,
    Reply,
    StripeResponses,
    error_reply,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._events import EventDelivery
    from ._faults import Fault
    from ._models import StripeState
    from ._recording import Recording


@attrs.frozen
class Route:
    """*method* on a path matching *pattern*: *handler*'s, given the groups.

    *browser*: Stripe.js calls it, so every answer carries the CORS headers.
    """

    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Reply]
    browser: bool = False


def _route(
    method: str,
    pattern: str,
    handler: Callable[..., Reply],
    *,
    browser: bool = False,
) -> Route:
    return Route(method, re.compile(pattern, re.DOTALL), handler, browser)


R = StripeResponses
ROUTES: tuple[Route, ...] = (
    _route("POST", EPHEMERAL_KEYS_PATH, R.create_key),
    _route("DELETE", EPHEMERAL_KEYS_PATH + "/(.*)", R.revoke_key),
    _route("POST", ACCOUNT_SESSIONS_PATH, R.create_account_session),
    _route("POST", NONCE_PATH, R.create_nonce, browser=True),
    _route("GET", CARDS_PATH + "/(.+)", R.retrieve_card, browser=True),
    _route("GET", CARDS_PATH, R.list_cards),
    _route("POST", CARDS_PATH + "/(.*)", R.update_card),
    _route("POST", CARDHOLDERS_PATH + "/(.*)", R.update_cardholder),
)
del R

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "Authorization, Content-Type, Stripe-Account, Stripe-Version"
    ),
    "Access-Control-Max-Age": "600",
}


def is_browser_path(path: str) -> bool:
    """A path Stripe.js calls: its preflights and its refusals carry CORS headers."""
    return path == NONCE_PATH or (
        path.startswith(CARDS_PATH + "/") and len(path) > len(CARDS_PATH + "/")
    )


class Dispatcher:
    """Answers requests from the route table, under the state's lock."""

    def __init__(
        self, state: StripeState, recording: Recording, delivery: EventDelivery
    ) -> None:
        self.state = state
        self.responses = StripeResponses(state)
        self.recording = recording
        self.delivery = delivery

    def flush_events(self) -> None:
        """Deliver the events made since the last flush, outside the lock.

        The endpoint that receives them calls the fake back (to revoke, to
        list cards), so the lock must be free while it is posted to.
        """
        with self.state.lock:
            events = self.state.take_outbox()
            now = self.state.now()
        if events:
            self.delivery.deliver(events, now)

    def respond(self, incoming: Incoming, fault: Fault | None) -> Reply | None:
        """Answer *incoming* and record it; ``None`` means drop the connection.

        A delay has already been served by the server. A failure or a plain
        drop replaces the answer: Stripe never saw the request. A drop after
        processing lets Stripe do the work and loses only the answer.
        """
        with self.state.lock:
            reply: Reply | None
            if fault is not None and fault.replaces_answer:
                reply = fault.reply() if fault.kind == "fail" else None
            else:
                reply = self._answer(incoming)
                if fault is not None and fault.kind == "drop":
                    reply = None
            request_id = random_id("req_", 14)
            status = None if reply is None else reply.status
            self.recording.record(incoming, request_id, status, fault)
        if reply is None:
            return None
        headers = {**reply.headers, "Request-Id": request_id}
        version = incoming.header("stripe-version")
        if version is not None and reply.status != 204:
            headers["Stripe-Version"] = version
        return attrs.evolve(reply, headers=headers)

    def _answer(self, incoming: Incoming) -> Reply:
        browser = is_browser_path(incoming.path)
        if incoming.method == "OPTIONS" and browser:
            return Reply(204, None, {}, cors=True)
        if incoming.body_problem is not None:
            return error_reply(StripeError(400, incoming.body_problem), cors=browser)
        for route in ROUTES:
            match = route.pattern.fullmatch(incoming.path)
            if route.method == incoming.method and match is not None:
                try:
                    reply = route.handler(self.responses, incoming, *match.groups())
                except StripeError as error:
                    return error_reply(error, cors=route.browser)
                return attrs.evolve(reply, cors=route.browser)
        message = (
            f"Unrecognized request URL ({incoming.method}: {incoming.path}). "
            "FakeStripe simulates only the endpoints that Issuing Elements use."
        )
        return error_reply(StripeError(404, message), cors=browser)
