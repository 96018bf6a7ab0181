"""Every request the fake received, in order, with its keys redacted."""

from __future__ import annotations

import threading
import types
from typing import TYPE_CHECKING

import attrs

from ._models import key_kind
from ._responses import credential_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._faults import Fault
    from ._responses import Incoming


def _freeze(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(mapping))


@attrs.frozen
class RecordedRequest:
    """One request the fake received, in arrival order.

    Attributes:
        method: ``GET``, ``POST``, ``DELETE`` or ``OPTIONS``.
        path: The path without the query string.
        headers: Header names in lower case. ``authorization`` keeps only
            the kind of key (``Bearer sk_test_[redacted]``), never the key.
        params: Form and query parameters (the last value wins).
        request_id: The ``Request-Id`` the fake answered with
            (stripe-python exposes it as ``error.request_id``).
        status: The status answered, ``None`` when the connection was dropped.
        fault: The injected fault that shaped the answer, if any:
            ``"fail 503"``, ``"delay 0.5s"``, ``"drop"`` or
            ``"drop after processing"``.
    """

    method: str
    path: str
    headers: Mapping[str, str] = attrs.field(converter=_freeze)
    params: Mapping[str, str] = attrs.field(converter=_freeze)
    request_id: str
    status: int | None
    fault: str | None = None


def redact_authorization(value: str) -> str:
    """``Bearer sk_test_abc`` -> ``Bearer sk_test_[redacted]``: the kind, no key.

    HTTP Basic (the key as the user name) is decoded first, so that it shows
    its kind too: ``Basic pk_test_[redacted]``.
    """
    scheme, _, given = value.partition(" ")
    kind = key_kind(credential_of(value))
    return f"{scheme} {kind}[redacted]" if given.strip() else "[redacted]"


class Recording:
    """The requests received; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def record(
        self,
        incoming: Incoming,
        request_id: str,
        status: int | None,
        fault: Fault | None,
    ) -> None:
        headers = dict(incoming.headers)
        if "authorization" in headers:
            headers["authorization"] = redact_authorization(headers["authorization"])
        recorded = RecordedRequest(
            method=incoming.method,
            path=incoming.path,
            headers=headers,
            params=dict(incoming.params),
            request_id=request_id,
            status=status,
            fault=None if fault is None else fault.describe(),
        )
        with self._lock:
            self._requests.append(recorded)

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        with self._lock:
            return tuple(self._requests)
