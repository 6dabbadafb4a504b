"""Synthetic raw data for the demo, the tests and the benchmarks (`ytempire generate`).

`generate()` (re)creates schema `raw` from `orchestrator/sql/raw_schema.sql` (each raw table is
dropped first, or truncated when a dbt view depends on it) and loads every table with binary
COPY, in one transaction. The same (scale, days, as_of, seed, inject) gives identical tables:
randomness is derived per entity (video, day, dashboard...) from a string seed, never `hash()`.

The clean tables' shapes are described in orchestrator/generate_tables.py, the injections and
their figures in orchestrator/generate_injections.py; `--append-hours` continues the data
(orchestrator/generate_append.py).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestrator import project_vars, raw_state
from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError
from orchestrator.generate_injections import (
    INJECTIONS,
    AnomalySizes,
    DirtyStats,
    inject_cost_spike,
    inject_dirty_costs,
    inject_failed_job,
    inject_quota_overuse,
    inject_slow_dashboard,
    plan_dirty_stats,
)
from orchestrator.generate_tables import (
    Plan,
    Video,
    build_api_usage,
    build_cache_stats,
    build_channels,
    build_costs,
    build_job_runs,
    build_query_log,
    build_users,
    build_videos,
    channel_rows,
    revenue_for,
    stats_for,
    user_rows,
    video_rows,
)
from orchestrator.project_vars import ProjectVars

log = logging.getLogger(__name__)

RAW_SCHEMA_SQL = Path(__file__).with_name("sql") / "raw_schema.sql"

COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("user_id", "email", "is_active", "created_at", "monthly_goal_cents"),
    "channels": (
        "channel_id",
        "user_id",
        "title",
        "niche",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "videos": ("video_id", "channel_id", "title", "published_at", "duration_s", "updated_at"),
    "video_stats": ("video_id", "collected_at", "views", "likes", "comments", "watch_minutes"),
    "revenue": ("video_id", "revenue_date", "estimated_cents", "actual_cents", "loaded_at"),
    "costs": ("cost_id", "video_id", "category", "amount_cents", "incurred_at"),
    "api_usage": ("request_id", "called_at", "endpoint", "quota_units", "status"),
    "job_runs": ("run_id", "job_name", "started_at", "finished_at", "status", "error_message"),
    "query_log": ("query_id", "dashboard_name", "executed_at", "duration_ms"),
    "cache_stats": (
        "collected_at",
        "keyspace_hits",
        "keyspace_misses",
        "used_memory_bytes",
        "keys",
    ),
}
TABLES: tuple[str, ...] = tuple(COLUMNS)

MAX_SCALE = 20.0


@dataclass
class GenerateReport:
    """What a run loaded: rows per raw table, timing, the arguments and the planted anomalies."""

    rows: dict[str, int]
    seconds: float
    as_of: datetime
    seed: int
    scale: float
    injected: tuple[str, ...]
    days: int = 35
    injected_details: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def normalise_as_of(as_of: datetime) -> datetime:
    """as_of in UTC; a naive value is taken as UTC."""
    if not isinstance(as_of, datetime):
        raise ConfigError(f"as_of={as_of!r} is not a timestamp: pass a datetime.")
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=UTC)
    return as_of.astimezone(UTC)


def validate_injections(inject: Iterable[str]) -> tuple[str, ...]:
    """The requested injections in canonical order; an unknown name is a ConfigError."""
    requested = list(inject)
    unknown = sorted({name for name in requested if name not in INJECTIONS})
    if unknown:
        raise ConfigError(
            f"Unknown injection {', '.join(unknown)}: choose from {', '.join(INJECTIONS)}."
        )
    return tuple(name for name in INJECTIONS if name in requested)


def make_plan(
    scale: float,
    days: int,
    as_of: datetime,
    seed: int,
    inject: Sequence[str],
    project: ProjectVars | None = None,
) -> Plan:
    """The validated arguments; injections sized from `project` (default: dbt_project.yml)."""
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        raise ConfigError(f"scale={scale!r} is not a number: use a positive number such as 0.05.")
    if not 0 < scale <= MAX_SCALE:
        raise ConfigError(
            f"scale={scale} is out of range: use a number above 0 and at most {MAX_SCALE:g}."
        )
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"days={days!r} is not a positive whole number of days: use 1 or more.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed={seed!r} is not an integer: use a whole number such as 42.")
    injections = validate_injections(inject)
    sizes = AnomalySizes.from_vars(project or project_vars.load())
    return Plan(float(scale), days, normalise_as_of(as_of), seed, injections, sizes)


# --------------------------------------------------------------------------------------------
# Streaming the big tables
# --------------------------------------------------------------------------------------------


def video_stats_rows(
    plan: Plan, videos: list[Video], dirty: DirtyStats | None, details: dict[str, dict[str, Any]]
) -> Iterator[tuple]:
    stale_after = plan.as_of - plan.sizes.stale_video_stats_lag
    is_stale = "stale_video_stats" in plan.inject
    removed = 0
    latest: datetime | None = None
    for video in videos:
        for row in stats_for(plan, video):
            if is_stale and row[1] > stale_after:
                removed += 1
                continue
            if dirty is not None:
                row = dirty.replacements.get((row[0], row[1]), row)
            if latest is None or row[1] > latest:
                latest = row[1]
            yield row
    if dirty is not None:
        yield from dirty.extra_rows
    if is_stale:
        details["stale_video_stats"] = {
            "removed_rows": removed,
            "latest_collected_at": latest,
            "latest_age_minutes": (plan.as_of - latest).total_seconds() / 60 if latest else None,
        }


def revenue_rows(plan: Plan, videos: list[Video]) -> Iterator[tuple]:
    for video in videos:
        yield from revenue_for(plan, video)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def reset_raw_schema(db: psycopg.Connection) -> None:
    """Drop each raw table (truncate it instead when a dbt view depends on it), then recreate."""
    exists = {
        row[0]
        for row in db.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        )
    }
    for table in TABLES:
        if table not in exists:
            continue
        name = sql.Identifier("raw", table)
        try:
            with db.transaction():
                db.execute(sql.SQL("drop table {}").format(name))
        except psycopg.errors.DependentObjectsStillExist:
            log.info("raw.%s has dependent views: truncating instead of dropping", table)
            db.execute(sql.SQL("truncate table {}").format(name))
    db.execute(RAW_SCHEMA_SQL.read_text())


def column_type_oids(db: psycopg.Connection, table: str) -> list[int]:
    """The catalog types of COLUMNS[table], for a binary COPY (raw_schema.sql is the contract)."""
    found = dict(
        db.execute(
            "select attname, atttypid::int from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            (f"raw.{table}",),
        ).fetchall()
    )
    return [found[column] for column in COLUMNS[table]]


def copy_rows(db: psycopg.Connection, table: str, rows: Iterable[tuple]) -> int:
    """Binary COPY (about 3x faster than text for timestamps and integers)."""
    statement = sql.SQL("copy {} ({}) from stdin (format binary)").format(
        sql.Identifier("raw", table), sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table]))
    )
    types = column_type_oids(db, table)
    count = 0
    with db.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def generate(
    conn: Connection,
    *,
    scale: float = 1.0,
    days: int = 35,
    as_of: datetime,
    seed: int = 42,
    inject: Sequence[str] = (),
    project: ProjectVars | None = None,
) -> GenerateReport:
    """Replace schema `raw` with synthetic data (shapes in generate_tables.py, figures in
    generate_injections.py). The injections are sized from `project`'s threshold vars (default:
    dbt_project.yml's)."""
    started = time.perf_counter()
    injections = (inject,) if isinstance(inject, str) else inject
    plan = make_plan(scale, days, as_of, seed, injections, project)
    details: dict[str, dict[str, Any]] = {}
    producers = table_producers(plan, details)
    with connect(conn, autocommit=False) as db:
        rows = load_raw(db, plan, producers)
    seconds = time.perf_counter() - started
    log.info("generated %s rows in %.1f s", sum(rows.values()), seconds)
    return planned_report(plan, rows, seconds, details)


def planned_report(
    plan: Plan, rows: dict[str, int], seconds: float, details: dict[str, dict[str, Any]]
) -> GenerateReport:
    """The report of a replacing generate (into PostgreSQL or Spark) from its plan."""
    return GenerateReport(
        rows=rows,
        seconds=seconds,
        as_of=plan.as_of,
        seed=plan.seed,
        scale=plan.scale,
        injected=plan.inject,
        days=plan.days,
        injected_details={name: details[name] for name in plan.inject},
    )


Producers = dict[str, Callable[[], Iterable[tuple]]]


def table_producers(plan: Plan, details: dict[str, dict[str, Any]]) -> Producers:
    """The rows of every raw table, injections applied: the entities and the small tables are
    built now, video_stats and revenue streamed while they are copied (filling `details`)."""
    users = build_users(plan)
    channels = build_channels(plan, users)
    videos = build_videos(plan, channels)
    small_tables = build_small_tables(plan, videos, details)
    dirty = plan_dirty_stats(plan, videos) if "dirty_rows" in plan.inject else None
    if dirty is not None:
        details["dirty_rows"] = {**dirty.details, **details.pop("dirty_rows_costs")}
    return {
        "users": lambda: user_rows(plan, users),
        "channels": lambda: channel_rows(plan, channels),
        "videos": lambda: video_rows(plan, videos),
        "video_stats": lambda: video_stats_rows(plan, videos, dirty, details),
        "revenue": lambda: revenue_rows(plan, videos),
        **{table: (lambda rows=rows: rows) for table, rows in small_tables.items()},
    }


def load_raw(db: psycopg.Connection, plan: Plan, producers: Producers) -> dict[str, int]:
    """Recreate schema `raw`, copy every table and record the generate, in one transaction;
    then analyze the tables. Returns the rows copied per table."""
    db.execute("set local synchronous_commit = off")
    reset_raw_schema(db)
    rows = {table: copy_rows(db, table, producers[table]()) for table in TABLES}
    raw_state.record(
        db,
        "generate",
        raw_state.Generation(plan.scale, plan.days, plan.seed, plan.as_of, plan.as_of),
        inject=plan.inject,
    )
    db.commit()
    db.autocommit = True
    db.execute("analyze " + ", ".join(f"raw.{table}" for table in TABLES))
    return rows


def build_small_tables(
    plan: Plan, videos: list[Video], details: dict[str, dict[str, Any]]
) -> dict[str, list[tuple]]:
    """The tables kept in memory (everything but video_stats and revenue), injections applied."""
    costs = build_costs(plan, videos)
    api_usage = build_api_usage(plan)
    job_runs = build_job_runs(plan)
    query_log = build_query_log(plan)
    if "dirty_rows" in plan.inject:
        details["dirty_rows_costs"] = inject_dirty_costs(plan, videos, costs)
    if "cost_spike" in plan.inject:
        details["cost_spike"] = inject_cost_spike(plan, videos, costs)
    if "quota_overuse" in plan.inject:
        details["quota_overuse"] = inject_quota_overuse(plan, api_usage)
    if "slow_dashboard" in plan.inject:
        details["slow_dashboard"] = inject_slow_dashboard(plan, query_log)
    if "failed_job" in plan.inject:
        details["failed_job"] = inject_failed_job(plan, job_runs)
    return {
        "costs": costs,
        "api_usage": api_usage,
        "job_runs": job_runs,
        "query_log": query_log,
        "cache_stats": build_cache_stats(plan),
    }
