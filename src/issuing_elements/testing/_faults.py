"""Faults on demand: failures, delays, dropped connections, a steady latency.

They apply to the calls that take the secret key only: those are the calls
the library under test makes, and the browser-facing endpoints must keep
working while a test breaks the server-to-Stripe leg. Faults are consumed in
order, one a call; the server serves the waits, ``_urls`` the rest.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Literal

import attrs

from ._models import StripeError
from ._responses import (
    ACCOUNT_SESSIONS_PATH,
    CARDS_PATH,
    EPHEMERAL_KEYS_PATH,
    Incoming,
    Reply,
    error_reply,
)


@attrs.frozen
class Fault:
    kind: Literal["fail", "delay", "drop"]
    status: int = 503
    retry_after: int | None = None
    stripe_should_retry: bool | None = None
    code: str | None = None
    message: str | None = None
    seconds: float = 0.0
    after_processing: bool = False

    def describe(self) -> str:
        if self.kind == "fail":
            return f"fail {self.status}"
        if self.kind == "delay":
            return f"delay {self.seconds:g}s"
        return "drop after processing" if self.after_processing else "drop"

    @property
    def replaces_answer(self) -> bool:
        """A failure or a plain drop: Stripe never sees the request."""
        return self.kind == "fail" or (
            self.kind == "drop" and not self.after_processing
        )

    def reply(self) -> Reply:
        """A failure's answer, in Stripe's error shape."""
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.stripe_should_retry is not None:
            headers["Stripe-Should-Retry"] = (
                "true" if self.stripe_should_retry else "false"
            )
        code = self.code
        if code is None and self.status == 429:
            code = "rate_limit"
        message = self.message or f"FakeStripe injected a {self.status} answer."
        error = StripeError(
            self.status, message, type=_error_type_for(self.status), code=code
        )
        return error_reply(error, headers=headers)


def _error_type_for(status: int) -> str:
    # Stripe reports bad keys and missing permissions as invalid_request_error
    # too; only server trouble is api_error and only declines are card_error.
    if status >= 500:
        return "api_error"
    if status == 402:
        return "card_error"
    return "invalid_request_error"


def is_secret_key_call(incoming: Incoming) -> bool:
    """A call that takes the secret key: the ones faults and latency apply to."""
    return incoming.method != "OPTIONS" and (
        incoming.path in {EPHEMERAL_KEYS_PATH, ACCOUNT_SESSIONS_PATH}
        or incoming.path.startswith(EPHEMERAL_KEYS_PATH + "/")
        or (incoming.method == "GET" and incoming.path == CARDS_PATH)
    )


class Faults:
    """The faults still to come and the steady latency; thread-safe."""

    def __init__(self, latency: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._latency = latency

    def add(self, fault: Fault, times: int) -> None:
        with self._lock:
            self._queue.extend([fault] * times)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = seconds

    def take(self, incoming: Incoming) -> Fault | None:
        """The next fault, if *incoming* is a secret-key call."""
        with self._lock:
            if is_secret_key_call(incoming) and self._queue:
                return self._queue.popleft()
            return None

    def pause_for(self, incoming: Incoming, fault: Fault | None) -> float:
        """Seconds to wait before answering *incoming*: latency plus any delay."""
        with self._lock:
            pause = self._latency if is_secret_key_call(incoming) else 0.0
        if fault is not None and fault.kind == "delay":
            pause += fault.seconds
        return pause
