"""One way to run a test on every door and on both twins (fixtures in conftest).

A test that takes ``twin`` runs on the sync method and on its async twin; one
that takes ``door`` runs on the web and the mobile key doors (``any_door``: the
Account Session door too). ``door.knock(issuer, twin)`` is one request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import attrs

from issuing_elements import EphemeralKeyIssuer, HttpResponse
from stripe_wire import ACCOUNT, CARD, MOBILE_VERSION

JSON = "application/json"


class Twin:
    """The sync method (``handle``) or its async twin (``ahandle``).

    The async twin runs every call of a test on one event loop, as a server
    does (stripe-python's async clients keep to the loop they first used);
    `close` ends the loop as ``asyncio.run`` would, cancelling what is left.
    """

    def __init__(self, *, is_async: bool) -> None:
        self.is_async = is_async
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return "Twin(async)" if self.is_async else "Twin(sync)"

    def method(self, name: str) -> str:
        """The name of this twin of the method *name* (``handle`` or ``ahandle``)."""
        return f"a{name}" if self.is_async else name

    def call(self, target: object, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call this twin of *target*'s method *name* and return what it returns."""
        method = getattr(target, self.method(name))
        if not self.is_async:
            return method(*args, **kwargs)
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(method(*args, **kwargs))

    def close(self) -> None:
        """End the async twin's loop: cancel its tasks, then close it."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


SYNC = Twin(is_async=False)


@attrs.frozen
class Door:
    """A door of the issuer: its ``handle*`` method and the body its client posts."""

    name: str
    method: str
    body: Callable[[str, str], dict[str, str]]

    def encoded(self, card: str = CARD, nonce: str = "") -> bytes:
        """The JSON body this door's client posts for *card* (with *nonce*, web)."""
        return json.dumps(self.body(card, nonce)).encode()

    def knock(
        self,
        issuer: EphemeralKeyIssuer[Any],
        twin: Twin,
        user: object = "alice",
        *,
        card: str = CARD,
        nonce: str = "",
        **options: Any,
    ) -> HttpResponse:
        """One request from *user* through this door, the *twin* way."""
        answer: HttpResponse = twin.call(
            issuer,
            self.method,
            user,
            body=self.encoded(card, nonce),
            content_type=JSON,
            **options,
        )
        return answer


WEB = Door("web", "handle", lambda card, nonce: {"card_id": card, "nonce": nonce})
MOBILE = Door(
    "mobile",
    "handle_mobile",
    lambda card, _nonce: {"card_id": card, "api_version": MOBILE_VERSION},
)
SESSIONS = Door(
    "sessions", "handle_account_session", lambda _card, _nonce: {"account": ACCOUNT}
)
