"""Issuing Elements on AWS Lambda, behind any of its three HTTP front doors.

``handler(event, context)`` takes the events of API Gateway REST APIs
(payload format 1.0), HTTP APIs (payload format 2.0) and Lambda function
URLs (2.0 as well), and answers in the shape each expects. Headers are
matched without regard to case (REST APIs keep the client's spelling, the
others lower-case it), and ``isBase64Encoded`` bodies are decoded.

The glue is :func:`route`: read the request, find the user, call the
library, write its answer. The configuration is ``examples/_shared``, the
same for every example; on Lambda, set ``STRIPE_SECRET_KEY`` and
``STRIPE_PUBLISHABLE_KEY`` (from Secrets Manager or SSM, not in plain
configuration), or it starts the offline stand-in, which only a local run can
use.

What a real app replaces: ``demo.authenticate`` with its authorizer (a
Cognito or JWT authorizer in API Gateway puts the user in
``requestContext.authorizer``), the demo user file with its database, and
the page.
"""

from __future__ import annotations

import base64
import binascii
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The examples share one configuration module, examples/_shared.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _shared import Demo, json_error, process_demo

if TYPE_CHECKING:
    from collections.abc import Mapping

    from issuing_elements import HttpResponse

ROUTES = {
    ("POST", "/ephemeral-keys"),
    ("POST", "/stripe-events"),
    ("GET", "/client-config"),
    ("GET", "/"),
}


def handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """The Lambda entry point; the Demo is built once per execution environment."""
    return route(process_demo(), event)


def route(demo: Demo, event: Mapping[str, Any]) -> dict[str, Any]:
    """Answer one API Gateway or function URL *event* with *demo*."""
    method, path = _method_and_path(event)
    headers = {
        key.lower(): value for key, value in (event.get("headers") or {}).items()
    }
    user = demo.authenticate(headers.get("authorization"))
    answer: HttpResponse
    if (method, path) == ("POST", "/ephemeral-keys"):
        body = _body(event)
        answer = (
            demo.issuer.handle(
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
            demo.issuer.handle_stripe_event(
                body, headers=headers, client_ip=_source_ip(event)
            )
            if body is not None
            else json_error(400, "invalid_request", "The body is not valid base64.")
        )
    elif (method, path) == ("GET", "/client-config"):
        query = event.get("queryStringParameters") or {}
        answer = demo.client_config(user, query.get("card_id"))
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
