"""Never run: mypy checks this file (``make typecheck``) to pin the public types.

Each ``# type: ignore[code]`` marks a line that must stay a type error: with
mypy's ``warn_unused_ignores`` (strict), the check fails the day it is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import assert_type

from issuing_elements import (
    AddToWalletButton,
    CardCopyButton,
    CardCvcDisplay,
    CardExpiryDisplay,
    CardNumberDisplay,
    CardPinDisplay,
    ClientConfig,
    CSSProperties,
    ElementOptions,
    EphemeralKeyIssuer,
    IssuedKey,
    KeyRequest,
    Style,
    StyleVariant,
    client_config,
)

if TYPE_CHECKING:
    import stripe


def valid_usage(key: IssuedKey, client: stripe.StripeClient) -> None:
    style = Style(
        base={"color": "#32325d", "fontWeight": 600, ":hover": {"color": "red"}},
        invalid={"::selection": {"backgroundColor": "#eee"}},
    )
    assert_type(CardNumberDisplay.from_key(key, style=style), CardNumberDisplay)
    assert_type(CardCvcDisplay.from_key(key), CardCvcDisplay)
    assert_type(CardExpiryDisplay.from_key(key), CardExpiryDisplay)
    assert_type(CardPinDisplay.from_key(key), CardPinDisplay)
    assert_type(AddToWalletButton.from_key(key, button_height=40), AddToWalletButton)
    assert_type(CardCopyButton(to_copy="pin").to_dict(), dict[str, object])
    assert_type(CardNumberDisplay.name, str)

    # Every builder is an ElementOptions, which the issuer's page bundle takes.
    elements: list[ElementOptions] = [
        CardNumberDisplay.from_key(key),
        CardCopyButton(to_copy="number", style=style),
        AddToWalletButton.from_key(key),
    ]
    del elements

    variant: StyleVariant = {"fontSize": "16px", "::-ms-clear": {"display": "none"}}
    properties: CSSProperties = {"textTransform": "uppercase"}
    del variant, properties

    config = client_config(
        "pk_test_fake_issuing_elements", stripe_account=None, stripe_client=client
    )
    assert_type(config, ClientConfig)
    assert_type(config.to_dict(), dict[str, object])


def misspelt_style_properties() -> None:
    variant: StyleVariant = {"colour": "red"}  # type: ignore[typeddict-unknown-key]
    hover: StyleVariant = {":hover": {"colr": "red"}}  # type: ignore[typeddict-unknown-key]
    pseudo: StyleVariant = {":hovr": {"color": "red"}}  # type: ignore[typeddict-unknown-key]
    size: CSSProperties = {"fontSize": 16}  # type: ignore[typeddict-item]
    clear: StyleVariant = {"::-ms-clear": {"color": "red"}}  # type: ignore[typeddict-item]
    del variant, hover, pseudo, size, clear
    # Through Style's Optional parameter mypy reports the literal as arg-type.
    Style(base={"colour": "red"})  # type: ignore[arg-type]
    Style(hover={"color": "red"})  # type: ignore[call-arg]


def misspelt_element_options(key: IssuedKey) -> None:
    CardCopyButton(to_copy="numbr")  # type: ignore[arg-type]
    CardCopyButton(toCopy="number")  # type: ignore[call-arg]
    CardNumberDisplay(issuing_card="ic_x", nonce="ephkn_x", ephemeral_key="ek_test_x")  # type: ignore[call-arg]
    CardNumberDisplay.from_key(key, styles=None)  # type: ignore[call-arg]
    AddToWalletButton.from_key(key, button_height="44px")  # type: ignore[arg-type]
    AddToWalletButton(  # type: ignore[call-arg]
        issuing_card="ic_x",
        nonce="ephkn_x",
        ephemeral_key_secret="ek_test_x",
        style=Style(),
    )
    AddToWalletButton(
        issuing_card="ic_x",
        nonce="ephkn_x",
        ephemeral_key_secret="ek_test_x",
        wallet="google",  # type: ignore[arg-type]
    )
    client_config("pk_test_fake_issuing_elements", account="acct_x")  # type: ignore[call-arg]
    client_config("pk_test_fake_issuing_elements", "acct_x")  # type: ignore[call-arg]


def _allow(user: str, request: KeyRequest) -> bool:
    return True


def _page(user: str, key: IssuedKey) -> list[ElementOptions]:
    return [CardNumberDisplay.from_key(key), CardCopyButton(to_copy="cvc")]


def _page_without_user(key: IssuedKey) -> list[ElementOptions]:
    return [CardNumberDisplay.from_key(key)]


def _page_of_dicts(user: str, key: IssuedKey) -> list[dict[str, object]]:
    return [{"type": "issuingCardNumberDisplay", "options": {}}]


def page_bundle_callbacks(client: stripe.StripeClient) -> None:
    EphemeralKeyIssuer(client, _allow, refresh_margin=60, elements=_page)
    EphemeralKeyIssuer(client, _allow, elements=_page_without_user)  # type: ignore[arg-type]
    EphemeralKeyIssuer(client, _allow, elements=_page_of_dicts)  # type: ignore[arg-type]
    EphemeralKeyIssuer(client, _allow, refresh_margin="60")  # type: ignore[arg-type]
