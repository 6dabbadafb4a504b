"""Alert state in the database: `ops.alerts_log` (one open row per condition) and `ops.run_log`.

- `reconcile` turns this run's alerts into events: a new condition is a TRIGGER; an open one
  whose level rose is a TRIGGER at the new level; an open one past the cooldown is a REMIND;
  an open one whose condition was evaluated this run and is gone is RESOLVED.
- `escalate_overdue` is the SLA clock: an open (not acknowledged) alert whose level's SLA ran out
  goes one level up and is notified to that level's owner.
- `acknowledge` / `resolve` by id for `ytempire alerts ack|resolve`.

Every event carries `alert.event_seq` (the row's `notify_seq`, the alert's notification sequence
number), so the outbox delivers one event of one alert at most once per channel; a stored alert
also carries `notified_channels`, where a resolve goes. The alert's typed details live in the
`extra` jsonb column (`Alert.details()` / `Alert.with_details()`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from orchestrator import escalation
from orchestrator.alert import Alert, Channel, Event, Severity
from orchestrator.errors import YtempireError

SCHEMA_LOCK_KEY = 7_283_450_112  # serialises the idempotent DDL of concurrent first runs
OPEN_STATUSES = ("open", "acknowledged")

DDL = """
create schema if not exists ops;

create table if not exists ops.alerts_log (
    alert_id bigserial primary key,
    dedup_key text not null,
    status text not null default 'open'
        check (status in ('open', 'acknowledged', 'resolved')),
    alert_type text not null,
    escalation text not null,
    severity text not null,
    level integer not null check (level between 1 and 3),
    owner text not null,
    action text not null,
    sla_minutes integer not null,
    message text not null,
    figure text,
    node_id text,
    node_name text,
    docs_url text,
    extra jsonb not null default '{}'::jsonb,
    notified_channels text[] not null default '{}',
    occurrences integer not null default 1,
    notify_seq integer not null default 0,
    opened_at timestamptz not null,
    level_since timestamptz not null,
    last_seen_at timestamptz not null,
    last_notified_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at timestamptz,
    resolved_by text,
    first_run_id bigint,
    last_run_id bigint
);

create unique index if not exists alerts_log_one_open_per_condition
    on ops.alerts_log (dedup_key) where status <> 'resolved';

create table if not exists ops.run_log (
    run_id bigserial primary key,
    command text not null,
    arguments jsonb not null default '[]'::jsonb,
    pid integer,
    status text not null default 'running',
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    dbt_invocation_id text,
    freshness_invocation_id text,
    results_total integer,
    passed integer,
    warned integer,
    failed integer,
    errored integer,
    skipped integer,
    unknown integer,
    alerts_raised integer,
    alerts_resolved integer,
    notifications_enqueued integer,
    notifications_sent integer,
    exit_code integer,
    error text
);
"""


class AlertNotFound(YtempireError):
    """No alert with that id (exit 3 like every error a user can fix)."""


@dataclass
class Change:
    """One event of one stored alert, ready to route and enqueue."""

    alert: Alert
    event: Event


@dataclass
class StoredAlert:
    alert: Alert
    status: str
    opened_at: datetime
    level_since: datetime
    last_seen_at: datetime
    last_notified_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    occurrences: int
    notify_seq: int
    notified_channels: list[str]

    def sla_due_at(self) -> datetime:
        return self.level_since + timedelta(minutes=self.alert.sla_minutes)

    def to_dict(self) -> dict[str, Any]:
        data = self.alert.to_dict()
        data.update(
            status=self.status,
            opened_at=self.opened_at.isoformat(),
            level_since=self.level_since.isoformat(),
            sla_due_at=self.sla_due_at().isoformat(),
            last_seen_at=self.last_seen_at.isoformat(),
            last_notified_at=_iso(self.last_notified_at),
            acknowledged_at=_iso(self.acknowledged_at),
            resolved_at=_iso(self.resolved_at),
            occurrences=self.occurrences,
        )
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ensure_schema(db: psycopg.Connection) -> None:
    """Create schema `ops` and its tables if missing (safe to run concurrently)."""
    with db.transaction():
        db.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        db.execute(DDL)


def _row_to_stored(row: dict[str, Any]) -> StoredAlert:
    channels = list(row["notified_channels"] or [])
    alert = Alert(
        dedup_key=row["dedup_key"],
        alert_type=row["alert_type"],
        escalation=row["escalation"],
        severity=Severity(row["severity"]),
        level=row["level"],
        owner=row["owner"],
        action=row["action"],
        sla_minutes=row["sla_minutes"],
        message=row["message"],
        figure=row["figure"],
        node_id=row["node_id"],
        node_name=row["node_name"],
        docs_url=row["docs_url"],
        status=row["status"],
        alert_id=row["alert_id"],
        event_seq=row["notify_seq"],
        notified_channels=tuple(Channel(name) for name in channels),
    ).with_details(row["extra"])
    return StoredAlert(
        alert=alert,
        status=row["status"],
        opened_at=row["opened_at"],
        level_since=row["level_since"],
        last_seen_at=row["last_seen_at"],
        last_notified_at=row["last_notified_at"],
        acknowledged_at=row["acknowledged_at"],
        resolved_at=row["resolved_at"],
        occurrences=row["occurrences"],
        notify_seq=row["notify_seq"],
        notified_channels=channels,
    )


def _fetch(db: psycopg.Connection, query: str, params: Sequence[Any] = ()) -> list[StoredAlert]:
    with db.cursor(row_factory=dict_row) as cur:
        return [_row_to_stored(row) for row in cur.execute(query, params).fetchall()]


def open_alerts(db: psycopg.Connection, *, for_update: bool = False) -> list[StoredAlert]:
    lock = " for update" if for_update else ""
    return _fetch(
        db,
        f"select * from ops.alerts_log where status <> 'resolved' order by alert_id{lock}",
    )


def list_alerts(
    db: psycopg.Connection, *, include_resolved: bool = False, limit: int = 100
) -> list[StoredAlert]:
    where = "" if include_resolved else "where status <> 'resolved'"
    return _fetch(
        db, f"select * from ops.alerts_log {where} order by alert_id desc limit %s", (limit,)
    )


def get_alert(db: psycopg.Connection, alert_id: int) -> StoredAlert:
    found = _fetch(db, "select * from ops.alerts_log where alert_id = %s", (alert_id,))
    if not found:
        raise AlertNotFound(f"No alert with id {alert_id}: see `ytempire alerts list --all`.")
    return found[0]


def _details(alert: Alert) -> Jsonb:
    """The `extra` column: the alert's details (its delivery state has columns of its own)."""
    return Jsonb(alert.details())


def _insert(
    db: psycopg.Connection,
    alert: Alert,
    now: datetime,
    run_id: int | None,
    *,
    notify_seq: int = 1,
    notified_at: datetime | None = None,
) -> StoredAlert:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """
            insert into ops.alerts_log (
                dedup_key, alert_type, escalation, severity, level, owner, action, sla_minutes,
                message, figure, node_id, node_name, docs_url, extra, notify_seq,
                opened_at, level_since, last_seen_at, last_notified_at, first_run_id, last_run_id
            ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                      %s, %s, %s, %s, %s, %s)
            returning *
            """,
            (
                alert.dedup_key,
                alert.alert_type,
                alert.escalation,
                str(alert.severity),
                alert.level,
                alert.owner,
                alert.action,
                alert.sla_minutes,
                alert.message,
                alert.figure,
                alert.node_id,
                alert.node_name,
                alert.docs_url,
                _details(alert),
                notify_seq,
                now,
                now,
                now,
                notified_at or now,
                run_id,
                run_id,
            ),
        ).fetchone()
    return _row_to_stored(row)


def _update(db: psycopg.Connection, alert_id: int, **columns: Any) -> StoredAlert:
    assignments = ", ".join(f"{name} = %s" for name in columns)
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"update ops.alerts_log set {assignments} where alert_id = %s returning *",
            (*columns.values(), alert_id),
        ).fetchone()
    return _row_to_stored(row)


def _raise_level(
    db: psycopg.Connection, stored: StoredAlert, alert: Alert, now: datetime, run_id: int | None
) -> StoredAlert:
    return _update(
        db,
        stored.alert.alert_id or 0,
        status="open",
        severity=str(alert.severity),
        level=alert.level,
        owner=alert.owner,
        action=alert.action,
        sla_minutes=alert.sla_minutes,
        message=alert.message,
        figure=alert.figure,
        docs_url=alert.docs_url,
        extra=_details(alert),
        notify_seq=stored.notify_seq + 1,
        level_since=now,
        last_seen_at=now,
        last_notified_at=now,
        occurrences=stored.occurrences + 1,
        last_run_id=run_id,
        acknowledged_at=None,
        acknowledged_by=None,
    )


def reconcile(
    db: psycopg.Connection,
    alerts: Iterable[Alert],
    *,
    evaluated_keys: Iterable[str],
    now: datetime,
    cooldown_minutes: int,
    run_id: int | None = None,
) -> list[Change]:
    """Store this run's alerts and return the events to notify (run inside a transaction).

    `evaluated_keys` are the dedup keys whose condition this run checked: an open alert among
    them that is not in `alerts` is resolved. Conditions this run did not check stay open.
    """
    current = {alert.dedup_key: alert for alert in alerts}
    existing = {stored.alert.dedup_key: stored for stored in open_alerts(db, for_update=True)}
    cooldown = timedelta(minutes=cooldown_minutes)
    changes: list[Change] = []
    for key, alert in current.items():
        stored = existing.get(key)
        if stored is None:
            changes.append(Change(_insert(db, alert, now, run_id).alert, Event.TRIGGER))
        elif alert.level > stored.alert.level:
            risen = replace(alert, previous_level=stored.alert.level)
            changes.append(
                Change(_raise_level(db, stored, risen, now, run_id).alert, Event.TRIGGER)
            )
        elif stored.status == "open" and (
            stored.last_notified_at is None or now - stored.last_notified_at >= cooldown
        ):
            updated = _update(
                db,
                stored.alert.alert_id or 0,
                message=alert.message,
                figure=alert.figure,
                notify_seq=stored.notify_seq + 1,
                last_seen_at=now,
                last_notified_at=now,
                occurrences=stored.occurrences + 1,
                last_run_id=run_id,
            )
            changes.append(Change(updated.alert, Event.REMIND))
        else:
            _update(
                db,
                stored.alert.alert_id or 0,
                message=alert.message,
                figure=alert.figure,
                last_seen_at=now,
                occurrences=stored.occurrences + 1,
                last_run_id=run_id,
            )
    for key in set(evaluated_keys) - set(current):
        stored = existing.get(key)
        if stored is not None:
            changes.append(_resolve(db, stored, now, by="run", run_id=run_id))
    return changes


def _resolve(
    db: psycopg.Connection,
    stored: StoredAlert,
    now: datetime,
    *,
    by: str,
    run_id: int | None = None,
) -> Change:
    columns: dict[str, Any] = {
        "status": "resolved",
        "resolved_at": now,
        "resolved_by": by,
        "notify_seq": stored.notify_seq + 1,
    }
    if run_id is not None:
        columns["last_run_id"] = run_id
    updated = _update(db, stored.alert.alert_id or 0, **columns)
    return Change(updated.alert, Event.RESOLVE)


def escalate_overdue(
    db: psycopg.Connection, matrix: escalation.Matrix, *, now: datetime, run_id: int | None = None
) -> list[Change]:
    """The SLA clock: open alerts past their level's SLA go one level up (run in a transaction).

    Acknowledged alerts do not escalate (someone is on it); level 3 is the top.
    """
    changes = []
    for stored in open_alerts(db, for_update=True):
        if stored.status != "open" or stored.alert.level >= 3 or now < stored.sla_due_at():
            continue
        if stored.alert.escalation not in matrix.categories:
            continue
        higher = escalation.escalated(matrix, stored.alert)
        updated = _update(
            db,
            stored.alert.alert_id or 0,
            level=higher.level,
            owner=higher.owner,
            action=higher.action,
            sla_minutes=higher.sla_minutes,
            severity=str(higher.severity),
            extra=_details(higher),
            notify_seq=stored.notify_seq + 1,
            level_since=now,
            last_notified_at=now,
            last_run_id=run_id,
        )
        changes.append(Change(updated.alert, Event.TRIGGER))
    return changes


def record_channels(db: psycopg.Connection, alert_id: int, channels: Iterable[str]) -> None:
    """Remember where an alert's triggers went, so its resolve goes to the same channels."""
    db.execute(
        """
        update ops.alerts_log
        set notified_channels = (
            select coalesce(array_agg(distinct channel order by channel), '{}')
            from unnest(notified_channels || %s::text[]) as channel
        )
        where alert_id = %s
        """,
        (list(channels), alert_id),
    )


def adopt(
    db: psycopg.Connection, alert: Alert, *, opened_at: datetime, channels: Iterable[str] = ()
) -> StoredAlert:
    """Store an alert that was already notified without the database (e.g. an outage)."""
    existing = [s for s in open_alerts(db) if s.alert.dedup_key == alert.dedup_key]
    if existing:
        return existing[0]
    stored = _insert(db, alert, opened_at, None, notified_at=opened_at)
    record_channels(db, stored.alert.alert_id or 0, channels)
    return get_alert(db, stored.alert.alert_id or 0)


def acknowledge(db: psycopg.Connection, alert_id: int, *, by: str, now: datetime) -> StoredAlert:
    stored = get_alert(db, alert_id)
    if stored.status == "resolved":
        raise AlertNotFound(f"Alert {alert_id} is already resolved: nothing to acknowledge.")
    return _update(db, alert_id, status="acknowledged", acknowledged_at=now, acknowledged_by=by)


def resolve(db: psycopg.Connection, alert_id: int, *, by: str, now: datetime) -> Change:
    """Resolve by hand; the resolve event is notified like an automatic one."""
    stored = get_alert(db, alert_id)
    if stored.status == "resolved":
        raise AlertNotFound(f"Alert {alert_id} is already resolved.")
    return _resolve(db, stored, now, by=by)


# --- ops.run_log ------------------------------------------------------------------------------


@dataclass
class RunSummary:
    status: str
    exit_code: int
    dbt_invocation_id: str | None = None
    freshness_invocation_id: str | None = None
    counts: dict[str, int] | None = None
    alerts_raised: int = 0
    alerts_resolved: int = 0
    notifications_enqueued: int = 0
    notifications_sent: int = 0
    error: str | None = None


def start_run(
    db: psycopg.Connection, command: str, arguments: Sequence[str], pid: int, now: datetime
) -> int:
    row = db.execute(
        "insert into ops.run_log (command, arguments, pid, started_at) values (%s, %s, %s, %s) "
        "returning run_id",
        (command, Jsonb(list(arguments)), pid, now),
    ).fetchone()
    return int(row[0])


def finish_run(db: psycopg.Connection, run_id: int, summary: RunSummary, now: datetime) -> None:
    counts = summary.counts or {}
    db.execute(
        """
        update ops.run_log set
            status = %s, finished_at = %s, exit_code = %s, dbt_invocation_id = %s,
            freshness_invocation_id = %s, results_total = %s, passed = %s, warned = %s,
            failed = %s, errored = %s, skipped = %s, unknown = %s, alerts_raised = %s,
            alerts_resolved = %s, notifications_enqueued = %s, notifications_sent = %s, error = %s
        where run_id = %s
        """,
        (
            summary.status,
            now,
            summary.exit_code,
            summary.dbt_invocation_id,
            summary.freshness_invocation_id,
            sum(counts.values()) if counts else 0,
            counts.get("pass", 0),
            counts.get("warn", 0),
            counts.get("fail", 0),
            counts.get("error", 0),
            counts.get("skipped", 0),
            counts.get("unknown", 0),
            summary.alerts_raised,
            summary.alerts_resolved,
            summary.notifications_enqueued,
            summary.notifications_sent,
            summary.error,
            run_id,
        ),
    )
