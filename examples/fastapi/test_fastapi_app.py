"""The FastAPI example, through Starlette's test client and through uvicorn.

Every test runs twice: in-process (``TestClient``, lifespan included) and over
HTTP to ``uvicorn`` in a process of its own. Both reach Stripe through
``STRIPE_API_BASE``: a pytest-httpserver stand-in.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from _shared.endpoint_contract import EndpointContract
from _shared.testing import (
    EXAMPLES,
    Answer,
    call_with_httpx,
    environment_for,
    free_port,
    load_example,
    running,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pytest_httpserver import HTTPServer

    from _shared import Demo


@pytest.fixture
def in_process(demo: Demo) -> Iterator[Callable[..., Answer]]:
    app = load_example("fastapi/app.py").create_app(demo)
    with TestClient(app) as client:
        yield call_with_httpx(client)


@pytest.fixture(scope="module")
def server_url(
    make_httpserver: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES / "fastapi")]
    argv += ["app:app", "--host", "127.0.0.1", "--port", str(port)]
    stripe_url = make_httpserver.url_for("/").rstrip("/")
    log = tmp_path_factory.mktemp("fastapi") / "server.log"
    with running(argv, port=port, env=environment_for(stripe_url), log=log) as url:
        yield url


class TestFastAPIApp(EndpointContract):
    """Every route of the contract, through FastAPI."""
