"""The finance marts, proven: every row of every finance mart equals an independent Python
computation over the raw rows, to the cent; the cost threshold tests fire exactly on
`cost_spike`; user_daily_reports re-runs replace days instead of duplicating them.

One database per server: generator scale 0.03 (35 days, pinned as_of) with `cost_spike` and
`dirty_rows` injected, then one `dbt build -s +tag:finance` (the finance tests only: the
upstream layers are tested by their own modules). The oracle (marts_oracle_finance over
marts_oracle_core) re-implements the core rules (cost_id dedupe, null/unknown video exclusion,
one revenue row per video and day, actual else estimate, the calendar) and the finance
definitions of the models' YAML, never reading a dbt model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import psycopg
import pytest
from conftest import Warehouse
from marts_oracle import MART_KEYS, keyed_rows, mismatches
from marts_oracle_core import Raw, Rows, load_raw, usd
from marts_oracle_finance import (
    FINANCE_ORACLES,
    expected_monthly_report,
    expected_user_revenue_tracking,
    expected_video_cost_analysis,
    month_start,
)

from orchestrator.generate import GenerateReport, generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
SCALE = 0.03
INJECT = ("cost_spike", "dirty_rows")
# test names: a singular test's unique_id is test.ytempire.<name>, a named generic test's (the
# threshold_breached alert rules) test.ytempire.<name>.<hash>
CRITICAL_TEST = "assert_finance_cost_per_video_within_critical"
FINANCE_TESTS = (
    "assert_finance_cost_per_video_within_warning",
    CRITICAL_TEST,
    "assert_finance_daily_cost_within_budget_limit",
    "assert_cost_rollup_daily_total_equals_its_categories",
    "assert_monthly_revenue_equals_fct_revenue",
    "assert_monthly_cost_equals_fct_costs",
    "assert_user_daily_reports_sum_to_current_month_revenue",
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


# --- fixtures and comparison -------------------------------------------------------------------


@dataclass
class FinanceBuild:
    warehouse: Warehouse
    report: GenerateReport
    results: dict[str, dict[str, Any]]
    raw: Raw

    def result_for(self, name: str) -> dict[str, Any]:
        (result,) = (
            result
            for unique_id, result in self.results.items()
            if unique_id.startswith("test.") and unique_id.split(".")[2] == name
        )
        return result


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
    return FinanceBuild(warehouse, report, results, load_raw(warehouse.query_dicts, AS_OF))


def actual_rows(warehouse: Warehouse, model: str) -> Rows:
    rows, duplicates = keyed_rows(
        warehouse.query_dicts(f"select * from analytics.{model}"), MART_KEYS[model]
    )
    assert not duplicates, f"{model}: {duplicates[:5]}"
    return rows


def differences(model: str, actual: Rows, expected: Rows) -> list[str]:
    """Every cell that differs (exactly), every missing or unexpected row or column."""
    return mismatches(actual, expected, key_columns=MART_KEYS[model], strict=True)


FINANCE_MARTS = tuple(FINANCE_ORACLES)


@pytest.mark.parametrize("model", FINANCE_MARTS)
def test_mart_matches_the_oracle(finance: FinanceBuild, model: str) -> None:
    expected = FINANCE_ORACLES[model](finance.raw)
    assert expected, f"the fixture gives {model} no rows: the comparison would prove nothing"
    problems = differences(model, actual_rows(finance.warehouse, model), expected)
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
        actual = actual_rows(warehouse, "monthly_report")
    finally:
        warehouse.execute(shift.format(-1))
    problems = differences("monthly_report", actual, expected_monthly_report(finance.raw))
    assert len(problems) == 1
    assert "revenue_cents" in problems[0]


def test_fixture_exercises_the_rules(finance: FinanceBuild) -> None:
    """The data the oracle sees has what the rules are about (else a pass proves little)."""
    raw = finance.raw
    tracking = expected_user_revenue_tracking(raw)
    assert any(row["current_month_revenue_cents"] > 0 for row in tracking.values())
    assert any(row["is_estimated"] for row in raw.core.fct_revenue.values())
    assert len(expected_monthly_report(raw)) >= 2
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
    assert not_passing == {finance.result_for(CRITICAL_TEST)["unique_id"]: "fail"}
    finance_models = FINANCE_MARTS
    tests_run = {uid.split(".")[2] for uid in finance.results if uid.startswith("test.")}
    for name in FINANCE_TESTS:
        assert name in tests_run, f"{name} did not run"
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
    costs = [
        cost for cost in finance.raw.core.fct_costs.values() if cost["incurred_hour"] == spike_hour
    ]
    per_video = Fraction(
        sum(cost["amount_cents"] for cost in costs), len({cost["video_id"] for cost in costs})
    )
    assert per_video == Fraction(details["clock_hour_cents_per_video"]).limit_denominator(1000)
    assert per_video > finance.raw.variables["cost_per_video_critical_cents"]
    result = finance.result_for(CRITICAL_TEST)
    assert result["failures"] == 1
    stored = finance.warehouse.query_dicts(f"select * from {result['relation_name']}")
    assert [row["incurred_hour"] for row in stored] == [spike_hour]
    assert stored[0]["cost_per_video_usd"] == usd(per_video)
    assert stored[0]["cost_status"] == "OVER_BUDGET"


def _report_snapshot(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query(
        "select user_id, report_date, revenue_cents, month_to_date_revenue_cents,"
        " revenue_30d_cents, goal_progress_pct, days_to_goal, videos_published, total_videos"
        " from analytics.user_daily_reports order by user_id, report_date"
    )


def test_user_daily_reports_rerun_replaces_days(finance: FinanceBuild) -> None:
    """Re-running the incremental model for the same as_of rebuilds its window (the month of
    as_of's date - 2 days through as_of's date), replacing every stored day from its start: a
    tampered figure inside the window is replaced, a row before the window is left alone,
    nothing is duplicated, and a duplicate (user, day) cannot even be inserted (unique index). The
    window's bounds are unit-tested: user_daily_reports_incremental_window."""
    warehouse = finance.warehouse
    before = _report_snapshot(warehouse)
    as_of_date = finance.raw.today
    outside = finance.raw.core.first_calendar_date
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
        for video_id, row in expected_video_cost_analysis(finance.raw).items()
        if row["is_over_budget"]
    }
    assert expected == set(finance.report.injected_details["cost_spike"]["video_ids"])
    assert {row["video_id"] for row in over_budget} == expected
    by_hour = warehouse.query_dicts((folder / "cost_per_video_by_hour.sql").read_text())
    spike_hour = finance.report.injected_details["cost_spike"]["clock_hour_start"]
    assert {row["cost_status"] for row in by_hour if row["incurred_hour"] == spike_hour} == {
        "OVER_BUDGET"
    }
