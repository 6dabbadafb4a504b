"""`ytempire generate --append-hours N`: continue the synthetic raw data the way collectors do.

The data continues from the latest instant recorded in `ops.raw_generations` (T) to T + N hours,
with the entities and rules of the replacing `generate` it came from (same scale, days, seed):

- new videos keep being published at the generate's rate (video ids after the last one); a
  video and its five cost events land when it is published, the events stamped in the 35-95
  minutes before (inside the incremental lookback, so the next hourly run sees them);
- every live video gets its hourly collections in (T, T + N h] on its own minute, counters
  continuing where they were;
- revenue: a new version (a row with a later loaded_at, which staging prefers) of every
  video-day whose estimate or actual changed, and the rows of new days;
- API calls, nightly and hourly job runs and dashboard queries of the same per-day schedules,
  in (T, T + N h]; cache samples every 5 minutes, cumulative counters continuing.

Everything is deterministic in (the generate's arguments, T, N, late_rows, inject). Only rows
stamped after T are added, so a clean append never lands data older than the incremental
lookback. `late_rows=K` adds K valid cost events (1-5 cents, videos published over two days
earlier) stamped in [T - 2 h, T): late, inside the lookback. `inject=("cost_spike",)` plants the
generator's cost spike in the last appended hour, sized from the threshold vars as there.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from orchestrator import generate_tables as gen
from orchestrator import raw_state
from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError
from orchestrator.generate import GenerateReport, copy_rows, make_plan
from orchestrator.generate_injections import inject_cost_spike
from orchestrator.project_vars import ProjectVars

APPEND_INJECTIONS = ("cost_spike",)
MAX_APPEND_HOURS = 24 * 14
LATE_WINDOW = timedelta(hours=2)


def validate(hours: int, late_rows: int, inject: Sequence[str]) -> tuple[str, ...]:
    if not 1 <= hours <= MAX_APPEND_HOURS:
        raise ConfigError(
            f"--append-hours {hours} is out of range: use 1 to {MAX_APPEND_HOURS} hours."
        )
    if late_rows < 0:
        raise ConfigError(f"--late-rows {late_rows} must be 0 or more.")
    unknown = sorted(set(inject) - set(APPEND_INJECTIONS))
    if unknown:
        raise ConfigError(
            f"--inject {', '.join(unknown)} cannot be appended: with --append-hours only "
            f"{', '.join(APPEND_INJECTIONS)} can be planted."
        )
    return tuple(name for name in APPEND_INJECTIONS if name in inject)


def appended_videos(
    plan: gen.Plan, channels: list[gen.Channel], until: datetime
) -> list[gen.Video]:
    """The videos published after the generate's as_of, at its rate, up to `until`."""
    first_id = plan.count(gen.VIDEOS_AT_SCALE_1) + 1
    interval = timedelta(days=plan.days) / plan.count(gen.VIDEOS_AT_SCALE_1)
    videos = []
    for position in range(10**7):
        video_id = first_id + position
        rng = plan.rng("video", video_id)
        published_at = (plan.as_of + interval * (position + rng.random())).replace(microsecond=0)
        if published_at > until:
            break
        videos.append(gen.make_video(rng, video_id, published_at, channels))
    return videos


def production_costs(plan: gen.Plan, video: gen.Video) -> list[tuple]:
    """The generator's five cost events of a video, produced in the 35-95 minutes before it is
    published (same amounts and order as `cost_events_for`)."""
    rng = plan.rng("costs", video.video_id, "appended")
    last_at = video.published_at - timedelta(seconds=rng.randint(60, 300))
    first_at = last_at - timedelta(seconds=rng.randint(1_800, 5_400))
    events = gen.cost_events_for(plan, video)
    step = (last_at - first_at) / (len(events) - 1)
    return [
        (video_id, category, amount, (first_at + step * position).replace(microsecond=0))
        for position, (video_id, category, amount, _) in enumerate(events)
    ]


def _revenue_versions(
    before: gen.Plan, after: gen.Plan, video: gen.Video, start: datetime
) -> list[tuple]:
    """The video-days whose row changed between the two instants, loaded after `start`."""
    old = (
        {row[1]: row for row in gen.revenue_for(before, video)}
        if video.published_at <= start
        else {}
    )
    rng = after.rng("revenue_load", video.video_id, after.as_of.isoformat())
    versions = []
    for row in gen.revenue_for(after, video):
        previous = old.get(row[1])
        if previous is not None and previous[2:4] == row[2:4]:
            continue
        loaded_at = row[4]
        if loaded_at <= start:
            loaded_at = after.as_of - timedelta(seconds=60 + int(600 * rng.random()))
        versions.append((*row[:4], loaded_at))
    return versions


def _cache_samples(
    plan: gen.Plan, last: tuple | None, start: datetime, end: datetime
) -> list[tuple]:
    """Samples on the 5-minute grid in (start, end], counters continuing from `last`."""
    if last is None:
        return []
    _, hits, misses, memory, keys = last
    moment = start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)
    rows = []
    while (moment := moment + gen.CACHE_INTERVAL) <= end:
        rng = plan.rng("cache_stats", moment.isoformat())
        hits, misses, memory, keys = gen.next_cache_sample(rng, hits, misses, memory, keys)
        rows.append((moment, hits, misses, memory, keys))
    return rows


def _late_costs(plan: gen.Plan, videos: list[gen.Video], start: datetime, count: int) -> list:
    """`count` small valid cost events stamped in [start - 2 h, start)."""
    rng = plan.rng("late_rows", start.isoformat())
    old = [v.video_id for v in videos if v.published_at < start - 2 * gen.DAY]
    if count and not old:
        raise ConfigError("--late-rows needs videos older than two days: raise --days.")
    window_us = int(LATE_WINDOW / timedelta(microseconds=1))
    return [
        (
            rng.choice(old),
            "api_calls",
            rng.randint(1, 5),
            start - LATE_WINDOW + timedelta(microseconds=rng.randrange(window_us)),
        )
        for _ in range(count)
    ]


def _next_id(db: psycopg.Connection, table: str, column: str) -> int:
    return db.execute(f"select coalesce(max({column}), 0) + 1 from raw.{table}").fetchone()[0]


def _numbered(first_id: int, events: list[tuple], time_position: int) -> list[tuple]:
    ordered = sorted(events, key=lambda event: (event[time_position], str(event)))
    return [(first_id + offset, *event) for offset, event in enumerate(ordered)]


@dataclass(frozen=True)
class AppendSpan:
    """The appended hours (start, end]: the plan of the generate they continue (`base`), the
    plans at both ends and the videos published up to `end`."""

    base: gen.Plan
    before: gen.Plan
    after: gen.Plan
    hours: int
    original_videos: list[gen.Video]  # the generate's
    videos: list[gen.Video]  # those and the ones published up to `end`

    @property
    def start(self) -> datetime:
        return self.before.as_of

    @property
    def end(self) -> datetime:
        return self.after.as_of

    @property
    def new_videos(self) -> list[gen.Video]:
        return [v for v in self.videos if self.start < v.published_at]

    @classmethod
    def of(cls, state: raw_state.Generation, hours: int, project: ProjectVars | None) -> AppendSpan:
        base = make_plan(state.scale, state.days, state.generated_as_of, state.seed, (), project)
        end = state.as_of + timedelta(hours=hours)
        channels = gen.build_channels(base, gen.build_users(base))
        original = gen.build_videos(base, channels)
        return cls(
            base=base,
            before=dataclasses.replace(base, as_of=state.as_of),
            after=dataclasses.replace(base, as_of=end),
            hours=hours,
            original_videos=original,
            videos=original + appended_videos(base, channels, end),
        )


def append_hours(
    conn: Connection,
    hours: int,
    *,
    late_rows: int = 0,
    inject: Sequence[str] = (),
    project: ProjectVars | None = None,
) -> GenerateReport:
    """Add `hours` hours of collector data after the latest instant; see the module docstring.
    An injection is sized from `project`'s threshold vars (default: dbt_project.yml's)."""
    started = time.perf_counter()
    injected = validate(hours, late_rows, inject)
    with connect(conn, autocommit=False) as db:
        state = raw_state.latest(db)
        if state is None:
            raise ConfigError(
                "There is no generated data to continue: run `ytempire generate` first."
            )
        span = AppendSpan.of(state, hours, project)
        tables, details = _appended_tables(db, span, late_rows, injected)
        rows = {table: copy_rows(db, table, table_rows) for table, table_rows in tables.items()}
        raw_state.record(
            db,
            "append",
            dataclasses.replace(state, as_of=span.end),
            hours=hours,
            late_rows=late_rows,
            inject=injected,
        )
        db.commit()
    return GenerateReport(
        rows=rows,
        seconds=time.perf_counter() - started,
        as_of=span.end,
        seed=span.base.seed,
        scale=span.base.scale,
        injected=injected,
        days=span.base.days,
        injected_details=details,
    )


def _appended_tables(
    db: psycopg.Connection, span: AppendSpan, late_rows: int, injected: tuple[str, ...]
) -> tuple[dict[str, list[tuple]], dict[str, dict[str, Any]]]:
    """The rows to add to each raw table, and the details of the late rows and injections."""
    details: dict[str, dict[str, Any]] = {}
    costs, late = _appended_costs(db, span, late_rows)
    if late_rows:
        details["late_rows"] = _late_rows_details(costs, late)
    if "cost_spike" in injected:
        spike, costs = _with_cost_spike(db, span, costs)
        details["cost_spike"] = spike
    tables = {
        "videos": list(gen.video_rows(span.after, span.new_videos)),
        "video_stats": _appended_stats(span),
        "revenue": [
            row
            for video in span.videos
            for row in _revenue_versions(span.before, span.after, video, span.start)
        ],
        "costs": costs,
        "api_usage": _appended_api_usage(db, span),
        "job_runs": _appended_job_runs(db, span),
        "query_log": _appended_query_log(db, span),
        "cache_stats": _cache_samples(span.base, _last_cache_sample(db), span.start, span.end),
    }
    return tables, details


def _appended_stats(span: AppendSpan) -> list[tuple]:
    """The collections in (start, end] of every video live at some point after start."""
    live_since = span.start - gen.LIVE_WINDOW - gen.HOUR
    return [
        row
        for video in span.videos
        if video.published_at > live_since
        for row in gen.stats_for(span.after, video)
        if row[1] > span.start
    ]


def _appended_costs(
    db: psycopg.Connection, span: AppendSpan, late_rows: int
) -> tuple[list[tuple], list[tuple]]:
    """The new videos' cost events and `late_rows` late ones, numbered after the last cost_id;
    and the late events (unnumbered)."""
    events = [event for video in span.new_videos for event in production_costs(span.base, video)]
    late = _late_costs(span.base, span.original_videos, span.start, late_rows)
    return _numbered(_next_id(db, "costs", "cost_id"), [*events, *late], 3), late


def _late_rows_details(costs: list[tuple], late: list[tuple]) -> dict[str, Any]:
    late_events = set(late)
    late_costs = [cost for cost in costs if cost[1:] in late_events]
    return {
        "cost_ids": [cost[0] for cost in late_costs],
        "incurred_at": [cost[4] for cost in late_costs],
    }


def _with_cost_spike(
    db: psycopg.Connection, span: AppendSpan, costs: list[tuple]
) -> tuple[dict[str, Any], list[tuple]]:
    """The generator's cost spike in the last appended hour, over the costs already loaded and
    the appended ones: its details, and the appended costs with the spike's events."""
    existing = db.execute(
        "select cost_id, video_id, category, amount_cents, incurred_at from raw.costs"
        " where incurred_at > %s",
        (span.end - 2 * gen.HOUR,),
    ).fetchall()
    window = [*existing, *costs]
    details = inject_cost_spike(span.after, span.videos, window)
    return details, costs + window[len(existing) + len(costs) :]


def _appended_api_usage(db: psycopg.Connection, span: AppendSpan) -> list[tuple]:
    """The day schedules' API calls in (start, end], the last at most 10 minutes before end."""
    days = sorted({(span.start + timedelta(hours=h)).date() for h in range(span.hours + 1)})
    calls = [
        request
        for day in days
        for request in gen.api_requests_for_day(span.after, day)
        if span.start < request[0] <= span.end
    ]
    if not calls or span.end - max(calls)[0] > timedelta(minutes=10):
        calls.append((span.end - timedelta(seconds=30), "videos.list", "success"))
    return [
        (request_id, called_at, endpoint, gen.API_ENDPOINTS[endpoint], status)
        for request_id, (called_at, endpoint, status) in enumerate(
            sorted(calls), start=_next_id(db, "api_usage", "request_id")
        )
    ]


def _appended_job_runs(db: psycopg.Connection, span: AppendSpan) -> list[tuple]:
    jobs = [
        (name, started_at, finished_at, status, error)
        for _, name, started_at, finished_at, status, error in gen.build_job_runs(span.after)
        if span.start < finished_at <= span.end
    ]
    return _numbered(_next_id(db, "job_runs", "run_id"), jobs, 1)


def _appended_query_log(db: psycopg.Connection, span: AppendSpan) -> list[tuple]:
    queries = [
        (dashboard, executed_at, duration)
        for _, dashboard, executed_at, duration in gen.build_query_log(span.after)
        if span.start < executed_at <= span.end
    ]
    return _numbered(_next_id(db, "query_log", "query_id"), queries, 1)


def _last_cache_sample(db: psycopg.Connection) -> tuple | None:
    return db.execute(
        "select collected_at, keyspace_hits, keyspace_misses, used_memory_bytes, keys"
        " from raw.cache_stats order by collected_at desc limit 1"
    ).fetchone()
