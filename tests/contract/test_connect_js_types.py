"""Contract: the endpoints' 200 bodies are what Connect.js's callbacks want.

Connect.js's ``issuing-card`` and ``issuing-cards-list`` components ask the
page for two things: ``fetchClientSecret: () => Promise<string>`` (the
Account Session) and ``fetchEphemeralKey``, of type
``FetchEphemeralKeyFunction``, which is handed ``{issuingCard, nonce}`` and
must resolve to ``{issuingCard, nonce, ephemeralKeySecret}``. The page below
posts that argument unchanged to ``handle`` and returns the 200 body, typed
as the wire shape; the bodies the library really answers (against
``FakeStripe``) are written into it as values of those types, and
``tsc --strict --noEmit`` checks all of it against ``@stripe/connect-js``'s
own types (pinned in ``package.json`` beside this file; ``tsc.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contract.tsc import failing_files, run_tsc
from issuing_elements import (
    AccountSessionGrant,
    AccountSessionRequest,
    EphemeralKeyIssuer,
    Grant,
    IssuingCardComponent,
    IssuingCardsListComponent,
    KeyRequest,
)
from issuing_elements.testing import FakeStripe

pytestmark = pytest.mark.system("node")

CARD = "ic_fake1connectjs"
ACCOUNT = "acct_fake1connectjs"

# The endpoints' 200 bodies as the wire contract names them.
KEY_ANSWER = (
    "{ ephemeralKeySecret: string; issuingCard: string; nonce: string; "
    "expires: number }"
)
SESSION_ANSWER = "{ clientSecret: string; expiresAt: number }"


def admin_may_see_the_card(user: str, request: KeyRequest) -> Grant | None:
    return Grant(stripe_account=ACCOUNT) if request.card_id == CARD else None


def admin_of_the_account(
    user: str, request: AccountSessionRequest
) -> AccountSessionGrant | None:
    return AccountSessionGrant(
        account=ACCOUNT,
        components=(
            IssuingCardComponent(card_management=True),
            IssuingCardsListComponent(card_management=True),
        ),
    )


def library_answers() -> tuple[dict[str, Any], dict[str, Any]]:
    """The 200 bodies of ``handle`` (for connect-js's own payload) and
    ``handle_account_session``, against FakeStripe."""
    with FakeStripe() as fake:
        fake.add_card(CARD, account=ACCOUNT)
        issuer = EphemeralKeyIssuer(
            fake.client(),
            admin_may_see_the_card,
            account_sessions=admin_of_the_account,
        )
        session = issuer.handle_account_session(
            "admin", body=b"{}", content_type="application/json"
        )
        # What fetchEphemeralKey posts: its argument, unchanged.
        posted = {"issuingCard": CARD, "nonce": fake.create_nonce(CARD)}
        key = issuer.handle(
            "admin",
            body=json.dumps(posted).encode(),
            content_type="application/json",
        )
    assert (200, 200) == (session.status, key.status), (session.body, key.body)
    return json.loads(key.body), json.loads(session.body)


def connect_module(
    key_answer: dict[str, Any],
    session_answer: dict[str, Any],
    *,
    key_type: str = KEY_ANSWER,
    session_type: str = SESSION_ANSWER,
    session_returns: str = "body.clientSecret",
    key_setter: str = "setFetchEphemeralKey",
) -> str:
    """A page that wires both callbacks into the issuing components.

    The bodies are assigned to the wire types as literals, so a field the
    library adds or drops is an error; the callbacks return values of the
    wire types, so the wire types must fit Connect.js's.
    """
    return f"""\
import {{
  loadConnectAndInitialize,
  type FetchEphemeralKeyFunction,
  type StripeConnectInstance,
}} from "@stripe/connect-js";

type KeyAnswer = {key_type};
type SessionAnswer = {session_type};

// What the library answered, as values of the wire types.
const keyAnswer: KeyAnswer = {json.dumps(key_answer, indent=2)};
const sessionAnswer: SessionAnswer = {json.dumps(session_answer, indent=2)};

async function post(path: string, body: string): Promise<Response> {{
  const response = await fetch(path, {{
    method: "POST",
    headers: {{ "Content-Type": "application/json" }},
    body,
  }});
  if (!response.ok) {{
    throw new Error(`${{path}} answered ${{response.status}}`);
  }}
  return response;
}}

const fetchClientSecret = async (): Promise<string> => {{
  const body: SessionAnswer = await (await post("/account-sessions", "{{}}")).json();
  return {session_returns};
}};

const fetchEphemeralKey: FetchEphemeralKeyFunction = async ({{
  issuingCard,
  nonce,
}}) => {{
  const posted = JSON.stringify({{ issuingCard, nonce }});
  const body: KeyAnswer = await (await post("/ephemeral-keys", posted)).json();
  return body;
}};

const connect: StripeConnectInstance = loadConnectAndInitialize({{
  publishableKey: "pk_test_fake_issuing_elements",
  fetchClientSecret,
}});
const card = connect.create("issuing-card");
card.setDefaultCard(keyAnswer.issuingCard);
card.setCardSwitching(false);
card.setShowSpendControls(true);
card.{key_setter}(fetchEphemeralKey);
const list = connect.create("issuing-cards-list");
list.setShowSpendControls(true);
list.{key_setter}(fetchEphemeralKey);
void sessionAnswer;
"""


def test_the_library_answers_what_connect_js_wants(tmp_path: Path) -> None:
    key_answer, session_answer = library_answers()

    result = run_tsc(tmp_path, {"page.ts": connect_module(key_answer, session_answer)})

    assert result.returncode == 0, result.stdout + result.stderr


KEY = {
    "ephemeralKeySecret": "ek_test_fake_issuing_elements_contract",
    "issuingCard": CARD,
    "nonce": "ephkn_pub_fake1connectjs",
    "expires": 1_800_000_900,
}
SESSION = {"clientSecret": "_fake_account_session_secret", "expiresAt": 1_800_001_800}


def _without(answer: dict[str, Any], field: str) -> dict[str, Any]:
    return {name: value for name, value in answer.items() if name != field}


# Each is a mistake the endpoint or the page could make; tsc must catch every one.
WRONG_PAGES = {
    "key_body_without_secret": connect_module(
        _without(KEY, "ephemeralKeySecret"), SESSION
    ),
    "key_body_snake_case": connect_module(
        {**_without(KEY, "ephemeralKeySecret"), "ephemeral_key_secret": "ek_test_x"},
        SESSION,
    ),
    "key_body_numeric_expiry_as_text": connect_module(
        {**KEY, "expires": "1800000900"}, SESSION
    ),
    "key_body_with_unknown_field": connect_module({**KEY, "secret": "x"}, SESSION),
    "wire_type_without_secret": connect_module(
        _without(KEY, "ephemeralKeySecret"),
        SESSION,
        key_type="{ issuingCard: string; nonce: string; expires: number }",
    ),
    "wire_type_without_nonce": connect_module(
        _without(KEY, "nonce"),
        SESSION,
        key_type="{ ephemeralKeySecret: string; issuingCard: string; expires: number }",
    ),
    "session_body_snake_case": connect_module(
        KEY, {"client_secret": "_fake", "expires_at": 1_800_001_800}
    ),
    "session_body_without_secret": connect_module(
        KEY, _without(SESSION, "clientSecret")
    ),
    "client_secret_as_the_whole_body": connect_module(
        KEY, SESSION, session_returns="body"
    ),
    "misspelt_setter": connect_module(
        KEY, SESSION, key_setter="setFetchEphemeralKeySecret"
    ),
}


def test_tsc_catches_every_deliberate_mistake(tmp_path: Path) -> None:
    modules = {f"{label}.ts": page for label, page in WRONG_PAGES.items()}

    result = run_tsc(tmp_path, modules)

    assert result.returncode != 0
    assert set(modules) == failing_files(result), result.stdout
