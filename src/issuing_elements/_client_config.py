"""What the page passes to ``Stripe(publishableKey, options)``.

The server knows which account owns the card, which API version it speaks
and what the page will show; [`client_config`][issuing_elements.client_config] turns
that into the Stripe.js constructor options, betas included, so the page hard-codes none
of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

import attrs

from ._ids import api_version_problem, is_account_id
from ._redact import describe
from ._stripe_client import client_api_key
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stripe import StripeClient

__all__ = ["LOCALES", "ClientConfig", "client_config"]

Mode = Literal["test", "live"]

#: ``StripeElementLocale`` in ``@stripe/stripe-js`` 10.x (``CheckoutLocale``,
#: the other half of ``StripeConstructorOptions.locale``, is a subset).
LOCALES: Final = (
    "auto",
    "ar",
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "en-AU",
    "en-CA",
    "en-NZ",
    "en-GB",
    "es",
    "es-ES",
    "es-419",
    "et",
    "fi",
    "fil",
    "fr",
    "fr-CA",
    "fr-FR",
    "he",
    "hu",
    "hr",
    "id",
    "it",
    "it-IT",
    "ja",
    "ko",
    "lt",
    "lv",
    "ms",
    "mt",
    "nb",
    "nl",
    "no",
    "pl",
    "pt",
    "pt-BR",
    "ro",
    "ru",
    "sk",
    "sl",
    "sv",
    "th",
    "tr",
    "vi",
    "zh",
    "zh-HK",
    "zh-TW",
)

#: Issuing Elements under Connect, and physical cards' number and CVC.
ISSUING_ELEMENTS_BETA: Final = "issuing_elements_2"
#: The Add to Wallet button, and Issuing Elements under Connect.
WALLET_BUTTON_BETA: Final = "issuing_add_to_wallet_button_element_1"

_PUBLISHABLE_PREFIXES: Final[dict[str, Mode]] = {
    "pk_test_": "test",
    "pk_live_": "live",
}
_SECRET_PREFIXES: Final[dict[str, Mode]] = {
    "sk_test_": "test",
    "sk_live_": "live",
    "rk_test_": "test",
    "rk_live_": "live",
}


def _mode(key: str, prefixes: dict[str, Mode]) -> Mode | None:
    for prefix, mode in prefixes.items():
        if key.startswith(prefix):
            return mode
    return None


def _secret_key_mode(stripe_client: StripeClient) -> Mode | None:
    """Test or live, from the client's secret key, without keeping the key.

    ``None`` (unknown) when the key cannot be read; a test pins that it can.
    """
    key = client_api_key(stripe_client)
    return None if key is None else _mode(key, _SECRET_PREFIXES)


def _publishable_key_mode(publishable_key: object) -> Mode:
    if not isinstance(publishable_key, str):
        raise ConfigurationError(
            "publishable_key must be a string (pk_test_... or pk_live_...), "
            f"not {type(publishable_key).__name__}"
        )
    mode = _mode(publishable_key, _PUBLISHABLE_PREFIXES)
    if mode is None:
        # A secret key passed here by mistake must not end up in a log.
        shown = (
            "that of a secret key"
            if publishable_key.startswith(("sk_", "rk_", "ek_"))
            else repr(publishable_key[:8])
        )
        raise ConfigurationError(
            "publishable_key must start with pk_test_ or pk_live_; "
            f"the value given starts with {shown}"
        )
    return mode


def _check_locale(locale: object) -> None:
    if locale is None or locale in LOCALES:
        return
    hint = ""
    if isinstance(locale, str):
        lowered = {valid.lower(): valid for valid in LOCALES}
        spelled = locale.lower().replace("_", "-")
        # en-US is not in the list, but en is: suggest the language alone.
        match = (
            lowered.get(spelled)
            or lowered.get(spelled.split("-", 1)[0])
            or next(
                iter(_close_matches(locale, LOCALES)),
                None,
            )
        )
        hint = f"; did you mean {match!r}?" if match else ""
    raise ConfigurationError(
        "locale must be one Stripe.js supports (StripeElementLocale in "
        f"@stripe/stripe-js), not {describe(locale)}{hint}"
    )


@attrs.frozen(kw_only=True)
class ClientConfig:
    """The arguments of ``Stripe(publishableKey, options)``, checked.

    Build it with [`client_config`][issuing_elements.client_config]; send ``to_dict()``
    to the page.
    """

    publishable_key: str
    stripe_account: str | None = None
    betas: tuple[str, ...] = ()
    api_version: str | None = None
    locale: str | None = None

    def to_dict(self) -> dict[str, object]:
        """``{"publishableKey": ..., "options": {...}}``, without ``None`` values."""
        options: dict[str, object] = {}
        if self.stripe_account is not None:
            options["stripeAccount"] = self.stripe_account
        if self.api_version is not None:
            options["apiVersion"] = self.api_version
        if self.locale is not None:
            options["locale"] = self.locale
        if self.betas:
            options["betas"] = list(self.betas)
        return {"publishableKey": self.publishable_key, "options": options}


def client_config(  # noqa: PLR0913 - each keyword is one Stripe.js option or need
    publishable_key: str,
    *,
    stripe_account: str | None = None,
    physical_cards: bool = False,
    wallet_button: bool = False,
    api_version: str | None = None,
    locale: str | None = None,
    stripe_client: StripeClient | None = None,
) -> ClientConfig:
    """Build the Stripe.js configuration for a page that shows Issuing Elements.

    Args:
        publishable_key: ``pk_test_...`` or ``pk_live_...``.
        stripe_account: The connected account that owns the cards (Connect);
            it comes from the server, never from the browser.
        physical_cards: The page shows a physical card's number or CVC.
        wallet_button: The page shows the
            [`AddToWalletButton`][issuing_elements.AddToWalletButton].
        api_version: Stripe.js's ``apiVersion``; 2020-03-02 or later.
        locale: One of `LOCALES`.
        stripe_client: The client that issues the keys. When given, a test
            publishable key with a live secret key (or the reverse) is an
            error. The secret key is read for its mode only and never shown.

    The betas follow from the rest: Connect needs ``issuing_elements_2`` and
    ``issuing_add_to_wallet_button_element_1``, physical cards the first, the
    wallet button the second; each appears once, always in that order.

    Raises:
        ConfigurationError: naming the argument that is wrong.
    """
    mode = _publishable_key_mode(publishable_key)
    if stripe_account is not None and not is_account_id(stripe_account):
        raise ConfigurationError(
            "stripe_account must be None or a connected account id (acct_...), "
            f"not {describe(stripe_account)}"
        )
    for flag_name, flag in (
        ("physical_cards", physical_cards),
        ("wallet_button", wallet_button),
    ):
        if not isinstance(flag, bool):
            raise ConfigurationError(
                f"{flag_name} must be True or False, not {describe(flag)}"
            )
    if api_version is not None:
        problem = api_version_problem(api_version)
        if problem is not None:
            raise ConfigurationError(f"api_version {problem}")
    _check_locale(locale)
    if stripe_client is not None:
        secret_mode = _secret_key_mode(stripe_client)
        if secret_mode is not None and secret_mode != mode:
            raise ConfigurationError(
                f"publishable_key is a {mode}-mode key but stripe_client uses a "
                f"{secret_mode}-mode secret key: the page could not use the keys "
                "the server issues"
            )
    connect = stripe_account is not None
    betas = tuple(
        beta
        for beta, needed in (
            (ISSUING_ELEMENTS_BETA, connect or physical_cards),
            (WALLET_BUTTON_BETA, connect or wallet_button),
        )
        if needed
    )
    return ClientConfig(
        publishable_key=publishable_key,
        stripe_account=stripe_account,
        betas=betas,
        api_version=api_version,
        locale=locale,
    )


def _close_matches(word: str, choices: Sequence[str]) -> list[str]:
    # difflib loads only on this error path, not with every import.
    import difflib  # noqa: PLC0415 - see above

    return difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
