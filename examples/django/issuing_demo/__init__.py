"""Issuing Elements behind Django: the project of ``examples/django``.

Run it (offline, on the built-in FakeStripe, unless STRIPE_SECRET_KEY is set)::

    python examples/django/manage.py runserver            # WSGI: issuer.handle
    uvicorn --app-dir examples/django issuing_demo.asgi:application  # ASGI: ahandle

``settings.py`` (no database, CSRF on), ``middleware.py`` (``request.user``
from the bearer token), ``views.py`` (the three routes), ``urls.py`` (which
view serves which route, sync under WSGI and async under ASGI), ``wsgi.py``
and ``asgi.py``. The environment, the demo user store and the page are in
``examples/_shared``, the same for every example.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django.conf

# The examples share one configuration module, examples/_shared.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from _shared import Demo, process_demo


def current_demo() -> Demo:
    """The ``Demo`` that ``settings.ISSUING_DEMO`` names (tests set one), else
    the process's, built from the environment on first use."""
    # Not `from django.conf import settings`: in a package's __init__, that
    # name is replaced by the submodule issuing_demo.settings once imported.
    configured: Demo | None = getattr(django.conf.settings, "ISSUING_DEMO", None)
    return configured if configured is not None else process_demo()
