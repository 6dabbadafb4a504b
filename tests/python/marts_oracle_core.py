"""The core contract implemented again in Python, from the raw rows: staging, validation, the
dimensions, the facts and the quarantine, as one fresh `dbt build` at `as_of` makes them.

Nothing here reads a dbt model: every rule is re-implemented from the models' YAML and
DESIGN.md (dedupe per key, PostgreSQL's ordering of the kept version, exclusion reasons in
their documented order, hourly grain, deltas, the business timezone). Time has two instants: a
row stamped after `as_of` but not after the server `clock` has not arrived yet as of the run
(left out of everything, not dirty: a replay at an earlier instant sees the data it saw then);
a row stamped after the clock is impossible, so dirty (quarantined as future_timestamp).
Thresholds and defaults come from dbt_project.yml's vars, as the models read them. The marts
built on these rows are in marts_oracle_finance.py and marts_oracle.py (the public entry point).
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, getcontext
from fractions import Fraction
from functools import cached_property, total_ordering
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

getcontext().prec = 50
PROJECT_DIR = Path(__file__).resolve().parents[2]
SIX_PLACES = Decimal("0.000001")
RAW_TABLES = (
    "users",
    "channels",
    "videos",
    "video_stats",
    "revenue",
    "costs",
    "api_usage",
    "job_runs",
    "query_log",
    "cache_stats",
)
Row = dict[str, Any]
Rows = dict[Any, Row]


def project_vars() -> dict[str, Any]:
    """The `vars:` block of dbt_project.yml (the one source of truth for thresholds)."""
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


# --- arithmetic and text as PostgreSQL does them -----------------------------------------------


def six(value: Decimal | Fraction | float | int | None) -> Decimal | None:
    """Round like a cast to numeric(28,6) (dbt's type_numeric): half away from zero."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(str(value)).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def hundredths(value: Fraction | int | None) -> Decimal | None:
    """Exact value rounded half away from zero to 2 decimals (a cast to numeric(18,2))."""
    if value is None:
        return None
    scaled = Fraction(value) * 100
    magnitude = int(abs(scaled) + Fraction(1, 2))
    return Decimal(magnitude if scaled >= 0 else -magnitude).scaleb(-2)


def usd(cents: Fraction | Decimal | int | None) -> Decimal | None:
    """Cents as dollars to the cent (macro cents_to_usd)."""
    return None if cents is None else hundredths(Fraction(cents) / 100)


def ratio(numerator: int, denominator: int) -> Fraction | None:
    """numerator / nullif(denominator, 0), exactly."""
    return None if denominator == 0 else Fraction(numerator, denominator)


def minutes(start: datetime, end: datetime) -> Decimal:
    """Total minutes from start to end (macro minutes_between), exactly."""
    delta = end - start
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / Decimal(60_000_000)


def percentile_cont(values: Sequence[Any], fraction: Any) -> Any:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks (float
    in, float out; Fraction in, Fraction out)."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def utc_hour(moment: datetime) -> datetime:
    """date_trunc('hour', ts) in the dbt session's time zone, UTC."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    """dbt.datediff(start, end, 'second') on PostgreSQL: wall-clock (UTC session) seconds,
    fractional seconds truncated on each side."""
    if start is None or end is None:
        return None
    return int(
        (end.astimezone(UTC).replace(microsecond=0) - start.astimezone(UTC).replace(microsecond=0))
        / timedelta(seconds=1)
    )


def pg_text(value: Any) -> str:
    """A value cast to text in a UTC session, null as '' (how macro surrogate_key sees it)."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _timestamptz_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@functools.lru_cache(maxsize=1 << 18)
def _timestamptz_text(value: datetime) -> str:
    """timestamptz as text in UTC. Remembered: a sequence of runs recomputes the oracle after
    each step over mostly the same rows, and equal aware datetimes (the same instant) have the
    same UTC text, so a remembered answer is always the right one."""
    moment = value.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return f"{moment:%Y-%m-%d %H:%M:%S}{fraction}+00"


def surrogate_key(*values: Any) -> str:
    """Macro surrogate_key: md5 of the values cast to text, joined with '-'."""
    return hashlib.md5("-".join(pg_text(value) for value in values).encode()).hexdigest()


@total_ordering
class Descending:
    """Wraps a value so that sorting puts larger values first (ORDER BY ... DESC)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Descending) and self.value == other.value

    def __lt__(self, other: Descending) -> bool:
        return self.value > other.value

    def __hash__(self) -> int:
        return hash(self.value)


def nulls_last(value: Any, descending: bool = False) -> tuple[int, Any]:
    """Sort key of ORDER BY value [DESC] NULLS LAST (PostgreSQL's default for ASC)."""
    if value is None:
        return (1, 0)
    return (0, Descending(value) if descending else value)


def nulls_first(value: Any, descending: bool = False) -> tuple[int, Any]:
    """Sort key of ORDER BY value [ASC] NULLS FIRST (PostgreSQL's default for DESC)."""
    if value is None:
        return (0, 0)
    return (1, Descending(value) if descending else value)


# --- the raw rows -------------------------------------------------------------------------------


@dataclass
class Raw:
    """Every raw table's rows, the pinned as_of, the business timezone, the server clock (None:
    as_of, i.e. every row after as_of is future) and the project vars. `core` (computed once)
    holds the staged rows, dimensions, facts and quarantine."""

    tables: dict[str, list[Row]]
    as_of: datetime
    timezone: ZoneInfo
    variables: dict[str, Any] = field(default_factory=project_vars)
    clock: datetime | None = None

    def __getitem__(self, table: str) -> list[Row]:
        return self.tables[table]

    def is_future(self, moment: datetime | None) -> bool:
        """Stamped after the server clock: impossible, so dirty (null is not)."""
        return moment is not None and moment > (self.clock or self.as_of)

    def is_pending(self, moment: datetime | None) -> bool:
        """Stamped after as_of but not after the clock: not arrived yet as of the run."""
        return moment is not None and moment > self.as_of and not self.is_future(moment)

    def business_date(self, moment: datetime) -> date:
        return moment.astimezone(self.timezone).date()

    def day_start(self, day: date, hours: int = 0) -> datetime:
        """Macro business_day_start: `hours` o'clock local time on business date `day`."""
        local = datetime.combine(day, time()) + timedelta(hours=hours)
        return local.replace(tzinfo=self.timezone)

    @property
    def today(self) -> date:
        return self.business_date(self.as_of)

    @cached_property
    def core(self) -> Core:
        return build_core(self)


def load_raw(
    query_dicts: Callable[[str], list[Row]], as_of: datetime, timezone: str = "UTC"
) -> Raw:
    """The raw tables and the server clock (what the staging views compare timestamps with)."""
    tables = {table: query_dicts(f"select * from raw.{table}") for table in RAW_TABLES}
    (clock,) = query_dicts("select current_timestamp as clock")
    return Raw(tables=tables, as_of=as_of, timezone=ZoneInfo(timezone), clock=clock["clock"])


# --- staging: one version per key ----------------------------------------------------------------


def kept_versions(
    rows: Iterable[Row],
    keys: tuple[str, ...],
    hashed: tuple[str, ...],
    order: Callable[[Row], tuple[Any, ...]],
) -> list[Row]:
    """The staging dedupe: per `keys` (rows whose first key is null partition by their row hash,
    i.e. collapse only when identical), the first row by `order`, ties by row hash ascending.
    Each kept row gains `row_hash` (surrogate_key of the `hashed` raw columns) and
    `version_count`."""
    partitions: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for raw_row in rows:
        row = {**raw_row, "row_hash": surrogate_key(*(raw_row[column] for column in hashed))}
        null_key = row[keys[0]] is None
        identity = (*(row[key] for key in keys), row["row_hash"] if null_key else None)
        partitions[identity].append(row)
    kept = []
    for versions in partitions.values():
        first = min(versions, key=lambda row: (*order(row), row["row_hash"]))
        kept.append({**first, "version_count": len(versions)})
    return kept


def is_valid(row: Row) -> bool:
    """Arrived by as_of and not quarantined: what the core marts keep."""
    return row["reason"] is None and not row["is_pending"]


def first_reason(*checks: tuple[str, bool]) -> str | None:
    """The quarantine reason: the first check that holds, in the documented order."""
    return next((reason for reason, holds in checks if holds), None)


@dataclass
class Core:
    """The staged rows (with their quarantine reason), the core marts' rows keyed by their
    grain, and the quarantine, from one Raw."""

    staged: dict[str, list[Row]]
    dim_user: Rows
    dim_channel: Rows
    dim_video: Rows
    dim_date: Rows
    fct_video_performance: Rows
    fct_revenue: Rows
    fct_costs: Rows
    dq_quarantined_rows: Rows

    @property
    def first_calendar_date(self) -> date:
        return min(self.dim_date)


def stage_users(raw: Raw) -> list[Row]:
    default_goal = int(raw.variables["default_monthly_goal_cents"])
    columns = ("user_id", "email", "monthly_goal_cents", "is_active", "created_at")
    staged = []
    for row in kept_versions(
        raw["users"], ("user_id",), columns, lambda r: (nulls_first(r["created_at"], True),)
    ):
        goal = row["monthly_goal_cents"]
        staged.append(
            {
                **row,
                "monthly_goal_cents": goal if goal is not None else default_goal,
                "has_default_monthly_goal": goal is None,
                "is_active": bool(row["is_active"]),
                "is_pending": raw.is_pending(row["created_at"]),
                "reason": first_reason(
                    ("null_id", row["user_id"] is None),
                    # DESIGN: nothing dirty reaches a mart silently, nothing valid is dropped
                    # silently: a user without created_at is quarantined like other null stamps
                    ("null_timestamp", row["created_at"] is None),
                    ("future_timestamp", raw.is_future(row["created_at"])),
                ),
            }
        )
    return staged


def stage_channels(raw: Raw, valid_users: set[int]) -> list[Row]:
    columns = ("channel_id", "user_id", "title", "niche", "is_active", "created_at", "updated_at")
    staged = []
    for row in kept_versions(
        raw["channels"], ("channel_id",), columns, lambda r: (nulls_last(r["updated_at"], True),)
    ):
        staged.append(
            {
                **row,
                "channel_title": row["title"],
                "is_active": bool(row["is_active"]),
                "is_pending": raw.is_pending(row["created_at"]),
                "reason": first_reason(
                    ("null_id", row["channel_id"] is None),
                    ("future_timestamp", raw.is_future(row["created_at"])),
                    ("unknown_user", row["user_id"] not in valid_users),
                ),
            }
        )
    return staged


def stage_videos(raw: Raw, valid_channels: dict[int, Row]) -> list[Row]:
    columns = ("video_id", "channel_id", "title", "duration_s", "published_at", "updated_at")
    staged = []
    for row in kept_versions(
        raw["videos"], ("video_id",), columns, lambda r: (nulls_last(r["updated_at"], True),)
    ):
        channel = valid_channels.get(row["channel_id"])
        published_at = row["published_at"]
        staged.append(
            {
                **row,
                "video_title": row["title"],
                "duration_seconds": row["duration_s"],
                "user_id": channel["user_id"] if channel else None,
                "published_date": raw.business_date(published_at) if published_at else None,
                # kept even when published after as_of: its costs come before it is published
                # (the marts count published videos with published_at <= as_of themselves)
                "is_pending": False,
                "reason": first_reason(
                    ("null_id", row["video_id"] is None),
                    ("future_timestamp", raw.is_future(published_at)),
                    ("unknown_channel", channel is None),
                ),
            }
        )
    return staged


def stage_video_stats(raw: Raw, valid_videos: Rows) -> list[Row]:
    counters = ("views", "likes", "comments", "watch_minutes")
    staged = []
    for row in kept_versions(
        raw["video_stats"],
        ("video_id", "collected_at"),
        ("video_id", *counters, "collected_at"),
        # two readings of one instant: the highest counters are kept
        lambda r: tuple(nulls_last(r[counter], True) for counter in counters),
    ):
        collected_at = row["collected_at"]
        staged.append(
            {
                **row,
                "collected_hour": utc_hour(collected_at) if collected_at else None,
                "is_pending": raw.is_pending(collected_at),
                "reason": first_reason(
                    ("null_id", row["video_id"] is None),
                    ("null_timestamp", collected_at is None),
                    ("future_timestamp", raw.is_future(collected_at)),
                    ("unknown_video", row["video_id"] not in valid_videos),
                ),
            }
        )
    return staged


def stage_revenue(raw: Raw, valid_videos: Rows) -> list[Row]:
    columns = ("video_id", "revenue_date", "estimated_cents", "actual_cents", "loaded_at")
    clock = raw.clock or raw.as_of
    staged = []
    for row in kept_versions(
        raw["revenue"],
        ("video_id", "revenue_date"),
        columns,
        # the latest version landed by as_of; one landed later only when nothing earlier exists
        lambda r: (
            r["loaded_at"] is not None and r["loaded_at"] > raw.as_of,
            nulls_last(r["loaded_at"], True),
        ),
    ):
        revenue_date, loaded_at = row["revenue_date"], row["loaded_at"]
        is_future = raw.is_future(loaded_at) or (
            revenue_date is not None and revenue_date > raw.business_date(clock)
        )
        is_after_as_of = (loaded_at is not None and loaded_at > raw.as_of) or (
            revenue_date is not None and revenue_date > raw.today
        )
        staged.append(
            {
                **row,
                "revenue_id": row["row_hash"]
                if row["video_id"] is None
                else surrogate_key(row["video_id"], revenue_date),
                "revenue_cents": row["actual_cents"]
                if row["actual_cents"] is not None
                else row["estimated_cents"],
                "is_estimated": row["actual_cents"] is None,
                "is_pending": is_after_as_of and not is_future,
                "reason": first_reason(
                    ("null_id", row["video_id"] is None or revenue_date is None),
                    ("future_timestamp", is_future),
                    ("unknown_video", row["video_id"] not in valid_videos),
                ),
            }
        )
    return staged


def stage_costs(raw: Raw, valid_videos: Rows) -> list[Row]:
    columns = ("cost_id", "video_id", "category", "amount_cents", "incurred_at")
    staged = []
    for row in kept_versions(
        # at-least-once delivery: the first version of a cost_id is kept
        raw["costs"],
        ("cost_id",),
        columns,
        lambda r: (nulls_last(r["incurred_at"]),),
    ):
        incurred_at = row["incurred_at"]
        staged.append(
            {
                **row,
                "cost_category": row["category"],
                "incurred_date": raw.business_date(incurred_at) if incurred_at else None,
                "incurred_hour": utc_hour(incurred_at) if incurred_at else None,
                "is_pending": raw.is_pending(incurred_at),
                "reason": first_reason(
                    ("null_id", row["cost_id"] is None or row["video_id"] is None),
                    ("null_timestamp", incurred_at is None),
                    ("future_timestamp", raw.is_future(incurred_at)),
                    ("unknown_video", row["video_id"] not in valid_videos),
                ),
            }
        )
    return staged


def stage_operations(raw: Raw) -> dict[str, list[Row]]:
    """The monitoring sources: one row per request, run, query and cache collection."""
    return {
        "api_usage": kept_versions(
            raw["api_usage"],
            ("request_id",),
            ("request_id", "endpoint", "status", "quota_units", "called_at"),
            lambda r: (nulls_last(r["called_at"]),),
        ),
        # a run is landed again when it ends: its latest state
        "job_runs": [
            {**row, "duration_seconds": seconds_between(row["started_at"], row["finished_at"])}
            for row in kept_versions(
                raw["job_runs"],
                ("run_id",),
                ("run_id", "job_name", "status", "error_message", "started_at", "finished_at"),
                lambda r: (nulls_last(r["finished_at"], True),),
            )
        ],
        "query_log": kept_versions(
            raw["query_log"],
            ("query_id",),
            ("query_id", "dashboard_name", "duration_ms", "executed_at"),
            lambda r: (nulls_last(r["executed_at"]),),
        ),
        "cache_stats": stage_cache_stats(raw),
    }


def stage_cache_stats(raw: Raw) -> list[Row]:
    """One reading per collected_at (at-least-once delivery): the highest counters."""
    by_instant: dict[datetime | None, list[Row]] = defaultdict(list)
    for row in raw["cache_stats"]:
        by_instant[row["collected_at"]].append(row)
    counters = ("keyspace_hits", "keyspace_misses", "used_memory_bytes", "keys")
    return [
        {
            **min(rows, key=lambda r: tuple(nulls_last(r[column], True) for column in counters)),
            "cache_stat_id": surrogate_key(collected_at),
        }
        for collected_at, rows in by_instant.items()
    ]


# --- the core marts -------------------------------------------------------------------------------


def pick(row: Row, columns: Iterable[str]) -> Row:
    return {column: row[column] for column in columns}


def video_performance_rows(stats: list[Row], videos: Rows) -> Rows:
    """fct_video_performance: the last valid collection of each video in each clock hour, with
    deltas against the video's previous hourly row (a first row is its own delta)."""
    last_in_hour: dict[tuple[int, datetime], Row] = {}
    for row in stats:
        if not is_valid(row):
            continue
        key = (row["video_id"], row["collected_hour"])
        if key not in last_in_hour or row["collected_at"] > last_in_hour[key]["collected_at"]:
            last_in_hour[key] = row
    counters = ("views", "likes", "comments", "watch_minutes")
    expected: Rows = {}
    previous: dict[int, Row] = {}
    for (video_id, hour), row in sorted(last_in_hour.items()):
        before = previous.get(video_id)
        video = videos[video_id]
        views, likes, comments = row["views"], row["likes"], row["comments"]
        engagement = None
        if views and likes is not None and comments is not None:
            engagement = six(Fraction(likes + comments, views))
        expected[(video_id, hour)] = {
            "video_performance_id": surrogate_key(video_id, hour),
            "channel_id": video["channel_id"],
            "user_id": video["user_id"],
            **pick(row, counters),
            **{
                f"{counter}_delta": None
                if row[counter] is None
                else row[counter] - ((before[counter] if before else None) or 0)
                for counter in counters
            },
            "engagement_rate": engagement,
            "is_counter_correction": before is not None
            and any(
                row[counter] is not None
                and before[counter] is not None
                and row[counter] < before[counter]
                for counter in counters
            ),
            "collected_at": row["collected_at"],
        }
        previous[video_id] = row
    return expected


def calendar(raw: Raw, staged: dict[str, list[Row]]) -> Rows:
    """dim_date: every day from the first date of the staged rows (valid or not) through
    as_of's business date + 1; weeks start on Monday."""
    dated = {
        "users": "created_at",
        "channels": "created_at",
        "videos": "published_at",
        "video_stats": "collected_at",
        "revenue": "revenue_date",
        "costs": "incurred_at",
        "api_usage": "called_at",
        "job_runs": "started_at",
        "query_log": "executed_at",
        "cache_stats": "collected_at",
    }
    firsts = []
    for table, column in dated.items():
        values = [row[column] for row in staged[table] if row[column] is not None]
        if values:
            first = min(values)
            firsts.append(raw.business_date(first) if isinstance(first, datetime) else first)
    day = min(firsts, default=raw.today)
    last = raw.today + timedelta(days=1)
    rows: Rows = {}
    while day <= last:
        rows[day] = {
            "month_start_date": day.replace(day=1),
            "week_start_date": day - timedelta(days=day.isoweekday() - 1),
            "year_number": day.year,
            "month_number": day.month,
            "day_of_week_number": day.isoweekday(),
            "is_weekend": day.isoweekday() >= 6,
        }
        day += timedelta(days=1)
    return rows


QUARANTINE_SOURCES: tuple[tuple[str, str, bool, tuple[str, ...], tuple[str, ...]], ...] = (
    # (staged table, source_table, has a video_id, key columns, row columns): dq_quarantined_rows
    (
        "users",
        "raw.users",
        False,
        ("user_id",),
        ("user_id", "email", "monthly_goal_cents", "is_active", "created_at"),
    ),
    (
        "channels",
        "raw.channels",
        False,
        ("channel_id",),
        (
            "channel_id",
            "user_id",
            "channel_title",
            "niche",
            "is_active",
            "created_at",
            "updated_at",
        ),
    ),
    (
        "videos",
        "raw.videos",
        True,
        ("video_id",),
        ("video_id", "channel_id", "video_title", "duration_seconds", "published_at", "updated_at"),
    ),
    (
        "video_stats",
        "raw.video_stats",
        True,
        ("video_id", "collected_at"),
        ("video_id", "views", "likes", "comments", "watch_minutes", "collected_at"),
    ),
    (
        "revenue",
        "raw.revenue",
        True,
        ("video_id", "revenue_date"),
        ("video_id", "revenue_date", "estimated_cents", "actual_cents", "loaded_at"),
    ),
    (
        "costs",
        "raw.costs",
        True,
        ("cost_id",),
        ("cost_id", "video_id", "cost_category", "amount_cents", "incurred_at"),
    ),
)


def quarantine(raw: Raw, staged: dict[str, list[Row]]) -> Rows:
    """dq_quarantined_rows, keyed by quarantined_row_id (md5 of source_table and row_hash): the
    arrived rows with a reason. row_key_json / row_json are expected as dicts (the comparison
    parses the mart's json)."""
    rows: Rows = {}
    for table, source_table, has_video, key_columns, columns in QUARANTINE_SOURCES:
        for row in staged[table]:
            if row["reason"] is None or row["is_pending"]:
                continue
            rows[surrogate_key(source_table, row["row_hash"])] = {
                "source_table": source_table,
                "reason": row["reason"],
                "video_id": row["video_id"] if has_video else None,
                "row_key_json": pick(row, key_columns),
                "row_json": pick(row, columns),
                "detected_at": raw.as_of,
            }
    return rows


def build_core(raw: Raw) -> Core:
    users = stage_users(raw)
    dim_user = {
        row["user_id"]: pick(
            row,
            ("email", "monthly_goal_cents", "is_active", "has_default_monthly_goal", "created_at"),
        )
        for row in users
        if is_valid(row)
    }
    channels = stage_channels(raw, set(dim_user))
    dim_channel = {
        row["channel_id"]: pick(
            row, ("user_id", "channel_title", "niche", "is_active", "created_at")
        )
        for row in channels
        if is_valid(row)
    }
    videos = stage_videos(raw, dim_channel)
    dim_video = {
        row["video_id"]: pick(
            row,
            (
                "channel_id",
                "user_id",
                "video_title",
                "duration_seconds",
                "published_date",
                "published_at",
            ),
        )
        for row in videos
        if is_valid(row)
    }
    staged = {
        "users": users,
        "channels": channels,
        "videos": videos,
        "video_stats": stage_video_stats(raw, dim_video),
        "revenue": stage_revenue(raw, dim_video),
        "costs": stage_costs(raw, dim_video),
        **stage_operations(raw),
    }
    owners = {
        video_id: {"channel_id": row["channel_id"], "user_id": row["user_id"]}
        for video_id, row in dim_video.items()
    }
    fct_revenue = {
        (row["video_id"], row["revenue_date"]): {
            "revenue_id": row["revenue_id"],
            **owners[row["video_id"]],
            **pick(row, ("estimated_cents", "actual_cents", "revenue_cents", "is_estimated")),
            "loaded_at": row["loaded_at"],
        }
        for row in staged["revenue"]
        if is_valid(row)
    }
    fct_costs = {
        row["cost_id"]: {
            "video_id": row["video_id"],
            **owners[row["video_id"]],
            **pick(
                row,
                ("cost_category", "amount_cents", "incurred_date", "incurred_hour", "incurred_at"),
            ),
        }
        for row in staged["costs"]
        if is_valid(row)
    }
    return Core(
        staged=staged,
        dim_user=dim_user,
        dim_channel=dim_channel,
        dim_video=dim_video,
        dim_date=calendar(raw, staged),
        fct_video_performance=video_performance_rows(staged["video_stats"], dim_video),
        fct_revenue=fct_revenue,
        fct_costs=fct_costs,
        dq_quarantined_rows=quarantine(raw, staged),
    )
