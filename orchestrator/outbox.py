"""The notification outbox (`ops.notification_outbox`): write first, send, then mark sent.

- `enqueue(db, notifications)` renders each notification (no secrets) and stores it as a
  pending row, idempotently: one row per `event_key` (alert, event, level, channel, sequence),
  so one event of one alert is delivered at most once per channel.
- `deliver_pending(db, settings)` sends every pending row that is due, each inside its own
  transaction with the row locked (`for update skip locked`: two deliverers never send the same
  row), retrying in-process with bounded backoff. A row is marked `sent` only on an
  acknowledgement (HTTP 2xx, SMTP OK); a retryable failure leaves it `pending` for the next run
  (after Retry-After when the server gave one); a permanent refusal (4xx other than 408/425/429,
  SMTP 5xx) makes it `dead` with the reason and an error log line.
- `deliver_direct(notifications, settings)` is for when the database is down: the same
  sending and retries without the outbox. What it sends and what it could not send is appended
  to `.ytempire/undelivered.jsonl`; the next `deliver_pending` with a database moves those lines
  into the outbox (undelivered ones as pending, so they are sent then) and deletes the file.

Secrets are never stored: webhook URLs and the routing key are added at send time, and every
error text is passed through `NotifySettings.redact` before it is logged or stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from orchestrator import notify
from orchestrator.alert import Channel, Notification
from orchestrator.notify import message
from orchestrator.notify.settings import NotifySettings
from orchestrator.notify.transport import Attempted, send_with_retries

log = logging.getLogger(__name__)

STATUS_PENDING = "pending"
STATUS_SENT = "sent"
STATUS_DEAD = "dead"
DDL_LOCK_KEY = "ytempire.ops.notification_outbox"

SCHEMA_DDL = """
create schema if not exists ops;
create table if not exists ops.notification_outbox (
    id bigserial primary key,
    event_key text not null unique,
    dedup_key text not null,
    alert_id bigint,
    channel text not null,
    event text not null,
    level integer not null,
    payload jsonb not null,
    status text not null default 'pending'
        check (status in ('pending', 'sent', 'dead')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz
);
create index if not exists notification_outbox_due_idx
    on ops.notification_outbox (next_attempt_at) where status = 'pending';
create index if not exists notification_outbox_alert_idx
    on ops.notification_outbox (alert_id);
comment on table ops.notification_outbox is
    'Every notification ytempire sends, written before it is sent and marked sent after '
    '(pending -> sent, or dead when the channel refused it for good). No secrets are stored.';
"""

INSERT_SQL = """
insert into ops.notification_outbox
    (event_key, dedup_key, alert_id, channel, event, level, payload, status, attempts,
     last_error, created_at, sent_at)
values (%(event_key)s, %(dedup_key)s, %(alert_id)s, %(channel)s, %(event)s, %(level)s,
        %(payload)s, %(status)s, %(attempts)s, %(last_error)s,
        coalesce(%(created_at)s::timestamptz, now()), %(sent_at)s)
on conflict (event_key) do nothing
returning id
"""


@dataclass
class Delivery:
    """What happened to one notification in one delivery pass."""

    channel: str
    event: str
    dedup_key: str
    status: str  # sent | pending | dead | dry_run | duplicate
    attempts: int = 0
    outbox_id: int | None = None
    event_key: str | None = None
    summary: str = ""
    error: str | None = None
    body: dict[str, Any] | None = None  # only in dry runs: what would be sent


@dataclass
class DeliveryReport:
    """The result of `deliver_pending` / `deliver_direct`: one entry per notification handled."""

    deliveries: list[Delivery] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requeued: int = 0
    dry_run: bool = False

    def with_status(self, status: str) -> list[Delivery]:
        return [item for item in self.deliveries if item.status == status]

    @property
    def sent(self) -> list[Delivery]:
        return self.with_status(STATUS_SENT)

    @property
    def pending(self) -> list[Delivery]:
        return self.with_status(STATUS_PENDING)

    @property
    def dead(self) -> list[Delivery]:
        return self.with_status(STATUS_DEAD)

    def lines(self) -> list[str]:
        """One readable line per delivery, then the skip lines."""
        verb = "would send" if self.dry_run else None
        rows = []
        for item in self.deliveries:
            state = verb or item.status
            reason = f" ({item.error})" if item.error else ""
            rows.append(f"{item.channel}: {state} {item.event} {item.dedup_key}{reason}")
        return rows + list(self.skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "requeued": self.requeued,
            "skipped": list(self.skipped),
            "deliveries": [asdict(item) for item in self.deliveries],
        }


# ---------------------------------------------------------------------------------------------
# schema and enqueue


def ensure_schema(db: psycopg.Connection) -> None:
    """Create `ops.notification_outbox` if needed (safe when two processes race).

    An existing table is left alone: no DDL (and no table lock) on the common path.
    """
    if _outbox_exists(db):
        return
    with db.transaction():
        db.execute("select pg_advisory_xact_lock(hashtext(%s))", (DDL_LOCK_KEY,))
        db.execute(SCHEMA_DDL)


def _outbox_exists(db: psycopg.Connection) -> bool:
    found = db.execute("select to_regclass('ops.notification_outbox') is not null").fetchone()
    return bool(found and found[0])


def event_key(notification: Notification) -> str:
    """`<alert id or dedup key>:<event>:<level>:<channel>:<sequence>`: one delivery's identity.

    The sequence is `alert.event_seq`, the caller's number for repeated events of one alert
    (e.g. the n-th reminder): a new number is a new delivery, a repeat is not.
    """
    alert = notification.alert
    owner = alert.alert_id if alert.alert_id is not None else alert.dedup_key
    return f"{owner}:{notification.event}:{alert.level}:{notification.channel}:{alert.event_seq}"


def outbox_row(notification: Notification, settings: NotifySettings) -> dict[str, Any]:
    """The stored form of a notification: the rendered body, scrubbed of secrets."""
    alert = notification.alert
    payload = {
        "summary": message.summary(alert, notification.event),
        "body": notify.render(notification, settings),
    }
    return {
        "event_key": event_key(notification),
        "dedup_key": alert.dedup_key,
        "alert_id": alert.alert_id,
        "channel": str(notification.channel),
        "event": str(notification.event),
        "level": alert.level,
        "payload": _scrub(payload, settings),
        "status": STATUS_PENDING,
        "attempts": 0,
        "last_error": None,
        "created_at": None,
        "sent_at": None,
    }


def enqueue(
    db: psycopg.Connection,
    notifications: Iterable[Notification],
    settings: NotifySettings | None = None,
) -> list[int]:
    """Store each notification as a pending row (existing event keys are kept as they are).

    Runs inside the caller's transaction when there is one (so alert state and outbox rows
    commit together). Returns the outbox id of each notification, in order, and sets
    `notification.outbox_id`.
    """
    settings = settings or NotifySettings.from_env()
    ensure_schema(db)
    ids: list[int] = []
    with db.transaction():
        for notification in notifications:
            row = outbox_row(notification, settings)
            notification.outbox_id = _insert(db, row)
            ids.append(notification.outbox_id)
    return ids


def notified_channels(db: psycopg.Connection, alert_id: int) -> tuple[Channel, ...]:
    """The channels a trigger or reminder of alert `alert_id` was sent (or is queued) to.

    Set `alert.notified_channels` to these before routing a resolve, so the resolve goes where
    the trigger went (a stored alert has them already).
    """
    ensure_schema(db)
    rows = db.execute(
        "select distinct channel from ops.notification_outbox "
        "where alert_id = %s and event in ('trigger', 'remind') and status <> 'dead' "
        "order by channel",
        (alert_id,),
    ).fetchall()
    return tuple(Channel(row[0]) for row in rows)


# ---------------------------------------------------------------------------------------------
# delivery from the outbox


@dataclass
class _Pass:
    """State of one delivery pass: channels that failed for good this run are not hammered."""

    settings: NotifySettings
    sleep: Callable[[float], None]
    failed_channels: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def attempt(self, channel: Channel, body: dict[str, Any]) -> Attempted | None:
        """Send with retries; None when the channel is unconfigured or already failed this run."""
        missing = self.settings.missing(channel)
        if missing:
            self.skipped.setdefault(str(channel), notify.routing.skip_line(channel, missing))
            return None
        if str(channel) in self.failed_channels:
            return None
        attempted = send_with_retries(
            lambda: notify.send(channel, body, self.settings), self.settings, self.sleep
        )
        outcome = attempted.outcome
        if not outcome.ok and not outcome.permanent:
            self.failed_channels[str(channel)] = self.settings.redact(outcome.error)
        return attempted

    def not_tried_reason(self, channel: str) -> str:
        if channel in self.skipped:
            return self.skipped[channel]
        return f"not tried: {channel} failed earlier in this run ({self.failed_channels[channel]})"


def deliver_pending(
    db: psycopg.Connection,
    settings: NotifySettings | None = None,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> DeliveryReport:
    """Send every due pending row; see the module docstring for what each outcome does.

    `db` must be in autocommit mode (`connection.connect`'s default) and outside a transaction:
    each row is locked, sent and marked in its own committed transaction.
    """
    if not db.autocommit:
        raise ValueError("deliver_pending needs an autocommit connection: rows commit one by one")
    settings = settings or NotifySettings.from_env()
    ensure_schema(db)
    report = DeliveryReport(dry_run=dry_run)
    if dry_run:
        waiting = _latest_lines(settings.undelivered_file()).values()
        rows = [*_due_rows(db), *[line for line in waiting if line.get("status") == "pending"]]
        report.deliveries += [_dry_run_entry(row) for row in rows]
        return report
    report.requeued = requeue_undelivered(db, settings)
    run = _Pass(settings=settings, sleep=sleep or time.sleep)
    for outbox_id in [row["id"] for row in _due_rows(db)]:
        delivery = _deliver_one(db, outbox_id, run)
        if delivery is not None:
            report.deliveries.append(delivery)
    report.skipped = list(run.skipped.values())
    return report


def _due_rows(db: psycopg.Connection) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select * from ops.notification_outbox "
            "where status = 'pending' and next_attempt_at <= now() order by id"
        ).fetchall()


def _deliver_one(db: psycopg.Connection, outbox_id: int, run: _Pass) -> Delivery | None:
    with db.transaction(), db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "select * from ops.notification_outbox "
            "where id = %s and status = 'pending' for update skip locked",
            (outbox_id,),
        ).fetchone()
        if row is None:
            return None  # another deliverer holds it, or it was sent meanwhile
        channel = Channel(row["channel"])
        attempted = run.attempt(channel, row["payload"]["body"])
        if attempted is None:
            reason = run.not_tried_reason(str(channel))
            cur.execute(
                "update ops.notification_outbox set last_error = %s where id = %s",
                (reason, outbox_id),
            )
            return _entry(row, STATUS_PENDING, row["attempts"], reason)
        status, error = _record_outcome(cur, row, attempted, run.settings)
        return _entry(row, status, row["attempts"] + attempted.attempts, error)


def _record_outcome(
    cur: psycopg.Cursor, row: dict[str, Any], attempted: Attempted, settings: NotifySettings
) -> tuple[str, str | None]:
    outcome = attempted.outcome
    error = settings.redact(outcome.error) or None
    where = f"{row['channel']} {row['event']} {row['dedup_key']} (outbox #{row['id']})"
    if outcome.ok:
        cur.execute(
            "update ops.notification_outbox set status = 'sent', sent_at = now(), "
            "attempts = attempts + %s, last_error = %s where id = %s",
            (attempted.attempts, error, row["id"]),
        )
        log.info("sent %s after %d tries", where, attempted.attempts)
        return STATUS_SENT, error
    if outcome.permanent:
        cur.execute(
            "update ops.notification_outbox set status = 'dead', attempts = attempts + %s, "
            "last_error = %s where id = %s",
            (attempted.attempts, error, row["id"]),
        )
        log.error("%s refused for good, marked dead: %s", where, error)
        return STATUS_DEAD, error
    delay = float(outcome.retry_after_s or 0.0)  # the next run retries, after Retry-After
    cur.execute(
        "update ops.notification_outbox set attempts = attempts + %s, last_error = %s, "
        "next_attempt_at = now() + make_interval(secs => %s) where id = %s",
        (attempted.attempts, error, delay, row["id"]),
    )
    log.warning(
        "%s not delivered after %d tries, kept for the next run: %s",
        where,
        attempted.attempts,
        error,
    )
    return STATUS_PENDING, error


def _entry(row: dict[str, Any], status: str, attempts: int, error: str | None) -> Delivery:
    return Delivery(
        channel=row["channel"],
        event=row["event"],
        dedup_key=row["dedup_key"],
        status=status,
        attempts=attempts,
        outbox_id=row.get("id"),
        event_key=row["event_key"],
        summary=row["payload"].get("summary", ""),
        error=error,
    )


def _dry_run_entry(row: dict[str, Any]) -> Delivery:
    entry = _entry(row, "dry_run", row.get("attempts", 0), None)
    entry.body = row["payload"].get("body")
    return entry


# ---------------------------------------------------------------------------------------------
# delivery without a database, and the undelivered file


def deliver_direct(
    notifications: Iterable[Notification],
    settings: NotifySettings | None = None,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> DeliveryReport:
    """Send without the outbox (the database is down); record everything in the local file.

    A notification whose event key the file already records as sent is not sent again.
    """
    settings = settings or NotifySettings.from_env()
    report = DeliveryReport(dry_run=dry_run)
    path = settings.undelivered_file()
    already_sent = {
        key for key, line in _latest_lines(path).items() if line.get("status") == STATUS_SENT
    }
    run = _Pass(settings=settings, sleep=sleep or time.sleep)
    for notification in notifications:
        row = outbox_row(notification, settings)
        if row["event_key"] in already_sent:
            report.deliveries.append(_entry(row, "duplicate", 0, "already sent"))
            continue
        if dry_run:
            entry = _entry(row, "dry_run", 0, None)
            entry.body = row["payload"]["body"]
            report.deliveries.append(entry)
            continue
        report.deliveries.append(_deliver_direct_one(row, run, path))
    report.skipped = list(run.skipped.values())
    return report


def _deliver_direct_one(row: dict[str, Any], run: _Pass, path: Path) -> Delivery:
    channel = Channel(row["channel"])
    attempted = run.attempt(channel, row["payload"]["body"])
    if attempted is None:
        reason = run.not_tried_reason(str(channel))
        if str(channel) in run.skipped:
            return _entry(row, "skipped", 0, reason)
        row.update(status=STATUS_PENDING, last_error=reason)
    else:
        outcome = attempted.outcome
        error = run.settings.redact(outcome.error) or None
        status = STATUS_SENT if outcome.ok else STATUS_DEAD if outcome.permanent else STATUS_PENDING
        row.update(status=status, attempts=attempted.attempts, last_error=error)
        if status == STATUS_SENT:
            row["sent_at"] = datetime.now(UTC).isoformat()
        elif status == STATUS_DEAD:
            log.error("%s %s refused for good: %s", row["channel"], row["dedup_key"], error)
        else:
            log.warning(
                "%s %s not delivered (database down too), kept in %s: %s",
                row["channel"],
                row["dedup_key"],
                path,
                error,
            )
    row["created_at"] = datetime.now(UTC).isoformat()
    _append_line(path, row)
    return _entry(row, row["status"], row["attempts"], row["last_error"])


def _append_line(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(row, default=str, sort_keys=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _read_lines(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The parsed lines of `path`, and the lines that are not valid JSON objects."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            bad.append(raw)
            continue
        if isinstance(parsed, dict) and {"event_key", "channel", "payload"} <= parsed.keys():
            good.append(parsed)
        else:
            bad.append(raw)
    return good, bad


def _latest_lines(path: Path) -> dict[str, dict[str, Any]]:
    """The last line per event key (a later line is a later state of the same delivery)."""
    lines, _ = _read_lines(path)
    return {line["event_key"]: line for line in lines}


def requeue_undelivered(db: psycopg.Connection, settings: NotifySettings | None = None) -> int:
    """Move the undelivered file's lines into the outbox; returns how many rows were added."""
    settings = settings or NotifySettings.from_env()
    path = settings.undelivered_file()
    claimed = path.with_name(f"{path.name}.{os.getpid()}.claimed")
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, claimed)
    added = 0
    for claim in sorted(path.parent.glob(f"{path.name}.*.claimed")):
        added += _requeue_file(db, claim, path.with_name(f"{path.name}.invalid"))
    return added


def _requeue_file(db: psycopg.Connection, claim: Path, invalid: Path) -> int:
    lines, bad = _read_lines(claim)
    if bad:
        with invalid.open("a", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in bad)
        log.error("%d unreadable line(s) of %s kept in %s", len(bad), claim, invalid)
    latest: dict[str, dict[str, Any]] = {}
    for line in lines:
        latest[line["event_key"]] = line
    added = 0
    with db.transaction():
        for line in latest.values():
            if _insert(db, _row_from_line(line), only_new=True) is not None:
                added += 1
    claim.unlink(missing_ok=True)
    if added:
        log.info("moved %d notification(s) from %s into the outbox", added, claim.name)
    return added


def _row_from_line(line: dict[str, Any]) -> dict[str, Any]:
    status = line.get("status")
    if status not in (STATUS_SENT, STATUS_DEAD):
        status = STATUS_PENDING
    return {
        "event_key": line["event_key"],
        "dedup_key": line.get("dedup_key") or line["event_key"],
        "alert_id": line.get("alert_id"),
        "channel": line["channel"],
        "event": line.get("event", "trigger"),
        "level": int(line.get("level") or 0),
        "payload": line["payload"],
        "status": status,
        "attempts": int(line.get("attempts") or 0),
        "last_error": line.get("last_error"),
        "created_at": line.get("created_at"),
        "sent_at": line.get("sent_at") if status == STATUS_SENT else None,
    }


# ---------------------------------------------------------------------------------------------
# helpers


def _insert(db: psycopg.Connection, row: dict[str, Any], *, only_new: bool = False) -> int | None:
    params = dict(row, payload=Jsonb(row["payload"]))
    inserted = db.execute(INSERT_SQL, params).fetchone()
    if inserted is not None:
        return int(inserted[0])
    if only_new:
        return None
    existing = db.execute(
        "select id from ops.notification_outbox where event_key = %s", (row["event_key"],)
    ).fetchone()
    return int(existing[0])


def _scrub(payload: dict[str, Any], settings: NotifySettings) -> dict[str, Any]:
    """The payload with any secret value replaced (a safety net: rendering adds none)."""
    text = json.dumps(payload)
    scrubbed = settings.redact(text)
    return payload if scrubbed == text else json.loads(scrubbed)
