"""The anomalies `ytempire generate --inject` plants in the clean tables of generate_tables.py.

Each injection plants one anomaly; its figures are in `report.injected_details[name]`.
Their sizes are a fixed margin past the threshold vars of dbt_project.yml (`AnomalySizes`, read
through orchestrator.project_vars), so moving a threshold moves the anomaly with it; the
figures in brackets are those of the shipped vars:

- `stale_video_stats`: every video_stats row collected in (as_of - L, as_of] is removed, where
  L = freshness_video_stats_error_minutes + 120 minutes rounded up to whole hours (collections
  are hourly) [3 h]; the latest collection is then L + 1 to L + 10 minutes old [181-190] (when
  some video was live L before as_of, always true with at least days/3 videos). Only
  video_stats changes.
- `cost_spike`: one extra `llm_script` event per involved video, placed in
  [window_start, as_of) where window_start = the start of as_of's clock hour (or as_of - 1 h
  when as_of is on the hour). Both the rolling hour [as_of - 1 h, as_of) and the clock hour
  [window_start, window_start + 1 h) then have a cost per video (sum of cents / distinct
  videos with a cost event in the window) within 80 cents of cost_per_video_critical_cents
  + 150 [420-580]; every involved video totals more than cost_per_video_critical_cents [350];
  as_of's UTC day stays under 200,000 cents at scale <= 1. Only costs changes.
- `quota_overuse`: extra `search.list` requests (100 units, success) on as_of's UTC day, so
  that the day's units up to as_of are api_quota_critical_units + 550 to + 649 [9,550-9,649]
  (all statuses; successes alone at least api_quota_critical_units + 450 [9,450]). Only
  api_usage changes.
- `slow_dashboard`: every `revenue_overview` query of as_of's UTC day (at least 3, added if
  needed) takes dashboard_critical_ms + 500 to + 4,000 ms [5,500-9,000], so its avg, p95 and
  max for the day exceed dashboard_critical_ms [5,000]; other dashboards and days untouched.
  Only query_log changes.
- `failed_job`: the `nightly_revenue_rollup` run of the night of as_of's UTC date (of the day
  before when as_of is before 06:00 UTC) has status `failed` and an error_message; every other
  run succeeds. Only job_runs changes.
- `dirty_rows`: video_stats gets 5 exact duplicate rows, 2 rows with a null video_id, 1 row
  whose views are lower than the video's previous collection, and 2 rows collected exactly
  100 years after as_of (after the server clock: impossible, so dirty); costs gets 3 exact
  duplicate events (same cost_id) and 1 event with a null video_id. All picked from videos
  published over 4 days before as_of (when there are any), so the other injections' figures hold
  with it. Details name every row.

`injected_details` keys per injection:
  stale_video_stats: removed_rows, latest_collected_at, latest_age_minutes
  cost_spike: window_start, window_end, rolling_hour_start, clock_hour_start, video_ids,
      extra_events, extra_cents, rolling_hour_cents_per_video, clock_hour_cents_per_video,
      day_total_cents
  quota_overuse: day, extra_requests, units_used, units_used_success
  slow_dashboard: dashboard, day, queries, avg_ms, p95_ms, max_ms
  failed_job: job_name, run_id, night_of, started_at, error_message
  dirty_rows: video_stats_duplicates [(video_id, collected_at)], video_stats_null_video_id
      [collected_at], video_stats_null_video_id_source_video_id, video_stats_backwards
      {video_id, collected_at, views, previous_views}, video_stats_future
      [(video_id, collected_at)], costs_duplicate_cost_ids [cost_id], costs_null_video_cost_id
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.generate_tables import (
    API_ENDPOINTS,
    DAY,
    HOUR,
    Plan,
    Video,
    collection_times,
    day_start_of,
    stats_for,
)
from orchestrator.project_vars import ProjectVars

INJECTIONS: tuple[str, ...] = (
    "stale_video_stats",
    "cost_spike",
    "quota_overuse",
    "slow_dashboard",
    "failed_job",
    "dirty_rows",
)

OLD_VIDEO_AGE = timedelta(days=4)
FAILED_JOB = "nightly_revenue_rollup"
FAILED_JOB_ERROR = (
    "could not refresh analytics.fct_revenue: deadlock detected while waiting for ShareLock"
)
SLOW_DASHBOARD = "revenue_overview"
# dirty future rows: after any server clock (a row merely after a pinned as_of is not dirty)
FUTURE_OFFSET = timedelta(days=36_525)

# How far past its threshold var each injection lands (documented in the module docstring).
STALE_MARGIN_MINUTES = 120
SPIKE_MARGIN_CENTS = 150
SPIKE_TOLERANCE_CENTS = 80
QUOTA_MARGIN_UNITS = 550
SLOW_MARGIN_MS = (500, 4_000)
SLOW_MIN_QUERIES = 3


@dataclass(frozen=True)
class AnomalySizes:
    """The injections' sizes, each a fixed margin past the threshold var it must cross."""

    stale_video_stats_lag: timedelta
    spike_target_cents: int
    spike_min_video_total_cents: int
    quota_target_units: int
    slow_query_ms: tuple[int, int]

    @classmethod
    def from_vars(cls, project: ProjectVars) -> AnomalySizes:
        stale_after = project.integer("freshness_video_stats_error_minutes")
        cost_critical = project.integer("cost_per_video_critical_cents")
        dashboard_critical = project.integer("dashboard_critical_ms")
        return cls(
            stale_video_stats_lag=timedelta(
                hours=math.ceil((stale_after + STALE_MARGIN_MINUTES) / 60)
            ),
            spike_target_cents=cost_critical + SPIKE_MARGIN_CENTS,
            spike_min_video_total_cents=cost_critical + 1,
            quota_target_units=project.integer("api_quota_critical_units") + QUOTA_MARGIN_UNITS,
            slow_query_ms=(
                dashboard_critical + SLOW_MARGIN_MS[0],
                dashboard_critical + SLOW_MARGIN_MS[1],
            ),
        )


def inject_cost_spike(plan: Plan, videos: list[Video], costs: list[tuple]) -> dict[str, Any]:
    window = SpikeWindow.ending_at(plan.as_of)
    size = size_cost_spike(plan, videos, costs, window)
    add_spike_events(plan, window, size, costs)
    day_start = day_start_of(plan.as_of_day)
    return {
        "window_start": window.clock_start,
        "window_end": window.end,
        "rolling_hour_start": window.rolling_start,
        "clock_hour_start": window.clock_start,
        "video_ids": size.video_ids,
        "extra_events": len(size.video_ids),
        "extra_cents": size.extra_cents,
        "rolling_hour_cents_per_video": size.rolling_cents_per_video,
        "clock_hour_cents_per_video": size.clock_cents_per_video,
        "day_total_cents": sum(row[3] for row in costs if day_start <= row[4] <= plan.as_of),
    }


@dataclass(frozen=True)
class SpikeWindow:
    """The hours a cost spike must show in: the rolling hour [as_of - 1 h, as_of) and the clock
    hour from `clock_start` (as_of's, or the one before when as_of is on the hour)."""

    clock_start: datetime
    rolling_start: datetime
    end: datetime

    @classmethod
    def ending_at(cls, as_of: datetime) -> SpikeWindow:
        clock_start = as_of.replace(minute=0, second=0, microsecond=0)
        if clock_start == as_of:
            clock_start -= HOUR
        return cls(clock_start=clock_start, rolling_start=as_of - HOUR, end=as_of)

    def cents_by_video(self, costs: list[tuple]) -> tuple[dict[int, int], dict[int, int]]:
        """Each video's cents in the rolling hour, and in the clock hour."""
        in_rolling: dict[int, int] = {}
        in_clock: dict[int, int] = {}
        for _, video_id, _, amount, incurred_at in costs:
            if video_id is not None and self.rolling_start <= incurred_at < self.end:
                in_rolling[video_id] = in_rolling.get(video_id, 0) + amount
                if incurred_at >= self.clock_start:
                    in_clock[video_id] = in_clock.get(video_id, 0) + amount
        return in_rolling, in_clock


@dataclass(frozen=True)
class SpikeSize:
    """The extra cents of a spike, shared over `video_ids`, and the cost per video they give."""

    video_ids: list[int]
    shares: list[int]
    extra_cents: int
    rolling_cents_per_video: float
    clock_cents_per_video: float

    @classmethod
    def reaching(
        cls, target: int, video_ids: list[int], rolling_cents: int, clock_cents: int
    ) -> SpikeSize:
        """The extra cents that bring both hours' cost per video to about `target`."""
        count = len(video_ids)
        extra_cents = round(target * count - (rolling_cents + clock_cents) / 2)
        shares = [extra_cents // count + (i < extra_cents % count) for i in range(count)]
        return cls(
            video_ids=video_ids,
            shares=shares,
            extra_cents=extra_cents,
            rolling_cents_per_video=(rolling_cents + extra_cents) / count,
            clock_cents_per_video=(clock_cents + extra_cents) / count,
        )

    def fits(self, sizes: AnomalySizes, totals: dict[int, int]) -> bool:
        """Both hours within the tolerance of the target, every video past the critical total."""
        target = sizes.spike_target_cents
        return (
            abs(self.rolling_cents_per_video - target) <= SPIKE_TOLERANCE_CENTS
            and abs(self.clock_cents_per_video - target) <= SPIKE_TOLERANCE_CENTS
            and all(
                totals.get(video_id, 0) + share >= sizes.spike_min_video_total_cents
                for video_id, share in zip(self.video_ids, self.shares, strict=True)
            )
        )


def size_cost_spike(
    plan: Plan, videos: list[Video], costs: list[tuple], window: SpikeWindow
) -> SpikeSize:
    """The first spike that fits: the videos with a cost in the rolling hour, then as few videos
    over two days old (in a seeded order) as it takes."""
    in_rolling, in_clock = window.cents_by_video(costs)
    totals = video_cost_totals(costs)
    old_ids = [
        v.video_id
        for v in videos
        if v.video_id not in in_rolling and v.published_at < plan.as_of - 2 * DAY
    ]
    plan.rng("inject", "cost_spike").shuffle(old_ids)
    window_ids = sorted(in_rolling)
    rolling_cents, clock_cents = sum(in_rolling.values()), sum(in_clock.values())
    for extra in range(len(old_ids) + 1):
        involved = window_ids + sorted(old_ids[:extra])
        if not involved:
            continue
        size = SpikeSize.reaching(
            plan.sizes.spike_target_cents, involved, rolling_cents, clock_cents
        )
        if size.fits(plan.sizes, totals):
            return size
    raise ConfigError("cost_spike needs more videos: raise --scale or --days.")


def add_spike_events(plan: Plan, window: SpikeWindow, size: SpikeSize, costs: list[tuple]) -> None:
    """One `llm_script` event per video of `size`, at seeded instants in [clock_start, as_of)."""
    rng = plan.rng("inject", "cost_spike", "times")
    window_us = int((window.end - window.clock_start) / timedelta(microseconds=1))
    next_id = max((row[0] for row in costs), default=0) + 1
    for offset, (video_id, amount) in enumerate(zip(size.video_ids, size.shares, strict=True)):
        incurred_at = window.clock_start + timedelta(microseconds=rng.randrange(window_us))
        costs.append((next_id + offset, video_id, "llm_script", amount, incurred_at))


def video_cost_totals(costs: list[tuple]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for _, video_id, _, amount, _ in costs:
        if video_id is not None:
            totals[video_id] = totals.get(video_id, 0) + amount
    return totals


def inject_quota_overuse(plan: Plan, api_usage: list[tuple]) -> dict[str, Any]:
    day_start = day_start_of(plan.as_of_day)
    today = [row for row in api_usage if day_start <= row[1] <= plan.as_of]
    used = sum(row[3] for row in today)
    units = API_ENDPOINTS["search.list"]
    extra = max(0, math.ceil((plan.sizes.quota_target_units - used) / units))
    rng = plan.rng("inject", "quota_overuse")
    window_us = max(1, int((plan.as_of - day_start) / timedelta(microseconds=1)))
    next_id = max((row[0] for row in api_usage), default=0) + 1
    for offset in range(extra):
        called_at = day_start + timedelta(microseconds=rng.randrange(window_us))
        api_usage.append((next_id + offset, called_at, "search.list", units, "success"))
    used += extra * units
    failed = sum(row[3] for row in today if row[4] != "success")
    return {
        "day": plan.as_of_day,
        "extra_requests": extra,
        "units_used": used,
        "units_used_success": used - failed,
    }


def inject_slow_dashboard(plan: Plan, query_log: list[tuple]) -> dict[str, Any]:
    day_start = day_start_of(plan.as_of_day)
    rng = plan.rng("inject", "slow_dashboard")
    shortest_ms, longest_ms = plan.sizes.slow_query_ms
    slow = []
    for index, (query_id, dashboard, executed_at, _) in enumerate(query_log):
        if dashboard == SLOW_DASHBOARD and day_start <= executed_at <= plan.as_of:
            query_log[index] = (
                query_id,
                dashboard,
                executed_at,
                rng.randint(shortest_ms, longest_ms),
            )
            slow.append(query_log[index][3])
    window_us = max(1, int((plan.as_of - day_start) / timedelta(microseconds=1)))
    next_id = max((row[0] for row in query_log), default=0) + 1
    while len(slow) < SLOW_MIN_QUERIES:
        executed_at = day_start + timedelta(microseconds=rng.randrange(window_us))
        query_log.append(
            (next_id, SLOW_DASHBOARD, executed_at, rng.randint(shortest_ms, longest_ms))
        )
        slow.append(query_log[-1][3])
        next_id += 1
    ordered = sorted(slow)
    return {
        "dashboard": SLOW_DASHBOARD,
        "day": plan.as_of_day,
        "queries": len(slow),
        "avg_ms": sum(slow) / len(slow),
        "p95_ms": percentile(ordered, 0.95),
        "max_ms": ordered[-1],
    }


def percentile(ordered: list[int], fraction: float) -> float:
    """Linear interpolation, as PostgreSQL's percentile_cont."""
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def inject_failed_job(plan: Plan, job_runs: list[tuple]) -> dict[str, Any]:
    night = plan.as_of_day if plan.as_of.hour >= 6 else plan.as_of_day - timedelta(days=1)
    for index, (run_id, name, started_at, finished_at, _, _) in enumerate(job_runs):
        if name == FAILED_JOB and started_at.date() == night:
            failed_at = started_at + (finished_at - started_at) / 2
            job_runs[index] = (
                run_id,
                name,
                started_at,
                failed_at.replace(microsecond=0),
                "failed",
                FAILED_JOB_ERROR,
            )
            return {
                "job_name": name,
                "run_id": run_id,
                "night_of": night,
                "started_at": started_at,
                "error_message": FAILED_JOB_ERROR,
            }
    raise ConfigError(
        f"failed_job found no {FAILED_JOB} run on the night of {night}: raise --days."
    )


@dataclass
class DirtyStats:
    """The video_stats edits of `dirty_rows`, planned before the table is streamed."""

    replacements: dict[tuple[int, datetime], tuple] = field(default_factory=dict)
    extra_rows: list[tuple] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def dirty_candidates(plan: Plan, videos: list[Video]) -> list[Video]:
    """Videos published over 4 days before as_of with at least 4 collections (else any)."""
    collected = [v for v in videos if len(collection_times(plan, v)) >= 4]
    old = [v for v in collected if v.published_at < plan.as_of - OLD_VIDEO_AGE]
    chosen = old if len(old) >= 5 else collected
    if len(chosen) < 5:
        raise ConfigError("dirty_rows needs at least 5 videos with stats: raise --scale.")
    return chosen


def plan_dirty_stats(plan: Plan, videos: list[Video]) -> DirtyStats:
    rng = plan.rng("inject", "dirty_rows", "video_stats")
    duplicate_video, null_video, backwards_video, *future_videos = rng.sample(
        dirty_candidates(plan, videos), 5
    )
    dirty = DirtyStats()
    duplicates = rng.sample(stats_for(plan, duplicate_video), 5)
    dirty.extra_rows.extend(sorted(duplicates, key=lambda row: row[1]))
    null_rows = sorted(
        ((None, *row[1:]) for row in rng.sample(stats_for(plan, null_video), 2)),
        key=lambda row: row[1],
    )
    dirty.extra_rows.extend(null_rows)
    rows = stats_for(plan, backwards_video)
    position = max(range(2, len(rows)), key=lambda i: rows[i - 1][2] - rows[i - 2][2])
    previous_views = rows[position - 1][2]
    lowered = max(0, previous_views - max(1, (previous_views - rows[position - 2][2]) // 2))
    target = rows[position]
    dirty.replacements[(target[0], target[1])] = (target[0], target[1], lowered, *target[3:])
    future_at = plan.as_of + FUTURE_OFFSET
    future_rows = [
        (row[0], future_at, *row[2:])
        for row in (stats_for(plan, video)[-1] for video in future_videos)
    ]
    dirty.extra_rows.extend(future_rows)
    dirty.details = {
        "video_stats_duplicates": [
            (row[0], row[1]) for row in sorted(duplicates, key=lambda r: r[1])
        ],
        "video_stats_null_video_id": [row[1] for row in null_rows],
        "video_stats_null_video_id_source_video_id": null_video.video_id,
        "video_stats_backwards": {
            "video_id": target[0],
            "collected_at": target[1],
            "views": lowered,
            "previous_views": previous_views,
        },
        "video_stats_future": [(row[0], row[1]) for row in future_rows],
    }
    return dirty


def inject_dirty_costs(plan: Plan, videos: list[Video], costs: list[tuple]) -> dict[str, Any]:
    rng = plan.rng("inject", "dirty_rows", "costs")
    old_ids = {v.video_id for v in dirty_candidates(plan, videos)}
    rows = sorted((row for row in costs if row[1] in old_ids), key=lambda row: row[4])
    candidates = rows[: max(3, len(rows) // 2)]  # the oldest: far from as_of's hour and day
    duplicates = sorted(rng.sample(candidates, 3))
    costs.extend(duplicates)
    null_cost_id = max(row[0] for row in costs) + 1
    incurred_at = min(row[4] for row in candidates) + timedelta(minutes=rng.randint(1, 59))
    costs.append((null_cost_id, None, "render", rng.randint(20, 80), incurred_at))
    return {
        "costs_duplicate_cost_ids": [row[0] for row in duplicates],
        "costs_null_video_cost_id": null_cost_id,
    }
