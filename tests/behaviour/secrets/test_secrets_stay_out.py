"""Secrets never reach a log line, a repr or an error.

Also the tests of the suite-wide check in the root conftest.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import pytest
import stripe
from pytest_httpserver import HTTPServer

from doors_and_twins import SESSIONS, SYNC, Door
from issuing_elements import (
    AccountSessionGrant,
    EphemeralKeyIssuer,
    HttpResponse,
    IssuedKey,
    IssuingCardComponent,
)
from issuing_elements._redact import redact
from issuing_elements.testing import FakeStripe
from stripe_wire import CARD, KEY_SECRET, NONCE, key_object

# An Account Session's client secret in each of Stripe's two shapes, fake.
BARE_SESSION_SECRET = "_FakeBareSessionSecret0aBcDeFgHiJkLmNoPqRsTuVwXy"
ACCS_SESSION_SECRET = "accs_secret__FakeAccsSessionSecret0aBcDeFgHiJkLmNo"


def test_the_suite_wide_detector_finds_a_secret(
    find_secrets: Callable[[list[str]], list[str]],
) -> None:
    assert [
        KEY_SECRET,
        "sk_live_abcd1234",
        "rk_test_ab-cd_12",
        "[REDACTED]_00FakeTail01",
        ACCS_SESSION_SECRET,
        BARE_SESSION_SECRET,
        "whsec_fakeEndpointSecret",
    ] == find_secrets(
        [
            f"body={KEY_SECRET}",
            "key sk_live_abcd1234 here",
            "secret_rk_test_ab-cd_12",
            '"ek_test_[REDACTED]", "ek_test_[REDACTED]_00FakeTail01"',
            f"Invalid response body: {ACCS_SESSION_SECRET} (HTTP 200)",
            f"{BARE_SESSION_SECRET} cut",
            # The library's masks, and ids, are no secrets.
            "accs_secret__[REDACTED] _[REDACTED] acct_1FakeConnected ic_1FakeCard",
            "secrets=whsec_fakeEndpointSecret, whsec_[REDACTED]",
        ]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("secret=ek_test_abc123", "secret=ek_test_[REDACTED]"),
        (f'"secret":"{KEY_SECRET}"', '"secret":"ek_test_[REDACTED]"'),
        ("ek_live_YWNj-ZGVm_00Tail", "ek_live_[REDACTED]"),
        ("secret_sk_test_abc_def", "secret_sk_test_[REDACTED]"),
        ("key%3Dsk_test_abc123&x=1", "key%3Dsk_test_[REDACTED]&x=1"),
        ("rk_live_a1_b2-c3, next", "rk_live_[REDACTED], next"),
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # By shape, wherever it stands: a body that is not JSON, a message.
        (
            f"Invalid response body from API: {BARE_SESSION_SECRET} (HTTP 200)",
            "Invalid response body from API: _[REDACTED] (HTTP 200)",
        ),
        (f"body={BARE_SESSION_SECRET}", "body=_[REDACTED]"),
        (f"{ACCS_SESSION_SECRET}, next", "accs_secret__[REDACTED], next"),
        (f"x{ACCS_SESSION_SECRET}", "xaccs_secret__[REDACTED]"),
        (
            ACCS_SESSION_SECRET.upper(),
            "ACCS_SECRET__[REDACTED]",
        ),
        # By where it stands, whatever its shape, in any case of the name.
        ('{"client_secret": "short1"}', '{"client_secret": "[REDACTED]"}'),
        ('{"clientSecret":"short1"}', '{"clientSecret":"[REDACTED]"}'),
        ('{"CLIENT_SECRET": "short1"}', '{"CLIENT_SECRET": "[REDACTED]"}'),
        ("{'client_secret': 'short1'}", "{'client_secret': '[REDACTED]'}"),
        (
            '{\\"client_secret\\": \\"short1\\"}',
            '{\\"client_secret\\": \\"[REDACTED]\\"}',
        ),
        (
            "client_secret=short1&account=acct_1",
            "client_secret=[REDACTED]&account=acct_1",
        ),
        ("clientSecret=short1 next=1", "clientSecret=[REDACTED] next=1"),
        ("Client_Secret=short1", "Client_Secret=[REDACTED]"),
        # Ids and short underscored words are no secrets.
        (
            "acct_1FakeConnected ic_1FakeCard _short __init__ req_1Fake",
            "acct_1FakeConnected ic_1FakeCard _short __init__ req_1Fake",
        ),
        (
            "issuing-elements-0123456789abcdef0123456789abcdef",
            "issuing-elements-0123456789abcdef0123456789abcdef",
        ),
    ],
)
def test_redact_masks_a_session_secret(text: str, expected: str) -> None:
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
    # The whole secret: its ``_00`` tail is key material too.
    assert (
        '"secret": "ek_test_[REDACTED]"' in bodies[0],
        "FakeTail01" in bodies[0],
    ) == (
        True,
        False,
    )


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


def test_the_stripe_debug_log_masks_a_real_shaped_secret_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="stripe")
    with FakeStripe() as fake:
        fake.add_card(CARD)
        issuer = EphemeralKeyIssuer(fake.client(), lambda _user, _request: True)
        key = issuer.issue("alice", card_id=CARD, nonce=fake.create_nonce(CARD))

    bodies = [r.getMessage() for r in caplog.records if key.id in r.getMessage()]
    tail = key.secret.rsplit("_", 1)[-1]
    assert (True, False) == (
        any('"secret": "ek_test_[REDACTED]"' in body for body in bodies),
        any(tail in body for body in bodies),
    )


class _RendersExcInfo(logging.Handler):
    """A handler whose formatter renders ``exc_info`` itself, locals too.

    As JSON formatters, Sentry and rich tracebacks do: they never read
    ``exc_text``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rendered: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.rendered.extend(
                traceback.TracebackException.from_exception(
                    record.exc_info[1], capture_locals=True
                ).format()
            )
        self.rendered.append(record.exc_text or "")


@pytest.mark.parametrize("logger_name", ["stripe", "issuing_elements"])
def test_a_formatter_that_renders_exc_info_sees_no_secret(
    logger_name: str, find_secrets: Callable[[list[str]], list[str]]
) -> None:
    handler = _RendersExcInfo()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        try:
            secret = KEY_SECRET
            raise RuntimeError(f"Stripe answered {secret}")  # noqa: TRY301 - the point
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)

    assert (True, []) == (
        any("RuntimeError: Stripe answered" in text for text in handler.rendered),
        find_secrets(handler.rendered),
    )


def test_an_argument_the_message_does_not_show_is_dropped(
    caplog: pytest.LogCaptureFixture,
    find_secrets: Callable[[list[str]], list[str]],
) -> None:
    # A mapping given to a message without placeholders stays in ``args``,
    # where handlers such as Sentry's read it.
    logging.getLogger("stripe").warning("response", {"secret": KEY_SECRET})  # noqa: PLE1205 - the point

    assert [] == find_secrets([repr(r.args) for r in caplog.records])


def test_a_record_that_cannot_be_formatted_keeps_no_secret_in_its_arguments(
    caplog: pytest.LogCaptureFixture,
    find_secrets: Callable[[list[str]], list[str]],
) -> None:
    # logging prints a broken record's arguments to stderr; no secret there.
    logging.getLogger("stripe").warning("two %s %s", KEY_SECRET)  # noqa: PLE1206 - the point

    record = caplog.records[0]
    assert (None, []) == (record.args, find_secrets([str(record.msg)]))


def test_an_extra_field_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("issuing_elements").info("issued", extra={"body": KEY_SECRET})

    assert "ek_test_[REDACTED]" == getattr(caplog.records[0], "body", None)


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError

    def __repr__(self) -> str:
        raise RuntimeError


@pytest.mark.parametrize(
    ("message", "args", "expected"),
    [
        ("value %s", (_Unprintable(),), "value %s <unprintable tuple>"),
        (_Unprintable(), (), "<unprintable _Unprintable> ()"),
    ],
    ids=["argument", "message"],
)
def test_a_record_that_cannot_be_printed_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
    message: object,
    args: tuple[object, ...],
    expected: str,
) -> None:
    # The filter runs in the caller's thread: raising would break the caller.
    logging.getLogger("stripe").warning(message, *args)

    assert [expected] == [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("secret", [BARE_SESSION_SECRET, ACCS_SESSION_SECRET])
def test_a_200_body_that_is_not_json_is_never_logged(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
    any_door: Door,
    secret: str,
) -> None:
    # Cut short after the secret: whatever its shape, the text stays out.
    body = f'{{"client": "{secret}", "note": "proxy page", "x'
    path = "/v1/account_sessions" if any_door is SESSIONS else "/v1/ephemeral_keys"
    httpserver.expect_request(path).respond_with_data(body, content_type="text/plain")
    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        stripe_client,
        lambda _user, _request: True,
        api_version="2025-01-27.acacia",
        max_network_retries=0,
        account_sessions=lambda _user, _request: AccountSessionGrant(
            "acct_1FakeConnected", (IssuingCardComponent(card_management=True),)
        ),
    )

    answer = any_door.knock(issuer, SYNC, nonce=NONCE)

    ours = [
        r.getMessage() for r in caplog.records if r.name.startswith("issuing_elements")
    ]
    assert (500, [], True) == (
        answer.status,
        [m for m in ours if secret[-12:] in m or "proxy page" in m],
        any(f"{len(body)} bytes of text/plain" in m for m in ours),
    )
