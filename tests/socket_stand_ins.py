"""Stripe stand-ins below HTTP: a server that never answers, one that hangs up.

pytest-httpserver always answers; these two misbehave on the socket, as a
hung Stripe or a broken proxy does. Each listens on a free loopback port in
a daemon thread and, on ``close()``, stops and cuts every connection it took.
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

from typing_extensions import Self


class _SocketServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=16)
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.accepted = 0

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._listener.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.accepted += 1
                self._connections.append(connection)
            self.took(connection)

    def took(self, connection: socket.socket) -> None:
        """What to do with a new connection; keep it open by default."""


class SilentServer(_SocketServer):
    """Accepts every connection and never says a word: a hung Stripe."""


class HangUpServer(_SocketServer):
    """Reads each request's head, then closes the connection without an answer.

    ``heads`` holds every request head it read, by lower-case header name.
    """

    def __init__(self) -> None:
        super().__init__()
        self.heads: list[dict[str, str]] = []

    def took(self, connection: socket.socket) -> None:
        connection.settimeout(2)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        head = {"request-line": lines[0]}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            head[name.strip().lower()] = value.strip()
        with self._lock:
            self.heads.append(head)
            self._connections.remove(connection)
        # RST rather than FIN: the connection is dropped, not ended cleanly.
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        connection.close()
