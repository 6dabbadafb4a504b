"""One independent oracle for every mart: what a fresh `dbt build` at `as_of` puts in each
mart, computed in Python from the raw rows, and the comparison of a warehouse against it.

    expected_marts(raw, models=None) -> {model: {key: {column: value}}}
    compare_marts(query_dicts, as_of, models=None, timezone="UTC") -> {model: [mismatch, ...]}

The rules are implemented again from the models' YAML and DESIGN.md, never by reading a dbt
model: the core contract (dedupe, exclusions, hourly grain, deltas, quarantine) in
marts_oracle_core.py, the finance marts in marts_oracle_finance.py, the monitoring and content
marts here. Thresholds come from dbt_project.yml's vars, as the models read them. Rows are keyed
by each model's primary key as its YAML documents it: the natural key, or for a surrogate key
(md5 of the grain) the grain's columns, the surrogate itself being checked as a column.

After any sequence of runs a warehouse must equal one fresh build at the last run's instant
(DESIGN.md, "Operation over time"), so compare_marts is meant for any point of a simulated day:
give it a `query_dicts` whose connection has the run's instant pinned (views read it when
queried) and that instant as `as_of`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from marts_oracle_core import (
    Raw,
    Row,
    Rows,
    load_raw,
    minutes,
    percentile_cont,
    project_vars,
    six,
    surrogate_key,
    usd,
)
from marts_oracle_finance import FINANCE_ORACLES, expected_cost_rollup_hourly

__all__ = [
    "MARTS",
    "MART_KEYS",
    "Raw",
    "compare_marts",
    "expected_marts",
    "load_raw",
    "mismatches",
    "project_vars",
]


def classify(
    value: float | Decimal | Fraction | None,
    warning: float,
    critical: float,
    *,
    higher_is_worse: bool = True,
    labels: tuple[str, str, str] = ("OK", "WARNING", "CRITICAL"),
) -> str | None:
    """Macro threshold_status: strictly beyond critical, else strictly beyond warning."""
    if value is None:
        return None

    def beyond(threshold: float) -> bool:
        return value > threshold if higher_is_worse else value < threshold

    if beyond(critical):
        return labels[2]
    if beyond(warning):
        return labels[1]
    return labels[0]


def until(raw: Raw, table: str, column: str) -> list[Row]:
    """A staged monitoring table's rows at or before as_of (null timestamps left out)."""
    return [
        row
        for row in raw.core.staged[table]
        if row[column] is not None and row[column] <= raw.as_of
    ]


# --- monitoring marts -------------------------------------------------------------------------


def expected_data_freshness(raw: Raw, variables: dict[str, Any] | None = None) -> Rows:
    variables = variables or raw.variables
    core = raw.core
    measured = {
        # dataset: (relation, loaded_at column, the timestamps)
        "video_stats": (
            "fct_video_performance",
            "collected_at",
            [row["collected_at"] for row in core.fct_video_performance.values()],
        ),
        "revenue": (
            "fct_revenue",
            "loaded_at",
            [row["loaded_at"] for row in core.fct_revenue.values()],
        ),
        "costs": (
            "fct_costs",
            "incurred_at",
            [row["incurred_at"] for row in core.fct_costs.values()],
        ),
        "api_usage": (
            "fct_api_usage",
            "called_at",
            [row["called_at"] for row in until(raw, "api_usage", "called_at")],
        ),
    }
    expected = {}
    for dataset, (relation, column, moments) in measured.items():
        warn = variables[f"freshness_{dataset}_warn_minutes"]
        error = variables[f"freshness_{dataset}_error_minutes"]
        last = max((m for m in moments if m is not None and m <= raw.as_of), default=None)
        since = minutes(last, raw.as_of) if last else None
        status = (
            "STALE"
            if last is None
            else classify(since, warn, error, labels=("FRESH", "DELAYED", "STALE"))
        )
        expected[dataset] = {
            "relation_name": relation,
            "loaded_at_column": column,
            "freshness_status": status,
            "minutes_since_load": six(since),
            "delayed_after_minutes": warn,
            "stale_after_minutes": error,
            "has_no_data": last is None,
            "last_loaded_at": last,
            "checked_at": raw.as_of,
        }
    return expected


def expected_job_status(raw: Raw) -> Rows:
    runs = until(raw, "job_runs", "started_at")
    last_success: dict[str, datetime] = {}
    for row in runs:
        finished = row["finished_at"]
        if row["status"] == "success" and finished is not None and finished <= raw.as_of:
            previous = last_success.get(row["job_name"])
            last_success[row["job_name"]] = max(finished, previous or finished)
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
            "duration_seconds": row["duration_seconds"],
            "is_failed": (row["status"] or "unknown") not in ("success", "running"),
            "has_later_success": bool(success and success > row["started_at"]),
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
            "last_success_at": success,
            "window_start_at": start,
            "window_end_at": end,
        }
    return expected


def expected_dashboard_performance(raw: Raw, variables: dict[str, Any] | None = None) -> Rows:
    variables = variables or raw.variables
    durations: dict[tuple[str, date], list[int]] = defaultdict(list)
    for row in until(raw, "query_log", "executed_at"):
        key = (row["dashboard_name"], raw.business_date(row["executed_at"]))
        durations[key].append(row["duration_ms"])
    expected = {}
    for key, values in durations.items():
        average = Fraction(sum(values), len(values))
        expected[key] = {
            "dashboard_performance_id": surrogate_key(*key),
            "performance_status": classify(
                average, variables["dashboard_warning_ms"], variables["dashboard_critical_ms"]
            ),
            "query_count": len(values),
            "avg_duration_ms": six(average),
            "p95_duration_ms": percentile_cont([float(v) for v in values], 0.95),
            "max_duration_ms": max(values),
            "is_current_day": key[1] == raw.today,
        }
    return expected


def expected_fct_api_usage(raw: Raw) -> Rows:
    """Every staged request (dirty ones and those after as_of too: the table stores no
    instant), with its business date; keyed by the md5 of the five columns staging dedups on."""
    expected = {}
    for row in raw.core.staged["api_usage"]:
        grain = ("request_id", "endpoint", "status", "quota_units", "called_at")
        key = surrogate_key(*(row[column] for column in grain))
        called_at = row["called_at"]
        expected[key] = {
            "api_usage_id": key,
            **{column: row[column] for column in grain},
            "usage_date": None if called_at is None else raw.business_date(called_at),
        }
    return expected


def expected_fct_revenue_daily(raw: Raw) -> Rows:
    """fct_revenue's expected rows summed by revenue_date: rows, estimated rows, cents."""
    expected: Rows = {}
    for (_video_id, revenue_date), row in raw.core.fct_revenue.items():
        day = expected.setdefault(
            revenue_date,
            {
                "revenue_date": revenue_date,
                "video_day_count": 0,
                "estimated_video_day_count": 0,
                "revenue_cents": 0,
                "estimated_revenue_cents": 0,
            },
        )
        estimated = row["is_estimated"]
        day["video_day_count"] += 1
        day["estimated_video_day_count"] += int(estimated)
        day["revenue_cents"] += row["revenue_cents"]
        day["estimated_revenue_cents"] += row["revenue_cents"] if estimated else 0
    return expected


def expected_api_quota_usage(raw: Raw, variables: dict[str, Any] | None = None) -> Rows:
    variables = variables or raw.variables
    days: dict[date, list[Row]] = defaultdict(list)
    for row in until(raw, "api_usage", "called_at"):
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
            "quota_status": classify(used, warning, critical),
            "projected_quota_status": classify(projected, warning, critical),
            "request_count": len(requests),
            "units_used": used,
            "units_remaining": quota - used,
            "quota_used_pct": six(Fraction(100 * used, quota)),
            "units_last_hour": last_hour if current else None,
            "hours_left_in_day": six(hours_left),
            "projected_units_end_of_day": projected,
            "is_current_day": current,
        }
    return expected


def expected_cache_performance(raw: Raw, variables: dict[str, Any] | None = None) -> Rows:
    variables = variables or raw.variables
    rows = sorted(until(raw, "cache_stats", "collected_at"), key=lambda row: row["collected_at"])
    expected = {}
    previous = None
    for row in rows:
        hits, misses = row["keyspace_hits"], row["keyspace_misses"]
        cumulative = Fraction(100 * hits, hits + misses) if hits + misses > 0 else None
        interval = None
        if previous is not None:
            new_hits = hits - previous["keyspace_hits"]
            new_misses = misses - previous["keyspace_misses"]
            if new_hits >= 0 and new_misses >= 0 and new_hits + new_misses > 0:
                interval = Fraction(100 * new_hits, new_hits + new_misses)
        rate = interval if interval is not None else cumulative
        expected[row["collected_at"]] = {
            "cache_stat_id": row["cache_stat_id"],
            "cache_status": classify(
                rate,
                variables["cache_hit_rate_warning_pct"],
                variables["cache_hit_rate_critical_pct"],
                higher_is_worse=False,
            ),
            "keyspace_hits": hits,
            "keyspace_misses": misses,
            "keys": row["keys"],
            "used_memory_bytes": row["used_memory_bytes"],
            "used_memory_mb": six(Fraction(row["used_memory_bytes"], 1024 * 1024)),
            "cumulative_hit_rate_pct": six(cumulative),
            "interval_hit_rate_pct": six(interval),
            "hit_rate_pct": six(rate),
            "is_latest": row is rows[-1],
        }
        previous = row
    return expected


def expected_monitoring_clock(raw: Raw) -> Rows:
    return {raw.as_of: {"business_date": raw.today}}


# --- content marts ----------------------------------------------------------------------------


def performance_between(raw: Raw, hours: int) -> list[Row]:
    """fct_video_performance rows collected in (as_of - hours, as_of]."""
    start = raw.as_of - timedelta(hours=hours)
    return [
        {"video_id": video_id, **row}
        for (video_id, _), row in raw.core.fct_video_performance.items()
        if start < row["collected_at"] <= raw.as_of
    ]


def revenue_on(raw: Raw, day: date) -> list[Row]:
    return [row for (_, revenue_date), row in raw.core.fct_revenue.items() if revenue_date == day]


def expected_realtime_metrics(raw: Raw) -> Row:
    """The one row (its key is window_end_at, as_of)."""
    rows = performance_between(raw, 1)
    engagements = [r["engagement_rate"] for r in rows if r["engagement_rate"] is not None]
    today = revenue_on(raw, raw.today)
    revenue_today = sum(row["revenue_cents"] for row in today)
    return {
        "activity_status": "OK" if rows else "NO_ACTIVITY",
        "active_video_count": len({r["video_id"] for r in rows}),
        "collection_count": len(rows),
        "views_gained": sum(r["views_delta"] for r in rows),
        "avg_engagement_rate": six(sum(engagements) / len(engagements)) if engagements else None,
        "revenue_today_cents": revenue_today,
        "revenue_today_estimated_cents": sum(
            row["revenue_cents"] for row in today if row["is_estimated"]
        ),
        "revenue_today_usd": usd(revenue_today),
        "business_date": raw.today,
        "window_start_at": raw.as_of - timedelta(hours=1),
    }


def trending_score(velocity: float, engagement: float | None, age_hours: float) -> float:
    """The documented formula (models/marts/content/_content__docs.md), with its defaults."""
    return max(velocity, 0) * (1 + 10 * (engagement or 0)) / (max(age_hours, 0) + 2) ** 1.5


def expected_trending_videos(raw: Raw) -> Rows:
    videos, channels = raw.core.dim_video, raw.core.dim_channel
    window: dict[int, list[Row]] = defaultdict(list)
    for row in performance_between(raw, 24):
        window[row["video_id"]].append(row)
    scored = []
    for video_id, rows in window.items():
        latest = max(rows, key=lambda r: r["collected_at"])
        video = videos[video_id]
        channel = channels.get(video["channel_id"])
        age = minutes(video["published_at"], raw.as_of) / 60
        engagement = latest["engagement_rate"]
        score = trending_score(
            latest["views_delta"],
            float(engagement) if engagement is not None else None,
            float(age),
        )
        scored.append(
            {
                "video_id": video_id,
                "channel_id": video["channel_id"],
                "user_id": video["user_id"],
                "video_title": video["video_title"],
                "channel_title": channel["channel_title"] if channel else None,
                "trending_score": score,
                "views": latest["views"],
                "views_gained_24h": sum(r["views_delta"] for r in rows),
                "view_velocity_per_hour": latest["views_delta"],
                "engagement_rate": engagement,
                "age_hours": six(age),
                "published_at": video["published_at"],
                "last_collected_at": latest["collected_at"],
            }
        )
    # ranked on the stored score (6 decimals), ties by video_id
    scored.sort(key=lambda row: (-six(row["trending_score"]), row["video_id"]))
    for rank, row in enumerate(scored, start=1):
        row["trending_rank"] = rank
    return {row.pop("video_id"): row for row in scored}


def expected_morning_summary(raw: Raw, variables: dict[str, Any] | None = None) -> Row:
    """The one row (its key is summary_date, as_of's business date)."""
    variables = variables or raw.variables
    core = raw.core
    freshness = expected_data_freshness(raw, variables)
    jobs = expected_job_status(raw)
    dashboards = expected_dashboard_performance(raw, variables)
    quota_today = expected_api_quota_usage(raw, variables).get(raw.today)
    cost_statuses = [
        row["cost_status"]
        for row in expected_cost_rollup_hourly(raw).values()
        if row["is_in_alert_window"]
    ]
    yesterday = raw.today - timedelta(days=1)
    revenue = revenue_on(raw, yesterday)
    quota_status = quota_today["quota_status"] if quota_today else "OK"
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
        "quota_problem_count": int(quota_status != "OK"),
        "cost_problem_count": sum(s in ("WARNING", "OVER_BUDGET") for s in cost_statuses),
    }
    order = ["OK", "WATCH", "WARNING", "OVER_BUDGET"]
    revenue_yesterday = sum(row["revenue_cents"] for row in revenue)
    return {
        "quota_status": quota_status,
        "cost_status": max(cost_statuses, key=order.index) if cost_statuses else "OK",
        "active_channel_count": sum(c["is_active"] for c in core.dim_channel.values()),
        "active_user_count": sum(u["is_active"] for u in core.dim_user.values()),
        "videos_published_today_count": sum(
            1
            for v in core.dim_video.values()
            if v["published_date"] == raw.today and v["published_at"] <= raw.as_of
        ),
        "revenue_yesterday_cents": revenue_yesterday,
        "revenue_yesterday_usd": usd(revenue_yesterday),
        **counts,
        "open_problem_count": sum(counts.values()),
        "is_revenue_yesterday_estimated": any(row["is_estimated"] for row in revenue),
        "yesterday_date": yesterday,
        "checked_at": raw.as_of,
    }


# --- every mart: keys, oracles, comparison -------------------------------------------------------

MARTS: tuple[str, ...] = (
    # core
    "dim_user",
    "dim_channel",
    "dim_video",
    "dim_date",
    "fct_video_performance",
    "fct_revenue",
    "fct_costs",
    "dq_quarantined_rows",
    "fct_api_usage",
    "fct_revenue_daily",
    # monitoring (system_health reads the catalog: not a figure of the raw data)
    "data_freshness",
    "job_status",
    "dashboard_performance",
    "api_quota_usage",
    "cache_performance",
    "monitoring_clock",
    # finance
    "cost_rollup_hourly",
    "cost_rollup_daily",
    "video_cost_analysis",
    "user_revenue_tracking",
    "user_daily_reports",
    "monthly_report",
    "growth_trends",
    "cost_baselines",
    # content
    "realtime_metrics",
    "trending_videos",
    "morning_summary",
)

# The primary key each model's YAML documents: natural keys as they are; for a surrogate key
# (md5 of the grain) the grain's columns, the surrogate column itself compared as a figure.
MART_KEYS: dict[str, tuple[str, ...]] = {
    "dim_user": ("user_id",),
    "dim_channel": ("channel_id",),
    "dim_video": ("video_id",),
    "dim_date": ("date_day",),
    "fct_video_performance": ("video_id", "collected_hour"),  # video_performance_id
    "fct_revenue": ("video_id", "revenue_date"),  # revenue_id
    "fct_costs": ("cost_id",),
    "dq_quarantined_rows": ("quarantined_row_id",),  # md5 of source_table and the row's hash
    "fct_api_usage": ("api_usage_id",),  # md5 of the request's five columns
    "fct_revenue_daily": ("revenue_date",),
    "data_freshness": ("dataset_name",),
    "job_status": ("run_id",),
    "dashboard_performance": ("dashboard_name", "query_date"),  # dashboard_performance_id
    "api_quota_usage": ("usage_date",),
    "cache_performance": ("collected_at",),  # cache_stat_id
    "monitoring_clock": ("checked_at",),
    "cost_rollup_hourly": ("incurred_hour",),  # cost_rollup_hourly_id
    "cost_rollup_daily": ("cost_date", "cost_category"),  # cost_rollup_daily_id
    "video_cost_analysis": ("video_id",),
    "user_revenue_tracking": ("user_id",),
    "user_daily_reports": ("user_id", "report_date"),  # user_daily_report_id
    "monthly_report": ("month_start_date",),  # monthly_report_id
    "growth_trends": ("month_start_date",),  # growth_trend_id
    "cost_baselines": ("month_start_date", "cost_category"),  # cost_baseline_id
    "realtime_metrics": ("window_end_at",),
    "trending_videos": ("video_id",),
    "morning_summary": ("summary_date",),
}

# Figures computed in double precision by the database (percentile_cont, power) or through
# numeric divisions of limited scale: compared within these absolute tolerances, the ones the
# monitoring and content tests have always used. Everything else, money first, is exact.
TOLERANCES: dict[str, dict[str, float]] = {
    "dashboard_performance": {"p95_duration_ms": 1e-6},
    "api_quota_usage": {"projected_units_end_of_day": 1e-4},
    "trending_videos": {"trending_score": 2e-6},
}

ORACLES: dict[str, Callable[[Raw], Rows]] = {
    "dim_user": lambda raw: raw.core.dim_user,
    "dim_channel": lambda raw: raw.core.dim_channel,
    "dim_video": lambda raw: raw.core.dim_video,
    "dim_date": lambda raw: raw.core.dim_date,
    "fct_video_performance": lambda raw: raw.core.fct_video_performance,
    "fct_revenue": lambda raw: raw.core.fct_revenue,
    "fct_costs": lambda raw: raw.core.fct_costs,
    "dq_quarantined_rows": lambda raw: raw.core.dq_quarantined_rows,
    "fct_api_usage": expected_fct_api_usage,
    "fct_revenue_daily": expected_fct_revenue_daily,
    "data_freshness": expected_data_freshness,
    "job_status": expected_job_status,
    "dashboard_performance": expected_dashboard_performance,
    "api_quota_usage": expected_api_quota_usage,
    "cache_performance": expected_cache_performance,
    "monitoring_clock": expected_monitoring_clock,
    **FINANCE_ORACLES,
    "realtime_metrics": lambda raw: {raw.as_of: expected_realtime_metrics(raw)},
    "trending_videos": expected_trending_videos,
    "morning_summary": lambda raw: {raw.today: expected_morning_summary(raw)},
}
MAX_MISMATCHES = 50  # per model; the rest are counted in a last message


def expected_marts(raw: Raw, models: Iterable[str] | None = None) -> dict[str, Rows]:
    """Each mart's rows as a fresh build at raw.as_of makes them: {model: {key: {column:
    value}}}, keyed as MART_KEYS says (a single-column key is the bare value)."""
    names = MARTS if models is None else tuple(models)
    unknown = sorted(set(names) - set(ORACLES))
    if unknown:
        raise ValueError(f"no oracle for {unknown}: choose from {MARTS}")
    return {name: ORACLES[name](raw) for name in names}


def row_key(row: Row, columns: tuple[str, ...]) -> Any:
    return row[columns[0]] if len(columns) == 1 else tuple(row[column] for column in columns)


def keyed_rows(rows: list[Row], columns: tuple[str, ...]) -> tuple[Rows, list[str]]:
    """Rows by key, and a message for every key that occurs more than once."""
    keyed: Rows = {}
    duplicates: Counter[Any] = Counter()
    for row in rows:
        key = row_key(row, columns)
        if key in keyed:
            duplicates[key] += 1
        keyed[key] = row
    return keyed, [f"duplicate key {key} ({n + 1} rows)" for key, n in duplicates.items()]


def parse_json_like(text: str, template: Row) -> Any:
    """A json object read back with the types of the expected dict (timestamps, dates); the
    text itself when it is not a json object (then it differs from any expected dict)."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(parsed, dict):
        return text
    for column, want in template.items():
        got = parsed.get(column)
        if isinstance(got, str) and isinstance(want, datetime):
            parsed[column] = datetime.fromisoformat(got)
        elif isinstance(got, str) and isinstance(want, date):
            parsed[column] = date.fromisoformat(got)
    return parsed


def mismatches(
    actual: Rows,
    expected: Rows,
    tolerance: dict[str, float] | None = None,
    *,
    key_columns: tuple[str, ...] = (),
    strict: bool = False,
) -> list[str]:
    """Every difference between two keyed row sets, column by column (exact unless a column
    has a tolerance); empty when they agree. `strict` also reports expected columns the mart
    lacks and mart columns no oracle checks (key columns aside)."""
    tolerance = tolerance or {}
    problems = []
    only_actual = set(actual) - set(expected)
    only_expected = set(expected) - set(actual)
    if only_actual or only_expected:
        problems.append(
            f"keys differ: {len(only_actual)} only in mart, e.g. "
            f"{sorted(only_actual, key=str)[:5]}; {len(only_expected)} only expected, e.g. "
            + ", ".join(f"{key} {expected[key]}" for key in sorted(only_expected, key=str)[:3])
        )
    if strict and actual and expected:
        mart_columns = set(next(iter(actual.values())))
        oracle_columns = set(next(iter(expected.values())))
        if oracle_columns - mart_columns:
            problems.append(
                f"columns missing from the mart: {sorted(oracle_columns - mart_columns)}"
            )
        if mart_columns - oracle_columns - set(key_columns):
            problems.append(
                "mart columns no oracle checks: "
                f"{sorted(mart_columns - oracle_columns - set(key_columns))}"
            )
    for key in sorted(set(actual) & set(expected), key=str):
        for column, want in expected[key].items():
            if column not in actual[key]:
                continue
            got = actual[key][column]
            if isinstance(want, dict) and isinstance(got, str):
                got = parse_json_like(got, want)
            if column in tolerance and got is not None and want is not None:
                if abs(float(got) - float(want)) > tolerance[column]:
                    problems.append(f"{key} {column}: mart {got} != expected {want}")
            elif got != want:
                problems.append(f"{key} {column}: mart {got!r} != expected {want!r}")
    return problems


def quarantine_counts(rows: Iterable[Row]) -> Counter[tuple[str, str]]:
    return Counter((row["source_table"], row["reason"]) for row in rows)


def compare_mart(model: str, rows: list[Row], expected: Rows) -> list[str]:
    """The mismatches of one mart's rows (as read back) against its expected rows."""
    columns = MART_KEYS[model]
    actual, problems = keyed_rows(rows, columns)
    if model == "dq_quarantined_rows":
        counts, want = quarantine_counts(actual.values()), quarantine_counts(expected.values())
        if counts != want:
            problems.append(
                f"rows by (source_table, reason): mart {dict(counts)} != expected {dict(want)}"
            )
    problems += mismatches(
        actual,
        expected,
        TOLERANCES.get(model),
        key_columns=columns,
        strict=True,
    )
    if len(problems) > MAX_MISMATCHES:
        more = len(problems) - MAX_MISMATCHES
        problems = [*problems[:MAX_MISMATCHES], f"... and {more} more mismatches"]
    return problems


def compare_marts(
    query_dicts: Callable[[str], list[Row]],
    as_of: datetime,
    models: Iterable[str] | None = None,
    timezone: str = "UTC",
) -> dict[str, list[str]]:
    """Every mart of `models` (default MARTS) read back with `query_dicts` (whose connection
    has `as_of` pinned, for the views) and compared with the oracle over the raw rows read the
    same way: {model: mismatches}, every list empty when the warehouse is right. Money is exact
    to the cent, counts and flags exactly, the few float-derived figures within TOLERANCES."""
    raw = load_raw(query_dicts, as_of, timezone)
    expected = expected_marts(raw, models)
    return {
        model: compare_mart(model, query_dicts(f"select * from analytics.{model}"), rows)
        for model, rows in expected.items()
    }
