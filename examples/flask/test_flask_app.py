"""The Flask example, through Flask's test client and through a real server.

Every test runs twice: in-process (``app.test_client()``) and over HTTP to
``flask run`` (werkzeug) in a process of its own. Both reach Stripe through
``STRIPE_API_BASE``: the library's FakeStripe, one for the session.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pytest

from _shared.endpoint_contract import EndpointContract, MobileContract
from _shared.testing import (
    EXAMPLES,
    Answer,
    environment_for,
    load_example,
    running,
)
from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from _shared import Demo
    from issuing_elements.testing import FakeStripe


@pytest.fixture
def in_process(demo: Demo) -> Callable[..., Answer]:
    client = load_example("flask/app.py").create_app(demo).test_client()

    def call(method: str, path: str, **arguments: Any) -> Answer:
        if "content" in arguments:  # httpx's name for a raw body is Flask's data
            arguments["data"] = arguments.pop("content")
        response = client.open(path, method=method, **arguments)
        return Answer(
            response.status_code, response.headers, response.get_data(as_text=True)
        )

    return call


@pytest.fixture(scope="module")
def server_url(
    fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "flask", "--app", str(EXAMPLES / "flask" / "app.py")]
    argv += ["run", "--host", "127.0.0.1", "--port", str(port)]
    stripe_url = fake_stripe.url
    log = tmp_path_factory.mktemp("flask") / "server.log"
    with running(argv, port=port, env=environment_for(stripe_url), log=log) as url:
        yield url


class TestFlaskApp(EndpointContract, MobileContract):
    """Every route of the contract, the mobile one too, through Flask."""
