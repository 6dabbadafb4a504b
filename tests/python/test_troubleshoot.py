"""`ytempire troubleshoot SYMPTOM` and `ytempire diagnose` through the real CLI (CliRunner on
`orchestrator.cli.main`, --json) on one warehouse of the embedded PostgreSQL.

Synthetic data at scale 0.02 with `slow_dashboard`, `cost_spike` and `quota_overuse` (clean
otherwise), then one `dbt run` of the marts the checks read, pinned at AS_OF. Each symptom's
figures are checked against an independent computation in Python over the raw tables; the exit
code is 1 for the three planted anomalies and 0 for the reconciliation of clean data. `diagnose`
runs on the same database before the diagnostics exist, so it builds them first.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import PROJECT_DIR, Warehouse, warehouse_factory

from orchestrator import dbt_invoke, project_vars
from orchestrator.cli import main
from orchestrator.generate import generate

AS_OF = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
TODAY = AS_OF.date()
VARS = project_vars.load(PROJECT_DIR)
MARTS = (
    "dashboard_performance",
    "data_freshness",
    "cache_performance",
    "video_cost_analysis",
    "api_quota_usage",
    "dq_quarantined_rows",
    "user_revenue_tracking",  # what revenue_overview (the slow dashboard) reads
    "monitoring_clock",
)


@dataclass
class Built:
    warehouse: Warehouse
    empty: Warehouse
    state: Path


def run(warehouse: Warehouse, state: Path, *arguments: str) -> tuple[int, dict[str, Any], str]:
    env = {
        **warehouse.conn.env(),
        "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
        "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
    }
    result = CliRunner().invoke(main, list(arguments), env=env)
    assert "Traceback" not in result.output, result.output[-3000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, document, result.stderr


@pytest.fixture(scope="module")
def built(embedded_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    state = tmp_path_factory.mktemp("troubleshoot_state")
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("troubleshoot")
        generate(
            warehouse.conn,
            scale=0.02,
            as_of=AS_OF,
            inject=("slow_dashboard", "cost_spike", "quota_overuse"),
        )
        result = dbt_invoke.run(
            ["run", "--select", *(f"+{mart}" for mart in MARTS)],
            warehouse.conn,
            as_of=AS_OF.isoformat(),
            target_path=warehouse.target_path,
            project_dir=PROJECT_DIR,
        )
        assert result.returncode == 0, result.stdout[-3000:]
        yield Built(warehouse, make("empty"), state)


def troubleshoot(built: Built, symptom: str) -> tuple[int, dict[str, Any]]:
    code, document, stderr = run(
        built.warehouse,
        built.state,
        "troubleshoot",
        symptom,
        "--as-of",
        AS_OF.isoformat(),
        "--json",
    )
    assert document, stderr
    return code, document


def finding(document: dict[str, Any], title: str) -> dict[str, Any]:
    return next(section for section in document["findings"] if section["title"] == title)


def test_dashboard_slow(built: Built) -> None:
    code, document = troubleshoot(built, "dashboard-slow")
    queries = built.warehouse.query(
        "select dashboard_name, duration_ms from raw.query_log"
        " where executed_at <= %s and executed_at >= %s",
        (AS_OF, datetime.combine(TODAY, datetime.min.time(), UTC)),
    )
    durations: dict[str, list[int]] = defaultdict(list)
    for name, duration in queries:
        durations[name].append(duration)
    averages = {name: sum(values) / len(values) for name, values in durations.items()}
    dashboards = finding(document, "Dashboards today, slowest first")
    assert [row["dashboard_name"] for row in dashboards["rows"]] == sorted(
        averages, key=lambda name: -averages[name]
    )
    for row in dashboards["rows"]:
        assert row["avg_duration_ms"] == pytest.approx(averages[row["dashboard_name"]], abs=1e-6)
        assert row["query_count"] == len(durations[row["dashboard_name"]])
    slowest = dashboards["rows"][0]
    assert slowest["dashboard_name"] == "revenue_overview"  # the injected one
    assert slowest["performance_status"] == "CRITICAL" and dashboards["finding"] is True
    plan = finding(document, "Query plan of revenue_overview (analytics.user_revenue_tracking)")
    assert any("Execution Time" in row["plan"] for row in plan["rows"])
    assert code == 1

    freshness = {
        row["dataset_name"]: row for row in finding(document, "Freshness of the marts")["rows"]
    }
    [(latest_stats,)] = built.warehouse.query(
        "select max(collected_at) from raw.video_stats where collected_at <= %s", (AS_OF,)
    )
    minutes = (AS_OF - latest_stats).total_seconds() / 60
    assert freshness["video_stats"]["minutes_since_load"] == pytest.approx(minutes, abs=0.05)
    assert {row["freshness_status"] for row in freshness.values()} == {"FRESH"}

    [cache] = finding(document, "Cache hit rate")["rows"]
    (hits, misses), (hits_before, misses_before) = built.warehouse.query(
        "select keyspace_hits, keyspace_misses from raw.cache_stats where collected_at <= %s"
        " order by collected_at desc limit 2",
        (AS_OF,),
    )
    rate = 100 * (hits - hits_before) / ((hits - hits_before) + (misses - misses_before))
    assert cache["hit_rate_pct"] == pytest.approx(round(rate, 2), abs=1e-9)
    assert cache["cache_status"] == "OK"
    assert document["resolution"][0].startswith(
        "1. Check the query execution plan: the slowest dashboard today is revenue_overview"
    )


def test_data_discrepancy_reconciles_clean_data(built: Built) -> None:
    code, document = troubleshoot(built, "data-discrepancy")
    wh = built.warehouse
    latest: dict[tuple[int, Any], tuple[datetime, int]] = {}
    for video_id, day, estimated, actual, loaded_at in wh.query(
        "select video_id, revenue_date, estimated_cents, actual_cents, loaded_at"
        " from raw.revenue where loaded_at <= %s and revenue_date <= %s",
        (AS_OF, TODAY),
    ):
        cents = actual if actual is not None else estimated
        if (video_id, day) not in latest or loaded_at > latest[(video_id, day)][0]:
            latest[(video_id, day)] = (loaded_at, cents)
    raw_revenue = sum(cents for _, cents in latest.values())
    costs = {
        cost_id: amount
        for cost_id, amount in wh.query(
            "select cost_id, amount_cents from raw.costs where incurred_at <= %s", (AS_OF,)
        )
    }
    [(videos,)] = wh.query("select count(distinct video_id) from raw.videos")
    rows = {
        row["check_name"].split(":")[0]: row
        for row in finding(document, "Reconciliation: marts vs raw")["rows"]
    }
    assert rows["revenue cents"]["raw_value"] == raw_revenue > 0
    assert rows["cost cents"]["raw_value"] == sum(costs.values()) > 0
    assert rows["videos"]["raw_value"] == videos > 0
    [(fct_revenue, fct_costs, dim_videos)] = wh.query(
        "select (select sum(revenue_cents) from analytics.fct_revenue),"
        " (select sum(amount_cents) from analytics.fct_costs),"
        " (select count(*) from analytics.dim_video)"
    )
    assert [rows[name]["mart_value"] for name in ("revenue cents", "cost cents", "videos")] == [
        fct_revenue,
        fct_costs,
        dim_videos,
    ]
    assert {row["difference"] for row in rows.values()} == {0}
    assert len(finding(document, "Freshness of every dataset")["rows"]) == 4
    assert code == 0 and document["exit_code"] == 0
    assert document["resolution"][2].endswith("all 3 reconciliations match (difference 0).")


def test_high_costs_lists_the_videos_over_the_warning_var(built: Built) -> None:
    code, document = troubleshoot(built, "high-costs")
    totals: dict[int, int] = defaultdict(int)
    by_category: dict[tuple[int, str], int] = defaultdict(int)
    for video_id, category, amount in built.warehouse.query(
        "select video_id, category, amount_cents from raw.costs where incurred_at <= %s", (AS_OF,)
    ):
        totals[video_id] += amount
        by_category[(video_id, category)] += amount
    warning = VARS.integer("cost_per_video_warning_cents")
    over = {video: cents for video, cents in totals.items() if cents > warning}
    assert over  # the injected spike
    videos = finding(document, "Cost breakdown of the videos over the warning, costliest first")
    assert {row["video_id"]: row["total_cost_cents"] for row in videos["rows"]} == over
    for row in videos["rows"]:
        assert row["llm_script_cost_cents"] == by_category[(row["video_id"], "llm_script")]
    [summary] = finding(document, "Videos over the cost warning")["rows"]
    assert summary["videos_over_warning"] == len(over)
    assert summary["warning_cents"] == warning
    assert summary["max_cost_cents"] == max(over.values())
    categories = {
        row["cost_category"]: row["total_cost_cents"]
        for row in finding(document, "Their costs by category")["rows"]
    }
    expected: dict[str, int] = defaultdict(int)
    for (video, category), cents in by_category.items():
        if video in over:
            expected[category] += cents
    assert categories == expected
    assert code == 1


def test_api_quota_by_endpoint(built: Built) -> None:
    code, document = troubleshoot(built, "api-quota")
    units: dict[str, int] = defaultdict(int)
    for endpoint, quota_units in built.warehouse.query(
        "select endpoint, quota_units from raw.api_usage where called_at <= %s and called_at >= %s",
        (AS_OF, datetime.combine(TODAY, datetime.min.time(), UTC)),
    ):
        units[endpoint] += quota_units
    endpoints = finding(document, "Quota today by endpoint")["rows"]
    assert {row["endpoint"]: row["units"] for row in endpoints} == units
    [today] = finding(document, "Quota today")["rows"]
    assert today["units_used"] == sum(units.values())
    assert today["units_used"] > VARS.integer("api_quota_critical_units")
    assert today["quota_status"] == "CRITICAL"
    assert len(finding(document, "The last 7 days")["rows"]) == 7
    assert code == 1


def test_unknown_symptom_is_a_usage_error_listing_the_choices(built: Built) -> None:
    code, _, stderr = run(built.warehouse, built.state, "troubleshoot", "slow-everything")
    assert code == 3
    for symptom in ("dashboard-slow", "data-discrepancy", "high-costs", "api-quota"):
        assert symptom in stderr


def test_marts_not_built_exit_3_with_one_sentence(built: Built) -> None:
    code, document, stderr = run(built.empty, built.state, "troubleshoot", "high-costs", "--json")
    assert code == 3 and document["exit_code"] == 3
    assert "not built yet: run `ytempire build`" in document["error"]
    assert stderr.count("\n") == 1


def test_diagnose_builds_the_diagnostics_then_lists_the_evidence(built: Built) -> None:
    wh = built.warehouse
    assert wh.query("select to_regclass('diagnostics.performance_recommendations')") == [(None,)]
    code, document, stderr = run(wh, built.state, "diagnose", "--json")
    assert "ran `dbt build -s tag:diagnostics` first" in stderr
    assert document["built_diagnostics"] is True
    rows = wh.query_dicts(
        "select issue_type, object_name, recommendation, impact, evidence"
        " from diagnostics.performance_recommendations"
        " order by impact_rank, issue_type, object_name"
    )
    # the view is live (statement counts move between two reads): the findings, not the figures
    keys = ("issue_type", "object_name", "recommendation", "impact")
    assert [tuple(r[k] for k in keys) for r in document["recommendations"]] == [
        tuple(r[k] for k in keys) for r in rows
    ]
    assert all(row["evidence"] for row in document["recommendations"])
    assert not [row for row in rows if row["object_name"].startswith(("raw.video_stats.", "ops."))]
    assert code == (1 if any(row["impact"] == "HIGH" for row in rows) else 0)
    again_code, again, again_stderr = run(wh, built.state, "diagnose", "--json")
    assert again["built_diagnostics"] is False and again_stderr == ""
    assert again_code == code
