"""Issue 15's fault table, rerun (``make faults``): each fault once, on loopback.

A report, not a test: it prints one table (what was done, what happened
before, as issue 15 reported it, what happens now, measured, and the bound)
and exits 0. What each row checks (the status, no key left live, the log
line, the exception that propagates) is asserted by the tests its last
column names (``ASSERTED_BY``; ``tests/package/test_benchmarks.py`` checks
that each still exists); the wall times are measured here only, since the
suite holds no wall-clock bound.

Every stand-in is local:

* Stripe is the library's ``FakeStripe`` (through the real SDK), which
  counts the keys it issued and revoked and can ``delay_next``: a Stripe
  that hangs, for a while, then answers (late).
* A stalled Redis is a listener that accepts and never answers
  (`StalledRedis`); a Redis that is down is a loopback port nobody
  listens on.

Every wait is bounded in count and in time; the whole run takes about 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
import stripe

from issuing_elements import (
    AuditEvent,
    EphemeralKeyIssuer,
    Grant,
    IssuedKey,
    KeyRequest,
    LiveKey,
    MemoryKeyLedger,
    RateLimit,
    RedisKeyLedger,
    RedisRateLimiter,
    environ_headers,
)
from issuing_elements.testing import FakeStripe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from issuing_elements import HttpResponse

CARD = "ic_faultCard"
MALLORY_CARD = "ic_malloryCard"
JSON = "application/json"
APP = "https://app.example"
EVIL = "https://evil.example"
# The bound is the deadline plus this much: generous for 2 busy cores, and
# still far below each fault's own (a minute, or forever).
MARGIN = 3.0
# The longest anything here waits for a stand-in or a late revocation.
PATIENCE = 20.0


# -- stand-ins --------------------------------------------------------------


class StalledRedis:
    """Accepts every connection and never answers: a Redis that stalls.

    ``close()`` cuts the connections it took, so that calls abandoned at the
    deadline end (in an error) instead of waiting on their own timeouts.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._taken: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._listener.getsockname()[1]
        return port

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self._taken:
            connection.close()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._taken.append(connection)


def closed_port() -> int:
    """A loopback port that nothing listens on: a Redis that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LogLines(logging.Handler):
    """Keeps what the library logs, instead of printing it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_records:
            self.records.append(record)

    def mark(self) -> int:
        with self._lock_records:
            return len(self.records)

    def since(self, mark: int, *, name: str = "issuing_elements") -> list[str]:
        with self._lock_records:
            return [r.getMessage() for r in self.records[mark:] if r.name == name]


LOG = LogLines()


@dataclass
class Result:
    row: str
    done: str
    before: str
    now: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def check(self, holds: bool, what: str) -> None:
        if not holds:
            self.broken.append(what)


# -- shared pieces ----------------------------------------------------------


def discard(_event: AuditEvent) -> None:
    """An audit sink for rows about something else."""


def allow(_user: str, request: KeyRequest) -> bool:
    return request.card_id in {CARD, MALLORY_CARD}


def body(fake: FakeStripe, card: str = CARD) -> bytes:
    return json.dumps({"card_id": card, "nonce": fake.create_nonce(card)}).encode()


def live(fake: FakeStripe) -> int:
    return sum(1 for key in fake.keys if key.revoked_at is None)


def wait_until(condition: Callable[[], bool], seconds: float = PATIENCE) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def timed_handle(
    issuer: EphemeralKeyIssuer[str], fake: FakeStripe
) -> tuple[HttpResponse, float]:
    """alice's request for the card, and how long it took."""
    started = time.monotonic()
    answer = issuer.handle("alice", body=body(fake), content_type=JSON)
    return answer, time.monotonic() - started


def no_live_keys(fake: FakeStripe) -> bool:
    return live(fake) == 0


def fresh_fake() -> FakeStripe:
    fake = FakeStripe().start()
    fake.add_card(CARD)
    fake.add_card(MALLORY_CARD)
    return fake


# -- 1. a stalled Redis -----------------------------------------------------


def stalled_redis() -> Result:
    result = Result(
        "1",
        "Redis stalled, `RedisRateLimiter` or `RedisKeyLedger` on "
        "`redis.Redis(socket_timeout=5)`, `deadline=1` (and without "
        "`socket_timeout`)",
        "about 58 s per request (redis-py retries); without `socket_timeout`, "
        "blocked indefinitely; with a ledger, a key already issued stays live "
        "while it waits",
    )
    deadline = 1.0
    stalled = StalledRedis()
    fake = fresh_fake()
    try:
        for store in ("rate limiter", "key ledger"):
            for timeouts in (True, False):
                options: dict[str, Any] = {"socket_timeout": 5} if timeouts else {}
                client = redis.Redis(port=stalled.port, **options)
                stores: dict[str, Any] = (
                    {
                        "rate_limiter": RedisRateLimiter(
                            client, per_user=RateLimit(5, 60)
                        )
                    }
                    if store == "rate limiter"
                    else {"key_ledger": RedisKeyLedger(client)}
                )
                issuer = EphemeralKeyIssuer(
                    fake.client(), allow, deadline=deadline, audit=discard, **stores
                )
                issued = len(fake.keys)
                mark = LOG.mark()
                answer, took = timed_handle(issuer, fake)
                slow = [line for line in LOG.since(mark) if f"The {store} (" in line]
                left = live(fake)
                label = "socket_timeout=5" if timeouts else "no socket_timeout"
                result.now.append(
                    f"{store}, {label}: {answer.status} in {took:.2f} s, "
                    f"keys issued {len(fake.keys) - issued}, live {left}, "
                    f"{len(slow)} line naming the {store}"
                )
                result.check(answer.status == 503, f"{store}, {label}: not 503")
                result.check(took < deadline + MARGIN, f"{store}, {label}: slow")
                result.check(left == 0, f"{store}, {label}: a key left live")
                result.check(len(slow) == 1, f"{store}, {label}: no log line")
    finally:
        stalled.close()
        fake.close()
    return result


# -- 2. a Stripe that hangs, then recovers ----------------------------------


def hung_stripe() -> Result:
    result = Result(
        "2",
        "70 concurrent `handle()` against a Stripe that hangs, `deadline=2`, "
        "then Stripe recovers",
        "every request after recovery still 503 for about 80 s (the worker "
        "pool is held by hung calls until the HTTP client's own 80 s "
        'timeout); "Could not revoke" lines logged for keys that were '
        "revoked later",
    )
    deadline, hung, hold = 2.0, 70, 6.0
    fake = fresh_fake()
    try:
        # stripe-python's default timeout (80 s): the issuer alone keeps the pool free.
        issuer = EphemeralKeyIssuer(
            fake.client(timeout=80), allow, deadline=deadline, audit=discard
        )
        bodies = [body(fake) for _ in range(hung)]
        fake.delay_next(hold, times=hung)  # each answers, late, after `hold` s
        mark = LOG.mark()
        statuses: list[int] = []
        lock = threading.Lock()

        def ask(request_body: bytes) -> None:
            status = issuer.handle("alice", body=request_body, content_type=JSON)
            with lock:
                statuses.append(status.status)

        callers = [threading.Thread(target=ask, args=(b,)) for b in bodies]
        started = time.monotonic()
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(max(0.1, started + PATIENCE - time.monotonic()))
        all_hung = wait_until(lambda: fake.pending_faults == 0, 5)
        hung_for = time.monotonic() - started
        # Stripe has recovered: the faults are used up, the hung calls still hang.
        recovered = time.monotonic()
        after: list[int] = []
        while time.monotonic() - recovered < 15 and len(after) < 10:
            after.append(
                issuer.handle("alice", body=body(fake), content_type=JSON).status
            )
            if after[-1] == 200:
                break
        to_200 = time.monotonic() - recovered
        expected_live = after.count(200)
        # The hung calls answer after `hold` s, each with a key: all revoked, late.
        answered = wait_until(
            lambda: len(fake.keys) >= hung + expected_live, hold + PATIENCE
        )
        settled = answered and wait_until(lambda: live(fake) <= expected_live)
        time.sleep(0.2)  # the log line of the last revocation follows its answer
        lines = LOG.since(mark)
        could_not = [line for line in lines if line.startswith("Could not revoke")]
        late_revoked = len(fake.revoked_keys)
        left = live(fake) - expected_live
        result.now.append(
            f"{hung} requests: {statuses.count(503)} x 503 within "
            f"{hung_for:.2f} s (others: {sorted(s for s in statuses if s != 503)})"
        )
        result.now.append(
            f"after recovery: {after} in {to_200:.2f} s "
            f"({len(after)} request{'s' if len(after) > 1 else ''})"
        )
        result.now.append(
            f"keys issued {len(fake.keys)}, revoked late {late_revoked}, handed "
            f'out {expected_live}, left live {left}; "Could not revoke" lines '
            f"{len(could_not)}"
        )
        result.check(
            all_hung and statuses == [503] * hung, "the hung requests: not all 503"
        )
        result.check(after == [200], "the first request after recovery: not 200")
        result.check(to_200 < deadline + MARGIN, "slow after recovery")
        result.check(settled and left == 0, "a key left live")
        result.check(not could_not, '"Could not revoke" logged')
    finally:
        fake.close()
    return result


# -- 3. revoke_user while a request waits on Stripe -------------------------


def revoke_in_flight() -> Result:
    result = Result(
        "3",
        '`revoke_user("mallory")` while one of mallory\'s requests waits on Stripe',
        "returns 0; the request then gets 200 and a live key that is in the ledger",
    )
    fake = fresh_fake()
    try:
        at_stripe = threading.Event()

        def authorize(user: str, request: KeyRequest) -> Grant | None:
            at_stripe.set()  # the next step is Stripe, which holds the answer
            return Grant() if allow(user, request) else None

        ledger = MemoryKeyLedger()
        issuer = EphemeralKeyIssuer(
            fake.client(), authorize, audit=discard, key_ledger=ledger
        )
        fake.delay_next(1.0)
        answers: list[int] = []
        request = threading.Thread(
            target=lambda: answers.append(
                issuer.handle(
                    "mallory", body=body(fake, MALLORY_CARD), content_type=JSON
                ).status
            )
        )
        request.start()
        reached = at_stripe.wait(10)
        revoked = issuer.revoke_user("mallory")
        request.join(PATIENCE)
        settled = wait_until(lambda: live(fake) == 0, 5)
        result.now.append(
            f"returns {revoked}; the request gets {answers}; keys issued "
            f"{len(fake.keys)}, live {live(fake)}"
        )
        result.check(reached and answers not in ([], [200]), "the key handed out")
        result.check(settled, "a key left live")
    finally:
        fake.close()
    return result


# -- 4. an ahandle cancelled while the ledger writes ------------------------


class StalledLedger(MemoryKeyLedger):
    """A ledger whose async write waits until cancelled, saying when it began."""

    def __init__(self, entered: asyncio.Event) -> None:
        super().__init__()
        self.entered = entered

    async def arecord(self, key: LiveKey) -> None:
        self.entered.set()
        await asyncio.sleep(60)


async def cancel_during_the_write(
    fake: FakeStripe, transport: str
) -> tuple[bool, bool]:
    """Whether the cancellation propagated and whether the key was handed out."""
    ledger = StalledLedger(asyncio.Event())
    http = (
        stripe.AIOHTTPClient()
        if transport == "aiohttp"
        else stripe.HTTPXClient(allow_sync_methods=True)
    )
    issuer = EphemeralKeyIssuer(
        fake.client(http_client=http), allow, key_ledger=ledger, audit=discard
    )
    task = asyncio.ensure_future(
        issuer.ahandle("alice", body=body(fake), content_type=JSON)
    )
    try:
        await asyncio.wait_for(ledger.entered.wait(), 10)
        task.cancel()
        try:
            answer = await asyncio.wait_for(task, 10)
        except asyncio.CancelledError:
            return True, False
        return False, answer.status == 200
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]  # untyped here


def cancelled_write() -> Result:
    result = Result(
        "4",
        "an `ahandle` cancelled while the key is being written to the ledger",
        "the key is neither handed out nor revoked (3 of 3 runs, both async "
        "transports)",
    )
    for transport in ("httpx", "aiohttp"):
        fake = fresh_fake()
        try:
            started = time.monotonic()
            runs = [
                asyncio.run(cancel_during_the_write(fake, transport)) for _ in range(3)
            ]
            took = time.monotonic() - started
            settled = wait_until(functools.partial(no_live_keys, fake), 5)
            handed = sum(1 for _, handed_out in runs if handed_out)
            result.now.append(
                f"{transport}: cancelled {sum(1 for c, _ in runs if c)}/3, handed "
                f"out {handed}/3, revoked {len(fake.revoked_keys)}/"
                f"{len(fake.keys)}, live {live(fake)} ({took:.2f} s)"
            )
            result.check(settled and handed == 0, f"{transport}: a key left live")
            result.check(len(fake.keys) == 3, f"{transport}: not 3 keys issued")
        finally:
            fake.close()
    return result


# -- 5. KeyboardInterrupt, SystemExit, CancelledError after Stripe issued ---


class LeavingLedger(MemoryKeyLedger):
    """A ledger whose write raises *leaving*, as an interrupt would arrive there."""

    def __init__(self, leaving: type[BaseException]) -> None:
        super().__init__()
        self.leaving = leaving

    def record(self, key: LiveKey) -> None:
        raise self.leaving

    async def arecord(self, key: LiveKey) -> None:
        raise self.leaving


def leave_from(
    fake: FakeStripe, leaving: type[BaseException], where: str, twin: str
) -> bool:
    """Whether *leaving*, raised from *where*, propagated out of *twin*."""

    def elements(_user: str, _key: IssuedKey) -> list[object]:
        raise leaving

    def audit(event: AuditEvent) -> None:
        if event.outcome == "granted":
            raise leaving

    choices: dict[str, dict[str, Any]] = {
        "elements": {"elements": elements, "audit": discard},
        "audit": {"audit": audit},
        "ledger": {"key_ledger": LeavingLedger(leaving), "audit": discard},
    }
    issuer = EphemeralKeyIssuer(fake.client(), allow, **choices[where])
    try:
        if twin == "ahandle":
            asyncio.run(issuer.ahandle("alice", body=body(fake), content_type=JSON))
        else:
            issuer.handle("alice", body=body(fake), content_type=JSON)
    except leaving:
        return True
    return False


def leaving_exceptions() -> Result:
    result = Result(
        "5",
        "`KeyboardInterrupt` / `SystemExit` / `CancelledError` from the elements "
        "callback, the audit sink or the ledger after Stripe issued a key",
        "the exception propagates and the key stays live",
    )
    leavings: list[type[BaseException]] = [
        KeyboardInterrupt,
        SystemExit,
        asyncio.CancelledError,
    ]
    for where in ("elements", "audit", "ledger"):
        fake = fresh_fake()
        try:
            propagated = [
                leave_from(fake, leaving, where, twin)
                for leaving in leavings
                for twin in ("handle", "ahandle")
            ]
            settled = wait_until(functools.partial(no_live_keys, fake), 5)
            result.now.append(
                f"{where}: propagates {sum(propagated)}/{len(propagated)} "
                f"(3 exceptions x handle, ahandle), keys issued {len(fake.keys)}, "
                f"live {live(fake)}"
            )
            result.check(all(propagated), f"{where}: swallowed")
            result.check(
                settled and len(fake.keys) == len(propagated), f"{where}: a key live"
            )
        finally:
            fake.close()
    return result


# -- 6. Redis down ----------------------------------------------------------


def redis_down() -> Result:
    result = Result(
        "6",
        "Redis down: 503 (a custom audit sink)",
        "no line on the `issuing_elements` logger, only the audit event (a "
        "custom sink hides the outage from the operator)",
    )
    fake = fresh_fake()
    try:
        for store in ("rate limiter", "key ledger"):
            events: list[AuditEvent] = []
            client = redis.Redis(port=closed_port(), socket_connect_timeout=0.5)
            stores: dict[str, Any] = (
                {"rate_limiter": RedisRateLimiter(client, per_user=RateLimit(5, 60))}
                if store == "rate limiter"
                else {"key_ledger": RedisKeyLedger(client)}
            )
            issuer = EphemeralKeyIssuer(
                fake.client(), allow, audit=events.append, **stores
            )
            mark = LOG.mark()
            answer, took = timed_handle(issuer, fake)
            lines = LOG.since(mark)
            naming = [line for line in lines if store in line or "Redis" in line]
            shown = "; ".join(repr(line[:60] + "...") for line in lines) or "none"
            result.now.append(
                f"{store}: {answer.status} in {took:.2f} s; audit events "
                f"{[event.outcome for event in events]}; keys live {live(fake)}; "
                f"{len(lines)} line(s) on `issuing_elements` ({shown}), "
                f"{len(naming)} naming the {store} or Redis"
            )
            result.check(answer.status == 503, f"{store}: not 503")
            result.check(took < 10 + MARGIN, f"{store}: past the default deadline")
            result.check(
                bool(naming), f"{store}: no line on `issuing_elements` names Redis"
            )
            result.check(live(fake) == 0, f"{store}: a key left live")
    finally:
        fake.close()
    return result


# -- 7. headers the issuer used to ignore -----------------------------------


def unread_headers() -> Result:
    result = Result(
        "7",
        "a WSGI environ as `headers=` or through `environ_headers`, a header "
        "called `wsgi.version`, or header values that are bytes or lists, with "
        "`allowed_origins` set",
        "200: the origin check is silently off",
    )
    environ = {"HTTP_ORIGIN": "https://evil.example", "REQUEST_METHOD": "POST"}
    cases: list[tuple[str, Any]] = [
        ("an environ through environ_headers", environ_headers(environ)),
        ("a WSGI environ as headers", {**environ, "wsgi.version": (1, 0)}),
        ("a header called wsgi.version", {"Origin": EVIL, "wsgi.version": "1"}),
        ("bytes value", {"Origin": b"https://evil.example"}),
        ("list value", {"Origin": ["https://evil.example"]}),
        (
            "environ, bytes value",
            environ_headers({"HTTP_ORIGIN": b"https://evil.example"}),
        ),
    ]
    fake = fresh_fake()
    try:
        issuer = EphemeralKeyIssuer(
            fake.client(), allow, audit=discard, allowed_origins=[APP]
        )
        for name, headers in cases:
            mark = LOG.mark()
            answer = issuer.handle(
                "alice", body=body(fake), content_type=JSON, headers=headers
            )
            code = json.loads(answer.body)["error"]["code"] if answer.body else ""
            logged = len(LOG.since(mark))
            result.now.append(f"{name}: {answer.status} {code} ({logged} log line)")
            result.check(answer.status in {403, 500}, f"{name}: {answer.status}")
        result.now.append(f"keys issued {len(fake.keys)}")
        result.check(not fake.keys, "a key issued")
    finally:
        fake.close()
    return result


# -- 8. a sync audit sink under ahandle -------------------------------------


def slow_sink() -> Result:
    result = Result(
        "8",
        "a sync audit sink that sleeps 0.2 s under `ahandle`, 20 concurrent",
        "the event loop stalls up to 2.2 s for 20 concurrent requests",
    )
    sleep, concurrent = 0.2, 20

    def sink(_event: AuditEvent) -> None:
        time.sleep(sleep)

    fake = fresh_fake()
    try:
        issuer = EphemeralKeyIssuer(fake.client(), allow, audit=sink)
        bodies = [body(fake) for _ in range(concurrent)]

        async def burst() -> tuple[list[int], float, float, float]:
            gaps: list[float] = []
            stop = asyncio.Event()

            async def heartbeat() -> None:
                last = time.monotonic()
                while not stop.is_set():
                    await asyncio.sleep(0.01)
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now

            beating = asyncio.ensure_future(heartbeat())
            # One request first: the first async call's own set-up (the SDK's
            # async client, its SSL context) stalls the loop whatever the sink.
            warm_up = await asyncio.wait_for(
                issuer.ahandle("alice", body=body(fake), content_type=JSON), PATIENCE
            )
            first_call = max(gaps, default=0.0)
            gaps.clear()
            started = time.monotonic()
            answers = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        issuer.ahandle("alice", body=b, content_type=JSON)
                        for b in bodies
                    )
                ),
                PATIENCE,
            )
            took = time.monotonic() - started
            stop.set()
            await beating
            statuses = [warm_up.status] + [a.status for a in answers]
            return statuses, first_call, max(gaps, default=0.0), took

        statuses, first_call, longest, took = asyncio.run(burst())
        result.now.append(
            f"{statuses.count(200)}/{concurrent + 1} x 200 (1 warm-up, then "
            f"{concurrent} at once in {took:.2f} s); longest event-loop stall "
            f"during the {concurrent}: {longest * 1000:.0f} ms (heartbeat every "
            f"10 ms; during the warm-up request: {first_call * 1000:.0f} ms)"
        )
        result.check(statuses == [200] * (concurrent + 1), "not all 200")
        result.check(longest < sleep, "the loop stalled as long as one sink call")
    finally:
        fake.close()
    return result


# -- the table --------------------------------------------------------------

# The tests that assert each row's checks: (module, test function).
ASSERTED_BY: dict[str, list[tuple[str, str]]] = {
    "1": [
        (
            "tests/behaviour/deadline/test_redis_stalls.py",
            "test_a_stalled_redis_is_503_within_the_deadline",
        ),
    ],
    "2": [
        (
            "tests/behaviour/deadline/test_stripe_hangs.py",
            "test_after_70_hung_calls_the_next_request_succeeds_within_a_deadline",
        ),
    ],
    "3": [
        (
            "tests/behaviour/limits/test_issuer_controls.py",
            "test_a_key_in_flight_during_a_bulk_revocation_is_revoked_not_handed_out",
        ),
        (
            "tests/behaviour/limits/test_issuer_controls.py",
            "test_an_async_key_in_flight_during_revoke_user_is_revoked",
        ),
    ],
    "4": [
        (
            "tests/behaviour/revocation/test_every_exit_revokes.py",
            "test_an_ahandle_cancelled_while_the_ledger_writes_revokes_the_key",
        ),
    ],
    "5": [
        (
            "tests/behaviour/revocation/test_every_exit_revokes.py",
            "test_leaving_after_stripe_issued_revokes_the_key_then_goes_on",
        ),
    ],
    "6": [
        (
            "tests/behaviour/limits/test_issuer_controls.py",
            "test_an_unreachable_redis_is_said_on_the_operators_log",
        ),
    ],
    "7": [
        (
            "tests/behaviour/origin/test_origin.py",
            "test_an_environ_is_read_through_environ_headers",
        ),
        (
            "tests/behaviour/origin/test_origin.py",
            "test_no_header_name_turns_the_origin_check_off",
        ),
        (
            "tests/behaviour/origin/test_origin.py",
            "test_headers_the_issuer_cannot_read_are_refused_not_ignored",
        ),
    ],
    "8": [
        (
            "tests/behaviour/audit/test_audit.py",
            "test_a_slow_sync_audit_sink_does_not_hold_the_event_loop",
        ),
    ],
}

ROWS: list[Callable[[], Result]] = [
    stalled_redis,
    hung_stripe,
    revoke_in_flight,
    cancelled_write,
    leaving_exceptions,
    redis_down,
    unread_headers,
    slow_sink,
]


def run_row(row: Callable[[], Result]) -> Result:
    try:
        return row()
    except Exception as error:  # noqa: BLE001 - a row that fails is reported, not fatal
        failed = Result(row.__name__, row.__name__, "")
        failed.check(False, f"raised {type(error).__name__}: {error}")  # noqa: FBT003 - a fixed verdict
        return failed


def cell(text: str) -> str:
    return text.replace("|", "\\|")


@contextlib.contextmanager
def captured() -> Iterator[None]:
    library = logging.getLogger("issuing_elements")
    saved = (library.level, library.propagate)
    library.addHandler(LOG)
    library.setLevel(logging.INFO)
    library.propagate = False
    try:
        yield
    finally:
        library.removeHandler(LOG)
        library.setLevel(saved[0])
        library.propagate = saved[1]


def main() -> int:
    started = time.monotonic()
    with captured():
        results = [run_row(row) for row in ROWS]
    print(
        "| # | what was done | before (issue 15) | now (measured) | bound "
        "| asserted by |"
    )
    print("|---|---|---|---|---|---|")
    for result in results:
        verdict = "held" if not result.broken else "BROKEN: " + "; ".join(result.broken)
        tests = "<br>".join(f"`{test}`" for _, test in ASSERTED_BY.get(result.row, []))
        print(
            f"| {result.row} | {cell(result.done)} | {cell(result.before)} | "
            f"{cell('<br>'.join(result.now))} | {cell(verdict)} | {tests} |"
        )
    broken = [result.row for result in results if result.broken]
    took = time.monotonic() - started
    if broken:
        print(f"\nbounds broken in rows {', '.join(broken)} ({took:.0f} s)")
    else:
        print(f"\nevery bound held ({len(results)} rows, {took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
