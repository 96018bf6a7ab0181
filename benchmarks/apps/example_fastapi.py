"""The FastAPI example (``examples/fastapi/app.py``) as the benchmark runs it.

Its own ``create_app``, routes and shared ``Demo`` (users, authorizer, the
``stripe.AIOHTTPClient`` its lifespan asks for), with one change: the
issuer is configured without the opt-in page bundle (``refreshIn``,
``elements``), so that the 200 body holds the same four fields as the
minimal endpoint's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import stripe

from issuing_elements import EphemeralKeyIssuer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi" / "app.py"

_spec = importlib.util.spec_from_file_location("example_fastapi_app", EXAMPLE)
assert _spec is not None
assert _spec.loader is not None
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

from _shared import MAX_BODY_BYTES, Demo  # noqa: E402 - the example puts it on sys.path

# As the example's lifespan builds it.
demo = Demo.from_environment(http_client=stripe.AIOHTTPClient)
demo.issuer = EphemeralKeyIssuer(
    demo._stripe_client,
    demo.users.authorize,
    max_body_bytes=MAX_BODY_BYTES,
    api_version="2024-06-20",
)
app = example.create_app(demo)
