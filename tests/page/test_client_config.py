"""client_config: the exact Stripe.js options, derived betas, and refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from issuing_elements import ClientConfig, client_config
from issuing_elements._client_config import LOCALES, _secret_key_mode
from issuing_elements.exceptions import ConfigurationError

PK_TEST = "pk_test_fake_issuing_elements"
PK_LIVE = "pk_live_fake_issuing_elements"
ACCOUNT = "acct_fake1issuingelements"
BOTH_BETAS = ["issuing_elements_2", "issuing_add_to_wallet_button_element_1"]


def test_minimal_config() -> None:
    assert client_config(PK_TEST).to_dict() == {
        "publishableKey": PK_TEST,
        "options": {},
    }


def test_every_option() -> None:
    config = client_config(
        PK_LIVE,
        stripe_account=ACCOUNT,
        physical_cards=True,
        wallet_button=True,
        api_version="2024-06-20",
        locale="fr-CA",
    )

    assert config.to_dict() == {
        "publishableKey": PK_LIVE,
        "options": {
            "stripeAccount": ACCOUNT,
            "apiVersion": "2024-06-20",
            "locale": "fr-CA",
            "betas": BOTH_BETAS,
        },
    }


@pytest.mark.parametrize(
    ("needs", "betas"),
    [
        ({}, None),
        ({"physical_cards": True}, ["issuing_elements_2"]),
        ({"wallet_button": True}, ["issuing_add_to_wallet_button_element_1"]),
        ({"physical_cards": True, "wallet_button": True}, BOTH_BETAS),
        ({"stripe_account": ACCOUNT}, BOTH_BETAS),
        ({"stripe_account": ACCOUNT, "physical_cards": True}, BOTH_BETAS),
        ({"stripe_account": ACCOUNT, "wallet_button": True}, BOTH_BETAS),
        (
            {"stripe_account": ACCOUNT, "physical_cards": True, "wallet_button": True},
            BOTH_BETAS,
        ),
    ],
)
def test_betas_are_derived_once_each_in_a_stable_order(
    needs: dict[str, Any], betas: list[str] | None
) -> None:
    options = client_config(PK_TEST, **needs).to_dict()["options"]

    assert betas == options.get("betas")  # type: ignore[attr-defined]  # a dict


def test_config_is_a_frozen_value() -> None:
    config = client_config(PK_TEST, locale="de")

    assert config == ClientConfig(publishable_key=PK_TEST, locale="de")
    with pytest.raises(AttributeError):
        config.locale = "fr"  # type: ignore[misc]  # on purpose


def test_api_version_with_a_release_name() -> None:
    config = client_config(PK_TEST, api_version="2025-03-31.basil")

    assert config.to_dict()["options"] == {"apiVersion": "2025-03-31.basil"}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_stripe_js_locale_is_accepted(locale: str) -> None:
    assert client_config(PK_TEST, locale=locale).to_dict()["options"] == {
        "locale": locale
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"publishable_key": "pk_fake_issuing_elements"},
            (
                "publishable_key must start with pk_test_ or pk_live_; "
                "the value given starts with 'pk_fake_'"
            ),
        ),
        (
            {"publishable_key": ""},
            "publishable_key must start with pk_test_ or pk_live_",
        ),
        (
            {"publishable_key": None},
            (
                "publishable_key must be a string (pk_test_... "
                "or pk_live_...), not NoneType"
            ),
        ),
        (
            {"stripe_account": "acct_"},
            (
                "stripe_account must be None or a connected "
                "account id (acct_...), not a str of 5 characters"
            ),
        ),
        ({"stripe_account": "ic_fake1"}, "not a str of 8 characters"),
        (
            {"physical_cards": "yes"},
            "physical_cards must be True or False, not a str of 3 characters",
        ),
        ({"wallet_button": 1}, "wallet_button must be True or False, not an int"),
        (
            {"api_version": "2019-12-03"},
            "api_version '2019-12-03' is older than 2020-03-02",
        ),
        (
            {"api_version": "latest"},
            (
                "api_version must be a Stripe API version (YYYY-MM-DD or "
                "YYYY-MM-DD.name), not a str of 6 characters"
            ),
        ),
        ({"api_version": 2024}, "api_version must be a string, not int"),
        (
            {"locale": "en-US"},
            (
                "locale must be one Stripe.js supports (StripeElementLocale in "
                "@stripe/stripe-js), not a str of 5 characters; did you mean 'en'?"
            ),
        ),
        ({"locale": "pt_BR"}, "did you mean 'pt-BR'?"),
        ({"locale": "zh-hk"}, "did you mean 'zh-HK'?"),
        (
            {"locale": "xx-YY"},
            "@stripe/stripe-js), not a str of 5 characters",
        ),
        ({"locale": 7}, "@stripe/stripe-js), not an int"),
    ],
)
def test_invalid_config_is_refused_by_name(
    arguments: dict[str, Any], message: str
) -> None:
    arguments = {"publishable_key": PK_TEST, **arguments}

    with pytest.raises(ConfigurationError) as caught:
        client_config(**arguments)

    assert message in str(caught.value)


@pytest.mark.parametrize(
    "secret",
    [
        "sk_test_fake_issuing_elements",
        "rk_live_fake_issuing_elements",
        "ek_test_fake_issuing_elements",
    ],
)
def test_a_secret_key_passed_as_publishable_is_never_shown(secret: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        client_config(secret)

    assert secret not in str(caught.value)
    assert secret[:8] not in str(caught.value)
    assert "starts with that of a secret key" in str(caught.value)


@pytest.mark.parametrize(
    ("publishable_key", "secret_key"),
    [
        (PK_TEST, "sk_live_fake_issuing_elements"),
        (PK_TEST, "rk_live_fake_issuing_elements"),
        (PK_LIVE, "sk_test_fake_issuing_elements"),
        (PK_LIVE, "rk_test_fake_issuing_elements"),
    ],
)
def test_test_and_live_keys_do_not_mix(publishable_key: str, secret_key: str) -> None:
    client = stripe.StripeClient(secret_key)

    with pytest.raises(ConfigurationError) as caught:
        client_config(publishable_key, stripe_client=client)

    assert "mode" in str(caught.value)
    assert secret_key not in str(caught.value)
    assert secret_key not in repr(caught.value)


@pytest.mark.parametrize(
    ("publishable_key", "secret_key"),
    [
        (PK_TEST, "sk_test_fake_issuing_elements"),
        (PK_TEST, "rk_test_fake_issuing_elements"),
        (PK_LIVE, "sk_live_fake_issuing_elements"),
        (PK_LIVE, "rk_live_fake_issuing_elements"),
    ],
)
def test_keys_of_one_mode_pass(publishable_key: str, secret_key: str) -> None:
    config = client_config(
        publishable_key, stripe_client=stripe.StripeClient(secret_key)
    )

    assert secret_key not in repr(config)
    assert secret_key not in str(config.to_dict())


def test_the_mode_check_reads_stripe_pythons_client() -> None:
    # stripe-python has no public accessor for the key: if its internals move,
    # the check would silently stop; this test says so first.
    assert (
        _secret_key_mode(stripe.StripeClient("sk_live_fake_issuing_elements")) == "live"
    )
    assert (
        _secret_key_mode(stripe.StripeClient("sk_test_fake_issuing_elements")) == "test"
    )


def test_an_unreadable_client_is_not_checked() -> None:
    assert client_config(PK_TEST, stripe_client=object()).publishable_key == PK_TEST  # type: ignore[arg-type]  # duck


@pytest.mark.parametrize(
    "argument", ["stripe_account", "physical_cards", "api_version", "locale"]
)
def test_a_secret_given_in_the_wrong_place_is_never_echoed(
    argument: str, find_secrets: Callable[[list[str]], list[str]]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        client_config(PK_TEST, **{argument: "sk_test_fake_issuing_elements"})

    assert [] == find_secrets([str(caught.value)])
