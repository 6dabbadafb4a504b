"""Synthetic raw data for the demo, the tests and the benchmarks (`ytempire generate`).

`generate()` (re)creates schema `raw` from `orchestrator/sql/raw_schema.sql` (each raw table is
dropped first, or truncated when a dbt view depends on it) and loads every table with binary
COPY, in one transaction. The same (scale, days, as_of, seed, inject) gives identical tables:
randomness is derived per entity (video, day, dashboard...) from a string seed, never `hash()`.

Shapes on clean data (scale 1 = 100 users, 400 channels, 10,000 videos over `days` = 35):

- videos are published evenly over [as_of - days, as_of - 20 min) at every hour of the day, the
  newest one 12-20 minutes before as_of; duration 300-900 s;
- video_stats: hourly cumulative counters for each video's first 72 hours, collected at
  `as_of - offset - k hours` (offset 1-10 min per video): the latest collection is at most
  10 minutes old; counters never decrease;
- revenue: one row per video per UTC day from its publish date to as_of's date; actual_cents
  null for as_of's date and the day before; loaded_at of those rows 1-11 minutes before as_of;
- costs: 5 events per video (llm_script, voice, thumbnail, render, api_calls) in the 1-4 hours
  before publish, 200-290 cents per video; the newest video's last event 13-25 minutes old;
- api_usage: 3,000-6,500 units per UTC day whatever the scale (errors only on 1-unit
  endpoints); the latest request at most 10 minutes old;
- job_runs: 5 nightly jobs between 00:30 and 05:30 UTC and `hourly_monitoring` at minute 5 of
  every hour, all `success`; query_log: 1-4 queries per dashboard per hour, 20-1,500 ms;
  cache_stats: every 5 minutes, hit rate 88.5-95.5 % per interval and cumulative.

Every timestamp is <= as_of on clean data.

Injections (each plants one anomaly; its figures are in `report.injected_details[name]`).
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

import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestrator import project_vars, raw_state
from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError
from orchestrator.project_vars import ProjectVars

log = logging.getLogger(__name__)

RAW_SCHEMA_SQL = Path(__file__).with_name("sql") / "raw_schema.sql"

INJECTIONS: tuple[str, ...] = (
    "stale_video_stats",
    "cost_spike",
    "quota_overuse",
    "slow_dashboard",
    "failed_job",
    "dirty_rows",
)

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

# Sizes at scale 1.
USERS_AT_SCALE_1 = 100
CHANNELS_AT_SCALE_1 = 400
VIDEOS_AT_SCALE_1 = 10_000
MAX_SCALE = 20.0

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
LIVE_WINDOW = timedelta(hours=72)
NEWEST_VIDEO_AGE_SECONDS = (12 * 60, 20 * 60)
OLD_VIDEO_AGE = timedelta(days=4)
LONG_TAIL_PER_HOUR = 0.002 / 24  # share of a video's views earned per hour after the burst

NICHES = ("tech", "finance", "gaming", "cooking", "fitness", "travel", "education", "music")
TITLE_WORDS = ("Daily", "Explained", "Insider", "Lab", "Weekly", "Academy", "Hub", "Club")
TOPICS = ("Top 10", "How to", "Why", "The truth about", "Beginner's guide to", "5 mistakes in")
GOALS_CENTS = (500_000, 1_500_000, 2_000_000)
DEFAULT_GOAL_CENTS = 1_000_000

COST_SHARES = (
    ("llm_script", 0.35),
    ("voice", 0.25),
    ("thumbnail", 0.10),
    ("render", 0.20),
    ("api_calls", 0.10),
)
COST_TOTAL_CENTS = (200, 290)

API_ENDPOINTS = {"videos.list": 1, "channels.list": 1, "search.list": 100, "videos.insert": 1600}
NIGHTLY_JOBS = (  # (name, earliest start minute after midnight UTC, start jitter, duration range s)
    ("etl_video_stats", 30, 10, (120, 900)),
    ("nightly_revenue_rollup", 60, 15, (120, 1200)),
    ("cost_aggregation", 100, 15, (60, 600)),
    ("refresh_marts", 150, 20, (300, 1500)),
    ("backup", 240, 15, (1200, 3600)),
)
FAILED_JOB = "nightly_revenue_rollup"
FAILED_JOB_ERROR = (
    "could not refresh analytics.fct_revenue: deadlock detected while waiting for ShareLock"
)
DASHBOARDS = (
    "executive_overview",
    "revenue_overview",
    "channel_performance",
    "cost_tracking",
    "user_progress",
)
SLOW_DASHBOARD = "revenue_overview"
QUERY_CAP_MS = 1500
CACHE_INTERVAL = timedelta(minutes=5)
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


@dataclass(frozen=True)
class Plan:
    """The validated arguments and the time frame every table is generated in."""

    scale: float
    days: int
    as_of: datetime
    seed: int
    inject: tuple[str, ...]
    sizes: AnomalySizes

    @property
    def period_start(self) -> datetime:
        return self.as_of - timedelta(days=self.days)

    @property
    def as_of_day(self) -> date:
        return self.as_of.date()

    def rng(self, *parts: object) -> random.Random:
        """A generator seeded by (seed, parts): stable across runs and processes."""
        return random.Random(":".join(str(part) for part in (self.seed, *parts)))

    def count(self, at_scale_1: int) -> int:
        return max(1, round(at_scale_1 * self.scale))


@dataclass(frozen=True)
class User:
    user_id: int
    created_at: datetime


@dataclass(frozen=True)
class Channel:
    channel_id: int
    user_id: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Video:
    video_id: int
    channel_id: int
    published_at: datetime
    duration_s: int
    total_views: int
    decay_hours: float
    like_rate: float
    comment_rate: float
    watch_share: float
    rpm_cents: int
    collect_offset: timedelta

    def views_at_age(self, age_hours: float) -> int:
        """Cumulative views: a decaying burst plus a slow long tail (monotone in age)."""
        burst = 1 - math.exp(-age_hours / self.decay_hours)
        return int(self.total_views * (burst + LONG_TAIL_PER_HOUR * age_hours))

    def age_hours(self, moment: datetime) -> float:
        return max(0.0, (moment - self.published_at) / HOUR)


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
# Entities
# --------------------------------------------------------------------------------------------


def build_users(plan: Plan) -> list[User]:
    users = []
    for user_id in range(1, plan.count(USERS_AT_SCALE_1) + 1):
        rng = plan.rng("user", user_id)
        created_at = plan.period_start - timedelta(
            days=rng.randint(30, 400), seconds=rng.randrange(86_400)
        )
        users.append(User(user_id, created_at))
    return users


def user_rows(plan: Plan, users: list[User]) -> Iterator[tuple]:
    for user in users:
        rng = plan.rng("user", user.user_id, "attributes")
        draw = rng.random()
        goal: int | None = DEFAULT_GOAL_CENTS
        if draw < 0.1:
            goal = None
        elif draw < 0.2:
            goal = rng.choice(GOALS_CENTS)
        is_active = user.user_id == 1 or rng.random() < 0.9
        yield (user.user_id, f"user{user.user_id}@example.com", is_active, user.created_at, goal)


def build_channels(plan: Plan, users: list[User]) -> list[Channel]:
    channels = []
    for channel_id in range(1, plan.count(CHANNELS_AT_SCALE_1) + 1):
        rng = plan.rng("channel", channel_id)
        user_id = channel_id if channel_id <= len(users) else rng.randint(1, len(users))
        owner = users[user_id - 1]
        created_at = owner.created_at + timedelta(
            days=rng.randint(0, 28), seconds=rng.randrange(86_400)
        )
        is_active = channel_id <= len(users) or rng.random() < 0.9
        span = (plan.as_of - plan.period_start).total_seconds()
        if is_active:
            updated_at = plan.as_of - timedelta(seconds=rng.randrange(int(span)))
        else:  # deactivated during the period: updated_at is when
            updated_at = plan.period_start + timedelta(seconds=rng.randrange(int(span)))
        channels.append(Channel(channel_id, user_id, is_active, created_at, updated_at))
    return channels


def channel_rows(plan: Plan, channels: list[Channel]) -> Iterator[tuple]:
    for channel in channels:
        rng = plan.rng("channel", channel.channel_id, "attributes")
        niche = rng.choice(NICHES)
        title = f"{niche.title()} {rng.choice(TITLE_WORDS)} {channel.channel_id}"
        yield (
            channel.channel_id,
            channel.user_id,
            title,
            niche,
            channel.is_active,
            channel.created_at,
            channel.updated_at,
        )


def pick_channel(rng: random.Random, channels: list[Channel], published_at: datetime) -> int:
    """A channel that was active when the video was published (its owner's, when possible)."""
    channel = rng.choice(channels)
    if channel.is_active or published_at <= channel.updated_at:
        return channel.channel_id
    siblings = [c for c in channels if c.user_id == channel.user_id and c.is_active]
    candidates = siblings or [c for c in channels if c.is_active] or [channel]
    return rng.choice(candidates).channel_id


def publish_time(plan: Plan, rng: random.Random, index: int, total: int) -> datetime:
    if index == total - 1:
        return plan.as_of - timedelta(seconds=rng.randint(*NEWEST_VIDEO_AGE_SECONDS))
    spread_end = plan.as_of - timedelta(seconds=NEWEST_VIDEO_AGE_SECONDS[1])
    slot = (spread_end - plan.period_start) / max(1, total - 1)
    return plan.period_start + slot * (index + rng.random())


def build_videos(plan: Plan, channels: list[Channel]) -> list[Video]:
    videos = []
    total = plan.count(VIDEOS_AT_SCALE_1)
    for index in range(total):
        video_id = index + 1
        rng = plan.rng("video", video_id)
        published_at = publish_time(plan, rng, index, total).replace(microsecond=0)
        videos.append(make_video(rng, video_id, published_at, channels))
    return videos


def make_video(
    rng: random.Random, video_id: int, published_at: datetime, channels: list[Channel]
) -> Video:
    """A video's channel and attributes, drawn from its own generator after its publish time."""
    return Video(
        video_id=video_id,
        channel_id=pick_channel(rng, channels, published_at),
        published_at=published_at,
        duration_s=rng.randint(300, 900),
        total_views=int(rng.lognormvariate(math.log(15_000), 0.9)) + 100,
        decay_hours=rng.uniform(6, 18),
        like_rate=rng.uniform(0.03, 0.06),
        comment_rate=rng.uniform(0.005, 0.01),
        watch_share=rng.uniform(0.35, 0.65),
        rpm_cents=rng.randint(150, 450),
        collect_offset=timedelta(seconds=rng.randint(60, 600)),
    )


def video_rows(plan: Plan, videos: list[Video]) -> Iterator[tuple]:
    for video in videos:
        rng = plan.rng("video", video.video_id, "attributes")
        title = f"{rng.choice(TOPICS)} {rng.choice(NICHES)} #{video.video_id}"
        updated_at = min(plan.as_of, video.published_at + timedelta(seconds=rng.randrange(172_800)))
        yield (
            video.video_id,
            video.channel_id,
            title,
            video.published_at,
            video.duration_s,
            updated_at,
        )


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------


def collection_times(plan: Plan, video: Video) -> list[datetime]:
    """Hourly collections in (published_at, published_at + 72 h], on the video's minute."""
    latest = plan.as_of - video.collect_offset
    since_publish = (latest - video.published_at) / HOUR
    if since_publish <= 0:
        return []
    newest_k = math.ceil(since_publish) - 1
    oldest_k = max(0, math.ceil((latest - video.published_at - LIVE_WINDOW) / HOUR))
    return [latest - k * HOUR for k in range(newest_k, oldest_k - 1, -1)]


def stats_for(plan: Plan, video: Video) -> list[tuple]:
    times = collection_times(plan, video)
    if not times:
        return []
    first_age = video.age_hours(times[0])  # collections are exactly one hour apart
    watch_minutes_per_view = video.duration_s / 60 * video.watch_share
    rows = []
    for position, collected_at in enumerate(times):
        views = video.views_at_age(first_age + position)
        rows.append(
            (
                video.video_id,
                collected_at,
                views,
                int(views * video.like_rate),
                int(views * video.comment_rate),
                int(views * watch_minutes_per_view),
            )
        )
    return rows


def revenue_for(plan: Plan, video: Video) -> Iterator[tuple]:
    """One row per UTC day: the day's views x the video's RPM; actual lags a day."""
    rng = plan.rng("revenue", video.video_id)
    finalised_before = plan.as_of_day - timedelta(days=1)
    day = video.published_at.date()
    views_before = 0
    while day <= plan.as_of_day:
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        views_by_end = video.views_at_age(video.age_hours(min(day_start + DAY, plan.as_of)))
        estimated = (views_by_end - views_before) * video.rpm_cents // 1000
        views_before = views_by_end
        if day < finalised_before:
            actual: int | None = round(estimated * (0.92 + 0.16 * rng.random()))
            loaded_at = day_start + DAY + timedelta(seconds=3_600 + int(32_400 * rng.random()))
        else:
            actual = None
            loaded_at = plan.as_of - timedelta(seconds=60 + int(600 * rng.random()))
        yield (video.video_id, day, estimated, actual, loaded_at)
        day += timedelta(days=1)


def cost_events_for(plan: Plan, video: Video) -> list[tuple]:
    """(video_id, category, amount_cents, incurred_at) x 5, in production order."""
    rng = plan.rng("costs", video.video_id)
    total = rng.randint(*COST_TOTAL_CENTS)
    amounts = [max(1, round(total * share * rng.uniform(0.8, 1.2))) for _, share in COST_SHARES]
    amounts[-1] = total - sum(amounts[:-1])
    while amounts[-1] < 1:  # keep the exact total with every amount positive
        largest = amounts.index(max(amounts[:-1]))
        amounts[largest] -= 1
        amounts[-1] += 1
    last_at = video.published_at - timedelta(seconds=rng.randint(60, 300))
    first_at = last_at - timedelta(seconds=rng.randint(3_600, 14_400))
    step = (last_at - first_at) / (len(COST_SHARES) - 1)
    return [
        (video.video_id, category, amount, (first_at + step * position).replace(microsecond=0))
        for position, ((category, _), amount) in enumerate(zip(COST_SHARES, amounts, strict=True))
    ]


def build_costs(plan: Plan, videos: list[Video]) -> list[tuple]:
    events = [event for video in videos for event in cost_events_for(plan, video)]
    return [(cost_id, *event) for cost_id, event in enumerate(events, start=1)]


def day_range(plan: Plan) -> list[date]:
    first = plan.period_start.date()
    return [first + timedelta(days=offset) for offset in range((plan.as_of_day - first).days + 1)]


def day_start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def api_requests_for_day(plan: Plan, day: date) -> list[tuple[datetime, str, str]]:
    rng = plan.rng("api_usage", day.isoformat())
    counts = {
        "videos.list": rng.randint(500, 800),
        "channels.list": rng.randint(50, 100),
        "search.list": rng.randint(25, 38),
        "videos.insert": int(rng.random() < 0.5),
    }
    start = day_start_of(day)
    requests = []
    for endpoint, count in counts.items():
        for _ in range(count):
            called_at = start + timedelta(seconds=rng.randrange(86_400))
            failed = API_ENDPOINTS[endpoint] == 1 and rng.random() < 0.01
            requests.append((called_at, endpoint, "error" if failed else "success"))
    return sorted(r for r in requests if r[0] <= plan.as_of)


def build_api_usage(plan: Plan) -> list[tuple]:
    requests = [r for day in day_range(plan) for r in api_requests_for_day(plan, day)]
    if not requests or plan.as_of - requests[-1][0] > timedelta(minutes=10):
        requests.append((plan.as_of - timedelta(seconds=30), "videos.list", "success"))
    return [
        (request_id, called_at, endpoint, API_ENDPOINTS[endpoint], status)
        for request_id, (called_at, endpoint, status) in enumerate(requests, start=1)
    ]


def build_job_runs(plan: Plan) -> list[tuple]:
    runs = []
    for day in day_range(plan):
        start = day_start_of(day)
        for name, minute, jitter, (shortest, longest) in NIGHTLY_JOBS:
            rng = plan.rng("job_runs", name, day.isoformat())
            started_at = start + timedelta(
                minutes=minute + rng.randint(0, jitter), seconds=rng.randrange(60)
            )
            runs.append(
                (name, started_at, started_at + timedelta(seconds=rng.randint(shortest, longest)))
            )
        for hour in range(24):
            rng = plan.rng("job_runs", "hourly_monitoring", day.isoformat(), hour)
            started_at = start + timedelta(hours=hour, minutes=5, seconds=rng.randrange(120))
            runs.append(
                (
                    "hourly_monitoring",
                    started_at,
                    started_at + timedelta(seconds=rng.randint(20, 120)),
                )
            )
    finished = sorted(
        (started_at, name, finished_at)
        for name, started_at, finished_at in runs
        if plan.period_start - DAY <= started_at and finished_at <= plan.as_of
    )
    return [
        (run_id, name, started_at, finished_at, "success", None)
        for run_id, (started_at, name, finished_at) in enumerate(finished, start=1)
    ]


def query_duration_ms(rng: random.Random) -> int:
    return min(QUERY_CAP_MS, max(20, int(rng.lognormvariate(math.log(300), 0.45))))


def build_query_log(plan: Plan) -> list[tuple]:
    queries = []
    for day in day_range(plan):
        start = day_start_of(day)
        for dashboard in DASHBOARDS:
            rng = plan.rng("query_log", dashboard, day.isoformat())
            for hour in range(24):
                for _ in range(rng.randint(1, 4)):
                    executed_at = start + timedelta(hours=hour, seconds=rng.randrange(3_600))
                    queries.append((executed_at, dashboard, query_duration_ms(rng)))
    kept = sorted(q for q in queries if plan.period_start <= q[0] <= plan.as_of)
    return [
        (query_id, dashboard, executed_at, duration)
        for query_id, (executed_at, dashboard, duration) in enumerate(kept, start=1)
    ]


def build_cache_stats(plan: Plan) -> list[tuple]:
    newest = plan.as_of.replace(
        minute=plan.as_of.minute - plan.as_of.minute % 5, second=0, microsecond=0
    )
    intervals = int((newest - plan.period_start) / CACHE_INTERVAL)
    rng = plan.rng("cache_stats")
    hits = rng.randint(40_000_000, 60_000_000)
    misses = round(hits * 0.08 / 0.92)
    memory = rng.randint(900_000_000, 1_200_000_000)
    keys = rng.randint(120_000, 160_000)
    rows = []
    for k in range(intervals, -1, -1):
        hits, misses, memory, keys = next_cache_sample(rng, hits, misses, memory, keys)
        rows.append((newest - k * CACHE_INTERVAL, hits, misses, memory, keys))
    return rows


def next_cache_sample(
    rng: random.Random, hits: int, misses: int, memory: int, keys: int
) -> tuple[int, int, int, int]:
    """The counters 5 minutes later: 20,000-40,000 lookups at a 88.5-95.5 % hit rate."""
    lookups = rng.randint(20_000, 40_000)
    interval_hits = round(lookups * rng.uniform(0.885, 0.955))
    return (
        hits + interval_hits,
        misses + lookups - interval_hits,
        max(500_000_000, memory + rng.randint(-2_000_000, 2_100_000)),
        max(50_000, keys + rng.randint(-300, 310)),
    )


# --------------------------------------------------------------------------------------------
# Injections on the in-memory tables
# --------------------------------------------------------------------------------------------


def inject_cost_spike(plan: Plan, videos: list[Video], costs: list[tuple]) -> dict[str, Any]:
    clock_start = plan.as_of.replace(minute=0, second=0, microsecond=0)
    if clock_start == plan.as_of:
        clock_start -= HOUR
    rolling_start = plan.as_of - HOUR
    in_rolling: dict[int, int] = {}
    in_clock: dict[int, int] = {}
    for _, video_id, _, amount, incurred_at in costs:
        if video_id is not None and rolling_start <= incurred_at < plan.as_of:
            in_rolling[video_id] = in_rolling.get(video_id, 0) + amount
            if incurred_at >= clock_start:
                in_clock[video_id] = in_clock.get(video_id, 0) + amount
    totals = video_cost_totals(costs)
    old_ids = [
        v.video_id
        for v in videos
        if v.video_id not in in_rolling and v.published_at < plan.as_of - 2 * DAY
    ]
    plan.rng("inject", "cost_spike").shuffle(old_ids)
    window_ids = sorted(in_rolling)
    target = plan.sizes.spike_target_cents
    sum_rolling, sum_clock = sum(in_rolling.values()), sum(in_clock.values())
    for extra in range(len(old_ids) + 1):
        involved = window_ids + sorted(old_ids[:extra])
        if not involved:
            continue
        videos_count = len(involved)
        extra_cents = round(target * videos_count - (sum_rolling + sum_clock) / 2)
        shares = [
            extra_cents // videos_count + (i < extra_cents % videos_count)
            for i in range(videos_count)
        ]
        rolling = (sum_rolling + extra_cents) / videos_count
        clock = (sum_clock + extra_cents) / videos_count
        if (
            abs(rolling - target) <= SPIKE_TOLERANCE_CENTS
            and abs(clock - target) <= SPIKE_TOLERANCE_CENTS
            and all(
                totals.get(v, 0) + s >= plan.sizes.spike_min_video_total_cents
                for v, s in zip(involved, shares, strict=True)
            )
        ):
            break
    else:
        raise ConfigError("cost_spike needs more videos: raise --scale or --days.")
    rng = plan.rng("inject", "cost_spike", "times")
    window_us = int((plan.as_of - clock_start) / timedelta(microseconds=1))
    next_id = max((row[0] for row in costs), default=0) + 1
    for offset, (video_id, amount) in enumerate(zip(involved, shares, strict=True)):
        incurred_at = clock_start + timedelta(microseconds=rng.randrange(window_us))
        costs.append((next_id + offset, video_id, "llm_script", amount, incurred_at))
    day_start = day_start_of(plan.as_of_day)
    day_total = sum(row[3] for row in costs if day_start <= row[4] <= plan.as_of)
    return {
        "window_start": clock_start,
        "window_end": plan.as_of,
        "rolling_hour_start": rolling_start,
        "clock_hour_start": clock_start,
        "video_ids": involved,
        "extra_events": len(involved),
        "extra_cents": extra_cents,
        "rolling_hour_cents_per_video": rolling,
        "clock_hour_cents_per_video": clock,
        "day_total_cents": day_total,
    }


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
    """Replace schema `raw` with synthetic data; see the module docstring for shapes/figures.
    The injections are sized from `project`'s threshold vars (default: dbt_project.yml's)."""
    started = time.perf_counter()
    injections = (inject,) if isinstance(inject, str) else inject
    plan = make_plan(scale, days, as_of, seed, injections, project)
    users = build_users(plan)
    channels = build_channels(plan, users)
    videos = build_videos(plan, channels)
    details: dict[str, dict[str, Any]] = {}
    small_tables = build_small_tables(plan, videos, details)
    dirty = plan_dirty_stats(plan, videos) if "dirty_rows" in plan.inject else None
    if dirty is not None:
        details["dirty_rows"] = {**dirty.details, **details.pop("dirty_rows_costs")}
    producers: dict[str, Callable[[], Iterable[tuple]]] = {
        "users": lambda: user_rows(plan, users),
        "channels": lambda: channel_rows(plan, channels),
        "videos": lambda: video_rows(plan, videos),
        "video_stats": lambda: video_stats_rows(plan, videos, dirty, details),
        "revenue": lambda: revenue_rows(plan, videos),
        **{table: (lambda rows=rows: rows) for table, rows in small_tables.items()},
    }
    rows: dict[str, int] = {}
    with connect(conn, autocommit=False) as db:
        db.execute("set local synchronous_commit = off")
        reset_raw_schema(db)
        for table in TABLES:
            rows[table] = copy_rows(db, table, producers[table]())
        raw_state.record(
            db,
            "generate",
            raw_state.Generation(plan.scale, plan.days, plan.seed, plan.as_of, plan.as_of),
            inject=plan.inject,
        )
        db.commit()
        db.autocommit = True
        db.execute("analyze " + ", ".join(f"raw.{table}" for table in TABLES))
    seconds = time.perf_counter() - started
    log.info("generated %s rows in %.1f s", sum(rows.values()), seconds)
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
