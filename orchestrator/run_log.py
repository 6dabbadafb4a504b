"""The run record, `ops.run_log`: one row per run of a command (`start_run` when it starts,
`finish_run` with its `RunSummary` when it ends, whatever happened).

`DDL` is created with the alert state's tables, by `alerts_store.ensure_schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

DDL = """
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
alter table ops.run_log add column if not exists outage_token text;
create unique index if not exists run_log_outage_token on ops.run_log (outage_token);
"""
ABANDONED = (
    "abandoned: still `running` when a later run started (its process is gone: every run holds "
    "the dbt lock, so none can be running)"
)


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
    """Record the run; runs still `running` are marked `abandoned` first (the caller holds the
    dbt lock, which every run holds while it runs, so their process is gone)."""
    db.execute(
        "update ops.run_log set status = 'abandoned', finished_at = %s, exit_code = 3,"
        " error = %s where status = 'running'",
        (now, ABANDONED),
    )
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


def mark_failed(db: psycopg.Connection, run_ids: Sequence[int], error: str, now: datetime) -> None:
    """Runs that lost the database mid-run, recorded when a later run reaches it again."""
    db.execute(
        "update ops.run_log set status = 'failed', finished_at = coalesce(finished_at, %s),"
        " exit_code = 3, error = %s where run_id = any(%s) and status in ('running', 'abandoned')",
        (now, error, list(run_ids)),
    )


def record_outage_run(db: psycopg.Connection, run: dict[str, object]) -> None:
    """A run that could not reach the database (kept in the outage file until then); once."""
    db.execute(
        "insert into ops.run_log (command, arguments, pid, status, started_at, finished_at,"
        " exit_code, error, outage_token) values (%s, %s, %s, 'outage', %s, %s, 3, %s, %s)"
        " on conflict (outage_token) do nothing",
        (
            run["command"],
            Jsonb(run.get("arguments") or []),
            run.get("pid"),
            run["started_at"],
            run["finished_at"],
            run["error"],
            run["token"],
        ),
    )


CUT_SHORT = ("interrupted", "abandoned", "failed")


def cut_short_before(db: psycopg.Connection, run_id: int) -> tuple[int, str, str] | None:
    """(run id, command, status) of the latest earlier dbt-running run when it was cut short
    (interrupted by a signal, killed, or lost the database): dbt may have left dropped relations."""
    row = db.execute(
        "select run_id, command, status from ops.run_log where run_id < %s"
        " and command <> 'quality' and status <> 'outage' order by run_id desc limit 1",
        (run_id,),
    ).fetchone()
    if row is None or row[2] not in CUT_SHORT:
        return None
    return int(row[0]), str(row[1]), str(row[2])
