"""Issuing Elements on AWS Lambda, behind any of its three HTTP front doors.

``handler(event, context)`` takes the events of API Gateway REST APIs
(payload format 1.0), HTTP APIs (payload format 2.0) and Lambda function
URLs (2.0 as well), and answers in the shape each expects. Headers are
matched without regard to case (REST APIs keep the client's spelling, the
others lower-case it), and ``isBase64Encoded`` bodies are decoded.

This file is what a Lambda function copies: who may have a key for which
card (:func:`authorize`), the issuer built with it (:func:`build_issuer`),
and :func:`route`: read the request, find the user, call the library, write
its answer. The demo's plumbing (its users file, the Stripe client or the
offline FakeStripe, the page) is ``examples._shared``, the same for every
example; the handler is ``examples.aws_lambda.handler.handler``, with the
``examples`` package in the deployment. On Lambda, set ``STRIPE_SECRET_KEY`` and
``STRIPE_PUBLISHABLE_KEY`` (from Secrets Manager or SSM, not in plain
configuration), or it starts the offline stand-in, which only a local run can
use.

What a real app replaces: ``demo.authenticate`` with its authorizer (a
Cognito or JWT authorizer in API Gateway puts the user in
``requestContext.authorizer``), ``demo_users()`` with its database, and
the page.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from examples._shared import (
    REFRESH_MARGIN,
    Demo,
    demo_users,
    json_error,
    once,
    page_elements,
    process_demo,
)
from issuing_elements import EphemeralKeyIssuer, Grant, KeyRequest, MemoryKeyLedger

if TYPE_CHECKING:
    from collections.abc import Mapping

    from issuing_elements import HttpResponse


def authorize(user: str, request: KeyRequest) -> Grant | None:
    """A key for a card the user may see, under the card's connected account.

    Anything else (another user's card, no such card) is ``None``: one
    answer, 404, so that cards cannot be probed.
    """
    cards = demo_users().visible_cards(user)  # yours: a query of your card table
    if request.card_id not in cards:
        return None
    return Grant(stripe_account=cards[request.card_id])


def build_issuer(demo: Demo) -> EphemeralKeyIssuer[str]:
    """The issuer: Stripe, the authorizer, and the controls this function sets."""
    return EphemeralKeyIssuer(
        demo.stripe_client,
        authorize,
        allowed_origins=demo.allowed_origins,
        # Keys follow the card: the ledger knows the live keys, and
        # POST /stripe-events revokes a stopped card's.
        key_ledger=MemoryKeyLedger(),
        webhook_secrets=demo.webhook_secrets,
        # The demo page's bundle: when to fetch the next key, what to mount.
        refresh_margin=REFRESH_MARGIN,
        elements=page_elements,
    )


#: The issuer, built on the first event of an execution environment and kept
#: for the next ones.
process_issuer = once(lambda: build_issuer(process_demo()))

ROUTES = {
    ("POST", "/ephemeral-keys"),
    ("POST", "/stripe-events"),
    ("GET", "/client-config"),
    ("GET", "/"),
}


def handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """The Lambda entry point; the Demo is built once per execution environment."""
    return route(process_demo(), process_issuer(), event)


def route(
    demo: Demo, issuer: EphemeralKeyIssuer[str], event: Mapping[str, Any]
) -> dict[str, Any]:
    """Answer one API Gateway or function URL *event* with *demo*'s *issuer*."""
    method, path = _method_and_path(event)
    headers = {
        key.lower(): value for key, value in (event.get("headers") or {}).items()
    }
    user = demo.authenticate(headers.get("authorization"))
    answer: HttpResponse
    if (method, path) == ("POST", "/ephemeral-keys"):
        body = _body(event)
        answer = (
            issuer.handle(
                user,
                body=body,
                content_type=headers.get("content-type"),
                headers=headers,
                client_ip=_source_ip(event),
            )
            if body is not None
            else json_error(400, "invalid_request", "The body is not valid base64.")
        )
    elif (method, path) == ("POST", "/stripe-events"):
        # Stripe's webhook: no user; the body as Stripe sent it (the
        # signature covers those bytes).
        body = _body(event)
        answer = (
            issuer.handle_stripe_event(
                body, headers=headers, client_ip=_source_ip(event)
            )
            if body is not None
            else json_error(400, "invalid_request", "The body is not valid base64.")
        )
    elif (method, path) == ("GET", "/client-config"):
        query = event.get("queryStringParameters") or {}
        answer = demo.client_config(
            user, query.get("card_id"), api_version=issuer.api_version
        )
    elif (method, path) == ("GET", "/"):
        answer = demo.page()
    elif path in {route_path for _, route_path in ROUTES}:
        answer = json_error(405, "method_not_allowed", "Method not allowed.")
    else:
        answer = json_error(404, "not_found", "No such route.")
    return {
        "statusCode": answer.status,
        "headers": dict(answer.headers),
        "body": answer.body.decode(),
        "isBase64Encoded": False,
    }


def _method_and_path(event: Mapping[str, Any]) -> tuple[str, str]:
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":  # an HTTP API or a function URL
        method, path = context["http"]["method"], event["rawPath"]
        # An HTTP API's named stage (not "$default") prefixes the raw path.
        stage = context.get("stage", "$default")
        if stage != "$default" and path.startswith(f"/{stage}/"):
            path = path.removeprefix(f"/{stage}")
        return method.upper(), path
    # A REST API: "path" is the resource path, without the stage.
    return event["httpMethod"].upper(), event["path"]


def _source_ip(event: Mapping[str, Any]) -> str | None:
    """The caller's address as API Gateway saw it (1.0 and 2.0 keep it apart)."""
    context = event.get("requestContext") or {}
    source = (context.get("http") or context.get("identity") or {}).get("sourceIp")
    return source if isinstance(source, str) else None


def _body(event: Mapping[str, Any]) -> bytes | None:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            return None
    return body.encode()
