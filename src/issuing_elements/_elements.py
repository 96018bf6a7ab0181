"""One typed builder per Issuing Element.

Each builder knows its Stripe.js element type (``name``) and gives the exact
options object that ``elements.create(name, options)`` takes (``to_dict()``:
camelCase keys, no ``None`` values). The shapes follow the
``StripeIssuing*ElementOptions`` types of ``@stripe/stripe-js``; a contract
test compiles every builder's output against them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final, Literal, Protocol

import attrs
from typing_extensions import Self

from ._ids import is_card_id, is_nonce
from ._redact import describe
from ._style import Style, check_display_style
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._records import IssuedKey

__all__ = [
    "AddToWalletButton",
    "CardCopyButton",
    "CardCvcDisplay",
    "CardExpiryDisplay",
    "CardNumberDisplay",
    "CardPinDisplay",
    "ElementOptions",
]

ToCopy = Literal["number", "cvc", "expiry", "pin"]
Wallet = Literal["apple"]

TO_COPY: Final = ("number", "cvc", "expiry", "pin")
WALLETS: Final = ("apple",)
BUTTON_HEIGHT_RANGE: Final = (36, 55)
_SECRET_PREFIXES: Final = ("ek_test_", "ek_live_")


class ElementOptions(Protocol):
    """Anything that describes one element to mount: its type and options."""

    @property
    def name(self) -> str:
        """The Stripe.js element type, for ``elements.create(name, ...)``."""
        ...

    def to_dict(self) -> dict[str, object]:
        """The options object, exactly as Stripe.js takes it."""
        ...


def _closest(value: str, valid: tuple[str, ...]) -> str:
    # difflib loads only on this error path, not with every import.
    import difflib  # noqa: PLC0415 - see above

    match = difflib.get_close_matches(value.lower(), valid, n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def _check_card(owner: str, value: object) -> None:
    if not is_card_id(value):
        raise ConfigurationError(
            f"{owner}.issuing_card must be an Issuing card id (ic_...), "
            f"not {describe(value)}"
        )


def _web_nonce(owner: str, key: IssuedKey) -> str:
    if key.nonce is None:
        raise ConfigurationError(
            f"{owner}.from_key() needs a key issued for a page (with a nonce); "
            "a mobile key is for Stripe's mobile SDKs, not for Stripe.js."
        )
    return key.nonce


def _check_nonce(owner: str, value: object) -> None:
    if not is_nonce(value):
        raise ConfigurationError(
            # Never the value: the key's secret, given here by mistake, must
            # not reach a log.
            f"{owner}.nonce must be an ephemeral key nonce (ephkn_...), "
            f"not {describe(value)}"
        )


def _check_secret(owner: str, value: object) -> None:
    # The value is a secret: describe it, never show it.
    if not isinstance(value, str) or not value.startswith(_SECRET_PREFIXES):
        raise ConfigurationError(
            f"{owner}.ephemeral_key_secret must be the secret of an ephemeral key "
            "(ek_test_... or ek_live_...); the value given is not one"
        )


@attrs.frozen(kw_only=True)
class _CardDisplay:
    """The options every card-data display element takes."""

    name: ClassVar[str]

    issuing_card: str
    nonce: str
    ephemeral_key_secret: str = attrs.field(repr=False)
    style: Style | None = None

    def __attrs_post_init__(self) -> None:
        owner = type(self).__name__
        _check_card(owner, self.issuing_card)
        _check_nonce(owner, self.nonce)
        _check_secret(owner, self.ephemeral_key_secret)
        check_display_style(owner, self.style)

    @classmethod
    def from_key(cls, key: IssuedKey, *, style: Style | None = None) -> Self:
        """Fill in the card, the nonce and the secret from an issued key."""
        return cls(
            issuing_card=key.card_id,
            nonce=_web_nonce(cls.__name__, key),
            ephemeral_key_secret=key.secret,
            style=style,
        )

    def to_dict(self) -> dict[str, object]:
        options: dict[str, object] = {
            "issuingCard": self.issuing_card,
            "nonce": self.nonce,
            "ephemeralKeySecret": self.ephemeral_key_secret,
        }
        if self.style is not None:
            options["style"] = self.style.to_dict()
        return options


@attrs.frozen(kw_only=True)
class CardNumberDisplay(_CardDisplay):
    """``issuingCardNumberDisplay``: the card number.

    Virtual cards; a physical card's number needs the
    ``allow_retrieve_physical_card_details`` feature and a beta (see
    ``client_config(physical_cards=True)``).
    """

    name: ClassVar[str] = "issuingCardNumberDisplay"


@attrs.frozen(kw_only=True)
class CardCvcDisplay(_CardDisplay):
    """``issuingCardCvcDisplay``: the CVC, with the same rules as the number."""

    name: ClassVar[str] = "issuingCardCvcDisplay"


@attrs.frozen(kw_only=True)
class CardExpiryDisplay(_CardDisplay):
    """``issuingCardExpiryDisplay``: the expiry date, for any card."""

    name: ClassVar[str] = "issuingCardExpiryDisplay"


@attrs.frozen(kw_only=True)
class CardPinDisplay(_CardDisplay):
    """``issuingCardPinDisplay``: the PIN, for any card.

    Stripe requires the user to have passed two-factor authentication before
    you show it.
    """

    name: ClassVar[str] = "issuingCardPinDisplay"


@attrs.frozen(kw_only=True)
class CardCopyButton:
    """``issuingCardCopyButton``: a transparent button over its parent that
    copies one value (``to_copy``) to the clipboard."""

    name: ClassVar[str] = "issuingCardCopyButton"

    to_copy: ToCopy
    style: Style | None = None

    def __attrs_post_init__(self) -> None:
        to_copy: object = self.to_copy  # typed, but callers may be untyped
        if to_copy not in TO_COPY:
            shown = to_copy if isinstance(to_copy, str) else ""
            raise ConfigurationError(
                f"CardCopyButton.to_copy must be one of {', '.join(TO_COPY)}, "
                f"not {to_copy!r}{_closest(shown, TO_COPY)}"
            )
        check_display_style("CardCopyButton", self.style)

    def to_dict(self) -> dict[str, object]:
        options: dict[str, object] = {"toCopy": self.to_copy}
        if self.style is not None:
            options["style"] = self.style.to_dict()
        return options


@attrs.frozen(kw_only=True)
class AddToWalletButton:
    """``issuingAddToWalletButton`` (beta): push the card into Apple Wallet.

    Needs the ``issuing_add_to_wallet_button_element_1`` beta (see
    ``client_config(wallet_button=True)``). It takes no style.

    Attributes:
        wallet: Only ``"apple"`` exists.
        button_height: Pixels, 36 to 55; Stripe.js defaults to 44.
    """

    name: ClassVar[str] = "issuingAddToWalletButton"

    issuing_card: str
    nonce: str
    ephemeral_key_secret: str = attrs.field(repr=False)
    wallet: Wallet = "apple"
    button_height: int | None = None

    def __attrs_post_init__(self) -> None:
        _check_card("AddToWalletButton", self.issuing_card)
        _check_nonce("AddToWalletButton", self.nonce)
        _check_secret("AddToWalletButton", self.ephemeral_key_secret)
        wallet: object = self.wallet  # typed, but callers may be untyped
        if wallet not in WALLETS:
            shown = wallet if isinstance(wallet, str) else ""
            raise ConfigurationError(
                f"AddToWalletButton.wallet must be 'apple' (the only wallet "
                f"Stripe.js supports), not {wallet!r}{_closest(shown, WALLETS)}"
            )
        height: object = self.button_height
        low, high = BUTTON_HEIGHT_RANGE
        if height is not None and (
            isinstance(height, bool)
            or not isinstance(height, int)
            or not low <= height <= high
        ):
            raise ConfigurationError(
                f"AddToWalletButton.button_height must be a whole number of pixels "
                f"from {low} to {high}, or None for Stripe's 44; not {height!r}"
            )

    @classmethod
    def from_key(cls, key: IssuedKey, *, button_height: int | None = None) -> Self:
        """Fill in the card, the nonce and the secret from an issued key."""
        return cls(
            issuing_card=key.card_id,
            nonce=_web_nonce(cls.__name__, key),
            ephemeral_key_secret=key.secret,
            button_height=button_height,
        )

    def to_dict(self) -> dict[str, object]:
        options: dict[str, object] = {
            "issuingCard": self.issuing_card,
            "nonce": self.nonce,
            "ephemeralKeySecret": self.ephemeral_key_secret,
            "wallet": self.wallet,
        }
        if self.button_height is not None:
            options["buttonHeight"] = self.button_height
        return options
