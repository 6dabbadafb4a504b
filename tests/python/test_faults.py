"""Faults and bad input, through the real CLI on a real PostgreSQL (both servers).

Bad input has one clear outcome each: a selection matching nothing exits 3 and leaves an open
alert open; an empty raw table is "no rows" (not a billion minutes stale); a raw table that lost
a column or changed a type is refused before dbt with one sentence and a RAW_SCHEMA alert that
resolves when the table is put back; a malformed PGPORT is refused.

Signals: SIGTERM or SIGINT while dbt builds stops it (no query of the run left on the server),
records the run `interrupted`, changes no alert, frees the lock (the next run starts at once) and
exits 3 with one sentence. A run killed outright (SIGKILL) leaves `running`, which the next run
marks `abandoned`; after either, the next run builds every model (dbt may have dropped views with
CASCADE). The signal tests are marked `reliability` (`make reliability`; `make test` runs the
bad-input ones). The server itself dying mid-build is in test_reliability.py: it needs a server of
its own to kill. Each test records its row of the fault table (tests/python/fault_table.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import PROJECT_DIR, Warehouse
from fault_table import FaultRow, record

from orchestrator.cli import main
from orchestrator.generate import generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
YTEMPIRE = str(Path(sys.executable).with_name("ytempire"))
FAULT_TIMEOUT_S = 120


@dataclass
class Faults:
    warehouse: Warehouse
    env: dict[str, str]

    def run(self, *arguments: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
        result = CliRunner().invoke(
            main, list(arguments), env={**self.env, **(env or {})}, catch_exceptions=False
        )
        text = result.stdout.strip()
        document = json.loads(text) if text.startswith("{") else None
        return result.exit_code, document, result.stderr

    def build(self, *arguments: str) -> tuple[int, Any, str]:
        return self.run("build", "--as-of", AS_OF.isoformat(), "--json", *arguments)

    def runs(self) -> list[dict[str, Any]]:
        return self.warehouse.query_dicts(
            "select run_id, command, status, exit_code, error from ops.run_log order by run_id"
        )

    def open_alerts(self) -> dict[str, str]:
        return dict(
            self.warehouse.query(
                "select dedup_key, status from ops.alerts_log where status <> 'resolved'"
            )
        )


def recorded(
    fault: str, faults: Faults, exit_codes: tuple[int, ...], started: float, lost: int = 0
) -> None:
    """The fault's row of the `make reliability` table (alerts duplicated: none of these faults
    notifies twice; lost: an alert that should have stayed open or opened and did not)."""
    record(
        FaultRow(
            fault=fault,
            server=faults.warehouse.server,
            runs=len(exit_codes),
            lost=lost,
            duplicated=0,
            exit_codes=exit_codes,
            seconds=round(time.monotonic() - started, 1),
        )
    )


@pytest.fixture(scope="module")
def faults(new_warehouse, tmp_path_factory) -> Iterator[Faults]:
    warehouse = new_warehouse("faults")
    generate(warehouse.conn, scale=0.02, days=7, as_of=AS_OF, seed=42)
    state = tmp_path_factory.mktemp("faults_state")
    env = {
        **warehouse.conn.env(),
        "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
        "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
        "YTEMPIRE_UNDELIVERED_FILE": str(state / "undelivered.jsonl"),
    }
    faults = Faults(warehouse, env)
    code, document, stderr = faults.build()
    assert code == 0, (stderr[-2000:], document and document["alerts"])
    yield faults


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_a_selection_matching_nothing_exits_3_and_touches_no_alert(faults) -> None:
    started = time.monotonic()
    faults.warehouse.execute("create table public.saved_api as table raw.api_usage")
    faults.warehouse.execute("truncate raw.api_usage")  # an open alert to leave alone
    try:
        code, _, _ = faults.build("-s", "api_quota_usage")
        assert code == 2
        opened = faults.open_alerts()
        assert opened
        code, document, stderr = faults.build("-s", "no_model_is_called_this")
        assert code == 3
        assert document["exit_code"] == 3
        assert "`--select no_model_is_called_this` matches no dbt node" in document["error"]
        assert "no alert was changed" in document["error"]
        assert "Traceback" not in stderr
        assert faults.open_alerts() == opened
        assert faults.runs()[-1]["status"] == "error"
        recorded("selection matching nothing", faults, (2, 3), started)
    finally:
        faults.warehouse.execute(
            "insert into raw.api_usage select * from public.saved_api; drop table public.saved_api"
        )


def test_an_empty_raw_table_is_no_rows_with_its_own_figure(faults) -> None:
    started = time.monotonic()
    faults.warehouse.execute("create table public.saved_api as table raw.api_usage")
    faults.warehouse.execute("truncate raw.api_usage")
    try:
        code, document, _ = faults.build("-s", "api_quota_usage")
        source = next(r for r in document["results"] if r["name"] == "raw.api_usage")
        assert source["minutes_stale"] is None
        assert source["message"].startswith("no rows")
        alert = next(a for a in document["alerts"] if a["alert_type"] == "DATA_FRESHNESS")
        assert alert["figure"] == "no rows"
        assert "minutes ago" not in alert["message"]
        assert code == 2
    finally:
        faults.warehouse.execute(
            "insert into raw.api_usage select * from public.saved_api; drop table public.saved_api"
        )
    code, document, _ = faults.build("-s", "api_quota_usage")
    assert code == 0, document["alerts"]
    assert any(e["alert_type"] == "DATA_FRESHNESS" for e in document["events"])  # resolved
    recorded("empty raw table", faults, (2, 0), started)


@pytest.mark.parametrize(
    ("change", "undo", "phrase"),
    [
        (
            "alter table raw.costs rename column amount_cents to amount",
            "alter table raw.costs rename column amount to amount_cents",
            "raw.costs has no column amount_cents (expected bigint)",
        ),
        (
            "alter table raw.query_log rename to query_log_moved",
            "alter table raw.query_log_moved rename to query_log",
            "table raw.query_log does not exist",
        ),
    ],
)
def test_a_raw_table_off_contract_is_refused_before_dbt(faults, change, undo, phrase) -> None:
    started = time.monotonic()
    invocations_before = faults.warehouse.target_path.joinpath("run_results.json").stat()
    faults.warehouse.execute(change)
    try:
        code, document, _ = faults.build("-s", "fct_costs")
    finally:
        faults.warehouse.execute(undo)
    assert code == 3
    assert phrase in document["error"]
    assert document["results"] == []  # not even freshness ran
    assert faults.warehouse.target_path.joinpath("run_results.json").stat() == invocations_before
    (alert,) = document["alerts"]
    assert (alert["alert_type"], alert["level"], alert["escalation"]) == (
        "RAW_SCHEMA",
        2,
        "data_issues",
    )
    code, document, _ = faults.build("-s", "fct_costs")
    assert code == 0
    assert [(e["alert_type"], e["event"]) for e in document["events"]] == [
        ("RAW_SCHEMA", "resolve")
    ]
    recorded(f"raw table off contract: {phrase.split(' (')[0]}", faults, (3, 0), started)


def test_a_column_of_another_type_is_named_with_both_types(faults, new_warehouse) -> None:
    fresh = new_warehouse("faults_types")  # no views yet: a column type can still change
    generate(fresh.conn, scale=0.02, days=2, as_of=AS_OF, seed=1)
    fresh.execute("alter table raw.video_stats alter column views type numeric")
    env = {**faults.env, **fresh.conn.env(), "YTEMPIRE_TARGET_PATH": str(fresh.target_path)}
    code, document, _ = Faults(fresh, env).build()
    assert code == 3
    assert "raw.video_stats.views is numeric, expected bigint" in document["error"]


@pytest.mark.parametrize("value", ["abc", "0", "70000", "54 32"])
def test_a_malformed_pgport_is_refused_with_or_without_pghost(faults, value) -> None:
    started = time.monotonic()
    for host in ({}, {"PGHOST": ""}):
        code, document, _ = faults.run("build", "--json", env={"PGPORT": value, **host})
        assert code == 3
        assert f"PGPORT={value!r} is not a port number" in document["error"]
    recorded(f"PGPORT={value!r}", faults, (3, 3), started)


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------


def start_build(faults: Faults, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [YTEMPIRE, "build", "--as-of", AS_OF.isoformat(), "--full-refresh", *arguments],
        env={**os.environ, **faults.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )


def wait_until_building(faults: Faults, process: subprocess.Popen[str]) -> None:
    """Until dbt has a query of this run on the server (the build is under way)."""
    deadline = time.monotonic() + FAULT_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if run_queries(faults):
            return
        time.sleep(0.1)
    raise AssertionError("dbt never started a query")


def run_queries(faults: Faults) -> list[str]:
    """Active statements of dbt's connections on this run's database."""
    return [
        row[0]
        for row in faults.warehouse.query(
            "select query from pg_stat_activity where datname = current_database()"
            " and pid <> pg_backend_pid() and state = 'active' and application_name = 'dbt'"
        )
    ]


@pytest.mark.reliability
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_dbt_records_the_run_and_frees_the_lock(faults, signum) -> None:
    started = time.monotonic()
    alerts_before = faults.warehouse.query("select * from ops.alerts_log order by alert_id")
    process = start_build(faults)
    wait_until_building(faults, process)
    time.sleep(1.0)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=FAULT_TIMEOUT_S)
    name = signal.Signals(signum).name
    assert process.returncode == 3, stderr[-2000:]
    assert "Traceback" not in stderr
    assert f"ytempire: interrupted by {name}" in stderr
    assert run_queries(faults) == []  # dbt cancelled what it had running
    last = faults.runs()[-1]
    assert (last["status"], last["exit_code"]) == ("interrupted", 3)
    assert name in last["error"]
    assert faults.warehouse.query("select * from ops.alerts_log order by alert_id") == alerts_before
    # the lock is free; dbt may have dropped views with CASCADE: the next run builds everything
    code, document, stderr = faults.build("-s", "fct_costs")
    assert code == 0, [(a["node_id"], a["message"]) for a in document["alerts"]]
    assert "ended interrupted while dbt was replacing relations" in stderr
    assert any(r["name"] == "dim_date" for r in document["results"])  # not in -s fct_costs
    code, document, stderr = faults.build("-s", "fct_costs")
    assert code == 0
    assert "builds every model" not in stderr
    assert not any(r["name"] == "dim_date" for r in document["results"])
    recorded(f"{name} mid-build", faults, (3, 0, 0), started)


@pytest.mark.reliability
def test_a_run_killed_outright_is_marked_abandoned_by_the_next(faults) -> None:
    started = time.monotonic()
    process = start_build(faults)
    wait_until_building(faults, process)
    killed_run = faults.runs()[-1]
    assert killed_run["status"] == "running"
    process.kill()
    process.communicate(timeout=FAULT_TIMEOUT_S)
    code, _, stderr = faults.build("-s", "fct_costs")
    assert code == 0, stderr[-2000:]
    assert "ended abandoned" in stderr
    marked = next(r for r in faults.runs() if r["run_id"] == killed_run["run_id"])
    assert (marked["status"], marked["exit_code"]) == ("abandoned", 3)
    assert faults.runs()[-1]["status"] == "finished"
    recorded("SIGKILL mid-build", faults, (-9, 0), started)
