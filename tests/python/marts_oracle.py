"""Independent Python computations of the monitoring and content marts, from the raw rows.

Used by test_marts_monitoring.py and test_marts_content.py: every figure a mart holds is
recomputed here from `raw.*` (read back from the database) with the rules of DESIGN.md and the
core contract implemented again (dedupe, exclusions, hourly grain, deltas), never by reading a
dbt model. Thresholds are read from dbt_project.yml's vars, as the models read them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, getcontext
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


def project_vars() -> dict[str, Any]:
    """The `vars:` block of dbt_project.yml (the one source of truth for thresholds)."""
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def six(value: Decimal | float | int | None) -> Decimal | None:
    """Round like a cast to numeric(28,6): half away from zero."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def classify(
    value: float | Decimal | None,
    warning: float,
    critical: float,
    *,
    higher_is_worse: bool = True,
    labels: tuple[str, str, str] = ("OK", "WARNING", "CRITICAL"),
) -> str | None:
    """The threshold_status rule: strictly beyond critical, else strictly beyond warning."""
    if value is None:
        return None

    def beyond(threshold: float) -> bool:
        return value > threshold if higher_is_worse else value < threshold

    if beyond(critical):
        return labels[2]
    if beyond(warning):
        return labels[1]
    return labels[0]


def minutes(start: datetime, end: datetime) -> Decimal:
    delta = end - start
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / Decimal(60_000_000)


def percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the nearest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def dedupe(rows: Iterable[dict[str, Any]], key: str, order: str) -> list[dict[str, Any]]:
    """One row per `key` (the earliest by `order`); rows without a key collapse when identical."""
    kept: dict[Any, dict[str, Any]] = {}
    for row in rows:
        identity = row[key] if row[key] is not None else ("null", tuple(sorted(row.items())))
        current = kept.get(identity)
        if current is None or (
            row[order] is not None and (current[order] is None or row[order] < current[order])
        ):
            kept[identity] = row
    return list(kept.values())


@dataclass
class Raw:
    """Every raw table's rows, plus the pinned as_of and the business timezone."""

    tables: dict[str, list[dict[str, Any]]]
    as_of: datetime
    timezone: ZoneInfo

    def __getitem__(self, table: str) -> list[dict[str, Any]]:
        return self.tables[table]

    def business_date(self, moment: datetime) -> date:
        return moment.astimezone(self.timezone).date()

    def day_start(self, day: date, hours: int = 0) -> datetime:
        local = datetime.combine(day, time()) + timedelta(hours=hours)
        return local.replace(tzinfo=self.timezone)

    @property
    def today(self) -> date:
        return self.business_date(self.as_of)

    @property
    def known_video_ids(self) -> set[int]:
        return {row["video_id"] for row in self["videos"] if row["video_id"] is not None}


def load_raw(
    query_dicts: Callable[[str], list[dict[str, Any]]], as_of: datetime, timezone: str = "UTC"
) -> Raw:
    tables = {table: query_dicts(f"select * from raw.{table}") for table in RAW_TABLES}
    return Raw(tables=tables, as_of=as_of, timezone=ZoneInfo(timezone))


# --- core facts, re-derived -------------------------------------------------------------------


def video_performance(raw: Raw) -> list[dict[str, Any]]:
    """fct_video_performance: valid rows, exact duplicates collapsed, the last collection of
    each video-hour, deltas against the previous hourly row (first row: the counter itself)."""
    known = raw.known_video_ids
    unique_rows = {
        tuple(sorted(row.items())): row
        for row in raw["video_stats"]
        if row["video_id"] in known
        and row["collected_at"] is not None
        and row["collected_at"] <= raw.as_of
    }
    last_in_hour: dict[tuple[int, datetime], dict[str, Any]] = {}
    for row in unique_rows.values():
        hour = row["collected_at"].replace(minute=0, second=0, microsecond=0)
        key = (row["video_id"], hour)
        if key not in last_in_hour or row["collected_at"] > last_in_hour[key]["collected_at"]:
            last_in_hour[key] = row
    by_video: dict[int, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for (video_id, hour), row in last_in_hour.items():
        by_video[video_id].append((hour, row))
    result = []
    for video_id, hours in by_video.items():
        previous: dict[str, Any] | None = None
        for hour, row in sorted(hours, key=lambda item: item[0]):
            counters = ("views", "likes", "comments", "watch_minutes")
            deltas = {
                f"{name}_delta": row[name] - (previous[name] if previous else 0)
                for name in counters
            }
            engagement = None
            if row["views"]:
                engagement = six(Decimal(row["likes"] + row["comments"]) / Decimal(row["views"]))
            result.append(
                {
                    "video_id": video_id,
                    "collected_hour": hour,
                    "collected_at": row["collected_at"],
                    "views": row["views"],
                    "engagement_rate": engagement,
                    **deltas,
                }
            )
            previous = row
    return result


def revenue_by_day(raw: Raw) -> dict[tuple[int, date], dict[str, Any]]:
    """fct_revenue: per video and day, the latest version loaded by as_of."""
    known = raw.known_video_ids
    latest: dict[tuple[int, date], dict[str, Any]] = {}
    for row in raw["revenue"]:
        if row["video_id"] not in known or row["loaded_at"] is None:
            continue
        if row["loaded_at"] > raw.as_of:
            continue
        key = (row["video_id"], row["revenue_date"])
        if key not in latest or row["loaded_at"] > latest[key]["loaded_at"]:
            latest[key] = row
    return {
        key: {
            "revenue_cents": row["actual_cents"]
            if row["actual_cents"] is not None
            else row["estimated_cents"],
            "is_estimated": row["actual_cents"] is None,
            "loaded_at": row["loaded_at"],
        }
        for key, row in latest.items()
    }


def valid_costs(raw: Raw) -> list[dict[str, Any]]:
    """fct_costs: one row per cost_id, known videos only, incurred by as_of."""
    known = raw.known_video_ids
    rows = [row for row in raw["costs"] if row["cost_id"] is not None]
    return [
        row
        for row in dedupe(rows, "cost_id", "incurred_at")
        if row["video_id"] in known and row["incurred_at"] <= raw.as_of
    ]


# --- monitoring marts -------------------------------------------------------------------------


def expected_data_freshness(raw: Raw, variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    last_loads = {
        "video_stats": [row["collected_at"] for row in video_performance(raw)],
        "revenue": [row["loaded_at"] for row in revenue_by_day(raw).values()],
        "costs": [row["incurred_at"] for row in valid_costs(raw)],
        "api_usage": [
            row["called_at"]
            for row in raw["api_usage"]
            if row["called_at"] is not None and row["called_at"] <= raw.as_of
        ],
    }
    expected = {}
    for dataset, moments in last_loads.items():
        warn = variables[f"freshness_{dataset}_warn_minutes"]
        error = variables[f"freshness_{dataset}_error_minutes"]
        last = max(moments) if moments else None
        since = minutes(last, raw.as_of) if last else None
        status = (
            "STALE"
            if last is None
            else classify(since, warn, error, labels=("FRESH", "DELAYED", "STALE"))
        )
        expected[dataset] = {
            "freshness_status": status,
            "minutes_since_load": six(since),
            "last_loaded_at": last,
            "delayed_after_minutes": warn,
            "stale_after_minutes": error,
            "has_no_data": last is None,
        }
    return expected


def expected_job_status(raw: Raw) -> dict[int, dict[str, Any]]:
    runs = [
        row
        for row in dedupe(raw["job_runs"], "run_id", "started_at")
        if row["started_at"] is not None and row["started_at"] <= raw.as_of
    ]
    last_success: dict[str, datetime] = {}
    for row in runs:
        if row["status"] == "success" and row["finished_at"] and row["finished_at"] <= raw.as_of:
            previous = last_success.get(row["job_name"])
            last_success[row["job_name"]] = max(filter(None, (previous, row["finished_at"])))
    start = raw.day_start(raw.today - timedelta(days=1))
    end = raw.day_start(raw.today, hours=6)
    expected = {}
    for row in runs:
        if not start <= row["started_at"] < end:
            continue
        success = last_success.get(row["job_name"])
        expected[row["run_id"]] = {
            "job_name": row["job_name"],
            "status": row["status"],
            "error_message": row["error_message"],
            "is_failed": (row["status"] or "unknown") not in ("success", "running"),
            "has_later_success": bool(success and success > row["started_at"]),
            "last_success_at": success,
            "started_at": row["started_at"],
            "window_start_at": start,
            "window_end_at": end,
        }
    return expected


def expected_dashboard_performance(
    raw: Raw, variables: dict[str, Any]
) -> dict[tuple[str, date], dict[str, Any]]:
    durations: dict[tuple[str, date], list[int]] = defaultdict(list)
    for row in dedupe(raw["query_log"], "query_id", "executed_at"):
        if row["executed_at"] is not None and row["executed_at"] <= raw.as_of:
            key = (row["dashboard_name"], raw.business_date(row["executed_at"]))
            durations[key].append(row["duration_ms"])
    expected = {}
    for key, values in durations.items():
        average = Decimal(sum(values)) / Decimal(len(values))
        expected[key] = {
            "query_count": len(values),
            "avg_duration_ms": six(average),
            "p95_duration_ms": percentile_cont([float(v) for v in values], 0.95),
            "max_duration_ms": max(values),
            "performance_status": classify(
                average, variables["dashboard_warning_ms"], variables["dashboard_critical_ms"]
            ),
            "is_current_day": key[1] == raw.today,
        }
    return expected


def expected_api_quota_usage(raw: Raw, variables: dict[str, Any]) -> dict[date, dict[str, Any]]:
    rows = [
        row
        for row in dedupe(raw["api_usage"], "request_id", "called_at")
        if row["called_at"] is not None and row["called_at"] <= raw.as_of
    ]
    days: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        days[raw.business_date(row["called_at"])].append(row)
    quota = variables["api_quota_daily_units"]
    warning, critical = variables["api_quota_warning_units"], variables["api_quota_critical_units"]
    hour_ago = raw.as_of - timedelta(hours=1)
    expected = {}
    for day, requests in days.items():
        used = sum(row["quota_units"] for row in requests)
        current = day == raw.today
        last_hour = sum(r["quota_units"] for r in requests if r["called_at"] > hour_ago)
        hours_left = (
            minutes(raw.as_of, raw.day_start(day + timedelta(days=1))) / 60
            if current
            else Decimal(0)
        )
        projected = used + (last_hour if current else 0) * hours_left
        expected[day] = {
            "request_count": len(requests),
            "units_used": used,
            "units_remaining": quota - used,
            "quota_used_pct": six(Decimal(100) * used / quota),
            "units_last_hour": last_hour if current else None,
            "hours_left_in_day": six(hours_left),
            "projected_units_end_of_day": projected,
            "quota_status": classify(used, warning, critical),
            "projected_quota_status": classify(projected, warning, critical),
            "is_current_day": current,
        }
    return expected


def expected_cache_performance(
    raw: Raw, variables: dict[str, Any]
) -> dict[datetime, dict[str, Any]]:
    rows = sorted(
        dedupe(raw["cache_stats"], "collected_at", "collected_at"),
        key=lambda row: row["collected_at"],
    )
    rows = [row for row in rows if row["collected_at"] <= raw.as_of]
    expected = {}
    previous = None
    for row in rows:
        total = row["keyspace_hits"] + row["keyspace_misses"]
        cumulative = Decimal(100) * row["keyspace_hits"] / total if total > 0 else None
        interval = None
        if previous is not None:
            hits = row["keyspace_hits"] - previous["keyspace_hits"]
            misses = row["keyspace_misses"] - previous["keyspace_misses"]
            if hits >= 0 and misses >= 0 and hits + misses > 0:
                interval = Decimal(100) * hits / (hits + misses)
        rate = interval if interval is not None else cumulative
        expected[row["collected_at"]] = {
            "keyspace_hits": row["keyspace_hits"],
            "keys": row["keys"],
            "used_memory_bytes": row["used_memory_bytes"],
            "cumulative_hit_rate_pct": six(cumulative),
            "interval_hit_rate_pct": six(interval),
            "hit_rate_pct": six(rate),
            "cache_status": classify(
                rate,
                variables["cache_hit_rate_warning_pct"],
                variables["cache_hit_rate_critical_pct"],
                higher_is_worse=False,
            ),
            "is_latest": row is rows[-1],
        }
        previous = row
    return expected


def expected_cost_hours_in_alert_window(raw: Raw, variables: dict[str, Any]) -> list[str]:
    """Cost statuses of the clock hours from the one before as_of's hour up to as_of."""
    window_start = (raw.as_of - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    hours: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for row in valid_costs(raw):
        hour = row["incurred_at"].replace(minute=0, second=0, microsecond=0)
        if hour >= window_start:
            hours[hour].append(row)
    statuses = []
    for rows in hours.values():
        per_video = Decimal(sum(r["amount_cents"] for r in rows)) / len(
            {r["video_id"] for r in rows}
        )
        if per_video > variables["cost_per_video_critical_cents"]:
            statuses.append("OVER_BUDGET")
        elif per_video > variables["cost_per_video_warning_cents"]:
            statuses.append("WARNING")
        elif per_video > variables["cost_per_video_watch_cents"]:
            statuses.append("WATCH")
        else:
            statuses.append("OK")
    return statuses


# --- content marts ----------------------------------------------------------------------------


def expected_realtime_metrics(raw: Raw) -> dict[str, Any]:
    start = raw.as_of - timedelta(hours=1)
    rows = [r for r in video_performance(raw) if start < r["collected_at"] <= raw.as_of]
    engagements = [r["engagement_rate"] for r in rows if r["engagement_rate"] is not None]
    today = [v for (video, day), v in revenue_by_day(raw).items() if day == raw.today]
    return {
        "activity_status": "OK" if rows else "NO_ACTIVITY",
        "active_video_count": len({r["video_id"] for r in rows}),
        "collection_count": len(rows),
        "views_gained": sum(r["views_delta"] for r in rows),
        "avg_engagement_rate": six(sum(engagements) / len(engagements)) if engagements else None,
        "revenue_today_cents": sum(v["revenue_cents"] for v in today),
        "revenue_today_estimated_cents": sum(
            v["revenue_cents"] for v in today if v["is_estimated"]
        ),
    }


def trending_score(velocity: float, engagement: float | None, age_hours: float) -> float:
    """The documented formula (models/marts/content/_content__docs.md), with its defaults."""
    return max(velocity, 0) * (1 + 10 * (engagement or 0)) / (max(age_hours, 0) + 2) ** 1.5


def expected_trending_videos(raw: Raw) -> dict[int, dict[str, Any]]:
    start = raw.as_of - timedelta(hours=24)
    videos = {row["video_id"]: row for row in raw["videos"] if row["video_id"] is not None}
    channels = {row["channel_id"]: row for row in raw["channels"]}
    window: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in video_performance(raw):
        if start < row["collected_at"] <= raw.as_of:
            window[row["video_id"]].append(row)
    scored = []
    for video_id, rows in window.items():
        latest = max(rows, key=lambda r: r["collected_at"])
        video = videos[video_id]
        age = float(minutes(video["published_at"], raw.as_of) / 60)
        engagement = latest["engagement_rate"]
        score = trending_score(
            latest["views_delta"], float(engagement) if engagement is not None else None, age
        )
        scored.append(
            {
                "video_id": video_id,
                "channel_id": video["channel_id"],
                "video_title": video["title"],
                "channel_title": channels[video["channel_id"]]["title"],
                "views": latest["views"],
                "views_gained_24h": sum(r["views_delta"] for r in rows),
                "view_velocity_per_hour": latest["views_delta"],
                "engagement_rate": engagement,
                "trending_score": score,
                "rounded_score": six(score),
            }
        )
    scored.sort(key=lambda row: (-row["rounded_score"], row["video_id"]))
    for rank, row in enumerate(scored, start=1):
        row["trending_rank"] = rank
    return {row["video_id"]: row for row in scored}


def expected_morning_summary(raw: Raw, variables: dict[str, Any]) -> dict[str, Any]:
    freshness = expected_data_freshness(raw, variables)
    jobs = expected_job_status(raw)
    dashboards = expected_dashboard_performance(raw, variables)
    quota_today = expected_api_quota_usage(raw, variables).get(raw.today)
    cost_statuses = expected_cost_hours_in_alert_window(raw, variables)
    yesterday = raw.today - timedelta(days=1)
    revenue = [v for (video, day), v in revenue_by_day(raw).items() if day == yesterday]
    counts = {
        "stale_dataset_count": sum(f["freshness_status"] == "STALE" for f in freshness.values()),
        "delayed_dataset_count": sum(
            f["freshness_status"] == "DELAYED" for f in freshness.values()
        ),
        "failed_overnight_job_count": sum(
            j["is_failed"] and not j["has_later_success"] for j in jobs.values()
        ),
        "slow_dashboard_count": sum(
            d["is_current_day"] and d["performance_status"] != "OK" for d in dashboards.values()
        ),
        "quota_problem_count": int(bool(quota_today) and quota_today["quota_status"] != "OK"),
        "cost_problem_count": sum(s in ("WARNING", "OVER_BUDGET") for s in cost_statuses),
    }
    order = ["OK", "WATCH", "WARNING", "OVER_BUDGET"]
    return {
        "summary_date": raw.today,
        "active_channel_count": sum(
            bool(c["is_active"]) for c in dedupe(raw["channels"], "channel_id", "updated_at")
        ),
        "active_user_count": sum(
            bool(u["is_active"]) for u in dedupe(raw["users"], "user_id", "created_at")
        ),
        "videos_published_today_count": sum(
            1
            for v in raw["videos"]
            if v["video_id"] is not None
            and v["published_at"] <= raw.as_of
            and raw.business_date(v["published_at"]) == raw.today
        ),
        "revenue_yesterday_cents": sum(v["revenue_cents"] for v in revenue),
        "quota_status": quota_today["quota_status"] if quota_today else "OK",
        "cost_status": max(cost_statuses, key=order.index) if cost_statuses else "OK",
        **counts,
        "open_problem_count": sum(counts.values()),
    }


def mismatches(
    actual: dict[Any, dict[str, Any]],
    expected: dict[Any, dict[str, Any]],
    tolerance: dict[str, float] | None = None,
) -> list[str]:
    """Every difference between two keyed row sets, column by column (exact unless a column
    has a tolerance); empty when they agree."""
    tolerance = tolerance or {}
    problems = []
    if set(actual) != set(expected):
        problems.append(
            f"keys differ: only in mart {sorted(set(actual) - set(expected))[:5]}, "
            f"only expected {sorted(set(expected) - set(actual))[:5]}"
        )
    for key in sorted(set(actual) & set(expected), key=str):
        for column, want in expected[key].items():
            if column not in actual[key]:
                continue
            got = actual[key][column]
            if column in tolerance and got is not None and want is not None:
                if abs(float(got) - float(want)) > tolerance[column]:
                    problems.append(f"{key} {column}: mart {got} != expected {want}")
            elif got != want:
                problems.append(f"{key} {column}: mart {got!r} != expected {want!r}")
    return problems
