"""Secrets never reach a log line, a repr or an error.

Also the tests of the suite-wide check in the root conftest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import stripe
from pytest_httpserver import HTTPServer

from issuing_elements import EphemeralKeyIssuer, HttpResponse, IssuedKey
from issuing_elements._redact import redact
from stripe_wire import CARD, KEY_SECRET, NONCE, key_object


def test_the_suite_wide_detector_finds_a_secret(
    find_secrets: Callable[[list[str]], list[str]],
) -> None:
    assert [KEY_SECRET, "sk_live_abcd1234"] == find_secrets(
        [f"body={KEY_SECRET}", "key sk_live_abcd1234 here", "ek_test_[REDACTED]"]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("secret=ek_test_abc123", "secret=ek_test_[REDACTED]"),
        ("sk_live_Zz09 and rk_test_q1", "sk_live_[REDACTED] and rk_test_[REDACTED]"),
        ("Authorization: Bearer sk_fakefakefake", "Authorization: Bearer [REDACTED]"),
        (
            "pk_test_abc123 ic_1Fake ephkey_1Fake",
            "pk_test_abc123 ic_1Fake ephkey_1Fake",
        ),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert expected == redact(text)


def test_stripe_debug_log_of_the_key_response_is_masked(
    httpserver: HTTPServer,
    issuer: EphemeralKeyIssuer[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="stripe")
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_json(
        key_object()
    )

    issuer.issue("alice", card_id=CARD, nonce=NONCE)

    bodies = [
        r.getMessage() for r in caplog.records if "API response body" in r.getMessage()
    ]
    assert 1 == len(bodies)
    assert ("ek_test_[REDACTED]" in bodies[0], KEY_SECRET in bodies[0]) == (True, False)


def test_stripe_logger_secret_written_by_anyone_is_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger("stripe").warning("retrying with %s", "sk_test_fakeapikey99")

    assert ["retrying with sk_test_[REDACTED]"] == [
        r.getMessage() for r in caplog.records
    ]


def test_tracebacks_logged_by_the_library_are_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        raise RuntimeError("ek_test_insidetraceback")  # noqa: TRY301 - the point
    except RuntimeError:
        logging.getLogger("issuing_elements").exception("failed")

    formatted = logging.Formatter().format(caplog.records[0])
    assert "ek_test_insidetraceback" not in formatted


def test_issued_key_repr_and_str_hide_the_secret() -> None:
    key = IssuedKey(
        "ephkey_1", KEY_SECRET, 1, livemode=False, card_id=CARD, nonce=NONCE
    )

    assert (KEY_SECRET in repr(key), KEY_SECRET in str(key)) == (False, False)


def test_http_response_repr_hides_the_body() -> None:
    response = HttpResponse(
        200, {}, f'{{"ephemeralKeySecret": "{KEY_SECRET}"}}'.encode()
    )

    assert KEY_SECRET not in repr(response)


def test_issuer_repr_hides_the_api_key(stripe_client: stripe.StripeClient) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, lambda _u, _r: True)

    assert "sk_" not in repr(issuer)
