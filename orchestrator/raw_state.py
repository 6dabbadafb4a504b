"""What `ytempire generate` did to schema `raw`, kept in `ops.raw_generations`.

A replacing `generate` records its arguments and marks the next build to full-refresh the
incremental models (their stored windows describe data that no longer exists); `generate
--append-hours` records the instant it continued the data to. The next build reads the mark
(`pending_full_refresh`) and clears it once dbt has run (`clear_full_refresh`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

DDL = """
create schema if not exists ops;
create table if not exists ops.raw_generations (
    generation_id bigserial primary key,
    kind text not null check (kind in ('generate', 'append')),
    scale double precision not null,
    days integer not null,
    seed bigint not null,
    generated_as_of timestamptz not null,
    as_of timestamptz not null,
    hours integer not null default 0,
    late_rows integer not null default 0,
    inject text[] not null default '{}',
    needs_full_refresh boolean not null default false,
    full_refresh_done_at timestamptz,
    recorded_at timestamptz not null default now()
);
"""


@dataclass(frozen=True)
class Generation:
    """The latest state of raw: the arguments of the generate it came from and its instant."""

    scale: float
    days: int
    seed: int
    generated_as_of: datetime  # as_of of the replacing generate
    as_of: datetime  # the latest instant the data reaches (after appends)


def ensure_schema(db: psycopg.Connection) -> None:
    db.execute(DDL)


def record(
    db: psycopg.Connection,
    kind: str,
    generation: Generation,
    *,
    hours: int = 0,
    late_rows: int = 0,
    inject: tuple[str, ...] = (),
) -> None:
    """One row per generate / append, in the caller's transaction."""
    ensure_schema(db)
    db.execute(
        "insert into ops.raw_generations (kind, scale, days, seed, generated_as_of, as_of, hours,"
        " late_rows, inject, needs_full_refresh) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            kind,
            generation.scale,
            generation.days,
            generation.seed,
            generation.generated_as_of,
            generation.as_of,
            hours,
            late_rows,
            list(inject),
            kind == "generate",
        ),
    )


def _exists(db: psycopg.Connection) -> bool:
    return db.execute("select to_regclass('ops.raw_generations') is not null").fetchone()[0]


def latest(db: psycopg.Connection) -> Generation | None:
    """The state raw is in, or None when no `ytempire generate` wrote it."""
    if not _exists(db):
        return None
    row = db.execute(
        "select scale, days, seed, generated_as_of, as_of from ops.raw_generations"
        " order by generation_id desc limit 1"
    ).fetchone()
    return Generation(*row) if row else None


def pending_full_refresh(db: psycopg.Connection) -> datetime | None:
    """When raw was last replaced, if no build has full-refreshed since."""
    if not _exists(db):
        return None
    row = db.execute(
        "select recorded_at from ops.raw_generations"
        " where needs_full_refresh and full_refresh_done_at is null"
        " order by generation_id desc limit 1"
    ).fetchone()
    return row[0] if row else None


def clear_full_refresh(db: psycopg.Connection) -> None:
    db.execute(
        "update ops.raw_generations set full_refresh_done_at = now()"
        " where needs_full_refresh and full_refresh_done_at is null"
    )
