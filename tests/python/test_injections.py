"""Each generator injection raises exactly its alert, with the expected figure; clean data none.

One database per server (scale 0.02, as_of pinned). The clean case builds every threshold test
(tag `threshold`: the alerting tests, monitoring and finance) and its ancestors (`dbt build -s
+tag:threshold --indirect-selection empty`: the models' own tests are other suites' business)
and runs `dbt source freshness`: nothing may warn, fail or error. Then, for
each injection, the raw data is regenerated with that one injection, the tables an injection
can change are rebuilt from scratch (`--full-refresh`; the monitoring marts over staging are
live views) and every threshold test (the alerting nodes) runs again: the results must name
exactly the intended node, whose stored failures quote the injection's figure.
Source freshness is asserted on clean data and for `stale_video_stats` (the only injection
that ages a source).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import Warehouse
from psycopg import sql

from orchestrator import project_vars
from orchestrator.generate import GenerateReport, generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
DBT_VARS = {"as_of": AS_OF.isoformat()}
SCALE = 0.02
# the tables an injection can change, and the views over them (a full refresh of a table drops
# the views over it: data_freshness, api_quota_usage); the other monitoring marts are live views
REBUILT = (
    "fct_video_performance",
    "fct_costs",
    "fct_api_usage",
    "api_quota_usage",
    "cost_rollup_hourly",
    "cost_rollup_daily",
    "dashboard_performance",
    "data_freshness",
)


@dataclass
class Outcome:
    """The non-passing results of one round: unique_id -> status, and stored failure rows."""

    problems: dict[str, str]
    failures: dict[str, list[dict[str, Any]]]
    freshness: dict[str, str]
    report: GenerateReport


@dataclass
class Lab:
    warehouse: Warehouse

    def load(self, *inject: str) -> GenerateReport:
        return generate(self.warehouse.conn, scale=SCALE, as_of=AS_OF, inject=inject)

    def dbt(self, *args: str) -> None:
        invocation = self.warehouse.dbt(*args, dbt_vars=DBT_VARS)
        assert not invocation.could_not_run, invocation.stdout[-3000:]

    def results(self) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
        problems: dict[str, str] = {}
        failures: dict[str, list[dict[str, Any]]] = {}
        for result in self.warehouse.artifact("run_results.json")["results"]:
            if result["status"] in ("pass", "success"):
                continue
            name = result["unique_id"]
            problems[name] = result["status"]
            if result.get("relation_name") and result["status"] in ("warn", "fail"):
                failures[name.split(".")[2]] = self.warehouse.query_dicts(
                    sql.SQL("select * from {}").format(sql.SQL(result["relation_name"]))
                )
        return problems, failures

    def freshness(self) -> dict[str, str]:
        self.dbt("source", "freshness")
        return {
            result["unique_id"]: result["status"]
            for result in self.warehouse.artifact("sources.json")["results"]
        }


@pytest.fixture(scope="module")
def lab(new_warehouse: Callable[[str], Warehouse]) -> Lab:
    return Lab(new_warehouse("injections"))


@pytest.fixture(scope="module")
def clean(lab: Lab) -> Outcome:
    report = lab.load()
    lab.dbt("build", "-s", "+tag:threshold", "--indirect-selection", "empty")
    problems, failures = lab.results()
    return Outcome(problems, failures, lab.freshness(), report)


def run_injection(lab: Lab, name: str) -> Outcome:
    report = lab.load(name)
    lab.dbt(
        "build", "--full-refresh", "-s", *REBUILT, "tag:threshold", "--indirect-selection", "empty"
    )
    problems, failures = lab.results()
    freshness = lab.freshness() if name == "stale_video_stats" else {}
    return Outcome(problems, failures, freshness, report)


def test_clean_data_raises_nothing(clean: Outcome) -> None:
    assert clean.problems == {}
    assert clean.freshness
    assert set(clean.freshness.values()) == {"pass"}


def test_every_threshold_test_ran_on_clean_data(lab: Lab, clean: Outcome) -> None:
    manifest = lab.warehouse.artifact("manifest.json")
    threshold_tests = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and "threshold" in node["tags"]
    }
    assert {
        f"assert_monitoring_{name}"
        for name in (
            "data_not_delayed",
            "data_not_stale",
            "api_quota_under_warning",
            "api_quota_under_critical",
            "dashboard_not_slow",
            "dashboard_not_timing_out",
            "cache_hit_rate_above_warning",
            "cache_hit_rate_above_critical",
            "overnight_jobs_succeeded",
            "not_every_dashboard_critical",
            "not_every_dataset_stale",
        )
    } <= {uid.split(".")[2] for uid in threshold_tests}
    for uid in threshold_tests:
        node = manifest["nodes"][uid]
        meta = node["config"]["meta"]
        assert {
            "alert_type",
            "escalation",
            "owner",
            "figure_column",
            "figure_agg",
            "figure_unit",
        } <= set(meta), uid
        assert node["config"]["store_failures"] is True, uid


def only(outcome: Outcome, test_name: str, status: str = "fail") -> list[dict[str, Any]]:
    """Assert that `test_name` is the one non-passing node; return its stored failing rows."""
    # test.ytempire.<name>.<hash>: the alert rules are named uses of the generic threshold test
    assert {uid.split(".")[2]: problem for uid, problem in outcome.problems.items()} == {
        test_name: status
    }
    return outcome.failures[test_name]


def test_stale_video_stats(lab: Lab, clean: Outcome) -> None:
    outcome = run_injection(lab, "stale_video_stats")
    rows = only(outcome, "assert_monitoring_data_not_stale")
    expected_age = Decimal(
        str(outcome.report.injected_details["stale_video_stats"]["latest_age_minutes"])
    )
    assert [(row["dataset_name"], row["minutes_since_load"]) for row in rows] == [
        ("video_stats", expected_age)
    ]
    stale_sources = {uid: status for uid, status in outcome.freshness.items() if status != "pass"}
    assert stale_sources == {"source.ytempire.raw.video_stats": "error"}


def test_quota_overuse(lab: Lab, clean: Outcome) -> None:
    outcome = run_injection(lab, "quota_overuse")
    rows = only(outcome, "assert_monitoring_api_quota_under_critical")
    details = outcome.report.injected_details["quota_overuse"]
    assert [(row["usage_date"], row["units_used"]) for row in rows] == [
        (details["day"], details["units_used"])
    ]


def test_slow_dashboard(lab: Lab, clean: Outcome) -> None:
    outcome = run_injection(lab, "slow_dashboard")
    rows = only(outcome, "assert_monitoring_dashboard_not_timing_out")
    details = outcome.report.injected_details["slow_dashboard"]
    (row,) = rows
    assert (row["dashboard_name"], row["query_date"], row["query_count"]) == (
        details["dashboard"],
        details["day"],
        details["queries"],
    )
    assert abs(float(row["avg_duration_ms"]) - details["avg_ms"]) < 1e-6
    assert abs(float(row["p95_duration_ms"]) - details["p95_ms"]) < 1e-6
    assert row["max_duration_ms"] == details["max_ms"]


def test_failed_job(lab: Lab, clean: Outcome) -> None:
    outcome = run_injection(lab, "failed_job")
    rows = only(outcome, "assert_monitoring_overnight_jobs_succeeded")
    details = outcome.report.injected_details["failed_job"]
    (row,) = rows
    assert (row["run_id"], row["job_name"], row["error_message"]) == (
        details["run_id"],
        details["job_name"],
        details["error_message"],
    )
    previous_success = lab.warehouse.query(
        "select max(finished_at) from raw.job_runs "
        "where job_name = %s and status = 'success' and finished_at <= %s",
        (details["job_name"], AS_OF),
    )[0][0]
    hours = Decimal((AS_OF - previous_success).total_seconds()) / 3600
    assert abs(row["hours_since_last_success"] - hours) < Decimal("0.000001")


def test_cost_spike(lab: Lab, clean: Outcome) -> None:
    outcome = run_injection(lab, "cost_spike")
    rows = only(outcome, "assert_finance_cost_per_video_within_critical")
    details = outcome.report.injected_details["cost_spike"]
    worst = max(rows, key=lambda row: row["cost_per_video_usd"])
    assert worst["incurred_hour"] == details["clock_hour_start"]
    assert worst["cost_per_video_usd"] == (
        Decimal(str(details["clock_hour_cents_per_video"])) / 100
    ).quantize(Decimal("0.01"))


# --- the system-wide (level 3) rules: dbt tests since the wrapper's Python rules went ----------

LEVEL_3_DASHBOARDS = "assert_monitoring_not_every_dashboard_critical"
LEVEL_3_DAILY_COST = "assert_finance_daily_cost_within_budget_limit"
LEVEL_3_FRESHNESS = "assert_monitoring_not_every_dataset_stale"


def names(outcome_problems: dict[str, str]) -> dict[str, str]:
    return {uid.split(".")[2]: status for uid, status in outcome_problems.items()}


def rebuild(lab: Lab, as_of: datetime = AS_OF) -> tuple[dict[str, str], dict[str, list]]:
    invocation = lab.warehouse.dbt(
        "build", "--full-refresh", "-s", *REBUILT, "tag:threshold", "--indirect-selection", "empty",
        dbt_vars={"as_of": as_of.isoformat()},
    )  # fmt: skip
    assert not invocation.could_not_run, invocation.stdout[-3000:]
    problems, failures = lab.results()
    return names(problems), failures


def business_day_figure(
    lab: Lab, figure: str, table: str, stamp: str, zone: str, condition: str = "true"
) -> Any:
    """`figure` over the raw rows of AS_OF's business day up to AS_OF (from raw, not the marts)."""
    return lab.warehouse.query(
        f"select {figure} from {table}"
        f" where ({stamp} at time zone %s)::date = (%s::timestamptz at time zone %s)::date"
        f" and {stamp} <= %s and {condition}",
        (zone, AS_OF, zone, AS_OF),
    )[0][0]


def test_every_dashboard_critical_and_the_daily_cost_are_level_3(lab: Lab, clean: Outcome) -> None:
    variables = project_vars.load()
    lab.load()
    slow_ms = variables.integer("dashboard_critical_ms") + 1000
    lab.warehouse.execute("update raw.query_log set duration_ms = %s", (slow_ms,))
    limit = variables.daily_cost_critical_cents
    video_id = lab.warehouse.query("select min(video_id) from raw.costs")[0][0]
    lab.warehouse.execute(
        "insert into raw.costs (cost_id, video_id, category, amount_cents, incurred_at) "
        "select max(cost_id) + 1, %s, 'llm_script', %s, %s from raw.costs",
        (video_id, limit + 1, AS_OF - timedelta(minutes=1)),
    )
    problems, failures = rebuild(lab)
    assert problems[LEVEL_3_DASHBOARDS] == "fail"
    assert problems[LEVEL_3_DAILY_COST] == "fail"
    zone = variables.business_timezone
    dashboards = business_day_figure(
        lab, "count(distinct dashboard_name)", "raw.query_log", "executed_at", zone
    )
    assert len(failures[LEVEL_3_DASHBOARDS]) == dashboards > 1
    spent = business_day_figure(
        lab, "sum(amount_cents)", "raw.costs", "incurred_at", zone, "video_id is not null"
    )
    (row,) = failures[LEVEL_3_DAILY_COST]
    assert row["total_cost_cents"] == spent > limit

    # one dashboard back under the critical level: no longer every dashboard, so no level 3
    lab.warehouse.execute(
        "update raw.query_log set duration_ms = 100 where dashboard_name ="
        " (select min(dashboard_name) from raw.query_log)"
    )
    problems, _ = rebuild(lab)
    assert LEVEL_3_DASHBOARDS not in problems
    assert problems["assert_monitoring_dashboard_not_timing_out"] == "fail"


def test_every_dataset_stale_is_level_3(lab: Lab, clean: Outcome) -> None:
    variables = project_vars.load()
    lab.load()
    datasets = {
        name.removeprefix("freshness_").removesuffix("_error_minutes")
        for name in variables.values
        if name.startswith("freshness_") and name.endswith("_error_minutes")
    }
    longest = max(variables.integer(f"freshness_{name}_error_minutes") for name in datasets)
    later = AS_OF + timedelta(minutes=longest + 1)  # past every dataset's error threshold
    problems, failures = rebuild(lab, later)
    assert problems[LEVEL_3_FRESHNESS] == "fail"
    assert {row["dataset_name"] for row in failures[LEVEL_3_FRESHNESS]} == datasets
