"""Element option builders: names, exact options, and refusals that say why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from issuing_elements import (
    AddToWalletButton,
    CardCopyButton,
    CardCvcDisplay,
    CardExpiryDisplay,
    CardNumberDisplay,
    CardPinDisplay,
    ElementOptions,
    IssuedKey,
    Style,
)
from issuing_elements.exceptions import ConfigurationError

CARD = "ic_fake1issuingelements"
NONCE = "ephkn_pub_fake1issuingelements"
SECRET = "ek_test_fake_issuing_elements_secret"

DISPLAYS = [CardNumberDisplay, CardCvcDisplay, CardExpiryDisplay, CardPinDisplay]


@pytest.fixture(name="key")
def key_fixture() -> IssuedKey:
    return IssuedKey(
        id="ephkey_fake1issuingelements",
        secret=SECRET,
        expires=1_700_000_900,
        livemode=False,
        card_id=CARD,
        nonce=NONCE,
        stripe_account=None,
    )


@pytest.mark.parametrize(
    ("builder", "name"),
    [
        (CardNumberDisplay, "issuingCardNumberDisplay"),
        (CardCvcDisplay, "issuingCardCvcDisplay"),
        (CardExpiryDisplay, "issuingCardExpiryDisplay"),
        (CardPinDisplay, "issuingCardPinDisplay"),
        (CardCopyButton, "issuingCardCopyButton"),
        (AddToWalletButton, "issuingAddToWalletButton"),
    ],
)
def test_name_is_the_stripe_js_element_type(builder: Any, name: str) -> None:
    assert name == builder.name


@pytest.mark.parametrize("display", DISPLAYS)
def test_display_options_from_a_key(display: Any, key: IssuedKey) -> None:
    element = display.from_key(key)

    assert element.to_dict() == {
        "issuingCard": CARD,
        "nonce": NONCE,
        "ephemeralKeySecret": SECRET,
    }


@pytest.mark.parametrize("display", DISPLAYS)
def test_display_options_with_style(display: Any, key: IssuedKey) -> None:
    style = Style(base={"color": "#111", ":hover": {"color": "#222"}})

    element = display.from_key(key, style=style)

    assert element.to_dict() == {
        "issuingCard": CARD,
        "nonce": NONCE,
        "ephemeralKeySecret": SECRET,
        "style": {"base": {"color": "#111", ":hover": {"color": "#222"}}},
    }


def test_display_from_keywords_equals_from_key(key: IssuedKey) -> None:
    assert CardNumberDisplay.from_key(key) == CardNumberDisplay(
        issuing_card=CARD, nonce=NONCE, ephemeral_key_secret=SECRET
    )


@pytest.mark.parametrize("display", DISPLAYS)
def test_display_repr_hides_the_secret(display: Any, key: IssuedKey) -> None:
    element = display.from_key(key)

    assert SECRET not in repr(element)
    assert SECRET not in str(element)
    assert CARD in repr(element)


@pytest.mark.parametrize("to_copy", ["number", "cvc", "expiry", "pin"])
def test_copy_button_options(to_copy: Any) -> None:
    assert CardCopyButton(to_copy=to_copy).to_dict() == {"toCopy": to_copy}


def test_copy_button_with_style() -> None:
    button = CardCopyButton(
        to_copy="cvc", style=Style(base={":hover": {"color": "red"}})
    )

    assert button.to_dict() == {
        "toCopy": "cvc",
        "style": {"base": {":hover": {"color": "red"}}},
    }


def test_wallet_button_options(key: IssuedKey) -> None:
    assert AddToWalletButton.from_key(key).to_dict() == {
        "issuingCard": CARD,
        "nonce": NONCE,
        "ephemeralKeySecret": SECRET,
        "wallet": "apple",
    }


@pytest.mark.parametrize("height", [36, 44, 55])
def test_wallet_button_height(key: IssuedKey, height: int) -> None:
    assert AddToWalletButton.from_key(key, button_height=height).to_dict() == {
        "issuingCard": CARD,
        "nonce": NONCE,
        "ephemeralKeySecret": SECRET,
        "wallet": "apple",
        "buttonHeight": height,
    }


def test_wallet_button_repr_hides_the_secret(key: IssuedKey) -> None:
    assert SECRET not in repr(AddToWalletButton.from_key(key))


def test_builders_are_element_options(key: IssuedKey) -> None:
    elements: list[ElementOptions] = [
        CardNumberDisplay.from_key(key),
        CardCopyButton(to_copy="number"),
        AddToWalletButton.from_key(key),
    ]

    assert [element.name for element in elements] == [
        "issuingCardNumberDisplay",
        "issuingCardCopyButton",
        "issuingAddToWalletButton",
    ]


def test_builders_are_frozen(key: IssuedKey) -> None:
    element = CardNumberDisplay.from_key(key)

    with pytest.raises(AttributeError):
        element.nonce = "ephkn_pub_other"  # type: ignore[misc]  # on purpose


GOOD: dict[str, Any] = {
    "issuing_card": CARD,
    "nonce": NONCE,
    "ephemeral_key_secret": SECRET,
}


@pytest.mark.parametrize("builder", [*DISPLAYS, AddToWalletButton])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "issuing_card",
            "card_123",
            (
                "issuing_card must be an Issuing card id (ic_...), "
                "not a str of 8 characters"
            ),
        ),
        (
            "issuing_card",
            None,
            "issuing_card must be an Issuing card id (ic_...), not None",
        ),
        (
            "nonce",
            "nonce_123",
            (
                "nonce must be an ephemeral key nonce (ephkn_...), "
                "not a str of 9 characters"
            ),
        ),
        ("nonce", "", "nonce must be an ephemeral key nonce"),
        (
            "ephemeral_key_secret",
            "sk_test_fake_issuing_elements",
            "ephemeral_key_secret must be the secret of an ephemeral key",
        ),
        (
            "ephemeral_key_secret",
            42,
            "ephemeral_key_secret must be the secret of an ephemeral key",
        ),
    ],
)
def test_invalid_key_fields_are_refused(
    builder: Any, field: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        builder(**{**GOOD, field: value})

    assert f"{builder.__name__}.{message}" in str(caught.value)


def test_a_wrong_secret_is_never_shown() -> None:
    with pytest.raises(ConfigurationError) as caught:
        CardNumberDisplay(
            issuing_card=CARD,
            nonce=NONCE,
            ephemeral_key_secret="sk_live_fake_issuing_elements",
        )

    assert "sk_live_fake_issuing_elements" not in str(caught.value)


@pytest.mark.parametrize(
    "pseudo", ["::placeholder", ":-webkit-autofill", "::-ms-clear", ":disabled"]
)
@pytest.mark.parametrize("variant", ["base", "invalid"])
@pytest.mark.parametrize("builder", [*DISPLAYS, CardCopyButton])
def test_input_only_pseudo_classes_are_refused_with_a_reason(
    builder: Any, variant: str, pseudo: str
) -> None:
    properties = {"display": "none"} if pseudo == "::-ms-clear" else {"color": "red"}
    variants: dict[str, Any] = {variant: {pseudo: properties}}
    style = Style(**variants)
    fields = {"to_copy": "number"} if builder is CardCopyButton else GOOD

    with pytest.raises(ConfigurationError) as caught:
        builder(**fields, style=style)

    assert (
        f"{builder.__name__}.style uses {pseudo!r}, which only applies to inputs"
        in str(caught.value)
    )
    assert "take no input" in str(caught.value) or "cannot be disabled" in str(
        caught.value
    )


@pytest.mark.parametrize("builder", [*DISPLAYS, CardCopyButton])
def test_style_must_be_a_style(builder: Any) -> None:
    fields = {"to_copy": "number"} if builder is CardCopyButton else GOOD

    with pytest.raises(
        ConfigurationError, match=r"style must be a Style or None, not dict"
    ):
        builder(**fields, style={"base": {"color": "red"}})


@pytest.mark.parametrize(
    ("to_copy", "message"),
    [
        (
            "numbr",
            (
                "CardCopyButton.to_copy must be one of number, cvc, expiry, "
                "pin, not 'numbr'; did you mean 'number'?"
            ),
        ),
        ("CVC", "not 'CVC'; did you mean 'cvc'?"),
        ("expiration", "did you mean 'expiry'?"),
        ("zzz", "not 'zzz'"),
        (None, "not None"),
    ],
)
def test_invalid_to_copy_is_refused(to_copy: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CardCopyButton(to_copy=to_copy)

    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"wallet": "google"},
            (
                "AddToWalletButton.wallet must be 'apple' (the only "
                "wallet Stripe.js supports), not 'google'"
            ),
        ),
        ({"wallet": "Apple"}, "did you mean 'apple'?"),
        (
            {"button_height": 35},
            (
                "AddToWalletButton.button_height must be a whole number of pixels "
                "from 36 to 55, or None for Stripe's 44; not 35"
            ),
        ),
        ({"button_height": 56}, "not 56"),
        ({"button_height": 44.0}, "not 44.0"),
        ({"button_height": "44"}, "not '44'"),
        ({"button_height": True}, "not True"),
    ],
)
def test_invalid_wallet_button_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AddToWalletButton(**{**GOOD, **changes})

    assert message in str(caught.value)


def test_wallet_button_takes_no_style() -> None:
    with pytest.raises(TypeError, match="style"):
        AddToWalletButton(**GOOD, style=Style())  # type: ignore[call-arg]  # on purpose


@pytest.mark.parametrize("field", ["issuing_card", "nonce"])
def test_a_secret_given_as_an_id_is_never_echoed(
    field: str, find_secrets: Callable[[list[str]], list[str]]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CardNumberDisplay(**{**GOOD, field: SECRET})

    assert [] == find_secrets([str(caught.value)])
