"""Fuzzing the endpoint: ``handle`` and ``ahandle`` over whatever a client can send.

Hypothesis draws the user, the headers, the content type and the body
(arbitrary bytes, JSON objects with right, wrong, extra and duplicate fields,
deep nesting, huge numbers, unicode, ids that almost match, form bodies),
mostly invalid, sometimes valid (a nonce minted by FakeStripe for the card).
An oracle written here from the wire contract, not from the parser, says
what each request deserves; every answer must then be that one, and:

* no exception, and no 5xx for anything a client sends;
* a body that is JSON: the four 200 fields, or ``{"error": {"code",
  "message"}}`` with a documented code, under 1 KiB;
* ``Cache-Control: no-store`` on every answer;
* Stripe (a real FakeStripe over HTTP) is called only for a valid request
  the authorizer granted;
* exactly one audit event per call, holding no secret and no nonce.

The quick profile runs in the normal test command. ``make fuzz`` sets
``ISSUING_ELEMENTS_FUZZ_EXAMPLES`` (the total, split between the sync and
the async property) and prints how many examples ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import string
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl, quote, quote_plus

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuing_elements import (
    AuditEvent,
    EphemeralKeyIssuer,
    Grant,
    HttpResponse,
    KeyRequest,
    MemoryRateLimiter,
    RateLimit,
)
from issuing_elements.testing import FakeStripe

TOTAL_EXAMPLES = int(os.environ.get("ISSUING_ELEMENTS_FUZZ_EXAMPLES", "0") or 0)

settings.register_profile(
    "fuzz-quick",
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-long",
    # Half for the sync property, half for the async one.
    max_examples=max(1, TOTAL_EXAMPLES // 2),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("fuzz-long" if TOTAL_EXAMPLES else "fuzz-quick")

ALLOWED_ORIGIN = "https://app.example.com"
MAX_BODY_BYTES = 8192  # above Python's 4300-digit int limit, so that path is fuzzed
ACCOUNT = "acct_fuzzConnected"
OWNED: Mapping[tuple[str, str], Grant] = {
    ("alice", "ic_fuzzAlice"): Grant(),
    ("alice", "ic_fuzzConnect"): Grant(stripe_account=ACCOUNT),
    ("bob", "ic_fuzzBob"): Grant(),
}
CARDS = {card: grant.stripe_account for (_, card), grant in OWNED.items()}

DOCUMENTED_CODES = frozenset(
    {
        "invalid_request",
        "invalid_nonce",
        "unauthenticated",
        "card_not_found",
        "body_too_large",
        "unsupported_media_type",
        "rate_limited",
        "forbidden_origin",
        "server_misconfigured",
        "stripe_unavailable",
        "service_unavailable",
    }
)
STATUS_OF = {
    "granted": 200,
    "invalid_request": 400,
    "invalid_nonce": 400,
    "unauthenticated": 401,
    "forbidden_origin": 403,
    "card_not_found": 404,
    "body_too_large": 413,
    "unsupported_media_type": 415,
}
# A secret is its prefix and key material; a masked one ("ek_test_[REDACTED]") is not.
SECRET = re.compile(r"(?:sk|rk|ek)_(?:test|live)_[A-Za-z0-9]{4,}")

# The wire contract's id shapes (docs/security.md: checked for shape and length).
CARD_ID = re.compile(r"ic_[A-Za-z0-9]{1,250}")
NONCE = re.compile(r"ephkn_[A-Za-z0-9_]{1,500}")

# A stand-in the test swaps for a nonce FakeStripe mints for the request's
# card: the one valid nonce a strategy cannot know in advance.
MINT = "ephkn_MINT"


# -- strategies ---------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
# Characters that look like they belong in an id, and do not.
NEAR = [
    *ALNUM,
    "_", "-", ".", " ", "\t", "\n", "\r", "\x00", "%", "/", "\\", '"', "'",
    "\u00e9", "\u00df", "\u0130", "\u0131", "\u212a", "\u0661", "\uff21", "\uff41",
    "\uff10", "\u200b", "\ufeff", "\U0001f600",
]  # fmt: skip
near_text = st.text(alphabet=st.sampled_from(NEAR), max_size=30)
# What a confused client may paste anywhere: a Stripe secret.
pasted_secrets = st.builds(
    lambda prefix, tail: prefix + tail,
    st.sampled_from(["sk_test_", "sk_live_", "rk_live_", "ek_test_", "EK_LIVE_"]),
    st.text(st.sampled_from(ALNUM), min_size=4, max_size=12),
)


def _prefixed(prefix: str, alphabet: str, top: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.sampled_from(alphabet), min_size=1, max_size=24).map(
            lambda tail: prefix + tail
        ),
        st.integers(top - 2, top + 2).map(lambda n: prefix + "a" * n),
        near_text.map(lambda tail: prefix + tail),
        near_text.map(lambda tail: tail + prefix),
    )


card_ids = st.one_of(
    st.sampled_from(sorted(CARDS)),
    st.sampled_from(sorted(CARDS)),
    st.sampled_from(
        [
            "ic_",
            "IC_fuzzAlice",
            "ic-fuzzAlice",
            "ic_fuzzAlice\n",
            " ic_fuzzAlice",
            "ic_fuzzAlice ",
            "ic_fuzz_Alice",
            "ic_fuzzAlicé",
            "ic_fuzzAlice\x00",
            "ic_fuzzAlic\u0435",  # a Cyrillic e
            "ic_\uff46uzzAlice",  # a fullwidth f
            "ic_fuzzBob",
        ]
    ),
    _prefixed("ic_", ALNUM, 250),
    st.text(max_size=20),
)
nonces = st.one_of(
    st.just(MINT),
    st.just(MINT),
    st.sampled_from(
        [
            "ephkn_",
            "ephkn_pub_",
            "EPHKN_pub_abc",
            "ephkn_pub_abc\n",
            "ephkn-pub-abc",
            "ephkn_pub_abc def",
            "ephkn_pub_\uff41bc",  # a fullwidth a
            "ek_test_notanonce",
        ]
    ),
    _prefixed("ephkn_pub_", ALNUM + "_", 490),
    _prefixed("ephkn_", ALNUM + "_", 500),
    st.text(max_size=20),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    # NaN and infinities too: json.dumps writes them, json.loads reads them.
    st.floats(),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


def _dumps(value: object, *, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


# A JSON value written as raw text: drawn values, and the texts that stress a
# parser (deep nesting, numbers past Python's digit limit, odd literals).
raw_json_values = st.one_of(
    st.builds(
        _dumps, st.one_of(card_ids, nonces, json_values), ascii_only=st.booleans()
    ),
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 1500).map(lambda depth: '{"a":' * depth + "0" + "}" * depth),
    st.integers(4290, 4310).map(lambda digits: "9" * digits),
    st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "-0", "0.0e-400", "1E400"]),
    st.sampled_from(['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"ic_\\u0061"']),
)

field_names = st.one_of(
    st.sampled_from(
        [
            "card_id",
            "nonce",
            "Card_id",
            "card_id ",
            "cardId",
            "card\u0131d",
            "nonce\x00",
            "stripe_account",
            "api_version",
            "stripe_version",
            "expand",
            "",
        ]
    ),
    st.text(max_size=60),
    pasted_secrets,
    # Long names that escape to many characters in an error's JSON.
    st.text(
        st.sampled_from(["\U0001f600", "\x00", "\u00e9"]), min_size=30, max_size=60
    ),
)


@st.composite
def json_objects(draw: st.DrawFn) -> bytes:
    """A JSON object: the two fields or not, extra ones, duplicates, any order."""
    pairs: list[tuple[str, str]] = []
    ascii_only = draw(st.booleans())
    if draw(st.integers(0, 9)):
        pairs.append(("card_id", _dumps(draw(card_ids), ascii_only=ascii_only)))
    if draw(st.integers(0, 9)):
        pairs.append(("nonce", _dumps(draw(nonces), ascii_only=ascii_only)))
    if draw(st.integers(0, 3)) == 0:
        pairs += draw(st.lists(st.tuples(field_names, raw_json_values), max_size=12))
    if draw(st.integers(0, 4)) == 0:
        pairs = draw(st.permutations(pairs))
    space = draw(st.sampled_from(["", " ", "\n\t ", "\r\n"]))
    text = "{" + ",".join(
        f"{space}{_dumps(name, ascii_only=ascii_only)}{space}:{space}{value}"
        for name, value in pairs
    ) + space + "}"  # fmt: skip
    encoding = draw(
        st.sampled_from(["utf-8"] * 12 + ["utf-8-sig", "utf-16", "latin-1"])
    )
    return text.encode(encoding, errors="replace")


@st.composite
def form_bodies(draw: st.DrawFn) -> bytes:
    """Form encoding: right, wrong, extra and duplicate fields, odd escapes."""
    pairs: list[tuple[str, str]] = []
    if draw(st.integers(0, 9)):
        pairs.append(("card_id", draw(card_ids)))
    if draw(st.integers(0, 9)):
        pairs.append(("nonce", draw(nonces)))
    if draw(st.integers(0, 3)) == 0:
        extra = st.tuples(field_names, st.text(max_size=20))
        pairs += draw(st.lists(extra, max_size=14))
    if draw(st.integers(0, 4)) == 0:
        pairs = draw(st.permutations(pairs))
    quoting = draw(st.sampled_from([quote_plus, quote, lambda text: text]))
    separator = draw(st.sampled_from(["&"] * 8 + [";", "&&", "&amp;"]))
    text = separator.join(f"{quoting(name)}={quoting(value)}" for name, value in pairs)
    if draw(st.integers(0, 9)):
        return text.encode("utf-8")
    return text.encode("latin-1", "replace")


bodies = st.one_of(
    json_objects(),
    json_objects(),
    json_objects(),
    form_bodies(),
    form_bodies(),
    st.binary(max_size=300),
    st.builds(_dumps, json_values, ascii_only=st.booleans()).map(str.encode),
    st.builds(
        lambda body, cut: body[:cut], json_objects(), st.integers(0, 200)
    ),  # truncated
    st.integers(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 40).map(
        b'{"card_id": "ic_fuzzAlice", "nonce": "x"}'.ljust
    ),
)

MEDIA_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
]
PARAMS = [
    "",
    "; charset=utf-8",
    ";charset=UTF-8",
    '; charset="utf-8"',
    "; charset=utf8",
    "; Charset=UTF8",
    "; charset=latin-1",
    "; charset=utf-16",
    "; charset=",
    "; charset",
    "; boundary=x; charset=utf-8",
    "; charset=utf-8; charset=latin-1",
    ";;;",
    ";",
]
content_types = st.one_of(
    st.sampled_from(MEDIA_TYPES),
    st.sampled_from(MEDIA_TYPES),
    st.builds(
        lambda media, case, params: case(media) + params,
        st.sampled_from(MEDIA_TYPES),
        st.sampled_from([str, str.upper, str.title, lambda text: f" {text} "]),
        st.sampled_from(PARAMS),
    ),
    st.builds(
        lambda media, params: f"{media};{params}",
        st.sampled_from(MEDIA_TYPES),
        st.text(max_size=30),
    ),
    st.sampled_from(
        [
            "application/jsonx",
            "application/json+ld",
            "application/vnd.api+json",
            "text/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded-x",
            "*/*",
            "application/*",
        ]
    ),
    st.none(),
    st.just(""),
    st.text(max_size=40),
    pasted_secrets,
)

users = st.one_of(
    st.none(),
    st.sampled_from(["alice", "bob"]),
    st.sampled_from(["alice", "bob"]),
    st.sampled_from(["alice", "bob"]),
    st.text(max_size=20),
)

header_names = {
    "origin": ["Origin", "origin", "ORIGIN"],
    "sec-fetch-site": ["Sec-Fetch-Site", "sec-fetch-site"],
    "x-request-id": ["X-Request-Id", "x-request-id"],
    "user-agent": ["User-Agent", "user-agent"],
}
header_values = {
    "origin": st.one_of(
        st.just(ALLOWED_ORIGIN),
        st.just(ALLOWED_ORIGIN),
        st.just(ALLOWED_ORIGIN),
        st.just(ALLOWED_ORIGIN),
        st.sampled_from(
            [
                ALLOWED_ORIGIN,
                ALLOWED_ORIGIN.upper(),
                ALLOWED_ORIGIN + "/",
                ALLOWED_ORIGIN + ":443",
                "http://app.example.com",
                "https://app.example.com.evil.example",
                "https://evil.example",
                "null",
                "",
            ]
        ),
        st.text(max_size=40),
    ),
    "sec-fetch-site": st.one_of(
        st.sampled_from(["same-origin", "same-site"]),
        st.sampled_from(
            ["same-origin", "same-site", "cross-site", "CROSS-SITE", "none"]
        ),
        st.text(max_size=12),
    ),
    # Past the audit trail's 256 characters, sometimes.
    "x-request-id": st.one_of(st.text(max_size=40), st.just("r" * 300), pasted_secrets),
    "user-agent": st.one_of(
        st.text(max_size=40), st.just("Mozilla/5.0 " * 30), pasted_secrets
    ),
}


@st.composite
def header_maps(draw: st.DrawFn) -> dict[str, str] | None:
    """Request headers, any case, sometimes two spellings of one header."""
    if draw(st.integers(0, 9)) == 0:
        return None
    headers: dict[str, str] = {}
    for name, spellings in header_names.items():
        # Mostly one spelling or none; sometimes two, which the issuer must join.
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 1, 2]))):
            headers[draw(st.sampled_from(spellings))] = draw(header_values[name])
    others = st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=2)
    headers.update(draw(others))
    return headers


@attrs.frozen
class Call:
    """One request to the endpoint, as an adapter would pass it."""

    user: str | None
    body: bytes
    content_type: str | None
    headers: dict[str, str] | None
    client_ip: str | None


client_ips = st.one_of(
    st.none(), st.sampled_from(["203.0.113.7", "::1"]), st.text(max_size=20)
)
fuzzed_calls = st.builds(
    Call,
    user=users,
    body=bodies,
    content_type=content_types,
    headers=header_maps(),
    client_ip=client_ips,
)


@st.composite
def valid_calls(draw: st.DrawFn) -> Call:
    """A request as the allowed page sends it; the card may be another user's."""
    card = draw(st.sampled_from(sorted(CARDS)))
    media = draw(st.sampled_from(MEDIA_TYPES))
    # A nonce minted for the card, or one Stripe never made (invalid_nonce).
    nonce = draw(st.sampled_from([MINT, MINT, MINT, "ephkn_pub_neverMinted"]))
    if media == "application/json":
        body = json.dumps({"card_id": card, "nonce": nonce}).encode()
    else:
        body = f"card_id={card}&nonce={nonce}".encode()
    headers = draw(
        st.sampled_from(
            [
                None,
                {"Origin": ALLOWED_ORIGIN},
                {"origin": ALLOWED_ORIGIN, "sec-fetch-site": "same-origin"},
                {"Sec-Fetch-Site": "same-origin", "User-Agent": "Mozilla/5.0"},
            ]
        )
    )
    return Call(
        user=draw(st.sampled_from(["alice", "bob"])),
        body=body,
        content_type=media,
        headers=headers,
        client_ip=draw(client_ips),
    )


# Mostly invalid input; one call in five is a valid one, so Stripe's side is fuzzed too.
calls = st.one_of(valid_calls(), fuzzed_calls, fuzzed_calls, fuzzed_calls, fuzzed_calls)


# -- the oracle -----------------------------------------------------------------


def _lowercase(headers: Mapping[str, str] | None) -> dict[str, str]:
    """By lower-case name; two different values of one header read joined."""
    merged: dict[str, str] = {}
    for name, value in (headers or {}).items():
        earlier = merged.get(name.lower())
        merged[name.lower()] = (
            value if earlier in (None, value) else f"{earlier}, {value}"
        )
    return merged


class _Object(list[tuple[str, object]]):
    """A JSON object as its pairs, so that duplicates count."""


def _fields(body: bytes, content_type: str | None) -> list[tuple[str, object]] | str:
    """The body's fields, or the error code it deserves."""
    media, _, params = (content_type or "").partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset not in (None, "utf-8", "utf8"):
        return "unsupported_media_type"
    media = media.strip().lower()
    if media == "application/json":
        try:
            document = json.loads(body.decode("utf-8"), object_pairs_hook=_Object)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return "invalid_request"
        return list(document) if isinstance(document, _Object) else "invalid_request"
    if media == "application/x-www-form-urlencoded":
        try:
            text = body.decode("ascii")
            pairs = parse_qsl(
                text,
                keep_blank_values=True,
                strict_parsing=bool(text),
                errors="strict",
            )
        except (UnicodeDecodeError, ValueError):
            return "invalid_request"
        return list(pairs)
    return "unsupported_media_type"


def expected_outcome(call: Call) -> tuple[str, KeyRequest | None]:  # noqa: PLR0911 - one return per rule of the contract
    """What the wire contract says *call* deserves, in the documented order.

    Returns the error code, or ``"authorize"`` with the request the
    authorizer should see.
    """
    headers = _lowercase(call.headers)
    origin = headers.get("origin")
    if origin is not None:
        if origin.lower() != ALLOWED_ORIGIN:
            return "forbidden_origin", None
    elif headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "forbidden_origin", None
    if call.user is None:
        return "unauthenticated", None
    if len(call.body) > MAX_BODY_BYTES:
        return "body_too_large", None
    fields = _fields(call.body, call.content_type)
    if isinstance(fields, str):
        return fields, None
    names = [name for name, _ in fields]
    if sorted(names) != ["card_id", "nonce"]:
        return "invalid_request", None
    values = dict(fields)
    card_id, nonce = values["card_id"], values["nonce"]
    if not (isinstance(card_id, str) and CARD_ID.fullmatch(card_id)):
        return "invalid_request", None
    if not (isinstance(nonce, str) and NONCE.fullmatch(nonce)):
        return "invalid_request", None
    return "authorize", KeyRequest(card_id=card_id, nonce=nonce)


# -- the world under test ----------------------------------------------------------


class Endpoint:
    """An issuer with every control on, FakeStripe behind it, and what it did."""

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.events: list[AuditEvent] = []
        self.asked: list[tuple[str, KeyRequest]] = []
        self.examples = 0
        self.outcomes: dict[str, int] = {}
        self.issuer: EphemeralKeyIssuer[str] = EphemeralKeyIssuer(
            fake.client(),
            self.authorize,
            api_version="2020-03-02",
            max_network_retries=0,
            max_body_bytes=MAX_BODY_BYTES,
            audit=self.events.append,
            rate_limiter=MemoryRateLimiter(
                per_user=RateLimit(limit=1_000_000, window_seconds=60),
                per_card=RateLimit(limit=1_000_000, window_seconds=60),
            ),
            allowed_origins=(ALLOWED_ORIGIN,),
        )

    def authorize(self, user: str, request: KeyRequest) -> Grant | None:
        self.asked.append((user, request))
        return OWNED.get((user, request.card_id))

    def prepare(self, call: Call) -> Call:
        """Swap the MINT stand-in for a nonce FakeStripe mints for the body's card."""
        if MINT.encode() not in call.body:
            return call
        card = next((card for card in CARDS if card.encode() in call.body), None)
        if card is None:
            return call
        minted = self.fake.create_nonce(card, account=CARDS[card]).encode()
        return attrs.evolve(call, body=call.body.replace(MINT.encode(), minted))

    def check(self, call: Call, answer: HttpResponse, stripe_calls: int) -> None:
        self.examples += 1
        expected, request = expected_outcome(call)
        assert isinstance(answer, HttpResponse)
        assert "no-store" == answer.headers.get("Cache-Control")
        assert "application/json" == answer.headers.get("Content-Type")
        document = json.loads(answer.body, parse_constant=_refuse_constant)
        assert answer.status < 500, (answer.status, document)

        if expected == "authorize":
            assert request is not None
            assert [(call.user, request)] == self.asked
            granted = (call.user, request.card_id) in OWNED
            outcome = self._stripe_outcome(document) if granted else "card_not_found"
            assert (1 if granted else 0) == stripe_calls
        else:
            outcome = expected
            assert [] == self.asked
            assert 0 == stripe_calls
        assert STATUS_OF[outcome] == answer.status, (expected, document)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

        if outcome == "granted":
            assert request is not None
            secret = document["ephemeralKeySecret"]
            assert {
                "ephemeralKeySecret": secret,
                "issuingCard": request.card_id,
                "nonce": request.nonce,
                "expires": document["expires"],
            } == document
            assert secret.startswith("ek_test_")
        else:
            assert [outcome] == [document["error"]["code"]]
            assert outcome in DOCUMENTED_CODES
            assert {"error"} == set(document)
            assert {"code", "message"} == set(document["error"])
            assert isinstance(document["error"]["message"], str)
            assert len(answer.body) < 1024, answer.body[:200]

        [event] = self.events
        assert ("issue", outcome) == (event.action, event.outcome)
        # Past the origin check and authentication, the trail names the user,
        # even when the body then turns out malformed.
        known = expected not in ("forbidden_origin", "unauthenticated")
        assert (call.user if known else None) == event.user_id
        assert (request.card_id if request is not None else None) == event.card_id
        forbidden = [*_nonces_in(call), *([secret] if outcome == "granted" else [])]
        _check_no_secret_or_nonce(event, call, forbidden)

    @staticmethod
    def _stripe_outcome(document: dict[str, object]) -> str:
        if "error" in document:
            error = document["error"]
            assert isinstance(error, dict)
            code = error["code"]
            assert code == "invalid_nonce", document
            return "invalid_nonce"
        return "granted"

    def reset(self) -> int:
        self.events.clear()
        self.asked.clear()
        return len(self.fake.requests)


def _refuse_constant(name: str) -> object:
    raise AssertionError(f"{name} is not JSON")


def _nonces_in(call: Call) -> list[str]:
    """The nonces the body holds, as the oracle reads it."""
    fields = _fields(call.body, call.content_type)
    if isinstance(fields, str):
        return []
    return [
        value
        for name, value in fields
        if name == "nonce" and isinstance(value, str) and NONCE.fullmatch(value)
    ]


def _check_no_secret_or_nonce(
    event: AuditEvent, call: Call, forbidden: list[str]
) -> None:
    """No field holds a secret, nor a nonce but one the client sent in a header."""
    headers = _lowercase(call.headers)
    echoed = {
        "request_id": headers.get("x-request-id"),
        "user_agent": headers.get("user-agent"),
        "client_ip": call.client_ip,
        "user_id": call.user,
    }
    for name, value in event.to_dict().items():
        if value is None or name == "time":
            continue
        assert SECRET.search(value) is None, (name, value)
        given = echoed.get(name)
        if given is not None and given.startswith(value):
            continue  # a nonce the client put in a header comes back as sent
        assert not any(text in value for text in forbidden), (name, value)


# -- the properties ------------------------------------------------------------------


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with FakeStripe() as fake:
        for card, account in CARDS.items():
            fake.add_card(card, account=account)
        yield Endpoint(fake)


def _report(endpoint: Endpoint, twin: str) -> None:
    outcomes = ", ".join(f"{name} {n}" for name, n in sorted(endpoint.outcomes.items()))
    # make fuzz runs pytest -s and prints this count.
    print(f"\nfuzz {twin}: {endpoint.examples} examples ({outcomes})")  # noqa: T201


def test_handle_answers_every_input_by_the_contract(endpoint: Endpoint) -> None:
    @PROFILE
    @given(call=calls)
    def check(call: Call) -> None:
        call = endpoint.prepare(call)
        before = endpoint.reset()
        answer = endpoint.issuer.handle(
            call.user,
            body=call.body,
            content_type=call.content_type,
            headers=call.headers,
            client_ip=call.client_ip,
        )
        endpoint.check(call, answer, len(endpoint.fake.requests) - before)

    try:
        check()
    finally:
        _report(endpoint, "handle")
    assert endpoint.examples >= PROFILE.max_examples


def test_ahandle_answers_every_input_by_the_contract(endpoint: Endpoint) -> None:
    loop = asyncio.new_event_loop()

    @PROFILE
    @given(call=calls)
    def check(call: Call) -> None:
        call = endpoint.prepare(call)
        before = endpoint.reset()
        answer = loop.run_until_complete(
            endpoint.issuer.ahandle(
                call.user,
                body=call.body,
                content_type=call.content_type,
                headers=call.headers,
                client_ip=call.client_ip,
            )
        )
        endpoint.check(call, answer, len(endpoint.fake.requests) - before)

    try:
        check()
    finally:
        loop.close()
        _report(endpoint, "ahandle")
    assert endpoint.examples >= PROFILE.max_examples


# -- what the fuzzing found ------------------------------------------------------------


def test_an_error_lists_a_few_unknown_fields_and_stays_under_1_kib(
    endpoint: Endpoint,
) -> None:
    names = ["\U0001f600" * 40 + str(n) for n in range(20)]
    fields = {"card_id": "ic_fuzzAlice", "nonce": "ephkn_pub_x", **dict.fromkeys(names)}
    body = json.dumps(fields, ensure_ascii=False).encode()

    answer = endpoint.issuer.handle("alice", body=body, content_type="application/json")

    message = json.loads(answer.body)["error"]["message"]
    assert (400, True) == (answer.status, "and 17 more" in message)
    assert len(answer.body) < 1024


def test_a_secret_in_the_content_type_is_masked_in_the_audit_event(
    endpoint: Endpoint,
) -> None:
    endpoint.issuer.handle(
        "alice", body=b"{}", content_type="ek_test_PastedByMistake0000"
    )

    [event] = endpoint.events
    assert "Unsupported media type 'ek_test_[REDACTED]'." == event.reason


def test_a_secret_in_a_header_is_masked_in_the_audit_event(
    endpoint: Endpoint,
) -> None:
    endpoint.issuer.handle(
        None,
        body=b"{}",
        content_type="application/json",
        headers={"User-Agent": "curl sk_live_PastedByMistake0000"},
    )

    [event] = endpoint.events
    assert "curl sk_live_[REDACTED]" == event.user_agent
