"""The routes: the key and event endpoints sync under WSGI, async under ASGI.

``client-config`` and the page do no I/O worth awaiting: Django runs these
sync views in its thread under ASGI.
"""

from django.conf import settings
from django.urls import path

from . import views

urlpatterns = [
    path(
        "ephemeral-keys",
        views.aephemeral_keys if settings.ASYNC_VIEWS else views.ephemeral_keys,
    ),
    path(
        "stripe-events",
        views.astripe_events if settings.ASYNC_VIEWS else views.stripe_events,
    ),
    path("client-config", views.client_config),
    path("", views.page),
]
