"""Contract: every builder's output is a value of Stripe.js's own types.

The Python outputs are written into a TypeScript file as values of the
matching ``@stripe/stripe-js`` types (pinned with TypeScript in
``package.json`` beside this file) and checked with ``tsc --strict --noEmit``
(``tsc.py``: run ``npm ci`` in ``tests/contract`` first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contract.tsc import failing_files, run_tsc
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
    client_config,
)
from issuing_elements._client_config import LOCALES

pytestmark = pytest.mark.system("node")

KEY = IssuedKey(
    id="ephkey_fake1issuingelements",
    secret="ek_test_fake_issuing_elements_contract",
    expires=1_800_000_900,
    livemode=False,
    card_id="ic_fake1issuingelements",
    nonce="ephkn_pub_fake1issuingelements",
    stripe_account=None,
)
FULL_STYLE = Style(
    base={
        "backgroundColor": "white",
        "color": "#32325d",
        "fontFamily": "system-ui, sans-serif",
        "fontSize": "16px",
        "fontSmoothing": "antialiased",
        "fontStyle": "normal",
        "fontVariant": "normal",
        "fontWeight": 500,
        "iconColor": "#666",
        "lineHeight": "24px",
        "letterSpacing": "0.05em",
        "textAlign": "left",
        "padding": "2px",
        "textDecoration": "none",
        "textShadow": "none",
        "textTransform": "none",
        ":hover": {"color": "#6772e5"},
        ":focus": {"color": "#424770"},
        "::selection": {"backgroundColor": "#d3e3fd"},
    },
    complete={"fontWeight": "bold"},
    empty={"color": "#aab7c4"},
    invalid={"color": "#fa755a"},
)

# The Stripe.js type of each element's options.
OPTIONS_TYPE = {
    "issuingCardNumberDisplay": "StripeIssuingCardNumberDisplayElementOptions",
    "issuingCardCvcDisplay": "StripeIssuingCardCvcDisplayElementOptions",
    "issuingCardExpiryDisplay": "StripeIssuingCardExpiryDisplayElementOptions",
    "issuingCardPinDisplay": "StripeIssuingCardPinDisplayElementOptions",
    "issuingCardCopyButton": "StripeIssuingCardCopyButtonElementOptions",
    "issuingAddToWalletButton": "StripeIssuingAddToWalletButtonElementOptions",
}
# stripe-js 10 has no elements.create() overload for the wallet button (beta).
CREATE_OVERLOADS = set(OPTIONS_TYPE) - {"issuingAddToWalletButton"}


def every_element() -> list[ElementOptions]:
    return [
        CardNumberDisplay.from_key(KEY),
        CardNumberDisplay.from_key(KEY, style=FULL_STYLE),
        CardCvcDisplay.from_key(KEY, style=Style(base={"color": "red"})),
        CardExpiryDisplay.from_key(KEY),
        CardPinDisplay.from_key(KEY, style=FULL_STYLE),
        CardCopyButton(to_copy="number"),
        CardCopyButton(to_copy="cvc", style=FULL_STYLE),
        CardCopyButton(to_copy="expiry"),
        CardCopyButton(to_copy="pin"),
        AddToWalletButton.from_key(KEY),
        AddToWalletButton.from_key(KEY, button_height=55),
    ]


def every_client_config() -> list[dict[str, object]]:
    return [
        client_config("pk_test_fake_issuing_elements").to_dict(),
        *(
            client_config("pk_test_fake_issuing_elements", locale=locale).to_dict()
            for locale in LOCALES
        ),
        client_config(
            "pk_live_fake_issuing_elements",
            stripe_account="acct_fake1issuingelements",
            physical_cards=True,
            wallet_button=True,
            api_version="2025-03-31.basil",
            locale="es-419",
        ).to_dict(),
    ]


def element_module(elements: list[tuple[str, dict[str, Any]]]) -> str:
    """TypeScript that assigns each (name, options) to Stripe.js's types."""
    lines = [
        "import type {",
        "  StripeElements,",
        "  StripeElementType,",
        *(f"  {type_name}," for type_name in sorted(OPTIONS_TYPE.values())),
        '} from "@stripe/stripe-js";',
        "declare const elements: StripeElements;",
    ]
    for index, (name, options) in enumerate(elements):
        options_type = OPTIONS_TYPE.get(name, "never")
        lines += [
            f"const name{index}: StripeElementType = {json.dumps(name)};",
            f"const options{index}: {options_type} = {json.dumps(options, indent=2)};",
        ]
        if name in CREATE_OVERLOADS:
            lines.append(f"elements.create({json.dumps(name)}, options{index});")
        lines.append(f"void name{index};")
    return "\n".join(lines) + "\n"


def config_module(configs: list[dict[str, Any]]) -> str:
    """TypeScript that passes each config to ``loadStripe``, as a page would."""
    lines = [
        "import { loadStripe, type StripeConstructorOptions }",
        '  from "@stripe/stripe-js";',
    ]
    for index, config in enumerate(configs):
        lines += [
            f"const key{index}: string = {json.dumps(config['publishableKey'])};",
            (
                f"const options{index}: StripeConstructorOptions = "
                f"{json.dumps(config['options'], indent=2)};"
            ),
            f"void loadStripe(key{index}, options{index});",
        ]
    return "\n".join(lines) + "\n"


def test_every_output_is_a_value_of_stripe_js_types(tmp_path: Path) -> None:
    elements = [(element.name, element.to_dict()) for element in every_element()]
    configs = every_client_config()
    assert {name for name, _ in elements} == set(OPTIONS_TYPE)
    assert all(set(config) == {"publishableKey", "options"} for config in configs)

    result = run_tsc(
        tmp_path,
        {
            "elements.ts": element_module(elements),
            "config.ts": config_module(configs),
        },
    )

    assert result.returncode == 0, result.stdout + result.stderr


def _wrong(
    name: str, options: dict[str, Any], **changes: Any
) -> tuple[str, dict[str, Any]]:
    return name, {**options, **changes}


NUMBER = CardNumberDisplay.from_key(KEY).to_dict()
WALLET = AddToWalletButton.from_key(KEY).to_dict()

# Each is a mistake a builder could make; tsc must catch every one.
WRONG_ELEMENTS = {
    "misspelt_option": _wrong(
        "issuingCardNumberDisplay",
        {k: v for k, v in NUMBER.items() if k != "issuingCard"},
        issuingCardId=KEY.card_id,
    ),
    "snake_case_option": _wrong(
        "issuingCardPinDisplay", NUMBER, ephemeral_key_secret=KEY.secret
    ),
    "misspelt_style": _wrong(
        "issuingCardCvcDisplay", NUMBER, style={"base": {"colour": "red"}}
    ),
    "numeric_font_size": _wrong(
        "issuingCardExpiryDisplay", NUMBER, style={"base": {"fontSize": 16}}
    ),
    "unknown_variant": _wrong(
        "issuingCardNumberDisplay", NUMBER, style={"hover": {"color": "red"}}
    ),
    "wrong_to_copy": ("issuingCardCopyButton", {"toCopy": "cardNumber"}),
    "wallet_style": _wrong("issuingAddToWalletButton", WALLET, style={"base": {}}),
    "wrong_wallet": _wrong("issuingAddToWalletButton", WALLET, wallet="google"),
    "string_height": _wrong("issuingAddToWalletButton", WALLET, buttonHeight="44px"),
    "wrong_name": ("issuingCardNumber", NUMBER),
}
WRONG_CONFIGS = {
    "misspelt_constructor_option": {
        "publishableKey": "pk_test_x",
        "options": {"stripeAccountId": "acct_x"},
    },
    "betas_as_string": {
        "publishableKey": "pk_test_x",
        "options": {"betas": "issuing_elements_2"},
    },
    "unknown_locale": {"publishableKey": "pk_test_x", "options": {"locale": "en-US"}},
}


def test_tsc_catches_every_deliberate_mistake(tmp_path: Path) -> None:
    modules = {
        f"{label}.ts": element_module([element])
        for label, element in WRONG_ELEMENTS.items()
    }
    modules |= {
        f"{label}.ts": config_module([config])
        for label, config in WRONG_CONFIGS.items()
    }

    result = run_tsc(tmp_path, modules)

    assert result.returncode != 0
    assert set(modules) == failing_files(result), result.stdout
