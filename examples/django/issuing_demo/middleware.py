"""``request.user`` from ``Authorization: Bearer <token>``.

Django's ``AuthenticationMiddleware`` does this from the session cookie; the
demo, like the Flask and FastAPI examples, signs users in with a bearer
token. A real app uses its own (a session, DRF's token authentication) and
keeps the same two shapes: a ``User``, or ``AnonymousUser``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser, User
from django.utils.deprecation import MiddlewareMixin

from . import current_demo

if TYPE_CHECKING:
    from django.http import HttpRequest


class BearerTokenMiddleware(MiddlewareMixin):
    """Sets ``request.user``: the token's user, or ``AnonymousUser``."""

    def process_request(self, request: HttpRequest) -> None:
        name = current_demo().authenticate(request.headers.get("Authorization"))
        # Unsaved: the demo's users live in its token file, not a database.
        request.user = AnonymousUser() if name is None else User(username=name)
