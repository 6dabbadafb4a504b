"""The finance marts, proven: every row of every finance mart equals an independent Python
computation over the raw rows, to the cent; the cost threshold tests fire exactly on
`cost_spike`; user_daily_reports re-runs replace days instead of duplicating them.

One database per server: generator scale 0.03 (35 days, pinned as_of) with `cost_spike` and
`dirty_rows` injected, then one `dbt build -s +tag:finance` (the finance tests only: the
upstream layers are tested by their own modules). The oracle re-implements the core
rules (cost_id dedupe, null/unknown video exclusion, one revenue row per video and day, actual
else estimate) and the finance definitions of the models' YAML, never reading a dbt model for a
figure (only dim_date's first day, the calendar's start, which the core defines).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml
from conftest import Warehouse

from orchestrator.generate import GenerateReport, generate

PROJECT_DIR = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
SCALE = 0.03
INJECT = ("cost_spike", "dirty_rows")
CATEGORIES = ("llm_script", "voice", "thumbnail", "render", "api_calls")
REVENUE_TIERS = (("10k", 1_000_000), ("5k", 500_000), ("1k", 100_000))
RUN_RATE_DAYS = 30
CRITICAL_TEST = "test.ytempire.assert_finance_cost_per_video_within_critical"
FINANCE_TESTS = (
    "test.ytempire.assert_finance_cost_per_video_within_warning",
    CRITICAL_TEST,
    "test.ytempire.assert_finance_daily_cost_within_budget_limit",
    "test.ytempire.assert_cost_rollup_daily_total_equals_its_categories",
    "test.ytempire.assert_monthly_revenue_equals_fct_revenue",
    "test.ytempire.assert_monthly_cost_equals_fct_costs",
    "test.ytempire.assert_user_daily_reports_sum_to_current_month_revenue",
)

# the finance marts and everything upstream, with the finance tests only: the staging and core
# layers' own tests are proven by their own modules (and would only add build time here)
UPSTREAM_TEST_EXCLUSIONS = tuple(
    f"path:models/{folder},resource_type:{kind}"
    for folder in ("staging", "intermediate", "marts/core")
    for kind in ("test", "unit_test")
)
FINANCE_BUILD = (
    "build",
    "-s",
    "+tag:finance",
    "--indirect-selection",
    "buildable",
    "--exclude",
    *UPSTREAM_TEST_EXCLUSIONS,
)

Rows = dict[Any, dict[str, Any]]


# --- arithmetic as the database does it --------------------------------------------------------


def hundredths(value: Fraction | int | None) -> Decimal | None:
    """Exact value rounded half away from zero to 2 decimals (a cast to numeric(18,2))."""
    if value is None:
        return None
    scaled = Fraction(value) * 100
    magnitude = int(abs(scaled) + Fraction(1, 2))
    return Decimal(magnitude if scaled >= 0 else -magnitude).scaleb(-2)


def usd(cents: Fraction | int | None) -> Decimal | None:
    return None if cents is None else hundredths(Fraction(cents) / 100)


def ratio(numerator: int, denominator: int) -> Fraction | None:
    return None if denominator == 0 else Fraction(numerator, denominator)


def percentile_cont(values: list[int], fraction: Fraction) -> Fraction:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_last_day(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def project_vars() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


# --- raw rows, cleaned by the core rules, re-implemented ---------------------------------------


@dataclass
class Clean:
    as_of: datetime
    as_of_date: date
    variables: dict[str, Any]
    users: dict[int, dict[str, Any]]
    channels: dict[int, dict[str, Any]]
    videos: dict[int, dict[str, Any]]
    costs: list[dict[str, Any]]
    revenue: list[dict[str, Any]]
    first_calendar_date: date

    def business_date(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.variables["business_timezone"])).date()

    def cost_status(self, cents_per_video: Fraction | None) -> str | None:
        if cents_per_video is None:
            return None
        for label, var in (
            ("OVER_BUDGET", "cost_per_video_critical_cents"),
            ("WARNING", "cost_per_video_warning_cents"),
            ("WATCH", "cost_per_video_watch_cents"),
        ):
            if cents_per_video > self.variables[var]:
                return label
        return "OK"


def load_clean(warehouse: Warehouse) -> Clean:
    variables = project_vars()
    query = warehouse.query_dicts
    users = {
        row["user_id"]: {
            **row,
            "goal": row["monthly_goal_cents"]
            if row["monthly_goal_cents"] is not None
            else variables["default_monthly_goal_cents"],
        }
        for row in query("select * from raw.users where user_id is not null order by user_id")
    }
    channels = {
        row["channel_id"]: row
        for row in query("select * from raw.channels where channel_id is not null")
    }
    clean = Clean(
        as_of=AS_OF,
        as_of_date=AS_OF.date(),
        variables=variables,
        users=users,
        channels=channels,
        videos={},
        costs=[],
        revenue=[],
        first_calendar_date=query("select min(date_day) as day from analytics.dim_date")[0]["day"],
    )
    clean.as_of_date = clean.business_date(AS_OF)
    for row in query("select * from raw.videos where video_id is not null"):
        channel = channels.get(row["channel_id"])
        row["user_id"] = channel["user_id"] if channel else None
        row["published_date"] = clean.business_date(row["published_at"])
        clean.videos[row["video_id"]] = row
    seen_cost_ids: set[int] = set()
    for row in query("select * from raw.costs order by cost_id, incurred_at"):
        if row["cost_id"] in seen_cost_ids or row["video_id"] not in clean.videos:
            continue
        seen_cost_ids.add(row["cost_id"])
        if row["incurred_at"] <= AS_OF:
            row["incurred_date"] = clean.business_date(row["incurred_at"])
            row["incurred_hour"] = (
                row["incurred_at"].astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            )
            row["user_id"] = clean.videos[row["video_id"]]["user_id"]
            clean.costs.append(row)
    latest: dict[tuple[int, date], dict[str, Any]] = {}
    for row in query("select * from raw.revenue order by loaded_at"):
        if row["video_id"] in clean.videos:
            latest[(row["video_id"], row["revenue_date"])] = row
    for row in latest.values():
        if row["revenue_date"] <= clean.as_of_date:
            cents = (
                row["actual_cents"] if row["actual_cents"] is not None else row["estimated_cents"]
            )
            clean.revenue.append(
                {
                    "user_id": clean.videos[row["video_id"]]["user_id"],
                    "revenue_date": row["revenue_date"],
                    "revenue_cents": cents,
                    "is_estimated": row["actual_cents"] is None,
                }
            )
    return clean


# --- the marts, computed independently ---------------------------------------------------------


def expected_cost_rollup_hourly(clean: Clean) -> Rows:
    window_start = (clean.as_of - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    hours: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for cost in clean.costs:
        hours[cost["incurred_hour"]].append(cost)
    rows: Rows = {}
    for hour, costs in hours.items():
        total = sum(cost["amount_cents"] for cost in costs)
        videos = len({cost["video_id"] for cost in costs})
        per_video = Fraction(total, videos)
        rows[hour] = {
            "cost_status": clean.cost_status(per_video),
            "video_count": videos,
            "cost_event_count": len(costs),
            "total_cost_cents": total,
            "cost_per_video_cents": hundredths(per_video),
            "total_cost_usd": usd(total),
            "cost_per_video_usd": usd(per_video),
            "is_in_alert_window": window_start <= hour <= clean.as_of,
            "incurred_date": clean.business_date(hour),
        }
    return rows


def _cost_group_row(costs: list[dict[str, Any]], is_total: bool) -> dict[str, Any]:
    total = sum(cost["amount_cents"] for cost in costs)
    videos = len({cost["video_id"] for cost in costs})
    return {
        "video_count": videos,
        "cost_event_count": len(costs),
        "total_cost_cents": total,
        "avg_cost_per_video_cents": hundredths(ratio(total, videos)),
        "total_cost_usd": usd(total),
        "avg_cost_per_video_usd": usd(ratio(total, videos)),
        "is_total_row": is_total,
    }


def expected_cost_rollup_daily(clean: Clean) -> Rows:
    groups: dict[tuple[date, str], list[dict[str, Any]]] = defaultdict(list)
    for cost in clean.costs:
        groups[(cost["incurred_date"], cost["category"])].append(cost)
        groups[(cost["incurred_date"], "TOTAL")].append(cost)
    return {key: _cost_group_row(costs, key[1] == "TOTAL") for key, costs in groups.items()}


def expected_video_cost_analysis(clean: Clean) -> Rows:
    by_video: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for cost in clean.costs:
        by_video[cost["video_id"]].append(cost)
    rows: Rows = {}
    for video_id, video in clean.videos.items():
        costs = by_video.get(video_id, [])
        total = sum(cost["amount_cents"] for cost in costs)
        row = {
            "channel_id": video["channel_id"],
            "user_id": video["user_id"],
            "video_title": video["title"],
            "cost_status": clean.cost_status(Fraction(total)),
            "cost_event_count": len(costs),
            "other_cost_cents": sum(
                cost["amount_cents"] for cost in costs if cost["category"] not in CATEGORIES
            ),
            "total_cost_cents": total,
            "total_cost_usd": usd(total),
            "is_over_budget": total > clean.variables["cost_per_video_warning_cents"],
            "published_date": video["published_date"],
            "first_cost_at": min((cost["incurred_at"] for cost in costs), default=None),
            "last_cost_at": max((cost["incurred_at"] for cost in costs), default=None),
        }
        for category in CATEGORIES:
            row[f"{category}_cost_cents"] = sum(
                cost["amount_cents"] for cost in costs if cost["category"] == category
            )
        rows[video_id] = row
    return rows


def days_to_goal(goal: int, achieved: int, window_revenue: int) -> int | None:
    remaining = goal - achieved
    if remaining <= 0:
        return 0
    if window_revenue <= 0:
        return None
    days = Fraction(remaining * RUN_RATE_DAYS, window_revenue)
    return -((-days.numerator) // days.denominator)


def _user_revenue(clean: Clean) -> dict[int, dict[date, int]]:
    by_user: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in clean.revenue:
        by_user[row["user_id"]][row["revenue_date"]] += row["revenue_cents"]
    return by_user


def expected_user_revenue_tracking(clean: Clean) -> Rows:
    revenue = _user_revenue(clean)
    month_first = month_start(clean.as_of_date)
    window_first = clean.as_of_date - timedelta(days=RUN_RATE_DAYS - 1)
    rows: Rows = {}
    for user_id, user in clean.users.items():
        days = revenue.get(user_id, {})
        current = sum(cents for day, cents in days.items() if day >= month_first)
        last_30 = sum(cents for day, cents in days.items() if day >= window_first)
        goal = user["goal"]
        rows[user_id] = {
            "email": user["email"],
            "channel_count": sum(
                1
                for channel in clean.channels.values()
                if channel["user_id"] == user_id and channel["created_at"] <= clean.as_of
            ),
            "video_count": sum(
                1
                for video in clean.videos.values()
                if video["user_id"] == user_id and video["published_at"] <= clean.as_of
            ),
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
            "as_of_date": clean.as_of_date,
        }
    return rows


def expected_user_daily_reports(clean: Clean) -> Rows:
    revenue = _user_revenue(clean)
    estimated = {
        (row["user_id"], row["revenue_date"]) for row in clean.revenue if row["is_estimated"]
    }
    published: dict[int, list[date]] = defaultdict(list)
    for video in clean.videos.values():
        if video["published_at"] <= clean.as_of:
            published[video["user_id"]].append(video["published_date"])
    report_dates = [
        clean.first_calendar_date + timedelta(days=offset)
        for offset in range((clean.as_of_date - clean.first_calendar_date).days + 1)
    ]
    rows: Rows = {}
    for user_id, user in clean.users.items():
        days = revenue.get(user_id, {})
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
                "videos_published": sum(1 for day in published[user_id] if day == report_date),
                "total_videos": sum(1 for day in published[user_id] if day <= report_date),
                "revenue_cents": days.get(report_date, 0),
                "month_to_date_revenue_cents": month_to_date,
                "revenue_30d_cents": last_30,
                "monthly_goal_cents": user["goal"],
                "goal_progress_pct": hundredths(ratio(100 * month_to_date, user["goal"])),
                "days_to_goal": days_to_goal(user["goal"], month_to_date, last_30),
                "revenue_usd": usd(days.get(report_date, 0)),
                "is_estimated": (user_id, report_date) in estimated,
            }
    return rows


def expected_monthly_report(clean: Clean) -> Rows:
    revenue = _user_revenue(clean)
    rows: Rows = {}
    month = month_start(clean.first_calendar_date)
    while month <= clean.as_of_date:
        month_end = min(month_last_day(month), clean.as_of_date)
        user_month = {
            user_id: sum(cents for day, cents in days.items() if month_start(day) == month)
            for user_id, days in revenue.items()
        }
        month_costs = [cost for cost in clean.costs if month_start(cost["incurred_date"]) == month]
        revenue_cents = sum(user_month.values())
        cost_cents = sum(cost["amount_cents"] for cost in month_costs)
        users = sum(
            1
            for user in clean.users.values()
            if clean.business_date(user["created_at"]) <= month_end
        )
        row = {
            "user_count": users,
            "earning_user_count": sum(1 for cents in user_month.values() if cents > 0),
            "channel_count": sum(
                1
                for channel in clean.channels.values()
                if clean.business_date(channel["created_at"]) <= month_end
            ),
            "videos_published": sum(
                1
                for video in clean.videos.values()
                if video["published_at"] <= clean.as_of
                and month_start(video["published_date"]) == month
            ),
            "costed_video_count": len({cost["video_id"] for cost in month_costs}),
            "revenue_cents": revenue_cents,
            "cost_cents": cost_cents,
            "profit_cents": revenue_cents - cost_cents,
            "roi_pct": hundredths(ratio(100 * (revenue_cents - cost_cents), cost_cents)),
            "avg_revenue_per_user_cents": hundredths(ratio(revenue_cents, users)),
            "revenue_usd": usd(revenue_cents),
            "cost_usd": usd(cost_cents),
            "profit_usd": usd(revenue_cents - cost_cents),
            "avg_revenue_per_user_usd": usd(ratio(revenue_cents, users)),
            "is_complete_month": month_end == month_last_day(month),
            "month_end_date": month_end,
        }
        for name, cents in REVENUE_TIERS:
            row[f"users_at_{name}"] = sum(1 for value in user_month.values() if value >= cents)
        rows[month] = row
        month = month_last_day(month) + timedelta(days=1)
    return rows


def growth(current: Any, previous: Any) -> Decimal | None:
    if previous is None or current is None or previous == 0:
        return None
    return hundredths(
        Fraction(100) * (Fraction(current) - Fraction(previous)) / abs(Fraction(previous))
    )


def expected_growth_trends(clean: Clean) -> Rows:
    monthly = expected_monthly_report(clean)
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
    previous: dict[str, Any] | None = None
    for month in sorted(monthly):
        current = monthly[month]
        row: dict[str, Any] = {"is_complete_month": current["is_complete_month"]}
        for metric, stem in metrics.items():
            before = previous[metric] if previous else None
            row[metric] = current[metric]
            row[f"previous_{metric}"] = before
            row[f"{stem}_growth_pct"] = growth(current[metric], before)
        rows[month] = row
        previous = current
    return rows


def expected_cost_baselines(clean: Clean) -> Rows:
    per_video: dict[tuple[date, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for cost in clean.costs:
        month = month_start(cost["incurred_date"])
        per_video[(month, cost["category"])][cost["video_id"]] += cost["amount_cents"]
        per_video[(month, "TOTAL")][cost["video_id"]] += cost["amount_cents"]
    rows: Rows = {}
    for (month, category), videos in per_video.items():
        values = list(videos.values())
        median = percentile_cont(values, Fraction(1, 2))
        p90 = percentile_cont(values, Fraction(9, 10))
        rows[(month, category)] = {
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
            "is_complete_month": month < month_start(clean.as_of_date),
        }
    return rows


# --- fixtures and comparison -------------------------------------------------------------------


@dataclass
class FinanceBuild:
    warehouse: Warehouse
    report: GenerateReport
    results: dict[str, dict[str, Any]]
    clean: Clean


def run_vars(as_of: datetime = AS_OF) -> dict[str, Any]:
    return {"as_of": as_of.isoformat()}


@pytest.fixture(scope="module")
def finance(new_warehouse: Callable[[str], Warehouse]) -> FinanceBuild:
    warehouse = new_warehouse("finance")
    report = generate(warehouse.conn, scale=SCALE, days=35, as_of=AS_OF, seed=42, inject=INJECT)
    build = warehouse.dbt(*FINANCE_BUILD, dbt_vars=run_vars())
    assert not build.could_not_run, build.stdout[-4000:]
    results = {
        result["unique_id"]: result for result in warehouse.artifact("run_results.json")["results"]
    }
    return FinanceBuild(warehouse, report, results, load_clean(warehouse))


def actual_rows(warehouse: Warehouse, model: str, keys: tuple[str, ...]) -> Rows:
    rows = warehouse.query_dicts(f"select * from analytics.{model}")
    keyed: Rows = {}
    for row in rows:
        key = row[keys[0]] if len(keys) == 1 else tuple(row[column] for column in keys)
        assert key not in keyed, f"{model}: duplicate key {key}"
        keyed[key] = row
    return keyed


def differences(actual: Rows, expected: Rows) -> list[str]:
    problems = [f"missing row {key}" for key in expected.keys() - actual.keys()]
    problems += [f"unexpected row {key}" for key in actual.keys() - expected.keys()]
    for key in sorted(expected.keys() & actual.keys(), key=str):
        for column, value in expected[key].items():
            if actual[key][column] != value:
                problems.append(f"{key} {column}: mart {actual[key][column]!r} != oracle {value!r}")
    return problems


ORACLES: tuple[tuple[str, tuple[str, ...], Callable[[Clean], Rows]], ...] = (
    ("cost_rollup_hourly", ("incurred_hour",), expected_cost_rollup_hourly),
    ("cost_rollup_daily", ("cost_date", "cost_category"), expected_cost_rollup_daily),
    ("video_cost_analysis", ("video_id",), expected_video_cost_analysis),
    ("user_revenue_tracking", ("user_id",), expected_user_revenue_tracking),
    ("user_daily_reports", ("user_id", "report_date"), expected_user_daily_reports),
    ("monthly_report", ("month_start_date",), expected_monthly_report),
    ("growth_trends", ("month_start_date",), expected_growth_trends),
    ("cost_baselines", ("month_start_date", "cost_category"), expected_cost_baselines),
)


@pytest.mark.parametrize(("model", "keys", "oracle"), ORACLES, ids=[item[0] for item in ORACLES])
def test_mart_matches_the_oracle(
    finance: FinanceBuild, model: str, keys: tuple[str, ...], oracle: Callable[[Clean], Rows]
) -> None:
    expected = oracle(finance.clean)
    assert expected, f"the fixture gives {model} no rows: the comparison would prove nothing"
    problems = differences(actual_rows(finance.warehouse, model, keys), expected)
    assert not problems, f"{model}: {len(problems)} differences, e.g.\n" + "\n".join(problems[:15])


def test_the_comparison_catches_one_cent(finance: FinanceBuild) -> None:
    """The oracle comparison is not vacuous: one cent more in one cell of a mart fails it."""
    warehouse = finance.warehouse
    shift = (
        "update analytics.monthly_report set revenue_cents = revenue_cents + ({})"
        " where month_start_date = (select max(month_start_date) from analytics.monthly_report)"
    )
    warehouse.execute(shift.format(1))
    try:
        actual = actual_rows(warehouse, "monthly_report", ("month_start_date",))
    finally:
        warehouse.execute(shift.format(-1))
    problems = differences(actual, expected_monthly_report(finance.clean))
    assert len(problems) == 1
    assert "revenue_cents" in problems[0]


def test_fixture_exercises_the_rules(finance: FinanceBuild) -> None:
    """The data the oracle sees has what the rules are about (else a pass proves little)."""
    clean = finance.clean
    tracking = expected_user_revenue_tracking(clean)
    assert any(row["current_month_revenue_cents"] > 0 for row in tracking.values())
    assert any(row["is_estimated"] for row in clean.revenue)
    assert len(expected_monthly_report(clean)) >= 2
    raw_costs = finance.warehouse.query("select count(*), count(distinct cost_id) from raw.costs")[
        0
    ]
    assert raw_costs[0] > raw_costs[1], "dirty_rows should have planted duplicate cost events"


def test_build_passes_except_the_injected_cost_spike(finance: FinanceBuild) -> None:
    """Every finance model, data test, unit test and reconciliation passes; of the threshold
    tests only the critical cost-per-video test fails (cost_spike): its warning twin and the
    daily budget test pass, and dirty_rows makes no finance test warn."""
    not_passing = {
        unique_id: result["status"]
        for unique_id, result in finance.results.items()
        if result["status"] not in ("success", "pass")
    }
    assert not_passing == {CRITICAL_TEST: "fail"}
    finance_models = [model for model, _, _ in ORACLES]
    for unique_id in FINANCE_TESTS:
        assert unique_id in finance.results, f"{unique_id} did not run"
    finance_units = [
        uid
        for uid in finance.results
        if uid.startswith("unit_test.ytempire.") and uid.split(".")[2] in finance_models
    ]
    assert len(finance_units) >= len(finance_models)


def test_cost_spike_figure_is_the_clock_hours_cost_per_video(finance: FinanceBuild) -> None:
    """The failing rows stored by the critical test quote the spiked hour's cost per video."""
    details = finance.report.injected_details["cost_spike"]
    spike_hour = details["clock_hour_start"]
    costs = [cost for cost in finance.clean.costs if cost["incurred_hour"] == spike_hour]
    per_video = Fraction(
        sum(cost["amount_cents"] for cost in costs), len({cost["video_id"] for cost in costs})
    )
    assert per_video == Fraction(details["clock_hour_cents_per_video"]).limit_denominator(1000)
    assert per_video > finance.clean.variables["cost_per_video_critical_cents"]
    result = finance.results[CRITICAL_TEST]
    assert result["failures"] == 1
    stored = finance.warehouse.query_dicts(f"select * from {result['relation_name']}")
    assert [row["incurred_hour"] for row in stored] == [spike_hour]
    assert stored[0]["cost_per_video_usd"] == usd(per_video)
    assert stored[0]["cost_status"] == "OVER_BUDGET"


def _report_snapshot(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query(
        "select user_id, report_date, revenue_cents, month_to_date_revenue_cents,"
        " revenue_30d_cents, goal_progress_pct, days_to_goal, videos_published, total_videos,"
        " built_at from analytics.user_daily_reports order by user_id, report_date"
    )


def test_user_daily_reports_rerun_replaces_days(finance: FinanceBuild) -> None:
    """Re-running the incremental model for the same as_of rebuilds its window (the month of
    as_of's date - 2 days through as_of's date) by delete+insert on report_date: a tampered
    figure inside the window is replaced, a row before the window is left alone, nothing is
    duplicated, and a duplicate (user, day) cannot even be inserted (unique index). The
    window's bounds are unit-tested: user_daily_reports_incremental_window."""
    warehouse = finance.warehouse
    before = _report_snapshot(warehouse)
    as_of_date = finance.clean.as_of_date
    outside = finance.clean.first_calendar_date
    assert outside < month_start(as_of_date - timedelta(days=2))
    with pytest.raises(psycopg.errors.UniqueViolation):  # the unique index guards the grain
        warehouse.execute(
            "insert into analytics.user_daily_reports select * from analytics.user_daily_reports"
            " where report_date = %s",
            (as_of_date,),
        )
    tamper = "update analytics.user_daily_reports set revenue_cents = revenue_cents + ({})"
    warehouse.execute(tamper.format(1) + " where report_date in (%s, %s)", (as_of_date, outside))

    rerun = warehouse.dbt("run", "-s", "user_daily_reports", dbt_vars=run_vars())
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    after = _report_snapshot(warehouse)
    warehouse.execute(tamper.format(-1) + " where report_date = %s", (outside,))

    assert len(after) == len(before)
    assert len({(row[0], row[1]) for row in after}) == len(after)
    outside_rows = [index for index, row in enumerate(before) if row[1] == outside]
    assert outside_rows
    for index in outside_rows:
        assert after[index][2] == before[index][2] + 1  # before the window: not rebuilt
    assert [row for row in after if row[1] != outside] == [
        row for row in before if row[1] != outside
    ]
    assert _report_snapshot(warehouse) == before


def test_troubleshooting_analyses_compile_and_answer(finance: FinanceBuild) -> None:
    """The guide's queries in analyses/ compile; the cost ones run against the marts and list
    exactly the videos over $3.00 (the spiked ones) and the alert window's hours."""
    warehouse = finance.warehouse
    compiled = warehouse.dbt("compile", "-s", "path:analyses", dbt_vars=run_vars())
    assert compiled.returncode == 0, compiled.stdout[-3000:]
    folder = warehouse.target_path / "compiled" / "ytempire" / "analyses"
    names = {path.stem for path in folder.glob("*.sql")}
    assert {"cost_analysis_over_budget", "data_reconciliation", "api_quota_check"} <= names

    over_budget = warehouse.query_dicts((folder / "cost_analysis_over_budget.sql").read_text())
    expected = {
        video_id
        for video_id, row in expected_video_cost_analysis(finance.clean).items()
        if row["is_over_budget"]
    }
    assert expected == set(finance.report.injected_details["cost_spike"]["video_ids"])
    assert {row["video_id"] for row in over_budget} == expected
    by_hour = warehouse.query_dicts((folder / "cost_per_video_by_hour.sql").read_text())
    spike_hour = finance.report.injected_details["cost_spike"]["clock_hour_start"]
    assert {row["cost_status"] for row in by_hour if row["incurred_hour"] == spike_hour} == {
        "OVER_BUDGET"
    }
