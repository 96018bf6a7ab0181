"""Fixtures for the examples' tests; the helpers are in ``_shared/testing.py``.

The examples are the package ``examples``, found from the repository's root
(``pythonpath`` in ``pyproject.toml``), as a reader runs them.

* ``fake_stripe``: the library's FakeStripe with the demo cards, per session.
* ``stripe_stand_in``: what reached it during one test.
* ``stripe_env``: the environment an example reads, pointed at the stand-in.
* ``demo``: ``Demo.from_environment(stripe_env)``, closed afterwards.
* ``call``: the app under test, through its framework's test client
  (``in_process``) and over HTTP to a real server (``server_url``), both
  fixtures of the example's own test file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from examples._shared import DEMO_USERS_FILE, Demo, DemoUsers
from examples._shared.testing import (
    Answer,
    StripeStandIn,
    call_with_httpx,
    environment_for,
)
from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        for card, account in DemoUsers.load(DEMO_USERS_FILE).all_cards().items():
            fake.add_card(card, account=account)
        yield fake


@pytest.fixture
def stripe_stand_in(fake_stripe: FakeStripe) -> Iterator[StripeStandIn]:
    yield StripeStandIn(fake_stripe, len(fake_stripe.requests))
    fake_stripe.clear_faults()


@pytest.fixture
def stripe_env(stripe_stand_in: StripeStandIn) -> dict[str, str]:
    return environment_for(stripe_stand_in.url)


@pytest.fixture
def demo(stripe_env: dict[str, str]) -> Iterator[Demo]:
    built = Demo.from_environment(stripe_env)
    yield built
    built.close()


@pytest.fixture
def over_http(
    server_url: str, stripe_stand_in: StripeStandIn
) -> Iterator[Callable[..., Answer]]:
    with httpx.Client(base_url=server_url, timeout=10) as client:
        yield call_with_httpx(client)


@pytest.fixture(params=["in_process", "over_http"])
def call(request: pytest.FixtureRequest) -> Callable[..., Answer]:
    """The app, through the test client or through a real server."""
    found: Callable[..., Answer] = request.getfixturevalue(request.param)
    return found
