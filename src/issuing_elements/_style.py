"""The Stripe.js ``Style`` object, typed and checked.

The TypedDicts below mirror ``StripeElementStyle``, ``StripeElementStyleVariant``
and ``StripeElementCSSProperties`` from ``@stripe/stripe-js``, so that mypy
catches a misspelt property in a literal, and [`Style`][issuing_elements.Style] checks
the same rules at run time for values that come from elsewhere (settings, JSON).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import attrs
from typing_extensions import Required, TypedDict

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "INPUT_ONLY_PSEUDO_CLASSES",
    "CSSProperties",
    "MsClearProperties",
    "Style",
    "StyleVariant",
]


class CSSProperties(TypedDict, total=False):
    """The CSS properties Stripe.js accepts (``StripeElementCSSProperties``)."""

    backgroundColor: str
    color: str
    fontFamily: str
    fontSize: str
    fontSmoothing: str
    fontStyle: str
    fontVariant: str
    fontWeight: str | int | float
    iconColor: str
    lineHeight: str
    letterSpacing: str
    textAlign: str
    padding: str
    textDecoration: str
    textShadow: str
    textTransform: str


class MsClearProperties(CSSProperties, total=False):
    """``::-ms-clear`` takes the CSS properties plus a required ``display``."""

    display: Required[str]


# The pseudo-class keys are not identifiers, hence the functional syntax.
_PseudoClasses = TypedDict(
    "_PseudoClasses",
    {
        ":hover": CSSProperties,
        ":focus": CSSProperties,
        "::placeholder": CSSProperties,
        "::selection": CSSProperties,
        ":-webkit-autofill": CSSProperties,
        ":disabled": CSSProperties,
        "::-ms-clear": MsClearProperties,
    },
    total=False,
)


class StyleVariant(CSSProperties, _PseudoClasses, total=False):
    """One variant of a `Style`: CSS properties and pseudo-classes."""


CSS_PROPERTIES: Final = tuple(CSSProperties.__annotations__)
PSEUDO_CLASSES: Final = tuple(_PseudoClasses.__annotations__)
VARIANTS: Final = ("base", "complete", "empty", "invalid")

#: Pseudo-classes that only ever match an input. Issuing Elements display
#: text and show a button; they have no placeholder, are never autofilled,
#: have no clear control and cannot be disabled, so these would do nothing.
_NO_INPUT = "they show card data and take no input"
INPUT_ONLY_PSEUDO_CLASSES: Final[Mapping[str, str]] = {
    "::placeholder": f"Issuing Elements have no placeholder: {_NO_INPUT}",
    ":-webkit-autofill": f"Issuing Elements are never autofilled: {_NO_INPUT}",
    "::-ms-clear": f"Issuing Elements have no clear control: {_NO_INPUT}",
    ":disabled": "Issuing Elements cannot be disabled: no option disables them",
}


def _closest(name: str, valid: Iterable[str]) -> str:
    """Say which valid name *name* was probably meant to be, if any."""
    choices = list(valid)
    lowered = {choice.lower(): choice for choice in choices}
    # font-size and font_size are the CSS and Python spellings of fontSize.
    squashed = name.replace("-", "").replace("_", "").lower()
    match = (
        lowered.get(name.lower())
        or lowered.get(squashed)
        or next(iter(_close_matches(name, choices)), None)
    )
    if match is None:
        return f"valid names are {', '.join(choices)}"
    return f"did you mean {match!r}?"


def _check_properties(
    where: str, properties: object, *, ms_clear: bool
) -> dict[str, object]:
    if not isinstance(properties, Mapping):
        raise ConfigurationError(
            f"{where} must be a mapping of CSS properties, "
            f"not {type(properties).__name__}"
        )
    checked: dict[str, object] = {}
    for key, value in properties.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"{where} has a key that is not a string: {key!r}")
        valid = (*CSS_PROPERTIES, "display") if ms_clear else CSS_PROPERTIES
        if key not in valid:
            if key in PSEUDO_CLASSES:
                raise ConfigurationError(
                    f"{where}[{key!r}]: pseudo-classes cannot be nested; "
                    "put them directly in the variant"
                )
            raise ConfigurationError(
                f"{where} has an unknown CSS property {key!r}; {_closest(key, valid)}"
            )
        if key == "fontWeight":
            if (
                isinstance(value, bool)
                or not isinstance(value, (str, int, float))
                or (isinstance(value, float) and not math.isfinite(value))
            ):
                raise ConfigurationError(
                    f"{where}['fontWeight'] must be a string or a number, "
                    f"not {type(value).__name__}"
                )
        elif not isinstance(value, str):
            raise ConfigurationError(
                f"{where}[{key!r}] must be a string, not {type(value).__name__}"
            )
        checked[key] = value
    if ms_clear and "display" not in checked:
        raise ConfigurationError(f"{where} needs 'display' (Stripe.js requires it)")
    return checked


def _check_variant(variant: str, value: object) -> dict[str, object] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"Style.{variant} must be a mapping, not {type(value).__name__}"
        )
    checked: dict[str, object] = {}
    for key, item in value.items():
        if isinstance(key, str) and key.startswith(":"):
            if key not in PSEUDO_CLASSES:
                raise ConfigurationError(
                    f"Style.{variant} has an unknown pseudo-class {key!r}; "
                    f"{_closest(key, PSEUDO_CLASSES)}"
                )
            checked[key] = _check_properties(
                f"Style.{variant}[{key!r}]", item, ms_clear=key == "::-ms-clear"
            )
        else:
            checked.update(
                _check_properties(f"Style.{variant}", {key: item}, ms_clear=False)
            )
    return checked


@attrs.frozen(kw_only=True)
class Style:
    """Customize the appearance of an Issuing Element (Stripe.js ``Style``).

    Each variant is a [`StyleVariant`][issuing_elements.StyleVariant]: CSS properties
    in camelCase
    (``fontFamily``) and pseudo-classes (``":hover"``) holding more of them.
    Stripe.js inherits every variant from ``base``.

    Raises:
        ConfigurationError: for an unknown property or pseudo-class (the
            message names the closest valid one), or a value Stripe.js rejects
            (``fontWeight`` is a string or a number, everything else a string).
    """

    base: StyleVariant | None = None
    complete: StyleVariant | None = None
    empty: StyleVariant | None = None
    invalid: StyleVariant | None = None

    def __attrs_post_init__(self) -> None:
        # Keep a private, checked copy: the caller's dicts may change later.
        for variant in VARIANTS:
            checked = _check_variant(variant, getattr(self, variant))
            object.__setattr__(self, variant, checked)

    def pseudo_classes(self) -> frozenset[str]:
        """Every pseudo-class used in any variant."""
        return frozenset(
            key
            for variant in VARIANTS
            for key in (getattr(self, variant) or {})
            if key.startswith(":")
        )

    def to_dict(self) -> dict[str, object]:
        """The ``style`` option exactly as Stripe.js takes it."""
        return {
            variant: copy.deepcopy(value)
            for variant in VARIANTS
            if (value := getattr(self, variant)) is not None
        }


def check_display_style(element: str, style: object) -> None:
    """Refuse a style that Issuing Elements would silently ignore."""
    if style is None:
        return
    if not isinstance(style, Style):
        raise ConfigurationError(
            f"{element}.style must be a Style or None, not {type(style).__name__}"
        )
    for pseudo in sorted(style.pseudo_classes()):
        reason = INPUT_ONLY_PSEUDO_CLASSES.get(pseudo)
        if reason is not None:
            raise ConfigurationError(
                f"{element}.style uses {pseudo!r}, which only applies to inputs. "
                f"{reason}."
            )


def _close_matches(word: str, choices: Sequence[str]) -> list[str]:
    # difflib loads only on this error path, not with every import.
    import difflib  # noqa: PLC0415 - see above

    return difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
