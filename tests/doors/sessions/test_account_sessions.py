"""Account Sessions through the issuer, against FakeStripe over real HTTP.

Who may open one, what the page may send, what is refused before Stripe is
asked, and where the session's secret never goes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import attrs
import pytest

from doors_and_twins import Twin
from issuing_elements import (
    AccountSession,
    AccountSessionGrant,
    AccountSessionRequest,
    AuditEvent,
    EphemeralKeyIssuer,
    Grant,
    IssuingCardComponent,
    IssuingCardsListComponent,
    KeyRequest,
    MemoryRateLimiter,
    RateLimit,
)
from issuing_elements._request import parse_session_request
from issuing_elements.exceptions import (
    AccountNotFoundError,
    ConfigurationError,
    IssuingElementsError,
    ServerMisconfiguredError,
    UnauthenticatedError,
)
from issuing_elements.testing import FakeStripe
from stripe_wire import Card

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT = "acct_adaAdministers"
UNKNOWN_ACCOUNT = "acct_nobodyKnowsIt"
CARD = "ic_adaAccountCard"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
COMPONENTS = (
    IssuingCardComponent(card_management=True, spend_control_management=True),
    IssuingCardsListComponent(card_management=True),
)


def admin_of(user: str, request: AccountSessionRequest) -> AccountSessionGrant | None:
    """Ada administers ACCOUNT; "ghost" is granted an account Stripe lacks."""
    accounts = {"ada": ACCOUNT, "ghost": UNKNOWN_ACCOUNT}
    account = accounts.get(user)
    if account is None or request.account not in (None, account):
        return None
    return AccountSessionGrant(account=account, components=COMPONENTS)


def card_admin(user: str, request: KeyRequest) -> Grant | None:
    return Grant(stripe_account=ACCOUNT) if user == "ada" else None


@pytest.fixture
def fake_cards() -> list[Card]:
    return [Card(CARD, ACCOUNT)]


def sessions_asked(fake: FakeStripe) -> int:
    return sum(r.path == "/v1/account_sessions" for r in fake.requests)


def make_issuer(fake: FakeStripe, **options: Any) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        fake.client(),
        card_admin,
        **{"account_sessions": admin_of, "max_network_retries": 0, **options},
    )


@pytest.fixture
def issuer(fake: FakeStripe) -> EphemeralKeyIssuer[str]:
    return make_issuer(fake)


def post(
    issuer: EphemeralKeyIssuer[str],
    user: str | None,
    body: bytes = b"",
    content_type: str | None = JSON,
) -> tuple[int, dict[str, Any]]:
    answer = issuer.handle_account_session(user, body=body, content_type=content_type)
    return answer.status, json.loads(answer.body)


# -- granted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", None),
        (b"{}", JSON),
        (b'{"account": "acct_adaAdministers"}', JSON),
        (b"account=acct_adaAdministers", FORM),
        (b"", FORM),
    ],
)
def test_an_admin_gets_a_session_for_every_body_the_page_may_send(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str], body: bytes, content_type: str
) -> None:
    status, answer = post(issuer, "ada", body, content_type)

    [session] = fake.account_sessions
    assert (
        200,
        {"clientSecret": session.client_secret, "expiresAt": session.expires_at},
    ) == (
        status,
        answer,
    )
    assert ACCOUNT == session.account


def test_fakestripe_echoes_the_granted_components(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    made = issuer.create_account_session("ada")

    [session] = fake.account_sessions
    assert (ACCOUNT, session.client_secret, session.expires_at, COMPONENTS) == (
        made.account,
        made.client_secret,
        made.expires_at,
        made.components,
    )
    assert {
        "enabled": True,
        "features": {
            "card_management": True,
            "card_spend_dispute_management": False,
            "cardholder_management": False,
            "spend_control_management": True,
        },
    } == session.components["issuing_card"]


def test_the_async_twins_grant_the_same(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    async def both() -> tuple[int, AccountSession]:
        answer = await issuer.ahandle_account_session(
            "ada", body=b"{}", content_type=JSON
        )
        return answer.status, await issuer.acreate_account_session(
            "ada", account=ACCOUNT
        )

    status, made = asyncio.run(both())

    assert (200, 2, ACCOUNT) == (status, len(fake.account_sessions), made.account)


def test_an_async_authorizer_serves_the_async_twins(fake: FakeStripe) -> None:
    async def admin(user: str, request: AccountSessionRequest) -> AccountSessionGrant:
        return AccountSessionGrant(account=ACCOUNT, components=COMPONENTS)

    issuer = make_issuer(fake, account_sessions=admin)

    made = asyncio.run(issuer.acreate_account_session("ada"))

    assert ACCOUNT == made.account


# -- refused before Stripe ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (b'{"account": "acct_adaAdministers", "extra": 1}', JSON, "extra"),
        (b'{"components": {"issuing_card": {"enabled": true}}}', JSON, "components"),
        (
            b'{"account": "acct_adaAdministers", "features": {"card_management": 1}}',
            JSON,
            "features",
        ),
        (
            b"components[issuing_card][enabled]=true",
            FORM,
            "components[issuing_card][enabled]",
        ),
        (b'["acct_adaAdministers"]', JSON, None),
        (b'{"account": "sk_test_notAnAccount"}', JSON, "account"),
        (b'{"account": null}', JSON, "account"),
        (b'{"account": "acct_a", "account": "acct_a"}', JSON, "account"),
        (b"account=", FORM, "account"),
        (b"not json", JSON, None),
    ],
)
def test_anything_but_an_account_is_400_without_stripe(
    fake: FakeStripe,
    issuer: EphemeralKeyIssuer[str],
    body: bytes,
    content_type: str,
    field: str | None,
) -> None:
    answer = issuer.handle_account_session("ada", body=body, content_type=content_type)

    assert (400, "invalid_request", 0) == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
        sessions_asked(fake),
    )
    # The same check, as the exception the flow raised: the field it names.
    with pytest.raises(IssuingElementsError) as caught:
        parse_session_request(body, content_type, max_body_bytes=4096)
    assert field == getattr(caught.value, "field", None)


def test_a_body_in_another_media_type_is_415(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    assert (415, 0) == (
        post(issuer, "ada", b"account", "text/plain")[0],
        sessions_asked(fake),
    )


def test_nobody_signed_in_is_401_without_stripe(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    status, answer = post(issuer, None, b"{}")

    assert (401, "unauthenticated", 0) == (
        status,
        answer["error"]["code"],
        sessions_asked(fake),
    )
    with pytest.raises(UnauthenticatedError):
        issuer.create_account_session(None)


def test_not_yours_and_does_not_exist_are_byte_identical(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str]
) -> None:
    denied = issuer.handle_account_session("mallory", body=b"{}", content_type=JSON)
    other = issuer.handle_account_session(
        "ada", body=b'{"account": "acct_notAdas"}', content_type=JSON
    )
    asked_before_stripe = sessions_asked(fake)
    missing = issuer.handle_account_session("ghost", body=b"{}", content_type=JSON)

    assert (0, 1) == (asked_before_stripe, sessions_asked(fake))
    assert [(404, missing.body, dict(missing.headers))] * 2 == [
        (denied.status, denied.body, dict(denied.headers)),
        (other.status, other.body, dict(other.headers)),
    ]
    assert {"error": {"code": "account_not_found", "message": "No such account."}} == (
        json.loads(missing.body)
    )


def test_a_grant_for_another_account_than_asked_is_refused_without_stripe(
    fake: FakeStripe,
) -> None:
    def generous(user: str, request: AccountSessionRequest) -> AccountSessionGrant:
        return AccountSessionGrant(account=ACCOUNT, components=COMPONENTS)

    issuer = make_issuer(fake, account_sessions=generous)
    fake.add_account("acct_someoneElses")

    with pytest.raises(AccountNotFoundError):
        issuer.create_account_session("ada", account="acct_someoneElses")

    assert 0 == sessions_asked(fake)


@pytest.mark.parametrize("verdict", [True, None, False, Grant(), "yes", 1])
def test_only_a_grant_allows(fake: FakeStripe, verdict: object) -> None:
    issuer = make_issuer(fake, account_sessions=lambda _user, _request: verdict)

    assert (404, 0) == (post(issuer, "ada", b"{}")[0], sessions_asked(fake))


@attrs.frozen
class LookAlike:
    """An AccountSessionGrant's fields without being one."""

    account: str
    components: tuple[IssuingCardComponent | IssuingCardsListComponent, ...]


def test_a_look_alike_of_a_grant_denies(fake: FakeStripe) -> None:
    issuer = make_issuer(
        fake,
        account_sessions=lambda _user, _request: LookAlike(ACCOUNT, COMPONENTS),
    )

    status, answer = post(issuer, "ada", b"{}")

    assert (404, "account_not_found", 0) == (
        status,
        answer["error"]["code"],
        sessions_asked(fake),
    )


def test_an_authorizer_that_raises_denies_and_is_logged(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(user: str, request: AccountSessionRequest) -> AccountSessionGrant:
        raise LookupError("the admin table is down")

    issuer = make_issuer(fake, account_sessions=broken)

    status, answer = post(issuer, "ada", b"{}")

    assert (404, "account_not_found", 0) == (
        status,
        answer["error"]["code"],
        sessions_asked(fake),
    )
    assert "The account_sessions authorizer raised LookupError" in caplog.text


def test_an_async_authorizer_on_a_sync_method_is_500_and_logged(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    async def admin(user: str, request: AccountSessionRequest) -> AccountSessionGrant:
        return AccountSessionGrant(account=ACCOUNT, components=COMPONENTS)

    issuer = make_issuer(fake, account_sessions=admin)

    assert (500, 0) == (post(issuer, "ada", b"{}")[0], sessions_asked(fake))
    with pytest.raises(ConfigurationError):
        issuer.create_account_session("ada")
    assert "acreate_account_session" in caplog.text


def test_without_account_sessions_nothing_is_opened(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = EphemeralKeyIssuer(fake.client(), card_admin)

    status, answer = post(issuer, "ada", b"{}")
    with pytest.raises(ConfigurationError, match="account_sessions="):
        issuer.create_account_session("ada")

    assert (500, "server_misconfigured", 0) == (
        status,
        answer["error"]["code"],
        sessions_asked(fake),
    )
    assert "no account_sessions= authorizer" in caplog.text


def test_without_account_sessions_even_nobody_signed_in_is_told_500(
    fake: FakeStripe,
) -> None:
    """The misconfiguration is said first: no request can be served, whoever asks."""
    issuer = EphemeralKeyIssuer(fake.client(), card_admin)

    status, answer = post(issuer, None, b"{}")
    with pytest.raises(ConfigurationError, match="account_sessions="):
        issuer.create_account_session(None)

    assert (500, "server_misconfigured", 0) == (
        status,
        answer["error"]["code"],
        sessions_asked(fake),
    )


def test_rate_limits_count_sessions_per_user(fake: FakeStripe) -> None:
    issuer = make_issuer(
        fake, rate_limiter=MemoryRateLimiter(per_user=RateLimit(1, 60))
    )

    started = time.monotonic()
    first = issuer.handle_account_session("ada", body=b"", content_type=None)
    second = issuer.handle_account_session("ada", body=b"", content_type=None)
    took = math.ceil(time.monotonic() - started)

    assert (200, 429, 1) == (first.status, second.status, sessions_asked(fake))
    # The window's 60 s, less the first request's time, rounded up.
    assert 60 - took - 1 <= int(second.headers["Retry-After"]) <= 60


def test_denied_requests_leave_the_accounts_budget(fake: FakeStripe) -> None:
    issuer = make_issuer(
        fake, rate_limiter=MemoryRateLimiter(per_card=RateLimit(2, 3600))
    )
    body = json.dumps({"account": ACCOUNT}).encode()

    mallory = [
        issuer.handle_account_session("mallory", body=body, content_type=JSON).status
        for _ in range(2)
    ]
    ada = issuer.handle_account_session("ada", body=body, content_type=JSON)

    assert ([404, 404], 200) == (mallory, ada.status)


def test_sessions_that_name_no_account_are_counted_per_user(fake: FakeStripe) -> None:
    accounts = {"ada": ACCOUNT, "bea": "acct_beaAdministers"}
    fake.add_account(accounts["bea"])

    def admins(user: str, request: AccountSessionRequest) -> AccountSessionGrant:
        return AccountSessionGrant(account=accounts[user], components=COMPONENTS)

    issuer = make_issuer(
        fake,
        account_sessions=admins,
        rate_limiter=MemoryRateLimiter(per_card=RateLimit(1, 60)),
    )

    answers = [
        issuer.handle_account_session(user, body=b"", content_type=None).status
        for user in ("ada", "bea", "ada")
    ]

    assert ([200, 200, 429], 2) == (answers, sessions_asked(fake))


def test_origins_are_checked_before_anything(fake: FakeStripe) -> None:
    issuer = make_issuer(fake, allowed_origins=["https://admin.example.com"])

    answer = issuer.handle_account_session(
        "ada", body=b"{}", content_type=JSON, headers={"Origin": "https://evil.example"}
    )

    assert (403, 0) == (answer.status, sessions_asked(fake))


def test_the_deadline_applies(fake: FakeStripe) -> None:
    issuer = make_issuer(fake, deadline=0.2)
    fake.delay_next(1.0)

    answer = issuer.handle_account_session("ada", body=b"", content_type=None)

    assert (503, "stripe_unavailable") == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
    )


# -- configuration ------------------------------------------------------------------


def test_an_api_version_before_the_components_is_refused(fake: FakeStripe) -> None:
    with pytest.raises(ConfigurationError, match=r"2025-01-27\.acacia or later"):
        make_issuer(fake, api_version="2024-12-18.acacia")


def test_the_first_version_with_the_components_is_accepted(fake: FakeStripe) -> None:
    issuer = make_issuer(fake, api_version="2025-01-27.acacia")

    assert ACCOUNT == issuer.create_account_session("ada").account


def test_an_old_version_without_account_sessions_is_fine(fake: FakeStripe) -> None:
    assert "2020-03-02" == (
        EphemeralKeyIssuer(
            fake.client(), card_admin, api_version="2020-03-02"
        ).api_version
    )


def test_account_sessions_must_be_callable(fake: FakeStripe) -> None:
    with pytest.raises(ConfigurationError, match="account_sessions must be callable"):
        make_issuer(fake, account_sessions="admin_of")


def test_create_refuses_an_ill_formed_account(issuer: EphemeralKeyIssuer[str]) -> None:
    with pytest.raises(IssuingElementsError) as caught:
        issuer.create_account_session("ada", account="ic_notAnAccount")

    assert (400, "account") == (
        caught.value.status,
        getattr(caught.value, "field", None),
    )


# -- the builders -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", 1.5, "sk_test_pastedHereByMistake"])
def test_features_take_booleans_only_and_never_echo(value: object) -> None:
    with pytest.raises(TypeError) as caught:
        IssuingCardComponent(card_management=value)  # type: ignore[arg-type]

    assert "card_management must be a bool" in str(caught.value)
    assert str(value) not in str(caught.value)


@pytest.mark.parametrize(
    ("components", "error"),
    [
        ((), ValueError),
        (
            (IssuingCardComponent(), IssuingCardComponent(card_management=True)),
            ValueError,
        ),
        (("issuing_card",), TypeError),
        ("issuing_card", TypeError),
        (None, TypeError),
    ],
)
def test_a_grant_names_each_component_once(components: Any, error: type) -> None:
    with pytest.raises(error):
        AccountSessionGrant(account=ACCOUNT, components=components)


def test_a_grant_needs_an_account_id_and_never_echoes_it() -> None:
    with pytest.raises(ValueError, match="connected account id") as caught:
        AccountSessionGrant(account="sk_test_pastedHere", components=COMPONENTS)

    assert "sk_test_pastedHere" not in str(caught.value)


def test_a_grant_takes_any_iterable_of_components() -> None:
    grant = AccountSessionGrant(account=ACCOUNT, components=list(COMPONENTS))

    assert COMPONENTS == grant.components


def test_the_builders_know_their_stripe_names_and_params() -> None:
    assert (
        ("issuing_card", "issuing_cards_list"),
        {
            "enabled": True,
            "features": {
                "card_management": True,
                "card_spend_dispute_management": False,
                "cardholder_management": False,
                "spend_control_management": False,
                "disable_stripe_user_authentication": False,
            },
        },
    ) == (
        (IssuingCardComponent.stripe_name, IssuingCardsListComponent.stripe_name),
        IssuingCardsListComponent(card_management=True).params(),
    )


# -- the secret stays where it belongs ------------------------------------------------


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(vars(record)))


@pytest.fixture
def every_record() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    stripe_logger = logging.getLogger("stripe")
    levels = root.level, stripe_logger.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    stripe_logger.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(levels[0])
    stripe_logger.setLevel(levels[1])


def test_stripe_logs_the_session_body_at_debug(
    issuer: EphemeralKeyIssuer[str], every_record: _Everything
) -> None:
    issuer.create_account_session("ada")

    # The place the secret would be: stripe-python's whole response body.
    assert any(
        "account_session" in text and '"client_secret": "[REDACTED]"' in text
        for text in every_record.texts
    )


def test_the_secret_reaches_no_log_repr_error_or_audit_event(
    fake: FakeStripe, every_record: _Everything, twin: Twin
) -> None:
    events: list[AuditEvent] = []
    issuer = make_issuer(fake, audit=events.append)
    errors: list[BaseException] = []

    answer = twin.call(
        issuer, "handle_account_session", "ada", body=b"{}", content_type=JSON
    )
    made: AccountSession = twin.call(issuer, "create_account_session", "ada")
    # A refusal after Stripe answered: the check fails on a changed grant.
    fake.fail_next(500)
    try:
        issuer.create_account_session("ada")
    except IssuingElementsError as error:
        errors.append(error)

    secrets = [session.client_secret for session in fake.account_sessions]
    served = json.loads(answer.body)["clientSecret"]
    texts = [
        *every_record.texts,
        repr(made),
        str(made),
        repr(answer),
        repr(issuer),
        *(str(error) for error in errors),
        *(repr(error) for error in errors),
        *(json.dumps(event.to_dict()) for event in events),
        *(repr(event) for event in events),
    ]
    assert 2 == len(secrets)
    assert served in secrets
    assert made.client_secret in secrets
    assert [] == [s for s in secrets for text in texts if s in text]
    assert ["granted", "granted", "stripe_unavailable"] == [e.outcome for e in events]
    assert {"account_session"} == {e.action for e in events}
    assert {ACCOUNT} == {e.stripe_account for e in events}


def test_a_refused_answer_is_logged_without_its_secret(
    fake: FakeStripe, every_record: _Everything, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = make_issuer(fake)
    # Stripe answers, but not with what was granted.
    monkeypatch.setattr(
        "issuing_elements._stripe_answers._as_granted", lambda _response, _grant: False
    )

    with pytest.raises(ServerMisconfiguredError):
        issuer.create_account_session("ada")

    [session] = fake.account_sessions
    assert any("other components or features" in t for t in every_record.texts)
    assert not any(session.client_secret in t for t in every_record.texts)


# -- connect-js's payload on the key endpoint -----------------------------------------


def key_body(fake: FakeStripe, content_type: str, **fields: str) -> bytes:
    fields.setdefault("nonce", fake.create_nonce(CARD))
    if content_type == JSON:
        return json.dumps(fields).encode()
    return urlencode(fields).encode()


@pytest.mark.parametrize("content_type", [JSON, FORM])
def test_connect_js_payload_gets_a_key(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str], content_type: str, twin: Twin
) -> None:
    body = key_body(fake, content_type, issuingCard=CARD)

    answer = twin.call(issuer, "handle", "ada", body=body, content_type=content_type)

    got = json.loads(answer.body)
    assert (200, CARD) == (answer.status, got["issuingCard"])
    assert {"ephemeralKeySecret", "issuingCard", "nonce", "expires"} == set(got)


@pytest.mark.parametrize("content_type", [JSON, FORM])
def test_both_names_of_the_card_are_400(
    fake: FakeStripe, issuer: EphemeralKeyIssuer[str], content_type: str
) -> None:
    body = key_body(fake, content_type, issuingCard=CARD, card_id=CARD)

    answer = issuer.handle("ada", body=body, content_type=content_type)

    assert (400, "invalid_request", 0) == (
        answer.status,
        json.loads(answer.body)["error"]["code"],
        len(fake.keys),
    )
    assert "issuingCard" in json.loads(answer.body)["error"]["message"]
