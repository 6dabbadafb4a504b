"""The alert state table, `ops.alerts_log` (one open row per condition), and its rows as alerts.

It owns the schema (`ensure_schema` creates `ops.run_log` too, `run_log.DDL`), the row <->
`StoredAlert` mapping (an alert's typed details are the `extra` jsonb column, its `event_seq` the
row's `notify_seq`, so the outbox delivers one event of one alert at most once per channel), the
reads (`open_alerts`, `list_alerts`, `get_alert`) and the writes (`insert`, `update`). How an
alert moves (trigger, raise, remind, escalate, acknowledge, resolve) is `alert_lifecycle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from orchestrator import monitoring_log, remediation, run_log
from orchestrator.alert import Alert, Channel, Severity
from orchestrator.errors import YtempireError
from orchestrator.quality import store as quality_store

SCHEMA_LOCK_KEY = 7_283_450_112  # serialises the idempotent DDL of concurrent first runs

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
"""


class AlertNotFound(YtempireError):
    """No alert with that id (exit 3 like every error a user can fix)."""


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
    """Create schema `ops`, `ops.alerts_log`, `ops.run_log`, `ops.data_quality_checks`,
    `ops.monitoring_log` and `ops.remediation_log` if missing (safe to run concurrently)."""
    with db.transaction():
        db.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        db.execute(DDL + run_log.DDL + quality_store.DDL + monitoring_log.DDL + remediation.DDL)


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


def extra_column(alert: Alert) -> Jsonb:
    """The `extra` column: the alert's details (its delivery state has columns of its own)."""
    return Jsonb(alert.details())


def insert(
    db: psycopg.Connection,
    alert: Alert,
    now: datetime,
    run_id: int | None,
    *,
    notify_seq: int = 1,
    notified_at: datetime | None = None,
) -> StoredAlert:
    """A new open row for `alert`, opened, seen and notified at `now` (or `notified_at`)."""
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
                extra_column(alert),
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


def update(db: psycopg.Connection, alert_id: int, **columns: Any) -> StoredAlert:
    """Set `columns` of alert `alert_id`; the stored alert as it is now."""
    assignments = ", ".join(f"{name} = %s" for name in columns)
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"update ops.alerts_log set {assignments} where alert_id = %s returning *",
            (*columns.values(), alert_id),
        ).fetchone()
    return _row_to_stored(row)
