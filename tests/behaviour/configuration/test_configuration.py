"""Every default fails closed: a bad configuration is refused at construction."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from stripe import StripeContext

from issuing_elements import EphemeralKeyIssuer, Grant, KeyRequest
from issuing_elements.exceptions import (
    ConfigurationError,
    InvalidRequestError,
    ServerMisconfiguredError,
)
from stripe_wire import ACCOUNT, CARD, NONCE


def allow(_user: str, _request: KeyRequest) -> bool:
    return True


@pytest.mark.parametrize(
    "api_version",
    ["2020-03-02", "2024-06-20.acacia", "2026-10-28.endive"],
)
def test_accepted_api_versions(
    stripe_client: stripe.StripeClient, api_version: str
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, allow, api_version=api_version)

    assert api_version == issuer.api_version


@pytest.mark.parametrize(
    "api_version",
    [
        "2020-03-01",
        "2019-12-03",
        "latest",
        "",
        "2020-3-2",
        "2024-06-20.",
        " 2024-06-20",
        20200302,
    ],
)
def test_refused_api_versions(
    stripe_client: stripe.StripeClient, api_version: Any
) -> None:
    with pytest.raises(ConfigurationError, match="api_version"):
        EphemeralKeyIssuer(stripe_client, allow, api_version=api_version)


@pytest.mark.parametrize(
    ("api_version", "message"),
    [
        (
            "2020-03-01",
            (
                "api_version '2020-03-01' is older than 2020-03-02, the first "
                "version Issuing Elements work with."
            ),
        ),
        (
            "latest",
            (
                "api_version must be a Stripe API version (YYYY-MM-DD or "
                "YYYY-MM-DD.name), not a str of 6 characters."
            ),
        ),
        (20200302, "api_version must be a string, not int."),
    ],
)
def test_a_refused_api_version_says_why(
    stripe_client: stripe.StripeClient, api_version: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        EphemeralKeyIssuer(stripe_client, allow, api_version=api_version)

    assert message == str(raised.value)


def test_a_client_pinned_too_old_is_refused() -> None:
    client = stripe.StripeClient("sk_test_fake_old", stripe_version="2019-02-19")

    with pytest.raises(ConfigurationError, match="2020-03-02"):
        EphemeralKeyIssuer(client, allow)


def test_the_default_is_the_clients_pin() -> None:
    client = stripe.StripeClient("sk_test_fake_pin", stripe_version="2023-10-16")

    assert "2023-10-16" == EphemeralKeyIssuer(client, allow).api_version


def test_an_unreadable_client_version_must_be_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = stripe.StripeClient("sk_test_fake_unpinned")
    monkeypatch.setattr(client._requestor._options, "stripe_version", None)

    with pytest.raises(ConfigurationError, match="pass api_version"):
        EphemeralKeyIssuer(client, allow)


@pytest.mark.parametrize("authorizer", [None, "allow", 42])
def test_no_authorizer_no_issuer(
    stripe_client: stripe.StripeClient, authorizer: Any
) -> None:
    with pytest.raises(ConfigurationError, match="authorizer"):
        EphemeralKeyIssuer(stripe_client, authorizer)


@pytest.mark.parametrize("client", [None, "sk_test_fake_string", object()])
def test_stripe_client_must_be_a_stripe_client(client: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"stripe\.StripeClient"):
        EphemeralKeyIssuer(client, allow)


def test_a_publishable_key_cannot_issue() -> None:
    with pytest.raises(ConfigurationError, match="publishable") as raised:
        EphemeralKeyIssuer(stripe.StripeClient("pk_test_fake_publishable"), allow)

    assert "pk_test_fake_publishable" not in str(raised.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_network_retries", -1),
        ("max_network_retries", 6),
        ("max_body_bytes", 10),
    ],
)
def test_limits_are_checked(
    stripe_client: stripe.StripeClient, option: str, value: int
) -> None:
    options: dict[str, Any] = {option: value}

    with pytest.raises(ConfigurationError, match=option):
        EphemeralKeyIssuer(stripe_client, allow, **options)


def test_repr_names_the_version_and_authorizer_only(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, allow, api_version="2020-03-02")

    assert "EphemeralKeyIssuer(api_version='2020-03-02', authorizer=allow)" == repr(
        issuer
    )


@pytest.mark.parametrize("account", ["acct_", "acct_1 X", "ic_1Fake", "", 7])
def test_grant_checks_its_account(account: Any) -> None:
    with pytest.raises(ValueError, match="stripe_account"):
        Grant(stripe_account=account)


def test_grant_keeps_a_good_account() -> None:
    assert ACCOUNT == Grant(ACCOUNT).stripe_account


@pytest.mark.parametrize(
    ("key_id", "account", "field"),
    [("ek_test_notanid", None, "key_id"), ("ephkey_1Fake", "acct", "stripe_account")],
)
def test_revoke_checks_its_arguments(
    stripe_client: stripe.StripeClient, key_id: str, account: str | None, field: str
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, allow)

    with pytest.raises(InvalidRequestError) as raised:
        issuer.revoke(key_id, stripe_account=account)

    assert field == raised.value.field


def test_stripe_console_debug_logging_stops_issuing(
    stripe_client: stripe.StripeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "log", "debug")
    issuer = EphemeralKeyIssuer(stripe_client, allow)

    with pytest.raises(ServerMisconfiguredError, match="console debug"):
        issuer.issue("alice", card_id=CARD, nonce=NONCE)


def test_grant_never_echoes_a_secret_given_as_its_account() -> None:
    with pytest.raises(ValueError, match="stripe_account") as raised:
        Grant(stripe_account="sk_test_fake_issuing_elements")

    assert (
        "stripe_account must be None or a connected account id (acct_...), "
        "not a str of 29 characters, shaped like a Stripe secret"
    ) == str(raised.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        pytest.param("stripe_account", ACCOUNT, id="stripe_account"),
        pytest.param("stripe_context", ACCOUNT, id="stripe_context"),
        pytest.param(
            "stripe_context",
            StripeContext([ACCOUNT]),
            id="stripe_context as a StripeContext",
        ),
        pytest.param(
            "stripe_context",
            StripeContext.parse(f"{ACCOUNT}/acct_1Nested"),
            id="a nested StripeContext",
        ),
    ],
)
def test_a_client_that_names_an_account_of_its_own_is_refused(
    setting: str, value: object
) -> None:
    client = stripe.StripeClient(
        "sk_test_fake_connected",
        **{setting: value},  # type: ignore[arg-type]  # one setting per case
    )

    with pytest.raises(ConfigurationError) as raised:
        EphemeralKeyIssuer(client, allow)

    assert (
        f"The Stripe client names a {setting} of its own, which it would send "
        "with every request: the account must come from each Grant. Create the "
        f"StripeClient without {setting}."
    ) == str(raised.value)


def test_a_client_from_with_stripe_context_is_refused(
    stripe_client: stripe.StripeClient,
) -> None:
    with pytest.raises(ConfigurationError, match="stripe_context of its own"):
        EphemeralKeyIssuer(stripe_client.with_stripe_context(ACCOUNT), allow)


@pytest.mark.parametrize("empty", ["", StripeContext()])
def test_an_empty_stripe_context_names_no_account(empty: object) -> None:
    client = stripe.StripeClient(
        "sk_test_fake_connected",
        stripe_context=empty,  # type: ignore[arg-type]  # a str or a StripeContext
    )

    assert 10.0 == EphemeralKeyIssuer(client, allow).deadline


def test_max_body_bytes_is_read_from_the_issuer(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, allow, max_body_bytes=1000)

    assert 1000 == issuer.max_body_bytes


def test_the_readmes_plain_client_makes_an_issuer() -> None:
    issuer = EphemeralKeyIssuer(stripe.StripeClient("sk_test_fake_readme"), allow)

    assert 10.0 == issuer.deadline


@pytest.mark.parametrize("deadline", [0.3, 1, 300])
def test_accepted_deadlines(stripe_client: stripe.StripeClient, deadline: Any) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, allow, deadline=deadline)

    assert float(deadline) == issuer.deadline


@pytest.mark.parametrize(
    "deadline",
    [0, -1, -0.5, True, False, 300.5, float("nan"), float("inf"), "10", None],
)
def test_refused_deadlines(stripe_client: stripe.StripeClient, deadline: Any) -> None:
    with pytest.raises(ConfigurationError, match="deadline"):
        EphemeralKeyIssuer(stripe_client, allow, deadline=deadline)


@pytest.mark.parametrize("limit", [0, -1, 513, True, 1.5, "10", None])
def test_refused_concurrent_calls(
    stripe_client: stripe.StripeClient, limit: Any
) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrent_calls"):
        EphemeralKeyIssuer(stripe_client, allow, max_concurrent_calls=limit)


@pytest.mark.parametrize(
    ("option", "value"),
    [("audit", None), ("audit", "log"), ("user_id", 42)],
)
def test_callbacks_are_checked(
    stripe_client: stripe.StripeClient, option: str, value: object
) -> None:
    options: dict[str, Any] = {option: value}

    with pytest.raises(ConfigurationError, match=option):
        EphemeralKeyIssuer(stripe_client, allow, **options)


class Xid:
    """A value of a type whose name starts with a capital letter."""


@pytest.mark.parametrize(
    ("account", "named"),
    [(7, "an int"), (1.5, "a float"), (Xid(), "a Xid")],
)
def test_grant_names_a_wrong_accounts_type_with_its_article(
    account: object, named: str
) -> None:
    with pytest.raises(ValueError, match="stripe_account") as raised:
        Grant(stripe_account=account)  # type: ignore[arg-type]  # the wrong type is the test

    assert str(raised.value).endswith(f"(acct_...), not {named}")
