"""Issuing Elements behind Django: the project of ``examples/django``.

Run it from the repository's root (offline, on the built-in FakeStripe,
unless STRIPE_SECRET_KEY is set)::

    python -m examples.django.manage runserver                  # WSGI: issuer.handle
    uvicorn examples.django.issuing_demo.asgi:application       # ASGI: ahandle

``settings.py`` (no database, CSRF on), ``middleware.py`` (``request.user``
from the bearer token), ``views.py`` (the authorizer, the issuer and the
routes: what a Django app copies), ``urls.py`` (which view serves which
route, sync under WSGI and async under ASGI), ``wsgi.py`` and ``asgi.py``.
The demo's plumbing (its users file, the Stripe client or the offline
FakeStripe, the page) is ``examples._shared``, the same for every example.
"""

from __future__ import annotations

import django.conf

from examples._shared import Demo, process_demo


def current_demo() -> Demo:
    """The ``Demo`` that ``settings.ISSUING_DEMO`` names (tests set one), else
    the process's, built from the environment on first use."""
    # Not `from django.conf import settings`: in a package's __init__, that
    # name is replaced by the submodule issuing_demo.settings once imported.
    configured: Demo | None = getattr(django.conf.settings, "ISSUING_DEMO", None)
    return configured if configured is not None else process_demo()
