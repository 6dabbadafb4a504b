"""Every playbook command through its real entry point (CliRunner on `ytempire`), on one small
warehouse of the embedded PostgreSQL: each `--json` document has every section of its playbook
with no section error, the sections show what the marts hold at the run's instant, the weekly
retention counts days back from `--as-of` (not the wall clock), and full builds never race the
catalog views (no "could not open relation with OID").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import PROJECT_DIR, Warehouse, warehouse_factory

from orchestrator import playbooks
from orchestrator.cli import main
from orchestrator.connection import connect

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
SCALE, DAYS = 0.02, 35
RETENTION_DAYS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"][
    "retention_query_log_days"
]
REPEATED_BUILDS = 3  # the closing note of issue 8 reports 20 (same test, more turns)


def run(warehouse: Warehouse, state: Path, *arguments: str) -> tuple[int, dict[str, Any], str]:
    env = {
        **warehouse.conn.env(),
        "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
        "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
        "YTEMPIRE_UNDELIVERED_FILE": str(state / "undelivered.jsonl"),
    }
    result = CliRunner().invoke(main, list(arguments), env=env)
    assert "Traceback" not in result.output, result.output[-3000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, document, result.stderr


@pytest.fixture(scope="module")
def played(embedded_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """generate, then every playbook at AS_OF (weekly last: its retention deletes rows)."""
    state = tmp_path_factory.mktemp("playbook_state")
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("playbooks")
        code, _, stderr = run(
            warehouse, state, "generate", "--scale", str(SCALE), "--days", str(DAYS),
            "--as-of", AS_OF.isoformat(),
        )  # fmt: skip
        assert code == 0, stderr
        cutoff = AS_OF - timedelta(days=RETENTION_DAYS)
        old_queries = warehouse.query(
            "select count(*) from raw.query_log where executed_at < %s", (cutoff,)
        )[0][0]
        total_queries = warehouse.query("select count(*) from raw.query_log")[0][0]
        runs = {}
        for name in ("morning", "hourly", "eod", "monthly", "weekly"):
            runs[name] = run(warehouse, state, name, "--as-of", AS_OF.isoformat(), "--json")
        builds = [
            run(warehouse, state, "build", "--as-of", AS_OF.isoformat(), "--json")
            for _ in range(REPEATED_BUILDS)
        ]
        yield {
            "state": state,
            "warehouse": warehouse,
            "runs": runs,
            "builds": builds,
            "old_queries": old_queries,
            "total_queries": total_queries,
            "cutoff": cutoff,
        }


@pytest.mark.parametrize("name", list(playbooks.PLAYBOOKS))
def test_playbook_json_has_every_section_without_error(played, name: str) -> None:
    code, document, stderr = played["runs"][name]
    assert code == 0, (stderr[-2000:], document.get("alerts"))
    expected = [report.title for report in playbooks.PLAYBOOKS[name].reports]
    assert [section["title"] for section in document["reports"]] == expected
    assert [section["title"] for section in document["reports"] if section["error"]] == []
    assert all(step["ok"] for step in document["maintenance"]), document["maintenance"]
    assert document["alerts"] == []


def pinned_rows(warehouse: Warehouse, statement: str) -> list[dict[str, Any]]:
    with connect(warehouse.conn, as_of=AS_OF.isoformat()) as db:
        cursor = db.execute(statement)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def section(played, name: str, title: str) -> list[dict[str, Any]]:
    _, document, _ = played["runs"][name]
    return next(s["rows"] for s in document["reports"] if s["title"] == title)


def test_morning_freshness_section_is_the_mart_at_the_runs_instant(played) -> None:
    rows = section(played, "morning", "Data freshness")
    mart = pinned_rows(
        played["warehouse"],
        "select dataset_name, freshness_status, minutes_since_load from analytics.data_freshness"
        " order by dataset_name",
    )
    assert len(rows) == len(mart) == 4
    assert [(r["dataset_name"], r["freshness_status"]) for r in rows] == [
        (r["dataset_name"], r["freshness_status"]) for r in mart
    ]
    assert [round(r["minutes_since_load"], 6) for r in rows] == [
        round(float(r["minutes_since_load"]), 6) for r in mart
    ]
    assert {r["freshness_status"] for r in rows} == {"FRESH"}


def test_eod_reports_the_runs_day(played) -> None:
    [row] = section(played, "eod", "User daily reports (today)")
    [mart] = pinned_rows(
        played["warehouse"],
        "select count(*) as users, sum(revenue_cents) as revenue_cents"
        f" from analytics.user_daily_reports where report_date = '{AS_OF.date()}'",
    )
    assert row["users"] == mart["users"] > 0
    assert row["revenue_cents"] == mart["revenue_cents"]


def test_weekly_retention_counts_back_from_as_of(played) -> None:
    warehouse = played["warehouse"]
    assert played["old_queries"] > 0  # the fixture has rows past the retention
    remaining = warehouse.query("select count(*) from raw.query_log")[0][0]
    assert remaining == played["total_queries"] - played["old_queries"]
    assert warehouse.query(
        "select count(*) from raw.query_log where executed_at < %s", (played["cutoff"],)
    ) == [(0,)]


def test_full_builds_never_race_the_catalog_views(played) -> None:
    for code, document, stderr in played["builds"]:
        assert code == 0, stderr[-2000:]
        messages = [str(result.get("message") or "") for result in document["results"]]
        assert not [m for m in messages if "could not open relation" in m]
        diagnostics = [r for r in document["results"] if r["name"].startswith(("pg_", "perf"))]
        assert diagnostics and all(r["status"] in ("success", "pass") for r in diagnostics)


def test_a_row_later_than_the_lookback_is_named_then_repaired(played) -> None:
    """Last in the module (it changes raw): a valid cost event a day older than the latest stored
    one lands; the next run that builds fct_costs warns, naming the day and the repair; the
    repair command clears it and resolves the alert."""
    warehouse, state = played["warehouse"], played["state"]
    warehouse.execute(
        "insert into raw.costs (cost_id, video_id, category, amount_cents, incurred_at)"
        " select max(cost_id) + 1, min(video_id), 'render', 7, %s from raw.costs",
        (AS_OF - timedelta(days=1),),
    )
    at = ["--as-of", AS_OF.isoformat(), "--json"]
    code, document, stderr = run(warehouse, state, "build", "-s", "+fct_costs", *at)
    assert code == 1, stderr[-2000:]
    [alert] = document["alerts"]
    assert (alert["alert_type"], alert["severity"], alert["level"]) == (
        "DATA_INTEGRITY",
        "WARNING",
        1,
    )
    assert alert["node_id"].startswith("test.ytempire.fct_costs_matches_valid_costs_by_day")
    assert alert["figure"] == "1 failing row"
    [late_day] = warehouse.query(
        "select day_value, fact_cost_events, valid_cost_events, repair_command"
        " from dbt_test__audit.fct_costs_matches_valid_costs_by_day"
    )
    assert late_day[0] == (AS_OF - timedelta(days=1)).date()
    assert late_day[2] == late_day[1] + 1
    assert late_day[3] == "ytempire build --full-refresh -s +fct_costs+"
    code, document, stderr = run(
        warehouse, state, "build", "--full-refresh", "-s", "+fct_costs+", *at
    )
    assert code == 0, stderr[-2000:]
    assert [(e["dedup_key"], e["event"]) for e in document["events"]] == [
        (alert["dedup_key"], "resolve")
    ]
