"""Origin checks on the endpoint, and the Content-Security-Policy for the page."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from pytest_httpserver import HTTPServer

from doors_and_twins import Door, Twin
from issuing_elements import EphemeralKeyIssuer, HttpResponse, environ_headers
from issuing_elements._csp import content_security_policy
from issuing_elements.exceptions import ConfigurationError
from stripe_wire import CARD, NONCE, key_object, owner_of

JSON = "application/json"
BODY = json.dumps({"card_id": CARD, "nonce": NONCE}).encode()
APP = "https://app.example.com"


@pytest.fixture
def guarded(stripe_client: stripe.StripeClient) -> EphemeralKeyIssuer[str]:
    return EphemeralKeyIssuer(
        stripe_client,
        owner_of({CARD: True}),
        max_network_retries=0,
        allowed_origins=(APP,),
    )


@pytest.fixture
def stripe_issues(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/ephemeral_keys").respond_with_json(key_object())


def code_of(response: HttpResponse) -> tuple[int, str | None]:
    document = json.loads(response.body)
    return response.status, document.get("error", {}).get("code")


@pytest.mark.usefixtures("stripe_issues")
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": APP}, id="listed origin"),
        pytest.param({"origin": "HTTPS://APP.EXAMPLE.COM"}, id="any case"),
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="same-origin, no Origin"),
        pytest.param({}, id="neither header"),
        pytest.param(None, id="no headers given"),
    ],
)
def test_allowed_requests_pass(
    guarded: EphemeralKeyIssuer[str], headers: dict[str, str] | None
) -> None:
    response = guarded.handle("alice", body=BODY, content_type=JSON, headers=headers)

    assert (200, None) == code_of(response)


@pytest.mark.parametrize(
    ("user", "body", "headers"),
    [
        pytest.param("alice", BODY, {"Origin": "https://evil.example"}, id="other"),
        pytest.param(
            "alice", BODY, {"ORIGIN": "https://app.example.com.evil"}, id="suffix"
        ),
        pytest.param("alice", BODY, {"Origin": "http://app.example.com"}, id="http"),
        pytest.param("alice", BODY, {"Origin": "null"}, id="null"),
        pytest.param(None, BODY, {"Origin": "https://evil.example"}, id="no user"),
        pytest.param(
            "alice", b"{", {"Origin": "https://evil.example"}, id="malformed body"
        ),
        pytest.param(
            "alice", BODY, {"sec-fetch-site": "cross-site"}, id="cross-site, no Origin"
        ),
        pytest.param(
            "alice",
            BODY,
            {"Sec-Fetch-Site": "Cross-Site"},
            id="cross-site in any case",
        ),
    ],
)
def test_forbidden_before_anything_else(
    httpserver: HTTPServer,
    guarded: EphemeralKeyIssuer[str],
    user: str | None,
    body: bytes,
    headers: dict[str, str],
    door: Door,
    twin: Twin,
) -> None:
    response = twin.call(
        guarded, door.method, user, body=body, content_type=JSON, headers=headers
    )

    assert ((403, "forbidden_origin"), []) == (code_of(response), httpserver.log)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"ORIGIN": "https://evil.example"}, id="upper-case name"),
        pytest.param(
            {"Origin": APP, "origin": "https://evil.example"},
            id="Origin twice: an allowed one and another",
        ),
    ],
)
def test_any_case_names_are_read_as_headers(
    guarded: EphemeralKeyIssuer[str],
    httpserver: HTTPServer,
    headers: dict[str, Any],
) -> None:
    response = guarded.handle("alice", body=BODY, content_type=JSON, headers=headers)

    assert ((403, "forbidden_origin"), []) == (code_of(response), httpserver.log)


# Every variable PEP 3333 and CGI (RFC 3875) name, and headers spelt as an
# environ spells them: sent by a client as headers, none is more than a header.
ENVIRON_NAMES = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_USER",
    "AUTH_TYPE",
    "PATH_TRANSLATED",
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
    "wsgi.file_wrapper",
    "HTTP_X",
    "HTTP_ORIGIN",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_HOST",
)


@pytest.mark.parametrize("name", ENVIRON_NAMES)
def test_no_header_name_turns_the_origin_check_off(
    guarded: EphemeralKeyIssuer[str],
    httpserver: HTTPServer,
    name: str,
    twin: Twin,
) -> None:
    """An extra header named like an environ's variable is one more header."""
    headers = {
        "Origin": "https://evil.example",
        name: "same-origin" if name == "HTTP_SEC_FETCH_SITE" else APP,
    }
    response = twin.call(
        guarded, "handle", "alice", body=BODY, content_type=JSON, headers=headers
    )

    assert ((403, "forbidden_origin"), []) == (code_of(response), httpserver.log)


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param(
            {"HTTP_ORIGIN": "https://evil.example", "REQUEST_METHOD": "POST"},
            id="a CGI environ",
        ),
        pytest.param(
            {
                "HTTP_SEC_FETCH_SITE": "cross-site",
                "wsgi.input": object(),
                "wsgi.version": (1, 0),
            },
            id="a WSGI environ, cross-site without Origin",
        ),
        pytest.param(
            {"HTTP_ORIGIN": "https://evil.example", "ORIGIN": APP},
            id="a variable named like the header is no header",
        ),
    ],
)
def test_an_environ_is_read_through_environ_headers(
    guarded: EphemeralKeyIssuer[str],
    httpserver: HTTPServer,
    environ: dict[str, Any],
) -> None:
    response = guarded.handle(
        "alice", body=BODY, content_type=JSON, headers=environ_headers(environ)
    )

    assert ((403, "forbidden_origin"), []) == (code_of(response), httpserver.log)


@pytest.mark.usefixtures("stripe_issues")
def test_an_environ_from_an_allowed_page_passes(
    guarded: EphemeralKeyIssuer[str],
) -> None:
    environ = {"HTTP_ORIGIN": APP, "REQUEST_METHOD": "POST", "wsgi.input": object()}

    response = guarded.handle(
        "alice", body=BODY, content_type=JSON, headers=environ_headers(environ)
    )

    assert (200, None) == code_of(response)


def test_environ_headers_keeps_the_headers_and_nothing_else() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "42",
        "HTTP_CONTENT_TYPE": "text/plain",
        "HTTP_ORIGIN": APP,
        "HTTP_X_REQUEST_ID": "req-1",
        "HTTP_": "nameless",
        "wsgi.version": (1, 0),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }

    assert {
        "content-type": "application/json",
        "content-length": "42",
        "origin": APP,
        "x-request-id": "req-1",
    } == dict(environ_headers(environ))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": b"https://evil.example"}, id="bytes value"),
        pytest.param({"Origin": ["https://evil.example"]}, id="list value"),
        pytest.param({b"Origin": "https://evil.example"}, id="bytes name"),
        pytest.param(
            environ_headers({"HTTP_ORIGIN": b"https://evil.example"}),
            id="environ bytes",
        ),
        pytest.param([("Origin", APP)], id="not a mapping"),
        pytest.param(
            {
                "HTTP_ORIGIN": APP,
                "REQUEST_METHOD": "POST",
                "wsgi.version": (1, 0),
                "wsgi.input": object(),
            },
            id="a WSGI environ passed as headers",
        ),
    ],
)
def test_headers_the_issuer_cannot_read_are_refused_not_ignored(
    guarded: EphemeralKeyIssuer[str],
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
    headers: Any,
    twin: Twin,
) -> None:
    response = twin.call(
        guarded, "handle", "alice", body=BODY, content_type=JSON, headers=headers
    )

    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert ((500, "server_misconfigured"), [], 1) == (
        code_of(response),
        httpserver.log,
        len([r for r in errors if "headers the issuer cannot read" in r.getMessage()]),
    )


def test_an_environ_passed_as_headers_is_refused_with_its_fix_named(
    guarded: EphemeralKeyIssuer[str],
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    environ = {
        "HTTP_ORIGIN": APP,
        "REQUEST_METHOD": "POST",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
    }

    response = guarded.handle("alice", body=BODY, content_type=JSON, headers=environ)

    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert ((500, "server_misconfigured"), [], 1) == (
        code_of(response),
        httpserver.log,
        len(errors),
    )
    assert "'wsgi.version' is a tuple" in errors[0]
    assert "headers=issuing_elements.environ_headers(environ)" in errors[0]


@pytest.mark.usefixtures("stripe_issues")
def test_without_allowed_origins_no_origin_is_checked(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(stripe_client, owner_of({CARD: True}))

    response = issuer.handle(
        "alice",
        body=BODY,
        content_type=JSON,
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )

    assert (200, None) == code_of(response)


@pytest.mark.parametrize(
    "origins",
    [
        pytest.param(APP, id="a single string"),
        pytest.param(("*",), id="wildcard"),
        pytest.param(("https://*.example.com",), id="wildcard subdomain"),
        pytest.param(("https://app.example.com/",), id="trailing slash"),
        pytest.param(("https://app.example.com/keys",), id="a path"),
        pytest.param(("app.example.com",), id="no scheme"),
        pytest.param(("ftp://app.example.com",), id="another scheme"),
        pytest.param((), id="empty"),
        pytest.param((None,), id="not a string"),
    ],
)
def test_allowed_origins_are_checked_at_construction(
    stripe_client: stripe.StripeClient, origins: Any
) -> None:
    with pytest.raises(ConfigurationError, match="allowed_origins"):
        EphemeralKeyIssuer(stripe_client, owner_of({}), allowed_origins=origins)


@pytest.mark.usefixtures("stripe_issues")
def test_origins_with_a_port_and_in_any_case_are_accepted(
    stripe_client: stripe.StripeClient,
) -> None:
    issuer = EphemeralKeyIssuer(
        stripe_client,
        owner_of({CARD: True}),
        allowed_origins=["HTTP://LOCALHOST:8000", "https://[::1]:8443"],
    )

    responses = [
        issuer.handle(
            "alice", body=BODY, content_type=JSON, headers={"Origin": origin}
        ).status
        for origin in ("http://localhost:8000", "https://[::1]:8443")
    ]

    assert [200, 200] == responses


# -- Content-Security-Policy ------------------------------------------------------


def test_csp_lets_stripe_js_load_frame_and_connect() -> None:
    policy = content_security_policy()

    assert (True, True, True, ("'self'",)) == (
        "https://js.stripe.com" in policy["script-src"],
        "https://js.stripe.com" in policy["frame-src"],
        "https://api.stripe.com" in policy["connect-src"],
        policy["frame-ancestors"],
    )


def test_csp_forbids_plugins_and_has_no_report_uri_unless_asked() -> None:
    policy = content_security_policy()

    assert (("'none'",), False) == (policy["object-src"], "report-uri" in policy)


def test_csp_report_uri_and_frame_ancestors() -> None:
    policy = content_security_policy(
        report_uri="https://app.example.com/csp", frame_ancestors=("'none'",)
    )

    assert (("https://app.example.com/csp",), ("'none'",)) == (
        policy["report-uri"],
        policy["frame-ancestors"],
    )


def test_csp_header_value() -> None:
    value = content_security_policy(report_uri="/csp").header_value()

    assert (
        "default-src 'self'; "
        "script-src 'self' https://js.stripe.com https://*.js.stripe.com; "
        "frame-src https://js.stripe.com https://*.js.stripe.com "
        "https://hooks.stripe.com; "
        "connect-src 'self' https://api.stripe.com; "
        "img-src 'self' data: https://*.stripe.com; "
        "object-src 'none'; "
        "base-uri 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'self'; "
        "report-uri /csp"
    ) == value


def test_csp_sources_may_be_added_before_rendering() -> None:
    policy = content_security_policy()
    policy["connect-src"] = (*policy["connect-src"], "https://api.example.com")

    assert (
        "connect-src 'self' https://api.stripe.com https://api.example.com"
        in policy.header_value()
    )


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"report_uri": "/csp; script-src *"}, id="; in report_uri"),
        pytest.param(
            {"frame_ancestors": ("'self'; script-src *",)}, id="; in frame_ancestors"
        ),
        pytest.param({"report_uri": "/csp\r\nX-Evil: 1"}, id="line break"),
        pytest.param({"frame_ancestors": ("'self', *",)}, id="comma"),
        pytest.param({"frame_ancestors": "'self'"}, id="a single string"),
        pytest.param({"frame_ancestors": ()}, id="empty"),
    ],
)
def test_csp_injection_is_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        content_security_policy(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"frame_ancestors": ()},
            "frame_ancestors must be a non-empty tuple of sources, such as "
            "(\"'self'\",) or (\"'none'\",).",
            id="empty frame_ancestors",
        ),
        pytest.param(
            {"report_uri": "/csp; script-src *"},
            "A CSP source may not hold ';', ',' or a line break.",
            id="; in report_uri",
        ),
    ],
)
def test_csp_refusal_says_what_is_wrong(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        content_security_policy(**options)

    assert message == str(raised.value)


def test_csp_sources_may_hold_any_letter() -> None:
    policy = content_security_policy(
        report_uri="https://XX.example.com/csp", frame_ancestors=("https://X.test",)
    )

    assert (("https://XX.example.com/csp",), ("https://X.test",)) == (
        policy["report-uri"],
        policy["frame-ancestors"],
    )
