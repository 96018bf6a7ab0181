"""The FastAPI example (``examples/fastapi/app.py``) as the benchmark runs it.

Its own ``create_app``, routes and authorizer, and the shared ``Demo`` (the
``stripe.AIOHTTPClient`` its lifespan asks for), with one change: the
issuer is configured without the opt-in page bundle (``refreshIn``,
``elements``), so that the 200 body holds the same four fields as the
minimal endpoint's.
"""

from __future__ import annotations

import stripe

from examples._shared import MAX_BODY_BYTES, Demo
from examples.fastapi.app import authorize, create_app
from issuing_elements import EphemeralKeyIssuer

# As the example's lifespan builds it.
demo = Demo.from_environment(http_client=stripe.AIOHTTPClient)
issuer = EphemeralKeyIssuer(
    demo.stripe_client,
    authorize,
    max_body_bytes=MAX_BODY_BYTES,
    api_version="2024-06-20",
)
app = create_app(demo, issuer)
