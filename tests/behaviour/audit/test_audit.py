"""The audit trail: one event per decision, exactly the documented fields, no secret.

Stripe is pytest-httpserver, spoken to by the real stripe SDK; the sink is a
list, or the default JSON-lines logger.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest
import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Response

from doors_and_twins import Twin
from issuing_elements import EphemeralKeyIssuer, Grant, KeyRequest
from issuing_elements._audit import AuditEvent, log_audit_event
from issuing_elements.exceptions import (
    IssuingElementsError,
    RateLimitedError,
    ServerMisconfiguredError,
)
from issuing_elements.testing import FakeStripe
from stripe_wire import (
    ACCOUNT,
    CARD,
    KEY_ID,
    KEY_SECRET,
    NONCE,
    OTHER_CARD,
    key_object,
    owner_of,
    stripe_error,
)

JSON = "application/json"
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()
ORIGIN = "https://app.example.com"
FIELDS = [
    "time",
    "action",
    "outcome",
    "reason",
    "user_id",
    "card_id",
    "stripe_account",
    "key_id",
    "stripe_request_id",
    "request_id",
    "client_ip",
    "user_agent",
    "stripe_event_id",
    "stripe_event_type",
    "cardholder_id",
    "keys_revoked",
]


def stripe_says(status: int, body: str) -> Response:
    return Response(body, status=status, mimetype=JSON, headers={"Request-Id": "req_1"})


NONCE_REJECTED = stripe_says(
    400, stripe_error("invalid_request_error", "Invalid nonce.", param="nonce")
)
BAD_API_KEY = stripe_says(401, stripe_error("invalid_request_error", "Bad key."))
STRIPE_DOWN = stripe_says(503, stripe_error("api_error", "Down."))
GRANTED = stripe_says(200, json.dumps(key_object()))


def authorize(user: str, request: KeyRequest) -> Grant | None:
    if user == "busy":
        raise RateLimitedError(retry_after=9)
    return Grant(ACCOUNT) if request.card_id == CARD else None


def make_issuer(
    stripe_client: stripe.StripeClient, **options: Any
) -> tuple[EphemeralKeyIssuer[str], list[AuditEvent]]:
    events: list[AuditEvent] = []
    issuer = EphemeralKeyIssuer(
        stripe_client,
        authorize,
        max_network_retries=0,
        audit=events.append,
        allowed_origins=(ORIGIN,),
        **options,
    )
    return issuer, events


# Each row: the user, the body, its content type, the request headers and
# what Stripe answers; then the event's outcome, user id and card id.
HANDLE_TABLE: list[Any] = [
    pytest.param(
        "alice", BODY, JSON, {}, GRANTED, ("granted", "alice", CARD), id="granted"
    ),
    pytest.param(
        "alice",
        b"{",
        JSON,
        {},
        None,
        ("invalid_request", "alice", None),
        id="invalid_request",
    ),
    pytest.param(
        "alice",
        BODY,
        JSON,
        {},
        NONCE_REJECTED,
        ("invalid_nonce", "alice", CARD),
        id="invalid_nonce",
    ),
    pytest.param(
        None,
        BODY,
        JSON,
        {},
        None,
        ("unauthenticated", None, None),
        id="unauthenticated",
    ),
    pytest.param(
        "alice",
        json.dumps({"card_id": OTHER_CARD, "nonce": NONCE}).encode(),
        JSON,
        {},
        None,
        ("card_not_found", "alice", OTHER_CARD),
        id="card_not_found",
    ),
    pytest.param(
        "alice",
        b"x" * 5000,
        JSON,
        {},
        None,
        ("body_too_large", "alice", None),
        id="body_too_large",
    ),
    pytest.param(
        "alice",
        BODY,
        "text/plain",
        {},
        None,
        ("unsupported_media_type", "alice", None),
        id="unsupported_media_type",
    ),
    pytest.param(
        "busy",
        BODY,
        JSON,
        {},
        None,
        ("rate_limited", "busy", CARD),
        id="rate_limited",
    ),
    pytest.param(
        "alice",
        BODY,
        JSON,
        {"Origin": "https://evil.example"},
        None,
        ("forbidden_origin", None, None),
        id="forbidden_origin",
    ),
    pytest.param(
        "alice",
        BODY,
        JSON,
        {},
        BAD_API_KEY,
        ("server_misconfigured", "alice", CARD),
        id="server_misconfigured",
    ),
    pytest.param(
        "alice",
        BODY,
        JSON,
        {},
        STRIPE_DOWN,
        ("stripe_unavailable", "alice", CARD),
        id="stripe_unavailable",
    ),
]


@pytest.mark.parametrize(
    ("user", "body", "content_type", "headers", "stripe_answer", "expected"),
    HANDLE_TABLE,
)
def test_handle_audits_one_event_per_decision(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    user: str | None,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
    stripe_answer: Response | None,
    expected: tuple[str, str | None, str | None],
    twin: Twin,
) -> None:
    if stripe_answer is not None:
        httpserver.expect_oneshot_request(
            "/v1/ephemeral_keys", method="POST"
        ).respond_with_response(stripe_answer)
    issuer, events = make_issuer(stripe_client)

    response = twin.call(
        issuer, "handle", user, body=body, content_type=content_type, headers=headers
    )

    answered = json.loads(response.body).get("error", {}).get("code", "granted")
    assert [("issue", *expected)] == [
        (event.action, answered, event.user_id, event.card_id) for event in events
    ]
    assert expected[0] == events[0].outcome


ISSUE_TABLE: list[Any] = [
    pytest.param("alice", CARD, GRANTED, "granted", id="granted"),
    pytest.param("alice", "card_1X", None, "invalid_request", id="invalid_request"),
    pytest.param("alice", CARD, NONCE_REJECTED, "invalid_nonce", id="invalid_nonce"),
    pytest.param(None, CARD, None, "unauthenticated", id="unauthenticated"),
    pytest.param("alice", OTHER_CARD, None, "card_not_found", id="card_not_found"),
    pytest.param("busy", CARD, None, "rate_limited", id="rate_limited"),
    pytest.param(
        "alice", CARD, BAD_API_KEY, "server_misconfigured", id="server_misconfigured"
    ),
    pytest.param(
        "alice", CARD, STRIPE_DOWN, "stripe_unavailable", id="stripe_unavailable"
    ),
]


@pytest.mark.parametrize(("user", "card_id", "stripe_answer", "outcome"), ISSUE_TABLE)
def test_issue_audits_one_event_per_decision(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    user: str | None,
    card_id: str,
    stripe_answer: Response | None,
    outcome: str,
    twin: Twin,
) -> None:
    if stripe_answer is not None:
        httpserver.expect_oneshot_request(
            "/v1/ephemeral_keys", method="POST"
        ).respond_with_response(stripe_answer)
    issuer, events = make_issuer(stripe_client)

    try:
        twin.call(issuer, "issue", user, card_id=card_id, nonce=NONCE)
        answered = "granted"
    except IssuingElementsError as error:
        answered = error.code
    # One event, and its outcome is what the caller got.
    assert [("issue", outcome, outcome)] == [
        (event.action, event.outcome, answered) for event in events
    ]


def test_a_granted_event_names_everything_but_the_secret(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        GRANTED
    )
    issuer, events = make_issuer(stripe_client, user_id=lambda user: f"user-{user}")

    issuer.handle(
        "alice",
        body=BODY,
        content_type=JSON,
        headers={
            "x-request-id": "rq-42",
            "USER-AGENT": "Browser/1.0",
            "Origin": ORIGIN,
        },
        client_ip="203.0.113.7",
    )

    [event] = events
    assert {
        "action": "issue",
        "outcome": "granted",
        "reason": "Stripe issued a key.",
        "user_id": "user-alice",
        "card_id": CARD,
        "stripe_account": ACCOUNT,
        "key_id": KEY_ID,
        "stripe_request_id": None,
        "request_id": "rq-42",
        "client_ip": "203.0.113.7",
        "user_agent": "Browser/1.0",
        "stripe_event_id": None,
        "stripe_event_type": None,
        "cardholder_id": None,
        "keys_revoked": None,
    } == {name: value for name, value in attrs.asdict(event).items() if name != "time"}


def test_a_refusal_keeps_stripes_request_id(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        NONCE_REJECTED
    )
    issuer, events = make_issuer(stripe_client)

    issuer.handle("alice", body=BODY, content_type=JSON)

    assert ["req_1"] == [event.stripe_request_id for event in events]


def test_the_event_has_exactly_the_documented_fields() -> None:
    assert FIELDS == [field.name for field in attrs.fields(AuditEvent)]


def test_the_time_is_aware_utc(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer, events = make_issuer(stripe_client)
    before = dt.datetime.now(dt.timezone.utc)

    issuer.handle(None, body=BODY, content_type=JSON)

    [event] = events
    assert (dt.timezone.utc, True) == (
        event.time.tzinfo,
        before <= event.time <= dt.datetime.now(dt.timezone.utc),
    )


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        AuditEvent(
            time=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
            action="issue",
            outcome="granted",
            reason="-",
        )


def test_headers_from_the_browser_are_cut_short(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer, events = make_issuer(stripe_client)

    issuer.handle(
        None, body=BODY, content_type=JSON, headers={"User-Agent": "A" * 5000}
    )

    assert [256] == [len(event.user_agent or "") for event in events]


def test_no_secret_and_no_nonce_in_any_field_or_repr(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        GRANTED
    )
    issuer, events = make_issuer(stripe_client)

    issuer.handle("alice", body=BODY, content_type=JSON)

    [event] = events
    texts = [repr(event), str(event), json.dumps(event.to_dict())]
    assert [] == [
        text for text in texts for secret in (KEY_SECRET, NONCE) if secret in text
    ]


def test_the_default_sink_writes_one_json_line_without_secrets(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_oneshot_request("/v1/ephemeral_keys").respond_with_response(
        GRANTED
    )
    issuer = EphemeralKeyIssuer(stripe_client, authorize, max_network_retries=0)

    issuer.handle("alice", body=BODY, content_type=JSON)

    [record] = [r for r in caplog.records if r.name == "issuing_elements.audit"]
    line = record.getMessage()
    document = json.loads(line)
    assert (
        "INFO",
        sorted(FIELDS),
        "granted",
        KEY_ID,
        False,
        False,
    ) == (
        record.levelname,
        sorted(document),
        document["outcome"],
        document["key_id"],
        KEY_SECRET in line,
        NONCE in line,
    )


def test_the_default_sink_logs_refusals_as_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_audit_event(
        AuditEvent(
            time=dt.datetime.now(dt.timezone.utc),
            action="issue",
            outcome="card_not_found",
            reason="Denied.",
        )
    )

    assert [("WARNING", "card_not_found")] == [
        (record.levelname, json.loads(record.getMessage())["outcome"])
        for record in caplog.records
        if record.name == "issuing_elements.audit"
    ]


@pytest.mark.parametrize(
    ("outcome", "level"),
    [("revoked", "INFO"), ("granted", "INFO"), ("stripe_unavailable", "WARNING")],
)
def test_the_default_sink_logs_each_outcome_at_its_level(
    caplog: pytest.LogCaptureFixture, outcome: str, level: str
) -> None:
    log_audit_event(
        AuditEvent(
            time=dt.datetime.now(dt.timezone.utc),
            action="revoke",
            outcome=outcome,
            reason="Revoked on request.",
        )
    )

    assert [(level, outcome)] == [
        (record.levelname, json.loads(record.getMessage())["outcome"])
        for record in caplog.records
        if record.name == "issuing_elements.audit"
    ]


_SILENT_APP = """
import datetime as dt
from issuing_elements import AuditEvent, log_audit_event

for outcome in ("granted", "revoked", "granted"):
    log_audit_event(AuditEvent(
        time=dt.datetime.now(dt.timezone.utc), action="issue", outcome=outcome,
        reason="Stripe issued a key.", key_id="ephkey_1",
    ))
"""


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        pytest.param("", 1, id="logging left unconfigured"),
        pytest.param(
            "import logging; logging.basicConfig(level=logging.WARNING)\n",
            1,
            id="configured at WARNING",
        ),
        pytest.param(
            "import logging; logging.basicConfig(level=logging.INFO)\n",
            0,
            id="configured at INFO",
        ),
    ],
)
def test_an_unrecorded_trail_is_said_once_on_stderr(setup: str, said: int) -> None:
    ran = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", setup + _SILENT_APP],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    lines = ran.stderr.splitlines()
    assert (said, said == 0) == (
        sum("'issuing_elements.audit' logger" in line for line in lines),
        sum('"outcome":"granted"' in line for line in lines) == 2,
    )


# -- user_id ----------------------------------------------------------------


class User:
    def __init__(self, name: str) -> None:
        self.name = name


def test_user_id_names_the_user(stripe_client: stripe.StripeClient) -> None:
    events: list[AuditEvent] = []
    issuer: EphemeralKeyIssuer[User] = EphemeralKeyIssuer(
        stripe_client,
        lambda _user, _request: False,
        audit=events.append,
        user_id=lambda user: user.name,
    )

    issuer.handle(User("alice"), body=BODY, content_type=JSON)

    assert ["alice"] == [event.user_id for event in events]


def failing_user_id(_user: User) -> str:
    raise LookupError("directory down")


@pytest.mark.parametrize(
    "user_id",
    [
        pytest.param(failing_user_id, id="raises"),
        pytest.param(lambda _user: 42, id="an int"),
        pytest.param(lambda _user: None, id="None"),
        pytest.param(lambda _user: "", id="empty"),
    ],
)
def test_a_failing_user_id_fails_closed(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    user_id: Callable[[User], Any],
) -> None:
    events: list[AuditEvent] = []
    issuer: EphemeralKeyIssuer[User] = EphemeralKeyIssuer(
        stripe_client,
        lambda _user, _request: True,
        audit=events.append,
        user_id=user_id,
    )

    response = issuer.handle(User("alice"), body=BODY, content_type=JSON)

    assert (500, [], ["server_misconfigured"]) == (
        response.status,
        httpserver.log,
        [event.outcome for event in events],
    )


# -- a sink under the async methods -------------------------------------------


def fake_body(fake: FakeStripe) -> bytes:
    return json.dumps({"card_id": CARD, "nonce": fake.create_nonce(CARD)}).encode()


def test_a_slow_sync_audit_sink_does_not_hold_the_event_loop(fake: FakeStripe) -> None:
    """20 requests whose sink blocks until the loop's other task ticks 3 times.

    No clock: a sink run on the event loop would block the very task it waits
    for, and give up after its 30 s; run on a thread, it sees the ticks.
    """
    ticks = [0]
    saw_the_loop_tick: list[bool] = []

    def slow_sink(_event: AuditEvent) -> None:
        until = ticks[0] + 3
        give_up = time.monotonic() + 30
        while ticks[0] < until and time.monotonic() < give_up:
            time.sleep(0.01)
        saw_the_loop_tick.append(ticks[0] >= until)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(), owner_of({CARD: True}), audit=slow_sink
    )
    bodies = [fake_body(fake) for _ in range(20)]

    async def burst() -> list[int]:
        stop = asyncio.Event()

        async def heartbeat() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.01)
                ticks[0] += 1

        beating = asyncio.ensure_future(heartbeat())
        answers = await asyncio.gather(
            *(issuer.ahandle("alice", body=b, content_type=JSON) for b in bodies)
        )
        stop.set()
        await beating
        return [answer.status for answer in answers]

    statuses = asyncio.run(burst())

    assert ([200] * 20, [True] * 20) == (statuses, saw_the_loop_tick)


def test_an_async_sink_is_awaited_by_the_async_methods(fake: FakeStripe) -> None:
    events: list[AuditEvent] = []

    async def sink(event: AuditEvent) -> None:
        await asyncio.sleep(0)
        events.append(event)

    issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
        fake.client(),
        owner_of({CARD: True}),
        audit=sink,  # type: ignore[arg-type]  # an async sink, on purpose
    )

    answer = asyncio.run(
        issuer.ahandle("alice", body=fake_body(fake), content_type=JSON)
    )

    assert (200, ["granted"]) == (answer.status, [e.outcome for e in events])


# -- a sink that fails -----------------------------------------------------------


def failing_sink(_event: AuditEvent) -> None:
    raise OSError("disk full")


def test_a_failing_sink_on_a_denial_answers_500(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({}), audit=failing_sink)

    response = issuer.handle("alice", body=BODY, content_type=JSON)

    assert (500, []) == (response.status, httpserver.log)


def test_a_failing_sink_on_a_denial_raises_from_issue(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({}), audit=failing_sink)

    with pytest.raises(ServerMisconfiguredError, match="audit sink"):
        issuer.issue("alice", card_id=CARD, nonce=NONCE)


def test_a_failing_sink_is_logged(
    stripe_client: stripe.StripeClient, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({}), audit=failing_sink)

    issuer.handle("alice", body=BODY, content_type=JSON)

    assert ["ERROR"] == [
        record.levelname
        for record in caplog.records
        if record.getMessage().startswith("The audit sink raised OSError")
    ]


# -- revoke ---------------------------------------------------------------------


def revoke(issuer: EphemeralKeyIssuer[str], account: str | None = None) -> None:
    issuer.revoke(KEY_ID, stripe_account=account)


def arevoke(issuer: EphemeralKeyIssuer[str], account: str | None = None) -> None:
    asyncio.run(issuer.arevoke(KEY_ID, stripe_account=account))


@pytest.mark.parametrize("call", [revoke, arevoke])
def test_a_revocation_is_audited(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    call: Callable[..., None],
) -> None:
    httpserver.expect_oneshot_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))
    issuer, events = make_issuer(stripe_client)

    call(issuer, ACCOUNT)

    assert [("revoke", "revoked", KEY_ID, ACCOUNT)] == [
        (event.action, event.outcome, event.key_id, event.stripe_account)
        for event in events
    ]


@pytest.mark.parametrize("call", [revoke, arevoke])
def test_a_failed_revocation_is_audited(
    httpserver: HTTPServer,
    stripe_client: stripe.StripeClient,
    call: Callable[..., None],
) -> None:
    httpserver.expect_oneshot_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_response(STRIPE_DOWN)
    issuer, events = make_issuer(stripe_client)

    with pytest.raises(IssuingElementsError):
        call(issuer)

    assert [("revoke", "stripe_unavailable", KEY_ID, "req_1")] == [
        (event.action, event.outcome, event.key_id, event.stripe_request_id)
        for event in events
    ]


def test_without_user_id_an_opaque_user_is_audited_as_none(
    stripe_client: stripe.StripeClient,
) -> None:
    events: list[AuditEvent] = []
    issuer: EphemeralKeyIssuer[User] = EphemeralKeyIssuer(
        stripe_client, lambda _user, _request: False, audit=events.append
    )

    issuer.handle(User("alice"), body=BODY, content_type=JSON)

    assert [("card_not_found", None)] == [
        (event.outcome, event.user_id) for event in events
    ]


def test_an_orphan_that_cannot_be_revoked_leaves_no_revoked_event(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object(associated_objects=[])
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_response(STRIPE_DOWN)
    issuer, events = make_issuer(stripe_client)

    issuer.handle("alice", body=BODY, content_type=JSON)

    assert [("issue", "server_misconfigured", KEY_ID)] == [
        (event.action, event.outcome, event.key_id) for event in events
    ]


def test_a_revoked_orphan_is_audited_as_revoked(
    httpserver: HTTPServer, stripe_client: stripe.StripeClient
) -> None:
    httpserver.expect_request("/v1/ephemeral_keys", method="POST").respond_with_json(
        key_object(associated_objects=[])
    )
    httpserver.expect_request(
        f"/v1/ephemeral_keys/{KEY_ID}", method="DELETE"
    ).respond_with_json(key_object(secret=None))
    issuer, events = make_issuer(stripe_client)

    issuer.handle("alice", body=BODY, content_type=JSON)

    assert [
        ("revoke", "revoked", KEY_ID),
        ("issue", "server_misconfigured", KEY_ID),
    ] == [(event.action, event.outcome, event.key_id) for event in events]
