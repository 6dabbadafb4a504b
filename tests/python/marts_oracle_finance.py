"""The finance marts computed again in Python from the core rows of marts_oracle_core (never
from a dbt model), with the definitions of models/marts/finance/_finance__models.yml: money
in integer cents summed exactly, derived ratios as exact fractions rounded like numeric(18,2),
dollars to the cent. Each `expected_<mart>(raw)` returns the mart's rows keyed by its grain.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from marts_oracle_core import (
    Raw,
    Row,
    Rows,
    hundredths,
    percentile_cont,
    ratio,
    surrogate_key,
    usd,
)

CATEGORIES = ("llm_script", "voice", "thumbnail", "render", "api_calls")  # macro cost_categories
RUN_RATE_DAYS = 30


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_last_day(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def revenue_tiers(raw: Raw) -> list[tuple[str, int]]:
    """Macro revenue_tiers: (column suffix, cents) from the var, highest first."""
    tiers = raw.variables["monthly_report_revenue_tiers_cents"]
    return sorted(((name, int(cents)) for name, cents in tiers.items()), key=lambda t: -t[1])


def cost_status(raw: Raw, cents_per_video: Fraction | None) -> str | None:
    """Macro cost_status: strictly beyond each threshold of the cost_per_video_* vars."""
    if cents_per_video is None:
        return None
    for label, var in (
        ("OVER_BUDGET", "cost_per_video_critical_cents"),
        ("WARNING", "cost_per_video_warning_cents"),
        ("WATCH", "cost_per_video_watch_cents"),
    ):
        if cents_per_video > raw.variables[var]:
            return label
    return "OK"


def costs(raw: Raw) -> list[Row]:
    """fct_costs rows with their cost_id."""
    return [{"cost_id": cost_id, **row} for cost_id, row in raw.core.fct_costs.items()]


def expected_cost_rollup_hourly(raw: Raw) -> Rows:
    window_start = (raw.as_of - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    hours: dict[datetime, list[Row]] = defaultdict(list)
    for cost in costs(raw):
        hours[cost["incurred_hour"]].append(cost)
    rows: Rows = {}
    for hour, events in hours.items():
        total = sum(cost["amount_cents"] for cost in events)
        videos = len({cost["video_id"] for cost in events})
        per_video = Fraction(total, videos)
        rows[hour] = {
            "cost_rollup_hourly_id": surrogate_key(hour),
            "cost_status": cost_status(raw, per_video),
            "video_count": videos,
            "cost_event_count": len(events),
            "total_cost_cents": total,
            "cost_per_video_cents": hundredths(per_video),
            "total_cost_usd": usd(total),
            "cost_per_video_usd": usd(per_video),
            "is_in_alert_window": window_start <= hour <= raw.as_of,
            "incurred_date": raw.business_date(hour),
        }
    return rows


def expected_cost_rollup_daily(raw: Raw) -> Rows:
    groups: dict[tuple[date, str], list[Row]] = defaultdict(list)
    for cost in costs(raw):
        groups[(cost["incurred_date"], cost["cost_category"])].append(cost)
        groups[(cost["incurred_date"], "TOTAL")].append(cost)
    rows: Rows = {}
    for key, events in groups.items():
        total = sum(cost["amount_cents"] for cost in events)
        videos = len({cost["video_id"] for cost in events})
        rows[key] = {
            "cost_rollup_daily_id": surrogate_key(*key),
            "video_count": videos,
            "cost_event_count": len(events),
            "total_cost_cents": total,
            "avg_cost_per_video_cents": hundredths(ratio(total, videos)),
            "total_cost_usd": usd(total),
            "avg_cost_per_video_usd": usd(ratio(total, videos)),
            "is_total_row": key[1] == "TOTAL",
        }
    return rows


def expected_video_cost_analysis(raw: Raw) -> Rows:
    by_video: dict[int, list[Row]] = defaultdict(list)
    for cost in costs(raw):
        by_video[cost["video_id"]].append(cost)
    rows: Rows = {}
    for video_id, video in raw.core.dim_video.items():
        events = by_video.get(video_id, [])
        total = sum(cost["amount_cents"] for cost in events)
        row = {
            "channel_id": video["channel_id"],
            "user_id": video["user_id"],
            "video_title": video["video_title"],
            "cost_status": cost_status(raw, Fraction(total)),
            "cost_event_count": len(events),
            "other_cost_cents": sum(
                cost["amount_cents"] for cost in events if cost["cost_category"] not in CATEGORIES
            ),
            "total_cost_cents": total,
            "total_cost_usd": usd(total),
            "is_over_budget": total > raw.variables["cost_per_video_warning_cents"],
            "published_date": video["published_date"],
            "published_at": video["published_at"],
            "first_cost_at": min((cost["incurred_at"] for cost in events), default=None),
            "last_cost_at": max((cost["incurred_at"] for cost in events), default=None),
        }
        for category in CATEGORIES:
            row[f"{category}_cost_cents"] = sum(
                cost["amount_cents"] for cost in events if cost["cost_category"] == category
            )
        rows[video_id] = row
    return rows


def days_to_goal(goal: int, achieved: int, window_revenue: int) -> int | None:
    """Macro days_to_goal: whole days (rounded up) at the 30-day run rate."""
    remaining = goal - achieved
    if remaining <= 0:
        return 0
    if window_revenue <= 0:
        return None
    days = Fraction(remaining * RUN_RATE_DAYS, window_revenue)
    return -((-days.numerator) // days.denominator)


def user_revenue(raw: Raw) -> dict[int, dict[date, int]]:
    """Revenue cents per user and revenue date (through as_of's date)."""
    by_user: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for (_, revenue_date), row in raw.core.fct_revenue.items():
        if revenue_date <= raw.today:
            by_user[row["user_id"]][revenue_date] += row["revenue_cents"]
    return by_user


def published_videos(raw: Raw) -> list[Row]:
    return [video for video in raw.core.dim_video.values() if video["published_at"] <= raw.as_of]


def expected_user_revenue_tracking(raw: Raw) -> Rows:
    revenue = user_revenue(raw)
    month_first = month_start(raw.today)
    window_first = raw.today - timedelta(days=RUN_RATE_DAYS - 1)
    rows: Rows = {}
    for user_id, user in raw.core.dim_user.items():
        days = revenue.get(user_id, {})
        current = sum(cents for day, cents in days.items() if day >= month_first)
        last_30 = sum(cents for day, cents in days.items() if day >= window_first)
        goal = user["monthly_goal_cents"]
        rows[user_id] = {
            "email": user["email"],
            "channel_count": sum(
                1
                for channel in raw.core.dim_channel.values()
                if channel["user_id"] == user_id and channel["created_at"] <= raw.as_of
            ),
            "video_count": sum(1 for video in published_videos(raw) if video["user_id"] == user_id),
            "monthly_goal_cents": goal,
            "lifetime_revenue_cents": sum(days.values()),
            "current_month_revenue_cents": current,
            "revenue_30d_cents": last_30,
            "daily_run_rate_cents": hundredths(Fraction(last_30, RUN_RATE_DAYS)),
            "goal_progress_pct": hundredths(ratio(100 * current, goal)),
            "days_to_goal": days_to_goal(goal, current, last_30),
            "lifetime_revenue_usd": usd(sum(days.values())),
            "current_month_revenue_usd": usd(current),
            "revenue_30d_usd": usd(last_30),
            "is_active": user["is_active"],
            "is_goal_reached": current >= goal,
            "last_revenue_date": max(days, default=None),
            "as_of_date": raw.today,
        }
    return rows


def expected_user_daily_reports(raw: Raw) -> Rows:
    """Every user x every calendar day through as_of's date, as a full build makes them (an
    incremental run restates its window to the same figures)."""
    revenue = user_revenue(raw)
    estimated = {
        (row["user_id"], revenue_date)
        for (_, revenue_date), row in raw.core.fct_revenue.items()
        if row["is_estimated"]
    }
    published: dict[int, list[date]] = defaultdict(list)
    for video in published_videos(raw):
        published[video["user_id"]].append(video["published_date"])
    report_dates = [day for day in raw.core.dim_date if day <= raw.today]
    rows: Rows = {}
    for user_id, user in raw.core.dim_user.items():
        days = revenue.get(user_id, {})
        goal = user["monthly_goal_cents"]
        for report_date in report_dates:
            window_first = report_date - timedelta(days=RUN_RATE_DAYS - 1)
            month_to_date = sum(
                cents
                for day, cents in days.items()
                if month_start(report_date) <= day <= report_date
            )
            last_30 = sum(
                cents for day, cents in days.items() if window_first <= day <= report_date
            )
            rows[(user_id, report_date)] = {
                "user_daily_report_id": surrogate_key(user_id, report_date),
                "videos_published": sum(1 for day in published[user_id] if day == report_date),
                "total_videos": sum(1 for day in published[user_id] if day <= report_date),
                "revenue_cents": days.get(report_date, 0),
                "month_to_date_revenue_cents": month_to_date,
                "revenue_30d_cents": last_30,
                "monthly_goal_cents": goal,
                "goal_progress_pct": hundredths(ratio(100 * month_to_date, goal)),
                "days_to_goal": days_to_goal(goal, month_to_date, last_30),
                "revenue_usd": usd(days.get(report_date, 0)),
                "is_estimated": (user_id, report_date) in estimated,
            }
    return rows


def expected_monthly_report(raw: Raw) -> Rows:
    revenue = user_revenue(raw)
    users, channels = raw.core.dim_user.values(), raw.core.dim_channel.values()
    rows: Rows = {}
    month = month_start(raw.core.first_calendar_date)
    while month <= raw.today:
        month_end = min(month_last_day(month), raw.today)
        user_month = {
            user_id: sum(cents for day, cents in days.items() if month_start(day) == month)
            for user_id, days in revenue.items()
        }
        month_costs = [cost for cost in costs(raw) if month_start(cost["incurred_date"]) == month]
        revenue_cents = sum(user_month.values())
        cost_cents = sum(cost["amount_cents"] for cost in month_costs)
        user_count = sum(1 for user in users if raw.business_date(user["created_at"]) <= month_end)
        row: Row = {
            "monthly_report_id": surrogate_key(month),
            "user_count": user_count,
            "earning_user_count": sum(1 for cents in user_month.values() if cents > 0),
            "channel_count": sum(
                1 for channel in channels if raw.business_date(channel["created_at"]) <= month_end
            ),
            "videos_published": sum(
                1
                for video in published_videos(raw)
                if month_start(video["published_date"]) == month
            ),
            "costed_video_count": len({cost["video_id"] for cost in month_costs}),
            "revenue_cents": revenue_cents,
            "cost_cents": cost_cents,
            "profit_cents": revenue_cents - cost_cents,
            "roi_pct": hundredths(ratio(100 * (revenue_cents - cost_cents), cost_cents)),
            "avg_revenue_per_user_cents": hundredths(ratio(revenue_cents, user_count)),
            "revenue_usd": usd(revenue_cents),
            "cost_usd": usd(cost_cents),
            "profit_usd": usd(revenue_cents - cost_cents),
            "avg_revenue_per_user_usd": usd(ratio(revenue_cents, user_count)),
            "is_complete_month": month_end == month_last_day(month),
            "month_end_date": month_end,
        }
        for name, cents in revenue_tiers(raw):
            row[f"users_at_{name}"] = sum(1 for value in user_month.values() if value >= cents)
        rows[month] = row
        month = month_last_day(month) + timedelta(days=1)
    return rows


def growth(current: Any, previous: Any) -> Decimal | None:
    """Macro growth_pct: 100 * (current - previous) / |previous|; null without a base."""
    if previous is None or current is None or previous == 0:
        return None
    return hundredths(
        Fraction(100) * (Fraction(current) - Fraction(previous)) / abs(Fraction(previous))
    )


def expected_growth_trends(raw: Raw) -> Rows:
    monthly = expected_monthly_report(raw)
    metrics = {
        "user_count": "user_count",
        "channel_count": "channel_count",
        "videos_published": "videos_published",
        "revenue_cents": "revenue",
        "cost_cents": "cost",
        "profit_cents": "profit",
        "avg_revenue_per_user_cents": "avg_revenue_per_user",
    }
    rows: Rows = {}
    previous: Row | None = None
    for month in sorted(monthly):
        current = monthly[month]
        row: Row = {
            "growth_trend_id": surrogate_key(month),
            "is_complete_month": current["is_complete_month"],
        }
        for metric, stem in metrics.items():
            before = previous[metric] if previous else None
            row[metric] = current[metric]
            row[f"previous_{metric}"] = before
            row[f"{stem}_growth_pct"] = growth(current[metric], before)
        rows[month] = row
        previous = current
    return rows


def expected_cost_baselines(raw: Raw) -> Rows:
    per_video: dict[tuple[date, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for cost in costs(raw):
        month = month_start(cost["incurred_date"])
        per_video[(month, cost["cost_category"])][cost["video_id"]] += cost["amount_cents"]
        per_video[(month, "TOTAL")][cost["video_id"]] += cost["amount_cents"]
    rows: Rows = {}
    for (month, category), videos in per_video.items():
        values = list(videos.values())
        median = percentile_cont(values, Fraction(1, 2))
        p90 = percentile_cont(values, Fraction(9, 10))
        rows[(month, category)] = {
            "cost_baseline_id": surrogate_key(month, category),
            "video_count": len(values),
            "total_cost_cents": sum(values),
            "min_cost_per_video_cents": min(values),
            "max_cost_per_video_cents": max(values),
            "avg_cost_per_video_cents": hundredths(Fraction(sum(values), len(values))),
            "median_cost_per_video_cents": hundredths(median),
            "p90_cost_per_video_cents": hundredths(p90),
            "median_cost_per_video_usd": usd(hundredths(median)),
            "p90_cost_per_video_usd": usd(hundredths(p90)),
            "is_total_row": category == "TOTAL",
            "is_complete_month": month < month_start(raw.today),
        }
    return rows


FINANCE_ORACLES = {
    "cost_rollup_hourly": expected_cost_rollup_hourly,
    "cost_rollup_daily": expected_cost_rollup_daily,
    "video_cost_analysis": expected_video_cost_analysis,
    "user_revenue_tracking": expected_user_revenue_tracking,
    "user_daily_reports": expected_user_daily_reports,
    "monthly_report": expected_monthly_report,
    "growth_trends": expected_growth_trends,
    "cost_baselines": expected_cost_baselines,
}
