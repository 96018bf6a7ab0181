"""Style: the exact dict, and every value Stripe.js would reject, refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from issuing_elements import Style
from issuing_elements.exceptions import ConfigurationError


def test_to_dict_is_exactly_the_variants_given() -> None:
    style = Style(
        base={
            "color": "#32325d",
            "fontFamily": '"Helvetica Neue", Helvetica, sans-serif',
            "fontSize": "16px",
            "fontWeight": 500,
            ":hover": {"color": "#6772e5"},
            "::selection": {"backgroundColor": "#d3e3fd"},
        },
        invalid={"color": "#fa755a"},
    )

    assert style.to_dict() == {
        "base": {
            "color": "#32325d",
            "fontFamily": '"Helvetica Neue", Helvetica, sans-serif',
            "fontSize": "16px",
            "fontWeight": 500,
            ":hover": {"color": "#6772e5"},
            "::selection": {"backgroundColor": "#d3e3fd"},
        },
        "invalid": {"color": "#fa755a"},
    }


def test_empty_style_is_an_empty_object() -> None:
    assert Style().to_dict() == {}


def test_every_variant_and_property_is_accepted() -> None:
    properties: Any = {
        "backgroundColor": "white",
        "color": "black",
        "fontFamily": "serif",
        "fontSize": "12px",
        "fontSmoothing": "antialiased",
        "fontStyle": "italic",
        "fontVariant": "small-caps",
        "fontWeight": "bold",
        "iconColor": "red",
        "lineHeight": "1.5",
        "letterSpacing": "1px",
        "textAlign": "left",
        "padding": "2px",
        "textDecoration": "underline",
        "textShadow": "none",
        "textTransform": "uppercase",
    }
    style = Style(
        base=properties, complete=properties, empty=properties, invalid=properties
    )

    assert style.to_dict() == dict.fromkeys(
        ("base", "complete", "empty", "invalid"), properties
    )


def test_ms_clear_takes_display() -> None:
    style = Style(base={"::-ms-clear": {"display": "none", "color": "red"}})

    assert style.to_dict() == {
        "base": {"::-ms-clear": {"display": "none", "color": "red"}}
    }


def test_later_changes_to_the_callers_dict_do_not_leak_in() -> None:
    base: Any = {"color": "red", ":hover": {"color": "blue"}}
    style = Style(base=base)
    base["color"] = "green"
    base[":hover"]["color"] = "green"
    style.to_dict()["base"]["color"] = "green"  # type: ignore[index]  # object

    assert style.to_dict() == {"base": {"color": "red", ":hover": {"color": "blue"}}}


def test_float_font_weight_is_accepted() -> None:
    assert Style(base={"fontWeight": 450.5}).to_dict() == {
        "base": {"fontWeight": 450.5}
    }


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        (
            {"base": {"colour": "red"}},
            "unknown CSS property 'colour'; did you mean 'color'?",
        ),
        (
            {"base": {"font-size": "1px"}},
            "unknown CSS property 'font-size'; did you mean 'fontSize'?",
        ),
        ({"base": {"font_family": "x"}}, "did you mean 'fontFamily'?"),
        ({"base": {"fontweight": 400}}, "did you mean 'fontWeight'?"),
        (
            {"invalid": {"zzzz": "1"}},
            (
                "Style.invalid has an unknown CSS property 'zzzz'; "
                "valid names are backgroundColor"
            ),
        ),
        (
            {"base": {":hovr": {"color": "red"}}},
            "unknown pseudo-class ':hovr'; did you mean ':hover'?",
        ),
        ({"base": {"::placeholdr": {}}}, "did you mean '::placeholder'?"),
        (
            {"base": {":hover": {"colr": "red"}}},
            (
                "Style.base[':hover'] has an unknown CSS property "
                "'colr'; did you mean 'color'?"
            ),
        ),
        ({"base": {":hover": {":focus": {}}}}, "pseudo-classes cannot be nested"),
        ({"base": {"color": 1}}, "Style.base['color'] must be a string, not int"),
        (
            {"base": {"fontSize": 16}},
            "Style.base['fontSize'] must be a string, not int",
        ),
        (
            {"base": {":hover": {"color": None}}},
            "Style.base[':hover']['color'] must be a string, not NoneType",
        ),
        (
            {"base": {"fontWeight": True}},
            "'fontWeight'] must be a string or a number, not bool",
        ),
        ({"base": {"fontWeight": float("nan")}}, "must be a string or a number"),
        ({"base": {"fontWeight": [400]}}, "must be a string or a number, not list"),
        ({"base": ["color"]}, "Style.base must be a mapping, not list"),
        ({"empty": "color: red"}, "Style.empty must be a mapping, not str"),
        (
            {"base": {":hover": "red"}},
            "Style.base[':hover'] must be a mapping of CSS properties, not str",
        ),
        ({"base": {1: "red"}}, "has a key that is not a string"),
        ({"base": {"::-ms-clear": {"color": "red"}}}, "needs 'display'"),
        ({"base": {"display": "none"}}, "unknown CSS property 'display'"),
    ],
)
def test_invalid_style_is_refused_by_name(
    variants: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Style(**variants)

    assert message in str(caught.value)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="colour"):
        Style(base={"colour": "red"})  # type: ignore[arg-type]  # on purpose


def test_pseudo_classes_lists_every_variants() -> None:
    style = Style(base={":hover": {}}, invalid={"::placeholder": {}, "color": "red"})

    assert style.pseudo_classes() == frozenset({":hover", "::placeholder"})
