"""Fixtures for the examples' tests; the helpers are in ``_shared/testing.py``.

* ``stripe_stand_in``: pytest-httpserver playing Stripe, per test.
* ``stripe_env``: the environment an example reads, pointed at the stand-in.
* ``demo``: ``Demo.from_environment(stripe_env)``, closed afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The examples share one configuration module, examples/_shared.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import Demo
from _shared.testing import StripeStandIn, environment_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_httpserver import HTTPServer


@pytest.fixture
def stripe_stand_in(httpserver: HTTPServer) -> StripeStandIn:
    return StripeStandIn(httpserver)


@pytest.fixture
def stripe_env(stripe_stand_in: StripeStandIn) -> dict[str, str]:
    return environment_for(stripe_stand_in.url)


@pytest.fixture
def demo(stripe_env: dict[str, str]) -> Iterator[Demo]:
    built = Demo.from_environment(stripe_env)
    yield built
    built.close()
