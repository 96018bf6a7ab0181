"""Settings of the example project: no database, no templates, CSRF on.

The Stripe keys and the demo users come from the environment that every
example reads (``examples._shared``): STRIPE_SECRET_KEY,
STRIPE_PUBLISHABLE_KEY, STRIPE_API_BASE, ISSUING_ELEMENTS_DEMO_USERS.
"""

import os
import secrets

# Nothing here is signed to outlive the process (no sessions, no stored
# tokens), so a fresh key per start will do unless you set one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

# contrib.auth for request.user's two shapes, User and AnonymousUser; the demo
# has no database, so no User is ever saved or looked up.
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
DATABASES: dict[str, dict[str, str]] = {}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # On for every view: the bearer-token endpoint opts out by name
    # (csrf_exempt, see views.py); a cookie-session view must not.
    "django.middleware.csrf.CsrfViewMiddleware",
    "examples.django.issuing_demo.middleware.BearerTokenMiddleware",
]

ROOT_URLCONF = "examples.django.issuing_demo.urls"
WSGI_APPLICATION = "examples.django.issuing_demo.wsgi.application"

#: asgi.py sets ISSUING_DEMO_ASGI=1: the key endpoint is then the async view
#: on ``issuer.ahandle``. Under WSGI it stays the sync view on
#: ``issuer.handle``: Django would run an async view there on a new event
#: loop per request, which stripe-python's async HTTP clients do not survive.
ASYNC_VIEWS = os.environ.get("ISSUING_DEMO_ASGI") == "1"

USE_TZ = True
TIME_ZONE = "UTC"
