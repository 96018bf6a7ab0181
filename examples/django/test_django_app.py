"""The Django example, through Django's test client and through real servers.

Every contract test runs three times: in-process through
``Client(enforce_csrf_checks=True)`` (the sync view), over HTTP to
``manage.py runserver`` (WSGI, the sync view on ``issuer.handle``) and over
HTTP to uvicorn serving ``examples.django.issuing_demo.asgi`` (the async view on
``issuer.ahandle``), each in a process of its own. All reach Stripe through
``STRIPE_API_BASE``: the library's FakeStripe, one for the session.
"""

# ruff: noqa: SIM300 - STYLE.md: tests read `expected == actual`

from __future__ import annotations

import json
import os
import sys
import types
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import django
import httpx
import pytest
from django.test import Client, override_settings
from django.test.utils import setup_test_environment, teardown_test_environment
from django.urls import path

from examples._shared.endpoint_contract import EndpointContract
from examples._shared.event_contract import StripeEventContract
from examples._shared.testing import (
    ALICE,
    ALICE_CARD,
    NONCE,
    Answer,
    StripeStandIn,
    bearer,
    call_with_httpx,
    environment_for,
    running,
)
from issuing_elements.testing import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from examples._shared import Demo
    from issuing_elements.testing import FakeStripe

SETTINGS = "examples.django.issuing_demo.settings"


@pytest.fixture(scope="module")
def django_project() -> Iterator[None]:
    """Django set up from the example's settings, for this module's tests.

    Django reads its settings once per process; only this module uses them.
    The variable that finds them is put back afterwards, so that no other
    test, nor a server process started later, inherits it.
    """
    saved = os.environ.get("DJANGO_SETTINGS_MODULE")
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    try:
        django.setup()
        setup_test_environment()  # adds "testserver" to ALLOWED_HOSTS
        yield
        teardown_test_environment()
    finally:
        if saved is None:
            del os.environ["DJANGO_SETTINGS_MODULE"]
        else:
            os.environ["DJANGO_SETTINGS_MODULE"] = saved


@pytest.fixture
def client(django_project: None, demo: Demo) -> Iterator[Client]:
    """Django's test client, CSRF enforced as in production, on *demo*."""
    from examples.django.issuing_demo import views  # noqa: PLC0415 - once Django is set up

    with override_settings(ISSUING_DEMO=demo, ISSUING_ISSUER=views.build_issuer(demo)):
        yield Client(enforce_csrf_checks=True)


@pytest.fixture
def in_process(client: Client) -> Callable[..., Answer]:
    def call(method: str, path: str, **arguments: Any) -> Answer:
        headers = dict(arguments.pop("headers", {}))
        data: object = None
        content_type = headers.pop("Content-Type", "application/octet-stream")
        # httpx's json=, data= and content= in Django's words.
        if "json" in arguments:
            data, content_type = json.dumps(arguments["json"]), "application/json"
        elif "data" in arguments:
            data = urlencode(arguments["data"])
            content_type = "application/x-www-form-urlencoded"
        elif "content" in arguments:
            data = arguments["content"]
        response = client.generic(
            method, path, data or "", content_type=content_type, headers=headers
        )
        return Answer(response.status_code, response.headers, response.content.decode())

    return call


@pytest.fixture(scope="module")
def server_url(
    fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``manage.py runserver``: WSGI, the sync view on ``issuer.handle``."""
    port = free_port()
    argv = [sys.executable, "-m", "examples.django.manage", "runserver", "--noreload"]
    argv += [f"127.0.0.1:{port}"]
    stripe_url = fake_stripe.url
    log = tmp_path_factory.mktemp("django-wsgi") / "server.log"
    with running(argv, port=port, env=environment_for(stripe_url), log=log) as url:
        yield url


@pytest.fixture(scope="module")
def asgi_server_url(
    fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """uvicorn serving the project's ASGI app: the async view on ``issuer.ahandle``."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn"]
    argv += ["examples.django.issuing_demo.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port)]
    stripe_url = fake_stripe.url
    log = tmp_path_factory.mktemp("django-asgi") / "server.log"
    with running(argv, port=port, env=environment_for(stripe_url), log=log) as url:
        yield url


@pytest.fixture
def over_asgi(
    asgi_server_url: str, stripe_stand_in: StripeStandIn
) -> Iterator[Callable[..., Answer]]:
    with httpx.Client(base_url=asgi_server_url, timeout=10) as http:
        yield call_with_httpx(http)


@pytest.fixture(params=["in_process", "over_http", "over_asgi"])
def call(request: pytest.FixtureRequest) -> Callable[..., Answer]:
    """The app: the test client, runserver (WSGI) and uvicorn (ASGI)."""
    found: Callable[..., Answer] = request.getfixturevalue(request.param)
    return found


class TestDjangoApp(EndpointContract, StripeEventContract):
    """Every route of the contract, through Django, CSRF protection on."""


def test_test_client_posts_multipart_by_default_which_is_refused(
    client: Client, stripe_stand_in: StripeStandIn
) -> None:
    answer = client.post(
        "/ephemeral-keys",
        {"card_id": ALICE_CARD, "nonce": NONCE},
        headers=bearer(ALICE),
    )

    assert (415, "unsupported_media_type") == (
        answer.status_code,
        answer.json()["error"]["code"],
    )
    assert [] == stripe_stand_in.requests


def test_test_client_posts_json_when_told(
    client: Client, stripe_stand_in: StripeStandIn
) -> None:
    nonce = stripe_stand_in.nonce_for(ALICE_CARD)

    answer = client.post(
        "/ephemeral-keys",
        {"card_id": ALICE_CARD, "nonce": nonce},
        content_type="application/json",
        headers=bearer(ALICE),
    )

    assert 200 == answer.status_code


def test_without_csrf_exempt_the_same_view_is_refused(
    client: Client, stripe_stand_in: StripeStandIn
) -> None:
    """The exemption is what lets the bearer endpoint through CsrfViewMiddleware."""
    views = sys.modules["examples.django.issuing_demo.views"]
    urls = types.ModuleType("csrf_protected_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]  # a urlconf is any module with urlpatterns
        path("ephemeral-keys", views.ephemeral_keys.__wrapped__)
    ]

    with override_settings(ROOT_URLCONF=urls):
        answer = client.post(
            "/ephemeral-keys",
            {"card_id": ALICE_CARD, "nonce": NONCE},
            content_type="application/json",
            headers=bearer(ALICE),
        )

    assert 403 == answer.status_code
    assert [] == stripe_stand_in.requests
