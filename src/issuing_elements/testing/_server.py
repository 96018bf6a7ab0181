"""FakeStripe's wire: a stdlib HTTP server that hands requests to the route table.

Bytes in, `Incoming` to ``_urls.Dispatcher``, its `Reply` back out as bytes.
The steady latency and the injected delays are served here (outside the
state's lock), dropped connections are dropped here, and accepted
connections are counted here.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit

from ._responses import Incoming, Reply
from ._urls import CORS_HEADERS

if TYPE_CHECKING:
    from ._faults import Faults
    from ._urls import Dispatcher

# Far above anything Stripe's form bodies need; keeps a stray upload small.
_MAX_BODY = 1024 * 1024
_FORM = "application/x-www-form-urlencoded"


class FakeStripeServer(ThreadingHTTPServer):
    """One thread per connection, all daemons, all closed by `close`."""

    daemon_threads = True
    allow_reuse_address = False
    # socketserver's backlog of 5 drops connections a busy app opens at once;
    # the client then retries its SYN after 1, 3, 7 s. At 128, 500 clients
    # connecting at once still overflowed it (100-150 SYNs dropped, answers
    # a second late); at 1024 none were. Linux caps it at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], dispatcher: Dispatcher, faults: Faults
    ) -> None:
        self.dispatcher = dispatcher
        self.faults = faults
        self.closing = threading.Event()
        self._connections_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._serving: threading.Thread | None = None
        self._accepted = 0
        super().__init__(address, _Handler)

    @property
    def accepted(self) -> int:
        """The TCP connections accepted since the server started."""
        with self._connections_lock:
            return self._accepted

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{cast('str', host)}:{port}"

    def start(self) -> None:
        self._serving = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeStripe {self.url}",
            daemon=True,
        )
        self._serving.start()

    def close(self) -> None:
        """Stop serving, cut open connections, and wait for every thread."""
        self.closing.set()
        if self._serving is not None:
            self.shutdown()
            self._serving.join()
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, _ in connections:
            # Keep-alive clients would otherwise hold their thread forever.
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join()
        self.server_close()

    def pause(self, seconds: float) -> None:
        """An injected delay that `close` cuts short."""
        self.closing.wait(seconds)

    def process_request(
        self,
        request: socket.socket | tuple[bytes, socket.socket],
        client_address: Any,
    ) -> None:
        connection = cast("socket.socket", request)
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="FakeStripe connection",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[connection] = thread
            self._accepted += 1
        thread.start()

    def process_request_thread(
        self,
        request: socket.socket | tuple[bytes, socket.socket],
        client_address: Any,
    ) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(cast("socket.socket", request), None)

    def handle_error(
        self,
        request: socket.socket | tuple[bytes, socket.socket],
        client_address: Any,
    ) -> None:
        # Clients hang up mid-request on purpose here (timeouts, dropped
        # connections, close()); that is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeStripe"
    sys_version = ""
    # Headers and body go out in two writes; with Nagle's algorithm on, the
    # body waits for the client's delayed ACK (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        # Silenced: the stdlib would print every request line to stderr, and
        # an access log is one refactor away from logging headers with keys.
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = cast("FakeStripeServer", self.server)
        incoming = self._parse()
        fault = server.faults.take(incoming)
        pause = server.faults.pause_for(incoming, fault)
        if pause:
            server.pause(pause)
        reply = server.dispatcher.respond(incoming, fault)
        # Stripe's events for what the request changed, before its answer:
        # a test that froze a card sees the endpoint's answer once it returns.
        server.dispatcher.flush_events()
        if reply is None:
            # Answer nothing and hang up, like a connection lost mid-flight.
            self.close_connection = True
            return
        self._write(reply)

    def _parse(self) -> Incoming:
        url = urlsplit(self.path)
        params = parse_qsl(url.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in self.headers.items()}
        body_problem = None
        length = _content_length(headers.get("content-length"))
        if length is None:
            # No way to tell where the body ends: answer, then hang up.
            body_problem = "The Content-Length header is not a number of bytes."
            self.close_connection = True
        elif length > _MAX_BODY:
            body_problem = "FakeStripe refuses request bodies over 1 MiB."
            self.close_connection = True
        elif length:
            body = self.rfile.read(length)
            content_type = headers.get("content-type", "").partition(";")[0].strip()
            if content_type != _FORM:
                body_problem = (
                    f"Stripe's v1 API takes {_FORM} bodies, not "
                    f"{content_type or 'a body without a Content-Type'}."
                )
            else:
                try:
                    params += parse_qsl(
                        body.decode("utf-8"),
                        keep_blank_values=True,
                        strict_parsing=False,
                    )
                except UnicodeDecodeError:
                    body_problem = "The request body is not valid UTF-8."
        return Incoming(
            method=self.command,
            path=url.path,
            headers=headers,
            params=tuple(params),
            body_problem=body_problem,
        )

    def _write(self, reply: Reply) -> None:
        body = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        headers = dict(reply.headers)
        if reply.body is not None:
            headers["Content-Type"] = "application/json"
            headers["Cache-Control"] = "no-cache, no-store"
        if reply.cors:
            headers.update(CORS_HEADERS)
        headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def _content_length(value: str | None) -> int | None:
    """The body's length in bytes (0 without the header), or ``None`` if invalid.

    Only digits, as HTTP allows: ``int()`` would take ``-1`` (a read to the
    end of a connection that stays open), ``+5``, ``1_0`` or `` 7 ``.
    """
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()):
        return None
    return int(value)
