"""Request in: normalize what the adapter hands over, once, at the edge.

The request's headers become a `RequestContext` (lower-case names,
string values), and the browser's body a checked
[`KeyRequest`][issuing_elements.KeyRequest]. The wire contract accepts JSON
or form-encoded bodies holding exactly ``card_id`` and ``nonce``. Everything
else is refused with an error that names the field and never echoes a value.
"""

from __future__ import annotations

import json
import logging
import types
from typing import TYPE_CHECKING, NoReturn, cast
from urllib.parse import parse_qsl

import attrs

from ._components import AccountSessionRequest
from ._ids import api_version_problem, is_account_id, is_card_id, is_nonce
from ._records import KeyRequest, MobileKeyRequest
from ._redact import redact
from .exceptions import (
    BodyTooLargeError,
    InvalidRequestError,
    ServerMisconfiguredError,
    UnsupportedMediaTypeError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger("issuing_elements")

FIELDS = ("card_id", "nonce")
MOBILE_FIELDS = ("card_id", "api_version")
# Connect.js's fetchEphemeralKey is handed {issuingCard, nonce}: the page may
# post that argument unchanged.
_ALIASES = {"issuingCard": "card_id"}
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
# Field names, media types and charsets are echoed in errors: the client's own
# text. So that the answer stays small (under 1 KiB, whatever the body limit)
# and holds no secret, a few names at most are listed, each with any secret
# masked, cut short, and shown only in characters JSON need not escape.
_NAME_ECHO_LIMIT = 40
_NAMES_ECHOED = 3
_ECHOABLE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.[]/ "
)


@attrs.frozen
class RequestContext:
    """Where a request comes from: its headers by lower-case name, and its address.

    Built once by `request_context`; nothing downstream reads the
    adapter's raw mapping again.
    """

    headers: Mapping[str, str] = attrs.field(factory=dict)
    client_ip: str | None = None

    def header(self, name: str) -> str | None:
        """The value of the header *name* (lower case), if the request sent it."""
        return self.headers.get(name)


NO_CONTEXT = RequestContext(headers=types.MappingProxyType({}))

# What a WSGI or CGI environ holds besides its HTTP_* variables that is a
# header too (PEP 3333, RFC 3875 4.1.3 and 4.1.2).
_ENVIRON_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def environ_headers(environ: Mapping[str, object]) -> Mapping[str, str]:
    """The request headers a WSGI or CGI *environ* holds, for ``headers=``.

    ``headers=`` of [`handle`][issuing_elements.EphemeralKeyIssuer.handle]
    and its siblings is always a mapping of HTTP headers: no name a client
    sends makes it read as an environ. An adapter that holds only an
    environ (a bare WSGI app, Django's ``request.META``) passes
    ``headers=environ_headers(environ)``: the ``HTTP_*`` variables, as the
    headers they name (``HTTP_X_REQUEST_ID`` is ``x-request-id``), and
    ``CONTENT_TYPE`` and ``CONTENT_LENGTH``; every other variable is left
    out. A value that is not a ``str`` is kept as it is, so that the issuer
    refuses it (500 ``server_misconfigured``) instead of reading the
    request without it.

    Args:
        environ: The request's WSGI (PEP 3333) or CGI environ.

    Returns:
        A read-only mapping from lower-case header names to their values.
    """
    headers: dict[str, object] = {}
    # Read as the adapter really passed it, whatever the annotation says.
    pairs: list[tuple[object, object]] = list(environ.items())
    for name, value in pairs:
        if not isinstance(name, str):
            continue  # names no header
        if name in _ENVIRON_HEADERS:
            headers[_ENVIRON_HEADERS[name]] = value
        elif (
            name.startswith("HTTP_")
            and name[5:]
            and name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")
        ):
            headers[name[5:].replace("_", "-").lower()] = value
    # A value that is not a str stays, for the issuer to refuse: typed as the
    # str it should be, which request_context checks.
    return cast("Mapping[str, str]", types.MappingProxyType(headers))


def request_context(
    headers: Mapping[str, str] | None, client_ip: str | None
) -> RequestContext:
    """Normalize the adapter's *headers* and *client_ip*, or refuse them.

    *headers* are HTTP headers, read in any case, whatever their names: a
    WSGI environ is read through `environ_headers`, never recognized here,
    so that no header a client sends changes how the others are read. A
    mapping whose header values are not strings (bytes, lists, the tuple of
    an environ's ``wsgi.version``) cannot be read: treating it as "no
    ``Origin``" would turn the origin check off without a word, so it is
    refused as a server misconfiguration. A header given twice with two
    values reads as the values joined by ``", "``, as HTTP combines them.

    Raises:
        ServerMisconfiguredError: *headers* is not a mapping of strings.
    """
    if not headers:
        return RequestContext(client_ip=_address(client_ip))
    items = getattr(headers, "items", None)
    if not callable(items):
        _unreadable(f"headers must be a mapping, not {type(headers).__name__}")
    # Read as the adapter really passed them, whatever the annotation says;
    # a multi-dict (Werkzeug's) yields a repeated header once per value.
    pairs: list[tuple[object, object]] = list(items())
    normalized: dict[str, str] = {}
    for name, value in pairs:
        if not isinstance(name, str):
            _unreadable(f"a header name is a {type(name).__name__}, not a str")
        if not isinstance(value, str):
            _unreadable(
                f"the value of header {name.lower()!r} is a "
                f"{type(value).__name__}, not a str"
            )
        lowered = name.lower()
        # A header sent twice is one list of values (RFC 9110, 5.3): an
        # Origin of "a, b" is no allowed origin.
        earlier = normalized.get(lowered)
        if earlier is None or earlier == value:
            normalized[lowered] = value
        else:
            normalized[lowered] = f"{earlier}, {value}"
    return RequestContext(
        headers=types.MappingProxyType(normalized), client_ip=_address(client_ip)
    )


def _address(client_ip: object) -> str | None:
    return client_ip if isinstance(client_ip, str) else None


def _unreadable(why: str) -> NoReturn:
    logger.error(
        "The adapter passed headers the issuer cannot read: %s. Pass the "
        "request's headers as a mapping of str to str (Flask request.headers, "
        "Django request.headers, Starlette request.headers); a WSGI environ "
        "(Django request.META) goes through "
        "headers=issuing_elements.environ_headers(environ); answering 500.",
        redact(why),
    )
    raise ServerMisconfiguredError("The request's headers cannot be read.")


def check_ids(card_id: object, nonce: object) -> KeyRequest:
    """Check the two fields' shapes; the first error names its field."""
    if not is_card_id(card_id):
        raise InvalidRequestError(
            "card_id must be an Issuing card id (ic_...).", field="card_id"
        )
    if not is_nonce(nonce):
        raise InvalidRequestError(
            "nonce must be an ephemeral key nonce (ephkn_...) from "
            "stripe.createEphemeralKeyNonce().",
            field="nonce",
        )
    return KeyRequest(card_id=card_id, nonce=nonce)


def parse_key_request(
    body: bytes, content_type: str | None, *, max_body_bytes: int
) -> KeyRequest:
    """Parse and check the web endpoint's body: exactly ``card_id`` and ``nonce``."""
    pairs = body_pairs(body, content_type, max_body_bytes=max_body_bytes)
    if {"card_id", "issuingCard"} <= {name for name, _ in pairs}:
        raise InvalidRequestError(
            "Send card_id or issuingCard (its Connect.js name), not both.",
            field="issuingCard",
        )
    aliased = [(_ALIASES.get(name, name), value) for name, value in pairs]
    fields = _exact_fields(aliased, FIELDS)
    return check_ids(fields["card_id"], fields["nonce"])


def parse_mobile_request(
    body: bytes, content_type: str | None, *, max_body_bytes: int
) -> MobileKeyRequest:
    """Parse and check the mobile endpoint's body: ``card_id`` and ``api_version``.

    A mobile SDK sends no nonce: a ``nonce`` is an unknown field here.
    """
    pairs = body_pairs(body, content_type, max_body_bytes=max_body_bytes)
    fields = _exact_fields(pairs, MOBILE_FIELDS)
    return check_mobile(fields["card_id"], fields["api_version"])


def check_mobile(card_id: object, api_version: object) -> MobileKeyRequest:
    """Check a mobile request's two fields; the first error names its field."""
    if not is_card_id(card_id):
        raise InvalidRequestError(
            "card_id must be an Issuing card id (ic_...).", field="card_id"
        )
    problem = api_version_problem(api_version)
    if problem is not None:
        raise InvalidRequestError(
            f"api_version {problem}: send the Stripe API version your mobile "
            "SDK names.",
            field="api_version",
        )
    return MobileKeyRequest(
        KeyRequest(card_id=card_id, nonce=None),
        api_version,  # type: ignore[arg-type]  # a str: checked above
    )


def body_pairs(
    body: bytes, content_type: str | None, *, max_body_bytes: int
) -> list[tuple[str, object]]:
    """The body's fields as name/value pairs, duplicates kept: JSON or a form."""
    if len(body) > max_body_bytes:
        raise BodyTooLargeError(
            f"The body has {len(body)} bytes; the limit is {max_body_bytes}."
        )
    media_type, charset = _media_type(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedMediaTypeError(f"Unsupported charset {_echo(charset)}.")
    if media_type == _JSON:
        return _json_pairs(body)
    if media_type == _FORM:
        return _form_pairs(body)
    raise UnsupportedMediaTypeError(
        f"Unsupported media type {_echo(media_type) if media_type else 'none'}."
    )


def _media_type(content_type: str | None) -> tuple[str | None, str | None]:
    if not content_type:
        return None, None
    media_type, *params = (part.strip() for part in content_type.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.lower(), charset


def _malformed(why: str) -> NoReturn:
    raise InvalidRequestError(f"The body is malformed: {why}.")


def _json_pairs(body: bytes) -> list[tuple[str, object]]:
    try:
        text = body.decode("utf-8")
        document = _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        _malformed("not valid UTF-8 JSON")
    if not isinstance(document, _Pairs):
        _malformed("a JSON object is expected")
    return list(document)


class _Pairs(list[tuple[str, object]]):
    """A JSON object as its list of pairs, so duplicate names stay visible."""


# Built once: json.loads with a hook builds a decoder per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs)


def _form_pairs(body: bytes) -> list[tuple[str, object]]:
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            errors="strict",
            max_num_fields=len(FIELDS) + 8,
        )
    except (UnicodeDecodeError, ValueError):
        _malformed("not valid form encoding")
    return list(pairs)


def _echo(text: str) -> str:
    """The client's *text*, safe to put in a message: short, plain, no secret."""
    masked = redact(text)
    shown = "".join(c if c in _ECHOABLE else "?" for c in masked[:_NAME_ECHO_LIMIT])
    return repr(shown + "..." if len(masked) > _NAME_ECHO_LIMIT else shown)


def _list_names(names: list[str]) -> str:
    """``'a', 'b', 'c' and 2 more``: at most a few names, each cut short."""
    listed = ", ".join(_echo(name) for name in names[:_NAMES_ECHOED])
    rest = len(names) - _NAMES_ECHOED
    return f"{listed} and {rest} more" if rest > 0 else listed


def _exact_fields(
    pairs: list[tuple[str, object]], expected: tuple[str, ...]
) -> dict[str, object]:
    names = [name for name, _ in pairs]
    unknown = [name for name in dict.fromkeys(names) if name not in expected]
    if unknown:
        raise InvalidRequestError(
            f"Unknown field(s): {_list_names(unknown)}. Send only "
            f"{' and '.join(expected)}; the server chooses the Stripe account"
            + (" and API version." if "api_version" not in expected else "."),
            field=redact(unknown[0])[:_NAME_ECHO_LIMIT],
        )
    for name in expected:
        count = names.count(name)
        if count == 0:
            raise InvalidRequestError(f"Missing field {name!r}.", field=name)
        if count > 1:
            raise InvalidRequestError(f"Field {name!r} is given twice.", field=name)
    return dict(pairs)


def parse_session_request(
    body: bytes, content_type: str | None, *, max_body_bytes: int
) -> AccountSessionRequest:
    """Parse the Account Session endpoint's body: empty, ``{}`` or ``{"account"}``.

    The page names at most the connected account; the components and their
    features are the server's to choose, so any other field is refused.
    """
    if not body:
        return AccountSessionRequest()
    pairs = body_pairs(body, content_type, max_body_bytes=max_body_bytes)
    names = [name for name, _ in pairs]
    unknown = [name for name in dict.fromkeys(names) if name != "account"]
    if unknown:
        raise InvalidRequestError(
            f"Unknown field(s): {_list_names(unknown)}. Send at most account; "
            "the server chooses the components and their features.",
            field=redact(unknown[0])[:_NAME_ECHO_LIMIT],
        )
    if len(names) > 1:
        raise InvalidRequestError("Field 'account' is given twice.", field="account")
    if not pairs:
        return AccountSessionRequest()
    account = pairs[0][1]
    if not is_account_id(account):
        raise InvalidRequestError(
            "account must be a connected account id (acct_...).", field="account"
        )
    return AccountSessionRequest(account=account)
