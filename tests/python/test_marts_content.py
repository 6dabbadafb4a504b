"""The content marts, row by row, against an independent Python computation over raw rows.

One database per server: generator scale 0.03, as_of pinned, with `dirty_rows` (duplicates,
null ids, a counter going backwards, future rows: the oracle must exclude or collapse them
exactly as the contract says), `failed_job` and `slow_dashboard` (so the morning summary has
open problems to count, and the failing threshold tests must not skip it), then one
`dbt build` of the content marts, their ancestors, the tests and unit tests of the content
folder and the two threshold tests those injections fail (core tests are another suite's).
realtime_metrics, trending_videos and morning_summary are compared with `marts_oracle`:
counts and cents exactly, scores to 1e-6.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Warehouse
from marts_oracle import (
    Raw,
    expected_morning_summary,
    expected_realtime_metrics,
    expected_trending_videos,
    load_raw,
    mismatches,
    project_vars,
)

from orchestrator.connection import connect
from orchestrator.generate import generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
INJECTIONS = ("dirty_rows", "failed_job", "slow_dashboard")
CONTENT_MARTS = ("realtime_metrics", "trending_videos", "morning_summary")


@dataclass
class Built:
    warehouse: Warehouse
    raw: Raw
    variables: dict[str, Any]
    results: dict[str, str]


@pytest.fixture(scope="module")
def built(new_warehouse: Callable[[str], Warehouse]) -> Built:
    warehouse = new_warehouse("content")
    generate(warehouse.conn, scale=0.03, as_of=AS_OF, inject=INJECTIONS)
    invocation = warehouse.dbt(
        "build",
        "-s",
        "+tag:content",
        "monitoring_clock",
        "path:models/marts/content",
        "assert_monitoring_overnight_jobs_succeeded",
        "assert_monitoring_dashboard_not_timing_out",
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


def test_every_content_mart_and_unit_test_builds(built: Built) -> None:
    for model in CONTENT_MARTS:
        assert built.results[f"model.ytempire.{model}"] == "success", model
    unit_tests = {
        uid: status
        for uid, status in built.results.items()
        if uid.startswith("unit_test.") and uid.split(".")[2] in CONTENT_MARTS
    }
    assert len(unit_tests) >= 2
    assert set(unit_tests.values()) == {"pass"}, unit_tests


def test_realtime_metrics_matches_oracle(built: Built) -> None:
    (row,) = built.warehouse.query_dicts("select * from analytics.realtime_metrics")
    expected = expected_realtime_metrics(built.raw)
    assert mismatches({"now": row}, {"now": expected}) == []
    assert expected["active_video_count"] > 0
    assert row["window_end_at"] == AS_OF


def test_trending_videos_matches_oracle(built: Built) -> None:
    rows = built.warehouse.query_dicts("select * from analytics.trending_videos")
    actual = {row["video_id"]: row for row in rows}
    expected = expected_trending_videos(built.raw)
    assert mismatches(actual, expected, tolerance={"trending_score": 2e-6}) == []
    assert len(expected) > 5
    top = sorted(rows, key=lambda row: row["trending_rank"])[:5]
    assert [row["trending_score"] for row in top] == sorted(
        (row["trending_score"] for row in top), reverse=True
    )


def test_morning_summary_matches_oracle(built: Built) -> None:
    (row,) = built.warehouse.query_dicts("select * from analytics.morning_summary")
    expected = expected_morning_summary(built.raw, built.variables)
    assert mismatches({"today": row}, {"today": expected}) == []
    assert (row["failed_overnight_job_count"], row["slow_dashboard_count"]) == (1, 1)
    assert row["open_problem_count"] == 2


def test_failing_alerts_do_not_skip_the_morning_summary(built: Built) -> None:
    # test.ytempire.<name>.<hash>: the alert rules are named uses of a generic test
    failed = {uid.split(".")[2] for uid, status in built.results.items() if status == "fail"}
    assert {
        "assert_monitoring_overnight_jobs_succeeded",
        "assert_monitoring_dashboard_not_timing_out",
    } <= failed
    assert built.results["model.ytempire.morning_summary"] == "success"


def test_concurrent_table_swaps_that_share_a_view_do_not_deadlock(built: Built) -> None:
    """dim_channel and dashboard_performance are rebuilt by two threads at once and
    morning_summary reads both: dbt drops each old table with cascade, which drops the view
    from both sides. An hourly run failed dim_channel with "deadlock detected" that way (a
    DATA_INTEGRITY page on clean data). The drops wait for one advisory lock: held here, both
    threads must be seen waiting on it, and once it is released the run succeeds and the view
    is back with the oracle's figures."""
    warehouse = built.warehouse
    outcome: dict[str, Any] = {}

    def rebuild() -> None:
        outcome["run"] = warehouse.dbt(
            "run",
            "-s",
            "dim_channel",
            "dashboard_performance",
            "morning_summary",
            "--threads",
            "2",
            dbt_vars={"as_of": AS_OF.isoformat()},
        )

    lock = "select pg_advisory_lock(hashtext('ytempire.drop_relation'))"
    waiting_sql = (
        "select count(*) from pg_locks join pg_database on pg_database.oid = pg_locks.database"
        " where locktype = 'advisory' and not granted and datname = current_database()"
    )
    with connect(warehouse.conn) as holder:
        holder.execute(lock)
        thread = threading.Thread(target=rebuild)
        thread.start()
        waiting, deadline = 0, time.monotonic() + 120
        while waiting < 2 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.2)
            waiting = warehouse.query(waiting_sql)[0][0]
        holder.execute("select pg_advisory_unlock(hashtext('ytempire.drop_relation'))")
    thread.join(timeout=300)
    assert waiting == 2, "both table swaps wait for the drop lock"
    run = outcome["run"]
    assert run.returncode == 0, run.stdout[-3000:]
    (row,) = warehouse.query_dicts("select * from analytics.morning_summary")
    assert (
        mismatches({"today": row}, {"today": expected_morning_summary(built.raw, built.variables)})
        == []
    )
    assert warehouse.query("select count(*) from pg_class where relname like '%dbt_backup'") == [
        (0,)
    ]
