"""The clean synthetic tables of `ytempire generate`: the plan every table is generated in, the
entities (users, channels, videos) and the facts, derived per entity from a string seed.

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

The anomalies are planted by orchestrator/generate_injections.py and the tables loaded by
orchestrator/generate.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.generate_injections import AnomalySizes

# Sizes at scale 1.
USERS_AT_SCALE_1 = 100
CHANNELS_AT_SCALE_1 = 400
VIDEOS_AT_SCALE_1 = 10_000

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
LIVE_WINDOW = timedelta(hours=72)
NEWEST_VIDEO_AGE_SECONDS = (12 * 60, 20 * 60)
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
DASHBOARDS = (
    "executive_overview",
    "revenue_overview",
    "channel_performance",
    "cost_tracking",
    "user_progress",
)
QUERY_CAP_MS = 1500
CACHE_INTERVAL = timedelta(minutes=5)


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
