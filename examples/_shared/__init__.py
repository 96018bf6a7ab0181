"""The demo's plumbing that every example app shares, read from the environment.

Each example's route file (``flask/app.py``, ``fastapi/app.py``,
``django/issuing_demo/views.py``, ``aws_lambda/handler.py``) holds what a
reader copies: the authorizer, the issuer built with it, and the routes that
call it. What only the demo needs lives here, once: the users and cards
(a JSON file, where a real app has its login and its database), the Stripe
client (the library's ``FakeStripe`` when no key is set), the demo page and
its configuration.

The examples are one package, ``examples``: run them from the repository's
root (``flask --app examples.flask.app run``, ``uvicorn
examples.fastapi.app:app``, ``python -m examples.django.manage runserver``),
and they import this module as ``examples._shared``.

Environment:

``STRIPE_SECRET_KEY``
    The secret key the server issues keys with. Unset: the app starts the
    library's ``FakeStripe`` on 127.0.0.1 with the demo cards, and runs
    offline.
``STRIPE_API_BASE``
    Send Stripe calls to this Stripe-compatible server instead of Stripe's
    (a test stand-in, a proxy). Needs ``STRIPE_SECRET_KEY``.
``STRIPE_PUBLISHABLE_KEY``
    What the page gives ``Stripe(...)``. Needed with ``STRIPE_SECRET_KEY``.
``ISSUING_ELEMENTS_ALLOWED_ORIGINS``
    Comma-separated origins (``https://app.example.com``) whose pages may
    ask for keys; a browser request from any other page is refused (403).
    Unset: no origin check.
``STRIPE_WEBHOOK_SECRETS``
    Comma-separated signing secrets (``whsec_...``) of the webhook endpoint
    ``POST /stripe-events`` (the Dashboard's endpoint page, or ``stripe
    listen``, shows one); two while a secret rolls. Unset with
    ``STRIPE_SECRET_KEY``: the endpoint answers 500. Offline: the
    stand-in's ``DEMO_WEBHOOK_SECRET``.
``ISSUING_ELEMENTS_DEMO_USERS``
    Read from ``os.environ``, once per process (:func:`demo_users`). A JSON
    file ``{"tokens": {token: user}, "cards": {user: {card:
    null | "acct_..."}}, "admins": {user: ["acct_..."]}}``: who signs in with
    which bearer token, which cards each user may see, under which connected
    account, and which connected accounts each platform admin administers
    (``admins`` is optional). Default: ``demo_users.json`` beside this file.

What a real app replaces: the token table with its sessions or its identity
provider, the card table with its own database (the authorizer looks the card
up there), and the demo page with its own. Bearer tokens in the
``Authorization`` header are not sent by browsers on their own, so this demo
needs no CSRF protection; an app that authenticates with cookies must add it
(SameSite cookies and a CSRF token) to ``POST /ephemeral-keys``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

import attrs
import stripe

from issuing_elements import (
    CardCvcDisplay,
    CardExpiryDisplay,
    CardNumberDisplay,
    ElementOptions,
    HttpResponse,
    IssuedKey,
    Style,
    client_config,
    content_security_policy,
)
from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")

__all__ = [
    "DEMO_USERS_FILE",
    "DEMO_WEBHOOK_SECRET",
    "MAX_BODY_BYTES",
    "REFRESH_MARGIN",
    "Demo",
    "DemoConfigurationError",
    "DemoUsers",
    "allowed_origins_from",
    "demo_users",
    "json_error",
    "once",
    "page_elements",
    "process_demo",
]

HERE: Final = Path(__file__).resolve().parent
DEMO_USERS_FILE: Final = HERE / "demo_users.json"
PAGE_FILE: Final = HERE / "page.html"
ADMIN_PAGE_FILE: Final = HERE / "admin.html"

#: What the endpoint accepts; adapters read at most one byte more, so that a
#: huge body is refused (413) without being read.
MAX_BODY_BYTES: Final = 4096

#: The offline demo's webhook signing secret: obviously fake, never Stripe's.
DEMO_WEBHOOK_SECRET: Final = "whsec_fake_issuing_elements_demo"

#: Seconds before a key expires when the page fetches the next one; the
#: endpoint tells the page when, as ``refreshIn``, on the server's clock.
REFRESH_MARGIN: Final = 60

#: How the demo page styles the card data (Stripe renders it in its iframes).
CARD_STYLE: Final = Style(
    base={
        "color": "#1a1f36",
        "fontFamily": "ui-monospace, Menlo, monospace",
        "fontSize": "18px",
        "letterSpacing": "0.06em",
    }
)

_JSON_HEADERS: Final = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
_PAGE_HEADERS: Final = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _inline_hashes(page: str, tag: str) -> tuple[str, ...]:
    """CSP sources for the page's inline ``<tag>`` blocks: hashes, not unsafe-inline."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    digests = (hashlib.sha256(block.encode()).digest() for block in blocks)
    return tuple(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)


def allowed_origins_from(value: str | None) -> tuple[str, ...] | None:
    """``ISSUING_ELEMENTS_ALLOWED_ORIGINS``, split on commas; unset, empty: None."""
    origins = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    return origins or None


def page_elements(user: str, key: IssuedKey) -> list[ElementOptions]:
    """What the page mounts for *key*: the endpoint sends it as ``elements``."""
    return [
        CardNumberDisplay.from_key(key, style=CARD_STYLE),
        CardExpiryDisplay.from_key(key, style=CARD_STYLE),
        CardCvcDisplay.from_key(key, style=CARD_STYLE),
    ]


class DemoConfigurationError(RuntimeError):
    """The environment does not describe a runnable demo; the message says why."""


@attrs.frozen
class DemoUsers:
    """The demo's user store: bearer tokens, each user's cards, and admins.

    A real app has sessions and a database instead; the examples'
    authorizers query this the way they would query it.
    """

    tokens: Mapping[str, str]
    cards: Mapping[str, Mapping[str, str | None]]
    admins: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @classmethod
    def load(cls, path: Path) -> DemoUsers:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DemoConfigurationError(
                f"Cannot read the demo users file {path}: {error}"
            ) from None
        tokens = document.get("tokens") if isinstance(document, dict) else None
        cards = document.get("cards") if isinstance(document, dict) else None
        admins = document.get("admins", {}) if isinstance(document, dict) else None
        if not (
            isinstance(tokens, dict)
            and all(
                isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()
            )
            and isinstance(cards, dict)
            and all(
                isinstance(owned, dict)
                and all(
                    isinstance(card, str) and (acct is None or isinstance(acct, str))
                    for card, acct in owned.items()
                )
                for owned in cards.values()
            )
            and isinstance(admins, dict)
            and all(
                isinstance(accounts, list)
                and all(isinstance(account, str) for account in accounts)
                for accounts in admins.values()
            )
        ):
            raise DemoConfigurationError(
                f"{path} must hold {{'tokens': {{token: user}}, 'cards': "
                "{user: {card_id: null or 'acct_...'}}, 'admins' (optional): "
                "{user: ['acct_...']}}"
            )
        return cls(
            tokens=tokens,
            cards=cards,
            admins={user: tuple(accounts) for user, accounts in admins.items()},
        )

    def authenticate(self, authorization: str | None) -> str | None:
        """The user an ``Authorization: Bearer <token>`` header names, or ``None``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = token.strip().encode()
        found = None
        # Compare with every token, in constant time: no early exit to time.
        for known, user in self.tokens.items():
            if hmac.compare_digest(given, known.encode()):
                found = user
        return found

    def visible_cards(self, user: str) -> dict[str, str | None]:
        """The user's own cards, and every card of the accounts they administer."""
        administered = set(self.admins.get(user, ()))
        return {
            **{
                card: account
                for card, account in self.all_cards().items()
                if account is not None and account in administered
            },
            **self.cards.get(user, {}),
        }

    def all_cards(self) -> dict[str, str | None]:
        return {
            card: acct for owned in self.cards.values() for card, acct in owned.items()
        }


class Demo:
    """The demo's plumbing, built once from the environment: the Stripe client
    (FakeStripe's when there is no key), the page and its configuration.

    The routes, the authorizer and the issuer are each example's own. Use
    :meth:`from_environment`; call :meth:`close` when the app stops.
    """

    def __init__(  # noqa: PLR0913 - keyword-only, one per piece of the demo
        self,
        *,
        stripe_client: stripe.StripeClient,
        publishable_key: str,
        fake: FakeStripe | None,
        resources: contextlib.ExitStack,
        http_client: stripe.HTTPClient | None = None,
        allowed_origins: tuple[str, ...] | None = None,
        webhook_secrets: tuple[str, ...] | None = None,
    ) -> None:
        #: What the issuer calls Stripe with.
        self.stripe_client = stripe_client
        #: ``ISSUING_ELEMENTS_ALLOWED_ORIGINS``: the issuer's ``allowed_origins``.
        self.allowed_origins = allowed_origins
        #: ``STRIPE_WEBHOOK_SECRETS``: the issuer's ``webhook_secrets``.
        self.webhook_secrets = webhook_secrets
        #: The offline stand-in for Stripe, when there is no STRIPE_SECRET_KEY.
        self.fake = fake
        self._publishable_key = publishable_key
        self._resources = resources
        self._http_client = http_client

    def __repr__(self) -> str:
        mode = "offline on FakeStripe" if self.simulated else "with Stripe keys"
        return f"<Demo {mode}>"

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        http_client: Callable[[], stripe.HTTPClient] | None = None,
    ) -> Demo:
        """Read the variables in this module's docstring from *environ*.

        The users file is the process's (:func:`demo_users`), read from
        ``os.environ``, like a real app's database.

        *http_client* builds stripe-python's transport when ``STRIPE_SECRET_KEY``
        is set. The default, an ``HTTPXClient``, serves sync and async calls
        alike (Flask, Lambda); an async-only app passes
        ``stripe.AIOHTTPClient``, many times faster under concurrency
        (``docs/benchmarks.md``).

        Raises:
            DemoConfigurationError: naming the variable to fix.
        """
        env = os.environ if environ is None else environ
        users = demo_users()
        allowed_origins = allowed_origins_from(
            env.get("ISSUING_ELEMENTS_ALLOWED_ORIGINS")
        )
        webhook_secrets = tuple(
            part.strip()
            for part in (env.get("STRIPE_WEBHOOK_SECRETS") or "").split(",")
            if part.strip()
        )
        secret_key = env.get("STRIPE_SECRET_KEY")
        api_base = env.get("STRIPE_API_BASE")
        publishable_key = env.get("STRIPE_PUBLISHABLE_KEY")
        resources = contextlib.ExitStack()
        if not secret_key:
            if api_base:
                raise DemoConfigurationError(
                    "STRIPE_API_BASE is set but STRIPE_SECRET_KEY is not."
                )
            fake = resources.enter_context(FakeStripe())
            for card, account in users.all_cards().items():
                fake.add_card(card, account=account)
            return cls(
                stripe_client=fake.client(),
                publishable_key=fake.publishable_key,
                fake=fake,
                resources=resources,
                allowed_origins=allowed_origins,
                webhook_secrets=webhook_secrets or (DEMO_WEBHOOK_SECRET,),
            )
        if not publishable_key:
            raise DemoConfigurationError(
                "STRIPE_SECRET_KEY is set, so STRIPE_PUBLISHABLE_KEY must be too."
            )
        transport = (
            http_client()
            if http_client is not None
            else stripe.HTTPXClient(allow_sync_methods=True)
        )
        resources.callback(transport.close)
        stripe_client = stripe.StripeClient(
            secret_key,
            http_client=transport,
            base_addresses={"api": api_base} if api_base else {},
        )
        return cls(
            stripe_client=stripe_client,
            publishable_key=publishable_key,
            fake=None,
            resources=resources,
            http_client=transport,
            allowed_origins=allowed_origins,
            webhook_secrets=webhook_secrets or None,
        )

    @property
    def users(self) -> DemoUsers:
        """The demo's users and cards: :func:`demo_users`."""
        return demo_users()

    @property
    def simulated(self) -> bool:
        """Running offline, on the library's FakeStripe."""
        return self.fake is not None

    def close(self) -> None:
        """Close the HTTP client, and stop FakeStripe when it runs."""
        self._resources.close()

    async def aclose(self) -> None:
        """Same as :meth:`close`, but also closes the async connection pool."""
        if self._http_client is not None:
            await self._http_client.close_async()  # type: ignore[no-untyped-call]  # stripe-python is untyped here
        self.close()

    def authenticate(self, authorization: str | None) -> str | None:
        """The user the ``Authorization`` header names, or ``None``."""
        return self.users.authenticate(authorization)

    def client_config(
        self, user: str | None, card_id: str | None, *, api_version: str
    ) -> HttpResponse:
        """``GET /client-config[?card_id=ic_...]``: what the page gives ``Stripe()``.

        Without a card: the platform's configuration, for anyone. With one:
        that card's (its connected account and the betas Connect needs), for
        the user who may see it; *api_version* is the issuer's, so that
        Stripe.js and the keys agree; anyone else gets the endpoint's own 401 or
        404. A ``demo`` member tells the demo page what it needs to know.
        """
        account = None
        if card_id is not None:
            if user is None:
                return json_error(401, "unauthenticated", "Sign in first.")
            visible = self.users.visible_cards(user)
            if card_id not in visible:
                return json_error(404, "card_not_found", "No such card.")
            account = visible[card_id]
        config = client_config(
            self._publishable_key,
            stripe_account=account,
            api_version=api_version,
            stripe_client=self.stripe_client,
        ).to_dict()
        config["demo"] = {
            "simulated": self.simulated,
            "stripeApiBase": self.fake.url if self.fake is not None else None,
            # A real page never lists users or tokens: it has a signed-in user.
            "users": [
                {
                    "user": user_id,
                    "token": token,
                    "cards": list(self.users.visible_cards(user_id)),
                    "admin_of": list(self.users.admins.get(user_id, ())),
                }
                for token, user_id in self.users.tokens.items()
            ],
            "cards": list(self.users.all_cards()),
        }
        return HttpResponse(
            status=200, headers=_JSON_HEADERS, body=json.dumps(config).encode()
        )

    def page(
        self,
        file: Path = PAGE_FILE,
        *,
        more_sources: Mapping[str, tuple[str, ...]] | None = None,
    ) -> HttpResponse:
        """``GET /``: the demo page, static HTML and JavaScript, under a strict CSP.

        The policy is the library's :func:`content_security_policy`, with the
        hashes of the page's own inline script and style, and the offline
        stand-in's address when the page talks to it.
        """
        body = file.read_bytes()
        page = body.decode()
        policy = content_security_policy(frame_ancestors=("'none'",))
        policy["script-src"] += _inline_hashes(page, "script")
        policy["style-src"] = ("'self'", *_inline_hashes(page, "style"))
        if self.fake is not None:
            policy["connect-src"] += (self.fake.url,)
        for directive, sources in (more_sources or {}).items():
            policy[directive] = (*policy.get(directive, ()), *sources)
        headers = {**_PAGE_HEADERS, "Content-Security-Policy": policy.header_value()}
        return HttpResponse(status=200, headers=headers, body=body)

    def admin_page(self) -> HttpResponse:
        """``GET /admin``: a platform admin's card dashboard (Connect embedded
        components), under the same policy plus Connect.js's origins.

        With real keys the page mounts ``issuing-card`` and
        ``issuing-cards-list``; offline it shows what it would mount.
        """
        return self.page(ADMIN_PAGE_FILE, more_sources=CONNECT_JS_SOURCES)


#: Where Connect.js loads its script and frames from (Stripe's Connect
#: embedded components guide lists them; the demo adds them to its policy).
CONNECT_JS_SOURCES: Final = {
    "script-src": ("https://connect-js.stripe.com",),
    "frame-src": ("https://connect-js.stripe.com",),
}


def json_error(status: int, code: str, message: str) -> HttpResponse:
    """An error in the endpoint's shape, for the routes around it."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return HttpResponse(status=status, headers=_JSON_HEADERS, body=body)


def once(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` on the first call only (under a lock), the same result after.

    For what a server builds once per process from its environment (a Lambda
    execution environment, a WSGI worker): the demo's users, its
    :class:`Demo`, an example's issuer.
    """
    built: list[T] = []
    lock = threading.Lock()

    def get() -> T:
        with lock:
            if not built:
                built.append(build())
            return built[0]

    return get


#: The demo's users file: ``ISSUING_ELEMENTS_DEMO_USERS``, else
#: ``demo_users.json`` beside this module; read on first use, for the process
#: (the demo's stand-in for a database, which the authorizers query).
demo_users: Final = once(
    lambda: DemoUsers.load(
        Path(os.environ.get("ISSUING_ELEMENTS_DEMO_USERS") or DEMO_USERS_FILE)
    )
)

#: The process's :class:`Demo`, built from ``os.environ`` on first use: for
#: apps that a server imports (Django, a Lambda runtime).
process_demo: Final = once(Demo.from_environment)
