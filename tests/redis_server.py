"""A real ``redis-server`` for the tests: loopback, a free port, no persistence."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redis.asyncio
from redis.backoff import NoBackoff

from issuing_elements.testing import free_port

START_ATTEMPTS = 5
READY_WITHIN = 10.0


class RedisServer:
    """One ``redis-server`` process in *directory*; `start` it, `stop` it."""

    def __init__(self, program: str, directory: Path) -> None:
        self.program = program
        self.directory = directory
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start on a free port, retrying when another process took it first."""
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            options = {
                "bind": "127.0.0.1",
                "port": str(self.port),
                "save": "",
                "appendonly": "no",
                "dir": str(self.directory),
                "logfile": str(self.directory / f"redis-{self.port}.log"),
            }
            argv = [self.program]
            for name, value in options.items():
                argv += [f"--{name}", value]
            self.process = subprocess.Popen(  # noqa: S603 - our own argv
                argv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._ready():
                return
            self.stop()
        message = f"redis-server did not start; see its logs in {self.directory}"
        raise RuntimeError(message)

    def _ready(self) -> bool:
        deadline = time.monotonic() + READY_WITHIN
        with self.client() as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop the server and wait for it; stopping twice does nothing."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def client(self) -> redis.Redis:
        """A blocking client, failing at once when the server is gone."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=redis.retry.Retry(NoBackoff(), 0),
        )

    def async_client(self) -> redis.asyncio.Redis:
        """An asyncio client; build it inside the event loop that uses it."""
        return redis.asyncio.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
        )
