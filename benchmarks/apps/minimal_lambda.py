"""A minimal Lambda handler that calls Stripe directly: the cold-start baseline.

What Stripe's own sample does, on Lambda: parse the JSON body, check a bearer
token, create the key, return the same four fields as the library's endpoint.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import stripe

TOKENS = {"alice-demo-token": "alice"}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or token not in TOKENS:
        return {"statusCode": 401, "body": '{"error": "unauthenticated"}'}
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    data = json.loads(body)
    client = stripe.StripeClient(
        os.environ["STRIPE_SECRET_KEY"],
        base_addresses={"api": os.environ["STRIPE_API_BASE"]},
    )
    key = client.v1.ephemeral_keys.create(
        params={"issuing_card": data["card_id"], "nonce": data["nonce"]},
        options={"stripe_version": "2024-06-20"},
    )
    answer = {
        "ephemeralKeySecret": key.secret,
        "issuingCard": data["card_id"],
        "nonce": data["nonce"],
        "expires": key.expires,
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer),
    }
