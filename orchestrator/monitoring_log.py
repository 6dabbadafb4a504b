"""The monitoring log, `ops.monitoring_log`: one row per run of a checking command (`hourly`,
`morning`...) with everything it checked, as jsonb (the playbook's `log_monitoring_results`).

`results` holds the run's sections as they were computed, so values are written exactly: a
Decimal becomes a JSON number with its own digits (12.345 stays 12.345, no float rounding; jsonb
keeps numbers as numeric), dates and datetimes their ISO text. Every run has its own `run_id`
(`ops.run_log`), so `record` only inserts; `purge` is the retention.

`DDL` is created with the alert state's tables, by `alerts_store.ensure_schema`; `ensure_schema`
here creates it alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

DDL = """
create table if not exists ops.monitoring_log (
    log_id bigserial primary key,
    run_id bigint,
    command text not null,
    checked_at timestamptz not null,
    results jsonb not null,
    logged_at timestamptz not null default now()
);
create index if not exists monitoring_log_command_checked_at
    on ops.monitoring_log (command, checked_at);
"""


def ensure_schema(db: psycopg.Connection) -> None:
    """Create schema `ops` and `ops.monitoring_log` if missing (safe to run concurrently)."""
    # imported here: alerts_store imports this module for DDL
    from orchestrator.alerts_store import SCHEMA_LOCK_KEY

    with db.transaction():
        db.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        db.execute("create schema if not exists ops;" + DDL)


def to_json(value: Any) -> str:
    """`value` as JSON text: Decimal as an exact number, date/datetime/time as ISO text, objects
    with `to_dict()` as their dict. NaN and infinities (no JSON number) raise ValueError."""
    if value is None or isinstance(value, bool | str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _finite(value, repr(value))
    if isinstance(value, Decimal):
        return _finite(value, str(value))
    if isinstance(value, date | time):  # datetime is a date
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_json(item) for item in value) + "]"
    if callable(getattr(value, "to_dict", None)):
        return to_json(value.to_dict())
    raise TypeError(f"cannot write a {type(value).__name__} to the monitoring log: {value!r}")


def _finite(value: float | Decimal, text: str) -> str:
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite:
        raise ValueError(f"{value} has no JSON representation: log a finite number or None")
    return text


def _key(key: Any) -> str:
    if isinstance(key, str):
        return json.dumps(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return json.dumps(str(key))
    raise TypeError(f"a monitoring log key must be text, not {type(key).__name__}: {key!r}")


def record(
    db: psycopg.Connection,
    *,
    run_id: int | None,
    command: str,
    checked_at: datetime,
    results: Mapping[str, Any],
) -> int:
    """Insert one run's `results` (checked at `checked_at`); the new row's log_id."""
    if checked_at.tzinfo is None:
        raise ValueError("checked_at must be timezone-aware (UTC)")
    row = db.execute(
        "insert into ops.monitoring_log (run_id, command, checked_at, results)"
        " values (%s, %s, %s, %s) returning log_id",
        (run_id, command, checked_at, Jsonb(results, dumps=to_json)),
    ).fetchone()
    return int(row[0])


def purge(db: psycopg.Connection, older_than: datetime) -> int:
    """Delete the rows checked before `older_than` (retention); how many were deleted."""
    if older_than.tzinfo is None:
        raise ValueError("older_than must be timezone-aware (UTC)")
    cursor = db.execute("delete from ops.monitoring_log where checked_at < %s", (older_than,))
    return cursor.rowcount
