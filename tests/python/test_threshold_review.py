"""The monthly threshold review (orchestrator/threshold_review.py) on one built warehouse.

One database on the embedded PostgreSQL: synthetic data at scale 0.02 with the `cost_spike` and
`quota_overuse` injections, `dbt run` of the marts the review reads (pinned at AS_OF), then a
known set of alerts written straight into ops.alerts_log, in November and around it. The review
of November must count exactly the alerts inserted in it, and its percentiles must equal an
independent computation: Python's `statistics` over figures recomputed from the raw tables
(cost per video per day, units per day, minutes between loads) or over the mart's rows (cache).
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from conftest import PROJECT_DIR, Warehouse, warehouse_factory

from orchestrator import alerts_store, dbt_invoke, project_vars, threshold_review
from orchestrator.connection import connect
from orchestrator.generate import generate

AS_OF = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
MONTH_START, MONTH_END = date(2026, 11, 1), date(2026, 12, 1)
VARS = project_vars.load(PROJECT_DIR)
MARTS = ("cost_rollup_daily", "api_quota_usage", "dashboard_performance", "cache_performance")
# (alert_type, severity, opened_at): inside November unless said otherwise
ALERTS = (
    ("COST_PER_VIDEO", "WARNING", datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
    ("COST_PER_VIDEO", "WARNING", datetime(2026, 11, 2, 15, 0, tzinfo=UTC)),
    ("COST_PER_VIDEO", "WARNING", datetime(2026, 11, 9, 0, 0, tzinfo=UTC)),
    ("COST_PER_VIDEO", "CRITICAL", datetime(2026, 11, 10, 12, 0, tzinfo=UTC)),
    ("COST_PER_VIDEO", "CRITICAL", datetime(2026, 11, 15, 17, 30, tzinfo=UTC)),
    ("COST_PER_VIDEO", "CRITICAL", datetime(2026, 10, 31, 23, 59, tzinfo=UTC)),  # October
    ("COST_PER_VIDEO", "WARNING", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),  # December
    ("API_QUOTA", "CRITICAL", datetime(2026, 11, 15, 16, 0, tzinfo=UTC)),
    ("DATA_FRESHNESS", "WARNING", datetime(2026, 11, 3, 8, 0, tzinfo=UTC)),
    ("JOB_FAILURE", "CRITICAL", datetime(2026, 11, 4, 2, 0, tzinfo=UTC)),  # no threshold var
)


@dataclass
class Reviewed:
    warehouse: Warehouse
    reviews: dict[str, threshold_review.ThresholdReview]


def insert_alerts(warehouse: Warehouse) -> None:
    with connect(warehouse.conn) as db:
        alerts_store.ensure_schema(db)
        for number, (alert_type, severity, opened_at) in enumerate(ALERTS):
            db.execute(
                "insert into ops.alerts_log (dedup_key, status, alert_type, escalation, severity,"
                " level, owner, action, sla_minutes, message, opened_at, level_since,"
                " last_seen_at, resolved_at) values (%s, 'resolved', %s, 'test', %s, %s,"
                " 'analytics_engineer', 'look', 60, 'inserted by the test', %s, %s, %s, %s)",
                (
                    f"test:{number}",
                    alert_type,
                    severity,
                    1 if severity == "WARNING" else 2,
                    opened_at,
                    opened_at,
                    opened_at,
                    opened_at + timedelta(hours=1),
                ),
            )


@pytest.fixture(scope="module")
def reviewed(embedded_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reviewed]:
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("thresholds")
        generate(warehouse.conn, scale=0.02, as_of=AS_OF, inject=("cost_spike", "quota_overuse"))
        selection = [f"+{mart}" for mart in MARTS]
        built = dbt_invoke.run(
            ["run", "--select", *selection, "+fct_video_performance", "+fct_revenue"],
            warehouse.conn,
            as_of=AS_OF.isoformat(),
            target_path=warehouse.target_path,
            project_dir=PROJECT_DIR,
        )
        assert built.returncode == 0, built.stdout[-3000:]
        insert_alerts(warehouse)
        with connect(warehouse.conn, as_of=AS_OF.isoformat()) as db:
            reviews = threshold_review.review(db, MONTH_START, MONTH_END)
        yield Reviewed(warehouse, {review.var: review for review in reviews})


def in_month(moment: datetime) -> bool:
    return MONTH_START <= moment.astimezone(UTC).date() < MONTH_END


def expected_alerts(alert_type: str, critical_only: bool) -> tuple[int, int]:
    opened = [
        at
        for kind, severity, at in ALERTS
        if kind == alert_type and in_month(at) and (severity == "CRITICAL" or not critical_only)
    ]
    return len(opened), len({at.date() for at in opened})


def tails(values: list[float], higher_is_worse: bool = True) -> tuple[float, float, float]:
    """median, p90, p99 as percentile_cont computes them (linear, inclusive), bad side."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    if higher_is_worse:
        return statistics.median(values), cuts[89], cuts[98]
    return statistics.median(values), cuts[9], cuts[0]


def assert_distribution(review: threshold_review.ThresholdReview, values: list[float]) -> None:
    assert review.values == len(values) > 0
    expected = tails(values, review.tail == "high")
    actual = (review.median, review.p90, review.p99)
    assert actual == pytest.approx(expected, abs=1e-6), (actual, expected)
    if review.tail == "high":
        assert review.beyond == sum(1 for value in values if value > review.current)
    else:
        assert review.beyond == sum(1 for value in values if value < review.current)


def test_every_threshold_var_is_reviewed(reviewed: Reviewed) -> None:
    names = {
        name
        for name in VARS.values
        if name.startswith(("freshness_", "cost_per_video_", "api_quota_", "dashboard_"))
        or name.startswith("cache_hit_rate_")
    }
    names -= {"cost_per_video_watch_cents", "api_quota_daily_units"}
    assert set(reviewed.reviews) == names
    assert len(names) == 16
    for review in reviewed.reviews.values():
        assert review.current == VARS.integer(review.var)
        assert review.days_in_month == 30


def test_alert_counts_are_the_inserted_ones(reviewed: Reviewed) -> None:
    cases = {
        "cost_per_video_warning_cents": ("COST_PER_VIDEO", False),
        "cost_per_video_critical_cents": ("COST_PER_VIDEO", True),
        "api_quota_warning_units": ("API_QUOTA", False),
        "api_quota_critical_units": ("API_QUOTA", True),
        "freshness_video_stats_warn_minutes": ("DATA_FRESHNESS", False),
        "freshness_costs_error_minutes": ("DATA_FRESHNESS", True),
        "dashboard_warning_ms": ("DASHBOARD_PERFORMANCE", False),
        "cache_hit_rate_critical_pct": ("CACHE_HIT_RATE", True),
    }
    for var, (alert_type, critical_only) in cases.items():
        review = reviewed.reviews[var]
        assert alert_type in review.alert_types, var
        assert (review.alerts_fired, review.days_fired) == expected_alerts(
            alert_type, critical_only
        ), var
    assert reviewed.reviews["cost_per_video_warning_cents"].alerts_fired == 5
    assert reviewed.reviews["cost_per_video_critical_cents"].days_fired == 2


def test_cost_per_video_percentiles_match_raw_costs(reviewed: Reviewed) -> None:
    rows = reviewed.warehouse.query(
        "select incurred_at, video_id, amount_cents from raw.costs where incurred_at <= %s",
        (AS_OF,),
    )
    cents: dict[date, int] = defaultdict(int)
    videos: dict[date, set[int]] = defaultdict(set)
    for incurred_at, video_id, amount in rows:
        day = incurred_at.astimezone(UTC).date()
        cents[day] += amount
        videos[day].add(video_id)
    daily = [
        float((Decimal(cents[day]) / len(videos[day])).quantize(Decimal("0.01"), ROUND_HALF_UP))
        for day in sorted(cents)
        if MONTH_START <= day < MONTH_END
    ]
    for var in ("cost_per_video_warning_cents", "cost_per_video_critical_cents"):
        assert_distribution(reviewed.reviews[var], daily)
    # the spike day is the month's costliest day
    spike_day = cents[AS_OF.date()] / len(videos[AS_OF.date()])
    assert max(daily) == pytest.approx(spike_day, abs=0.005)


def test_quota_overuse_crosses_the_critical_and_is_suggested_up(reviewed: Reviewed) -> None:
    rows = reviewed.warehouse.query(
        "select called_at, quota_units from raw.api_usage where called_at <= %s", (AS_OF,)
    )
    units: dict[date, int] = defaultdict(int)
    for called_at, quota_units in rows:
        units[called_at.astimezone(UTC).date()] += quota_units
    daily = [float(units[day]) for day in sorted(units) if MONTH_START <= day < MONTH_END]
    critical = reviewed.reviews["api_quota_critical_units"]
    assert_distribution(critical, daily)
    assert critical.beyond == 1  # the injected day
    assert critical.p99 > critical.current
    step = 500  # the nice step under a tenth of 9,000
    assert critical.suggested == (critical.p99 // step + 1) * step
    assert f"raise to {critical.suggested:,.0f} units or fix the cause" in critical.reason
    assert critical.reason.startswith("fired on 1 of 30 days (1 alert); p99 is ")


def test_freshness_gaps_match_raw_loads(reviewed: Reviewed) -> None:
    stamps = sorted(
        row[0]
        for row in reviewed.warehouse.query(
            "select distinct collected_at from raw.video_stats where collected_at <= %s", (AS_OF,)
        )
    )
    gaps = [
        (later - earlier).total_seconds() / 60
        for earlier, later in itertools.pairwise(stamps)
        if in_month(later)
    ]
    for var in ("freshness_video_stats_warn_minutes", "freshness_video_stats_error_minutes"):
        assert_distribution(reviewed.reviews[var], gaps)


def test_cache_hit_rate_tail_is_the_low_side(reviewed: Reviewed) -> None:
    rates = [
        float(row[0])
        for row in reviewed.warehouse.query(
            "select hit_rate_pct from analytics.cache_performance where hit_rate_pct is not null"
            " and collected_at >= %s and collected_at < %s",
            (
                datetime.combine(MONTH_START, datetime.min.time(), UTC),
                datetime.combine(MONTH_END, datetime.min.time(), UTC),
            ),
        )
    ]
    warning = reviewed.reviews["cache_hit_rate_warning_pct"]
    assert warning.tail == "low"
    assert_distribution(warning, rates)
    assert warning.p99 < warning.p90 < warning.median
    assert warning.suggested == warning.current and warning.reason.endswith(": keep")


def test_rows_for_the_report_section(reviewed: Reviewed) -> None:
    row = reviewed.reviews["dashboard_critical_ms"].to_row()
    assert list(row)[:3] == ["threshold", "level", "current"]
    assert row["threshold"] == "dashboard_critical_ms" and row["level"] == "critical"
    assert row["current"] == VARS.integer("dashboard_critical_ms")
    assert row["alerts_fired"] == 0
    assert row["reason"].startswith("never fired; p99 ") and row["reason"].endswith(": keep")
    assert row["suggested"] == row["current"]
    assert {len(review.to_row()) for review in reviewed.reviews.values()} == {len(row)}


def test_a_month_without_data_keeps_every_threshold(reviewed: Reviewed) -> None:
    with connect(reviewed.warehouse.conn, as_of=AS_OF.isoformat()) as db:
        reviews = threshold_review.review(db, date(2025, 1, 1), date(2025, 2, 1))
    assert {review.values for review in reviews} == {0}
    assert {review.alerts_fired for review in reviews} == {0}
    assert all(review.suggested == review.current for review in reviews)
    assert all(
        review.reason.startswith("never fired; no values in the month") for review in reviews
    )
