"""Delivery under faults: scenarios on the real recording servers and a real outbox, and the
figures each one reaches (fault, channel, runs, lost, duplicated, seconds).

A scenario enqueues `EVENTS` notifications (one per alert) for one channel, injects one fault,
and runs `outbox_delivery.deliver_pending` a few times (a "run": one delivery pass, as one
`ytempire build` makes). It then counts from the receiver's own records:

- copies: what the receiver took in full and processed (HTTP 2xx, SMTP accepted), including an
  answer delayed past the client's timeout: a Slack that answers late still posts the message.
- lost: events the receiver never acknowledged (in time) whose outbox row is neither pending nor
  dead (the two visible states of "not delivered").
- duplicated: copies beyond the first, summed over the events. PagerDuty folds copies with the
  same (dedup_key, event_action) into one alert, so its copies are not duplicates; `extra_copies`
  counts every channel's extra copies, PagerDuty's included.

`run_scenario(db, notify_env, fault, channel)` is one scenario, `suite(db, notify_env)` all of
them, `table(figures)` the printable table; `python tests/python/delivery_faults.py [--json]`
runs the suite on a private embedded PostgreSQL and prints the table (or one JSON document).
The outbox must hold no pending row when a scenario starts (the tests' `db` fixture truncates
it; `suite` truncates between scenarios).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from fault_table import FaultRow, record
from notify_servers import PAGERDUTY_PATH, SLACK_CRITICAL_PREFIX, SLACK_WARNING_PREFIX, NotifyEnv
from psycopg.rows import dict_row

from orchestrator import outbox, outbox_delivery
from orchestrator.alert import Alert, Channel, Event, Notification, Severity
from orchestrator.notify.settings import NotifySettings

EVENTS = 3
TIMEOUT_S = 0.3  # YTEMPIRE_NOTIFY_TIMEOUT_S in the scenarios
HANG_S = 0.8  # a hanging receiver answers this late: past the timeout
FAILURES = 4  # "500" / SMTP 451: more than one run's tries (3), so a second run is needed
CHANNELS = (Channel.SLACK_WARNING, Channel.PAGERDUTY, Channel.EMAIL)
FAULTS = ("500", "429", "refused", "down_then_back", "hang", "hang_two_runs")
SLACK_DEDUP_KEY = re.compile(r"dedup key `([^`]+)`")
PATHS = {
    Channel.SLACK_WARNING: SLACK_WARNING_PREFIX,
    Channel.SLACK_CRITICAL: SLACK_CRITICAL_PREFIX,
    Channel.PAGERDUTY: PAGERDUTY_PATH,
}


@dataclass
class Figures:
    """What one scenario reached."""

    fault: str
    channel: str
    events: int
    runs: int
    lost: int
    duplicated: int
    extra_copies: int
    max_copies: int  # the most copies of one event the receiver processed
    pending: int  # rows still pending after the last run (kept, not lost)
    dead: int  # rows dead after the last run (visible, with the reason)
    seconds: float  # every run's delivery time together
    run_seconds: list[float] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values.pop("rows")
        return values


@dataclass
class Copy:
    """One copy of an event the receiver processed; `acknowledged`: its answer came in time."""

    dedup_key: str
    event: str
    acknowledged: bool


def fault_settings(notify_env: NotifyEnv, **overrides: str) -> NotifySettings:
    """The scenarios' settings: small timeout and backoff so that a run takes a second or so."""
    values = {
        "YTEMPIRE_NOTIFY_TIMEOUT_S": str(TIMEOUT_S),
        "YTEMPIRE_NOTIFY_BACKOFF_S": "0.05",
        "YTEMPIRE_NOTIFY_MAX_ATTEMPTS": "3",
        "YTEMPIRE_NOTIFY_MAX_WAIT_S": "2",
        **overrides,
    }
    return notify_env.settings(**values)


def fault_alert(fault: str, channel: Channel, number: int) -> Alert:
    critical = channel is not Channel.SLACK_WARNING
    return Alert(
        dedup_key=f"ytempire:fault.{fault}.{channel}.{number}",
        alert_type="FAULT_SCENARIO",
        escalation="delivery_faults",
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        level=2 if critical else 1,
        owner="analytics_engineer",
        action="None: a delivery fault scenario",
        sla_minutes=30,
        message=f"Delivery fault scenario {fault}, event {number}",
        figure=str(number),
        node_id=f"test.ytempire.fault_{number}",
        node_name=f"fault_{number}",
        alert_id=number,
    )


# ---------------------------------------------------------------------------------------------
# what the receivers processed


def copies(notify_env: NotifyEnv, channel: Channel) -> list[Copy]:
    """Every copy `channel`'s receiver processed (see the module docstring)."""
    if channel is Channel.EMAIL:
        found = []
        for mail in notify_env.smtp.messages:
            message = mail.message
            found.append(
                Copy(
                    str(message["X-Ytempire-Dedup-Key"]).strip(),
                    str(message["X-Ytempire-Event"]).strip(),
                    acknowledged=not mail.delayed_s,
                )
            )
        return found
    processed = [r for r in notify_env.http.received(PATHS[channel]) if 200 <= r.status < 300]
    if channel is Channel.PAGERDUTY:
        return [
            Copy(r.json["dedup_key"], _pagerduty_event(r.json), r.acknowledged) for r in processed
        ]
    found = []
    for request in processed:
        context = request.json["blocks"][-1]["elements"][0]["text"]
        match = SLACK_DEDUP_KEY.search(context)
        assert match is not None, f"a Slack message without its dedup key: {context}"
        found.append(Copy(match.group(1), _slack_event(request.json), request.acknowledged))
    return found


def _pagerduty_event(body: dict[str, Any]) -> str:
    if body["event_action"] == "resolve":
        return str(Event.RESOLVE)
    return str(body["payload"]["custom_details"]["event"])


def _slack_event(body: dict[str, Any]) -> str:
    header = body["blocks"][0]["text"]["text"]
    return str(Event.RESOLVE) if "RESOLVED" in header else str(Event.TRIGGER)


def figures_of(
    fault: str,
    channel: Channel,
    notes: list[Notification],
    rows: list[dict[str, Any]],
    received: list[Copy],
    run_seconds: list[float],
) -> Figures:
    """Lost / duplicated / ... from the outbox rows of `notes` and the receiver's copies."""
    by_key = {row["event_key"]: row for row in rows}
    count = Counter((item.dedup_key, item.event) for item in received)
    acked = Counter((item.dedup_key, item.event) for item in received if item.acknowledged)
    lost = duplicated = extra = most = 0
    for note in notes:
        key = (note.alert.dedup_key, str(note.event))
        row = by_key.get(outbox.event_key(note))
        visible = row is not None and row["status"] in (outbox.STATUS_PENDING, outbox.STATUS_DEAD)
        if not acked[key] and not visible:
            lost += 1
        extra += max(0, count[key] - 1)
        if channel is not Channel.PAGERDUTY:  # PagerDuty folds copies by dedup_key
            duplicated += max(0, count[key] - 1)
        most = max(most, count[key])
    statuses = Counter(row["status"] for row in rows)
    return Figures(
        fault=fault,
        channel=str(channel),
        events=len(notes),
        runs=len(run_seconds),
        lost=lost,
        duplicated=duplicated,
        extra_copies=extra,
        max_copies=most,
        pending=statuses[outbox.STATUS_PENDING],
        dead=statuses[outbox.STATUS_DEAD],
        seconds=round(sum(run_seconds), 2),
        run_seconds=[round(seconds, 2) for seconds in run_seconds],
        rows=rows,
    )


# ---------------------------------------------------------------------------------------------
# faults


class Receiver:
    """The fault controls of `channel`'s receiver (the HTTP server, or the SMTP server)."""

    def __init__(self, notify_env: NotifyEnv, channel: Channel) -> None:
        self.email = channel is Channel.EMAIL
        self.http = notify_env.http
        self.smtp = notify_env.smtp

    def fail_next(self, count: int) -> None:
        """Temporary refusals: HTTP 500, SMTP 451."""
        if self.email:
            self.smtp.refuse_next(count, "451 4.3.0 Try again later")
        else:
            self.http.fail_next(count, status=500)

    def rate_limit_next(self, count: int) -> None:
        """HTTP 429 with Retry-After; SMTP 421 (a rate limit has no SMTP header to wait for)."""
        if self.email:
            self.smtp.refuse_next(count, "421 4.7.0 Too many messages, slow down")
        else:
            self.http.fail_next(count, status=429, retry_after="0.2")

    def hang(self) -> None:
        """Answer every request only after HANG_S (longer than the timeout) until `recover`."""
        if self.email:
            self.smtp.delay_next(1000, HANG_S)
        else:
            self.http.delay_next(1000, HANG_S)

    def recover(self) -> None:
        self.http.clear_plan()
        self.smtp.clear_plan()

    def down(self) -> None:
        (self.smtp if self.email else self.http).down()

    def up(self) -> None:
        (self.smtp if self.email else self.http).up()


# before each run: what the receiver does during it (runs are 0-based); the last one is normal
PLANS: dict[str, list[Callable[[Receiver], None]]] = {
    "500": [lambda r: r.fail_next(FAILURES), lambda r: None],
    "429": [lambda r: r.rate_limit_next(2)],
    "refused": [Receiver.down, lambda r: None],
    "down_then_back": [Receiver.down, Receiver.up],
    "hang": [Receiver.hang, Receiver.recover],
    "hang_two_runs": [Receiver.hang, lambda r: None, Receiver.recover],
}


def run_scenario(
    db: psycopg.Connection,
    notify_env: NotifyEnv,
    fault: str,
    channel: Channel,
    *,
    events: int = EVENTS,
    settings: NotifySettings | None = None,
) -> Figures:
    """One fault on `channel`'s receiver for `events` notifications; the receivers are healthy
    again afterwards (servers up, no failure planned) and their records cleared before."""
    settings = settings or fault_settings(notify_env)
    notify_env.http.clear()
    notify_env.smtp.clear()
    pending = db.execute("select count(*) from ops.notification_outbox where status = 'pending'")
    assert pending.fetchone() == (0,), "the outbox must have no pending row before a scenario"
    notes = [
        Notification(channel, Event.TRIGGER, fault_alert(fault, channel, number))
        for number in range(1, events + 1)
    ]
    outbox.enqueue(db, notes, settings)
    receiver = Receiver(notify_env, channel)
    run_seconds: list[float] = []
    try:
        for before_run in PLANS[fault]:
            before_run(receiver)
            started = time.monotonic()
            outbox_delivery.deliver_pending(db, settings)
            run_seconds.append(time.monotonic() - started)
    finally:
        receiver.up()
        receiver.recover()
    with db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select * from ops.notification_outbox where event_key = any(%s) order by id",
            ([outbox.event_key(note) for note in notes],),
        ).fetchall()
    figures = figures_of(fault, channel, notes, rows, copies(notify_env, channel), run_seconds)
    record(
        FaultRow(
            fault=f"delivery {fault}: {channel}",
            server="embedded" if db.info.host.startswith("/") else "system",
            runs=figures.runs,
            lost=figures.lost,
            duplicated=figures.duplicated,
            exit_codes=(),
            seconds=round(figures.seconds, 2),
        )
    )
    return figures


def suite(db: psycopg.Connection, notify_env: NotifyEnv) -> list[Figures]:
    """Every fault on every channel; the outbox is emptied before each scenario."""
    results = []
    for fault in FAULTS:
        for channel in CHANNELS:
            db.execute("truncate ops.notification_outbox restart identity")
            results.append(run_scenario(db, notify_env, fault, channel))
    return results


COLUMNS = ("fault", "channel", "runs", "lost", "duplicated", "extra_copies", "pending", "dead")


def table(figures: list[Figures]) -> str:
    """A plain-text table, one line per scenario."""
    header = [*COLUMNS, "seconds"]
    lines = [
        [str(getattr(item, name)) for name in COLUMNS] + [f"{item.seconds:.2f}"] for item in figures
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *lines]
    )


def main(argv: list[str] | None = None) -> int:
    """Every scenario on a private embedded PostgreSQL and fresh recording servers; exit 1 when
    one loses an event or sends one more than twice."""
    from notify_fixtures import make_notify_env, receivers

    from orchestrator import embedded
    from orchestrator.connection import connect

    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    for name in ("orchestrator", "mail.log"):  # the scenarios' own warnings are expected
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="ytempire-faults-") as workdir:
        pgdata = Path(workdir) / "pgdata"
        server = embedded.up(pgdata=pgdata, dbname="ytempire_faults")
        try:
            with receivers() as (http, smtp), connect(server) as db:
                outbox.ensure_schema(db)
                results = suite(db, make_notify_env(http, smtp, Path(workdir)))
        finally:
            embedded.down(pgdata=pgdata)
    if as_json:
        print(json.dumps([item.to_dict() for item in results], indent=2))
    else:
        print(table(results))
    return 1 if any(item.lost or item.max_copies > 2 for item in results) else 0


if __name__ == "__main__":
    sys.exit(main())
