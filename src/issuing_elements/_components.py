"""Account Sessions: the components a grant opens, and the records of that door.

A platform's admin page (Connect embedded components, ``@stripe/connect-js``)
needs an Account Session before it renders ``issuing-card`` or
``issuing-cards-list``. The server names the components and their features
in an `AccountSessionGrant`; the browser only ever names the account
(`AccountSessionRequest`), and gets back the session's secret
(`AccountSession`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, TypeAlias

import attrs

from ._ids import is_account_id
from ._redact import describe


def _check_bool(
    _instance: object, attribute: attrs.Attribute[bool], value: object
) -> None:
    if not isinstance(value, bool):
        # Never the value: whatever was given in its place may be a secret.
        raise TypeError(f"{attribute.name} must be a bool, not {describe(value)}")


class _Component:
    """What every component builder knows: its Stripe name and its parameters."""

    __slots__ = ()

    stripe_name: ClassVar[str]

    def features(self) -> dict[str, bool]:
        """Every feature of the component, as granted (``False`` included)."""
        # Every subclass is an attrs class; this base is only their mixin.
        features: dict[str, bool] = attrs.asdict(self)  # type: ignore[arg-type]
        return features

    def params(self) -> dict[str, object]:
        """``components[<name>]`` for stripe-python: enabled, with these features."""
        return {"enabled": True, "features": self.features()}

    def form_params(self) -> dict[str, str]:
        """The same, as the form fields Stripe receives, in order."""
        prefix = f"components[{self.stripe_name}]"
        form = {f"{prefix}[enabled]": "true"}
        for name, value in self.features().items():
            form[f"{prefix}[features][{name}]"] = "true" if value else "false"
        return form


@attrs.frozen(kw_only=True)
class IssuingCardComponent(_Component):
    """Connect's ``issuing-card`` component (``issuing_card``), and its features.

    Every feature is off unless granted; Stripe receives each one, ``false``
    included.
    """

    stripe_name: ClassVar[str] = "issuing_card"

    card_management: bool = attrs.field(default=False, validator=_check_bool)
    card_spend_dispute_management: bool = attrs.field(
        default=False, validator=_check_bool
    )
    cardholder_management: bool = attrs.field(default=False, validator=_check_bool)
    spend_control_management: bool = attrs.field(default=False, validator=_check_bool)


@attrs.frozen(kw_only=True)
class IssuingCardsListComponent(_Component):
    """Connect's ``issuing-cards-list`` component (``issuing_cards_list``).

    The features of `IssuingCardComponent`, and
    ``disable_stripe_user_authentication``, which Stripe allows only where
    the account's ``controller.requirement_collection`` is ``application``.
    """

    stripe_name: ClassVar[str] = "issuing_cards_list"

    card_management: bool = attrs.field(default=False, validator=_check_bool)
    card_spend_dispute_management: bool = attrs.field(
        default=False, validator=_check_bool
    )
    cardholder_management: bool = attrs.field(default=False, validator=_check_bool)
    spend_control_management: bool = attrs.field(default=False, validator=_check_bool)
    disable_stripe_user_authentication: bool = attrs.field(
        default=False, validator=_check_bool
    )


Component: TypeAlias = IssuingCardComponent | IssuingCardsListComponent
"""A component an `AccountSessionGrant` may open."""


def _check_account(
    _instance: object, attribute: attrs.Attribute[str], value: object
) -> None:
    if not is_account_id(value):
        raise ValueError(
            f"{attribute.name} must be a connected account id (acct_...), "
            f"not {describe(value)}"
        )


def _components(value: Iterable[Component]) -> tuple[Component, ...]:
    given: object = value  # the annotation is a promise only callers can break
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise TypeError(
            "components must be a tuple of IssuingCardComponent or "
            f"IssuingCardsListComponent, not {describe(given)}"
        )
    return tuple(value)


def _check_components(
    _instance: object, _attribute: object, value: tuple[Component, ...]
) -> None:
    kinds = [type(component) for component in value]
    if not kinds:
        raise ValueError("components must name at least one component")
    for kind in kinds:
        if kind not in (IssuingCardComponent, IssuingCardsListComponent):
            raise TypeError(
                "components must hold IssuingCardComponent or "
                f"IssuingCardsListComponent values, not a {kind.__name__}"
            )
    if len(set(kinds)) != len(kinds):
        raise ValueError("components names a component twice")


@attrs.frozen
class AccountSessionRequest:
    """What the admin page asks for, already checked for shape.

    Attributes:
        account: The connected account the page names (``acct_...``), or
            ``None`` when it names none (the admin's only account, say).
            The ``account_sessions=`` authorizer decides what it means.
    """

    account: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(_check_account)
    )


@attrs.frozen
class AccountSessionGrant:
    """An ``account_sessions=`` authorizer's yes: one account, these components.

    Attributes:
        account: The connected account the session is for; when the page
            named one, it must be that one.
        components: The components to open, each with the features it
            grants; at least one, each kind once. Stripe receives only these,
            enabled, with every feature as given here.
    """

    account: str = attrs.field(validator=_check_account)
    components: tuple[Component, ...] = attrs.field(
        converter=_components, validator=_check_components
    )


@attrs.frozen
class AccountSession:
    """An Account Session that Stripe created for a grant.

    ``client_secret`` is what the page's ``fetchClientSecret`` returns. It
    never appears in ``repr()`` or ``str()``.
    """

    account: str
    client_secret: str = attrs.field(repr=False)
    expires_at: int
    components: tuple[Component, ...]
