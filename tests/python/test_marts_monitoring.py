"""The monitoring marts, row by row, against an independent Python computation over raw rows.

One database per server: generator scale 0.03 with as_of pinned and the `slow_dashboard`,
`quota_overuse`, `failed_job` and `dirty_rows` injections (so statuses other than OK and the
dirty-row exclusions are exercised), then one `dbt build` of the monitoring marts, their
ancestors and the tests and unit tests of the monitoring folder (core tests are another
suite's). Each mart is read back and compared with `marts_oracle` (exact for counts and
cents, 1e-6 for rounded numerics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Warehouse
from marts_oracle import (
    Raw,
    expected_api_quota_usage,
    expected_cache_performance,
    expected_dashboard_performance,
    expected_data_freshness,
    expected_job_status,
    load_raw,
    mismatches,
    project_vars,
)

from orchestrator.generate import generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
INJECTIONS = ("slow_dashboard", "quota_overuse", "failed_job", "dirty_rows")
MONITORING_MARTS = (
    "data_freshness",
    "job_status",
    "dashboard_performance",
    "api_quota_usage",
    "cache_performance",
    "system_health",
)


@dataclass
class Built:
    warehouse: Warehouse
    raw: Raw
    variables: dict[str, Any]
    results: dict[str, str]

    def rows(self, model: str, key: Callable[[dict[str, Any]], Any]) -> dict[Any, dict[str, Any]]:
        rows = self.warehouse.query_dicts(f"select * from analytics.{model}")
        keyed = {key(row): row for row in rows}
        assert len(keyed) == len(rows), f"{model} has duplicate keys"
        return keyed


@pytest.fixture(scope="module")
def built(new_warehouse: Callable[[str], Warehouse]) -> Built:
    warehouse = new_warehouse("monitoring")
    generate(warehouse.conn, scale=0.03, as_of=AS_OF, inject=INJECTIONS)
    invocation = warehouse.dbt(
        "build",
        "-s",
        "+tag:monitoring",
        "path:models/marts/monitoring",
        "--indirect-selection",
        "empty",
        dbt_vars={"as_of": AS_OF.isoformat()},
    )
    assert not invocation.could_not_run, invocation.stdout[-3000:]
    results = {
        result["unique_id"]: result["status"]
        for result in warehouse.artifact("run_results.json")["results"]
    }
    raw = load_raw(warehouse.query_dicts, AS_OF)
    return Built(warehouse=warehouse, raw=raw, variables=project_vars(), results=results)


def test_every_monitoring_mart_and_unit_test_builds(built: Built) -> None:
    broken = {
        uid: status
        for uid, status in built.results.items()
        if status in ("error", "skipped", "fail") and not uid.startswith("test.ytempire.assert_")
    }
    assert broken == {}
    for model in MONITORING_MARTS:
        assert built.results[f"model.ytempire.{model}"] == "success", model
    unit_tests = {
        uid: status
        for uid, status in built.results.items()
        if uid.startswith("unit_test.") and uid.split(".")[2] in MONITORING_MARTS
    }
    assert len(unit_tests) >= 8
    assert set(unit_tests.values()) == {"pass"}, unit_tests


def test_data_freshness_matches_oracle(built: Built) -> None:
    actual = built.rows("data_freshness", lambda row: row["dataset_name"])
    expected = expected_data_freshness(built.raw, built.variables)
    assert mismatches(actual, expected) == []
    assert {row["freshness_status"] for row in actual.values()} == {"FRESH"}


def test_job_status_matches_oracle(built: Built) -> None:
    actual = built.rows("job_status", lambda row: row["run_id"])
    expected = expected_job_status(built.raw)
    assert mismatches(actual, expected) == []
    failed = [row for row in actual.values() if row["is_failed"]]
    assert [row["job_name"] for row in failed] == ["nightly_revenue_rollup"]
    assert failed[0]["has_later_success"] is False


def test_dashboard_performance_matches_oracle(built: Built) -> None:
    actual = built.rows(
        "dashboard_performance", lambda row: (row["dashboard_name"], row["query_date"])
    )
    expected = expected_dashboard_performance(built.raw, built.variables)
    assert mismatches(actual, expected, tolerance={"p95_duration_ms": 1e-6}) == []
    today = {
        key[0]: row["performance_status"] for key, row in actual.items() if row["is_current_day"]
    }
    assert today.pop("revenue_overview") == "CRITICAL"
    assert set(today.values()) == {"OK"}


def test_api_quota_usage_matches_oracle(built: Built) -> None:
    actual = built.rows("api_quota_usage", lambda row: row["usage_date"])
    expected = expected_api_quota_usage(built.raw, built.variables)
    assert mismatches(actual, expected, tolerance={"projected_units_end_of_day": 1e-4}) == []
    assert actual[built.raw.today]["quota_status"] == "CRITICAL"
    assert all(row["quota_status"] == "OK" for day, row in actual.items() if day != built.raw.today)


def test_cache_performance_matches_oracle(built: Built) -> None:
    actual = built.rows("cache_performance", lambda row: row["collected_at"])
    expected = expected_cache_performance(built.raw, built.variables)
    assert mismatches(actual, expected) == []
    assert sum(row["is_latest"] for row in actual.values()) == 1


def test_system_health_reads_the_catalog(built: Built) -> None:
    (row,) = built.warehouse.query_dicts("select * from analytics.system_health")
    size, max_connections = built.warehouse.query(
        "select pg_database_size(current_database()), current_setting('max_connections')::int"
    )[0]
    assert row["database_name"] == built.warehouse.conn.dbname
    assert abs(row["database_size_bytes"] - size) <= 0.2 * size
    assert row["max_connections"] == max_connections
    assert 1 <= row["total_connections"] <= max_connections
