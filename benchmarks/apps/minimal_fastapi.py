"""A minimal hand-written FastAPI endpoint: the end-to-end baseline.

What Stripe's own sample does, with a bearer token checked: parse the JSON
body, create the key with stripe-python, return the four fields the
library's endpoint returns. Same transport as the FastAPI example.
"""

from __future__ import annotations

import os

import stripe
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TOKENS = {"alice-demo-token": "alice"}

client = stripe.StripeClient(
    os.environ["STRIPE_SECRET_KEY"],
    base_addresses={"api": os.environ["STRIPE_API_BASE"]},
    http_client=stripe.AIOHTTPClient(),
)
app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/ephemeral-keys")
async def ephemeral_keys(request: Request) -> JSONResponse:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or token not in TOKENS:
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    data = await request.json()
    key = await client.v1.ephemeral_keys.create_async(
        params={"issuing_card": data["card_id"], "nonce": data["nonce"]},
        options={"stripe_version": "2024-06-20"},
    )
    return JSONResponse(
        {
            "ephemeralKeySecret": key.secret,
            "issuingCard": data["card_id"],
            "nonce": data["nonce"],
            "expires": key.expires,
        },
        headers={"Cache-Control": "no-store"},
    )
