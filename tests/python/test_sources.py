"""Source freshness: SLAs from the vars, pinned to as_of, stale and missing tables reported.

One warehouse per server, one `dbt source freshness` with as_of pinned, on data generated with
`stale_video_stats` and `dirty_rows` (future-dated collections must not make video_stats look
fresh) and raw.costs dropped (a missing table must be a runtime error, not silence). Expected
ages and statuses are computed here from the raw rows and the vars. Fresh clean data is checked
in test_core_models.py, on its clean warehouse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from conftest import PROJECT_DIR, Warehouse

from orchestrator.dbt_invoke import DbtInvocation
from orchestrator.generate import generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
PROJECT_VARS: dict[str, Any] = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
SLA_COLUMNS = {
    "video_stats": "collected_at",
    "revenue": "loaded_at",
    "costs": "incurred_at",
    "api_usage": "called_at",
}
NO_SLA = {"users", "channels", "videos", "job_runs", "query_log", "cache_stats"}
ALERT_META = {
    "alert_type": "DATA_FRESHNESS",
    "escalation": "data_issues",
    "owner": "analytics_engineer",
}


@dataclass
class FreshnessRun:
    invocation: DbtInvocation
    results: dict[str, dict[str, Any]]  # source table name -> sources.json result
    latest: dict[str, datetime | None]  # source table name -> max loaded_at <= as_of (from raw)
    latest_overall: dict[str, datetime | None]  # including rows after as_of


@dataclass
class FreshnessPhases:
    manifest: dict[str, Any]
    broken: FreshnessRun


def latest_loaded(warehouse: Warehouse, *, up_to: datetime | None) -> dict[str, datetime | None]:
    latest = {}
    for table, column in SLA_COLUMNS.items():
        exists = warehouse.query("select to_regclass(%s) is not null", (f"raw.{table}",))[0][0]
        if not exists:
            continue
        moments = [row[0] for row in warehouse.query(f"select {column} from raw.{table}")]
        kept = [moment for moment in moments if up_to is None or moment <= up_to]
        latest[table] = max(kept) if kept else None
    return latest


def run_freshness(warehouse: Warehouse) -> FreshnessRun:
    sources_json = warehouse.target_path / "sources.json"
    sources_json.unlink(missing_ok=True)
    invocation = warehouse.dbt("source", "freshness", dbt_vars={"as_of": AS_OF.isoformat()})
    assert not invocation.could_not_run, invocation.stdout[-3000:]
    results = {
        result["unique_id"].split(".")[-1]: result
        for result in warehouse.artifact("sources.json")["results"]
    }
    return FreshnessRun(
        invocation,
        results,
        latest_loaded(warehouse, up_to=AS_OF),
        latest_loaded(warehouse, up_to=None),
    )


@pytest.fixture(scope="module")
def phases(new_warehouse: Callable[[str], Warehouse]) -> FreshnessPhases:
    warehouse = new_warehouse("sources")
    generate(
        warehouse.conn,
        scale=0.02,
        days=7,
        as_of=AS_OF,
        seed=5,
        inject=("stale_video_stats", "dirty_rows"),
    )
    warehouse.execute("drop table raw.costs")
    broken = run_freshness(warehouse)
    return FreshnessPhases(warehouse.artifact("manifest.json"), broken)


def sources_by_table(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        node["name"]: node
        for node in manifest["sources"].values()
        if node["package_name"] == "ytempire" and node["source_name"] == "raw"
    }


def test_slas_come_from_the_vars_with_alert_meta(phases: FreshnessPhases) -> None:
    sources = sources_by_table(phases.manifest)
    assert set(sources) == set(SLA_COLUMNS) | NO_SLA
    for table, column in SLA_COLUMNS.items():
        node = sources[table]
        freshness = node["freshness"]
        assert freshness["warn_after"] == {
            "count": PROJECT_VARS[f"freshness_{table}_warn_minutes"],
            "period": "minute",
        }
        assert freshness["error_after"] == {
            "count": PROJECT_VARS[f"freshness_{table}_error_minutes"],
            "period": "minute",
        }
        assert node["loaded_at_field"] == column
        assert node["config"]["meta"] == ALERT_META
    for table in NO_SLA:
        freshness = sources[table]["freshness"] or {}
        assert (freshness.get("warn_after") or {}).get("count") is None
        assert (freshness.get("error_after") or {}).get("count") is None


def assert_ages_from_raw(run: FreshnessRun) -> None:
    """max_loaded_at is the latest raw timestamp up to as_of; the age is measured from as_of."""
    for table, result in run.results.items():
        latest = run.latest[table]
        assert latest is not None
        assert datetime.fromisoformat(result["snapshotted_at"]) == AS_OF
        assert datetime.fromisoformat(result["max_loaded_at"]) == latest
        assert result["max_loaded_at_time_ago_in_s"] == pytest.approx(
            (AS_OF - latest).total_seconds()
        )


def expected_status(table: str, latest: datetime) -> str:
    age = AS_OF - latest
    if age > timedelta(minutes=PROJECT_VARS[f"freshness_{table}_error_minutes"]):
        return "error"
    if age > timedelta(minutes=PROJECT_VARS[f"freshness_{table}_warn_minutes"]):
        return "warn"
    return "pass"


def test_stale_video_stats_is_an_error_despite_future_rows(phases: FreshnessPhases) -> None:
    run = phases.broken
    statuses = {table: result["status"] for table, result in run.results.items()}
    assert statuses == {table: expected_status(table, run.latest[table]) for table in statuses}
    assert statuses["video_stats"] == "error"
    assert {table for table, status in statuses.items() if status != "pass"} == {"video_stats"}
    # dirty_rows planted collections after as_of: they exist, and were not taken as fresh data
    assert run.latest_overall["video_stats"] > AS_OF
    assert_ages_from_raw(run)
    assert run.invocation.returncode == 1


def test_missing_raw_table_is_a_runtime_error_not_silence(phases: FreshnessPhases) -> None:
    run = phases.broken
    assert run.invocation.returncode == 1
    # dbt leaves a source whose freshness query failed out of sources.json: find it by difference
    with_sla = {
        table
        for table, node in sources_by_table(phases.manifest).items()
        if (node["freshness"] or {}).get("error_after", {}).get("count")
    }
    assert with_sla - set(run.results) == {"costs"}
    assert re.search(r"ERROR freshness of raw\.costs", run.invocation.stdout)
    assert re.search(r'relation "raw\.costs" does not exist', run.invocation.stdout)
    assert run.results["revenue"]["status"] == "pass"
