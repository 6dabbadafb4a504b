"""A simulated day of operations, run through the real `ytempire` CLI (issue 8).

`Day` drives the commands cron would run against one fresh database, as a person would: each
step is `CliRunner().invoke(main, [...])` with the database, target folder and notification
receivers in the environment. After every dbt-running step the marts it built are compared with
the independent oracle (marts_oracle.compare_marts) at the step's instant, read through a
connection pinned to that instant (views read it when queried), and the step's JSON document,
stderr and run_results are kept for the tests to assert on.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import marts_oracle
import psycopg
import pytest
from click.testing import CliRunner
from conftest import Warehouse, warehouse_factory
from notify_fixtures import make_notify_env, receivers
from notify_servers import NotifyEnv

from orchestrator.cli import main
from orchestrator.connection import Connection, connect


@dataclass
class Step:
    """One command of the sequence and what came of it."""

    name: str
    arguments: list[str]
    as_of: datetime | None
    exit_code: int
    stdout: str
    stderr: str
    document: dict[str, Any] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)  # the oracle's marts this step built
    mismatches: dict[str, list[str]] = field(default_factory=dict)
    run_results: dict[str, Any] = field(default_factory=dict)
    manifest_parents: dict[str, list[str]] = field(default_factory=dict)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.document.get("alerts", []))

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.document.get("events", []))


@contextlib.contextmanager
def fresh_day(
    server: Connection, tmp_path_factory: pytest.TempPathFactory, label: str
) -> Iterator[Day]:
    """A Day on a new database of `server`, with recording Slack / PagerDuty / SMTP receivers
    and private state files, all removed when the context ends."""
    state = tmp_path_factory.mktemp(f"{label}_state")
    with warehouse_factory(server, tmp_path_factory) as make, receivers() as (http, smtp):
        yield Day(
            make(label),
            make_notify_env(http, smtp, state),
            {"YTEMPIRE_OUTAGE_FILE": str(state / "outage.json")},
        )


@dataclass
class Day:
    warehouse: Warehouse
    notify: NotifyEnv
    state_env: dict[str, str]
    steps: list[Step] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.warehouse.conn.env(),
            "YTEMPIRE_TARGET_PATH": str(self.warehouse.target_path),
            **self.notify.env,
            **self.state_env,
        }

    def run(self, name: str, *arguments: str, as_of: datetime | None = None) -> Step:
        """`ytempire <arguments>` (with --as-of and --json for dbt-running commands)."""
        command = list(arguments)
        if as_of is not None:
            command += ["--as-of", as_of.isoformat(), "--json"]
        result = CliRunner().invoke(main, command, env=self.env)
        step = Step(name, command, as_of, result.exit_code, result.stdout, result.stderr)
        assert "Traceback" not in result.output, f"{name}: {result.output[-3000:]}"
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        if as_of is not None:
            step.document = json.loads(result.stdout) if result.stdout.strip() else {}
            self._read_artifacts(step)
            self._compare(step)
        self.steps.append(step)
        return step

    def generate(self, *arguments: str) -> Step:
        step = self.run("generate", "generate", *arguments)
        assert step.exit_code == 0, step.stderr
        return step

    def _read_artifacts(self, step: Step) -> None:
        target = self.warehouse.target_path
        step.run_results = json.loads((target / "run_results.json").read_text())
        manifest = json.loads((target / "manifest.json").read_text())
        step.manifest_parents = {
            unique_id: node.get("depends_on", {}).get("nodes", [])
            for unique_id, node in manifest["nodes"].items()
        }
        built = {
            result["name"]
            for result in step.document.get("results", [])
            if result.get("resource_type") == "model" and result.get("status") == "success"
        }
        step.built = [model for model in marts_oracle.MARTS if model in built]

    def _compare(self, step: Step) -> None:
        assert step.as_of is not None
        with connect(self.warehouse.conn, as_of=step.as_of.isoformat()) as db:

            def query_dicts(statement: str) -> list[dict[str, Any]]:
                with db.cursor(row_factory=psycopg.rows.dict_row) as cursor:
                    return cursor.execute(statement).fetchall()

            step.mismatches = marts_oracle.compare_marts(query_dicts, step.as_of, step.built)

    def dbt_steps(self) -> list[Step]:
        return [step for step in self.steps if step.as_of is not None]


# --- the day --------------------------------------------------------------------------------

T0 = datetime(2026, 11, 15, 8, 0, tzinfo=UTC)  # the morning run
SCALE, DAYS = 0.03, 7


@dataclass(frozen=True)
class DayPlan:
    """The sequence of a simulated day: how many hourly runs, and where the planted changes go."""

    hours: int = 12
    late_rows: dict[int, int] = field(  # appended hour -> valid late rows inside the lookback
        default_factory=lambda: {3: 2, 6: 3, 9: 2}
    )
    withdrawn_hour: int = 8  # before this hour's run, one cost event inside the lookback goes
    replay_after: int = 6  # `morning --as-of T0 - 1 day` between the hourly runs 6 and 7


# Issue 8's day on both servers. A plan's withdrawal comes at least two hours after its replay:
# the replay at T0 - 1 day rewinds the stored window, and the next hourly run restores it.
FULL_DAY = DayPlan()
HOURS = FULL_DAY.hours


def hour(index: int) -> datetime:
    return T0 + timedelta(hours=index)


def withdraw_cost_event(warehouse: Warehouse, at: datetime, stored_before: int) -> int:
    """Delete one valid cost event, already stored by an earlier run (id <= stored_before),
    stamped inside the lookback before `at`; its id."""
    row = warehouse.query(
        "select cost_id from raw.costs where video_id is not null and cost_id <= %s"
        " and incurred_at > %s and incurred_at <= %s order by cost_id limit 1",
        (stored_before, at - timedelta(hours=2), at - timedelta(hours=1)),
    )
    assert row, "no cost event inside the lookback to withdraw: the fixture is too small"
    warehouse.execute("delete from raw.costs where cost_id = %s", (row[0][0],))
    return int(row[0][0])


def stored_costs(warehouse: Warehouse, cost_ids: list[int]) -> int:
    """How many of these cost events fct_costs holds."""
    return warehouse.query(
        "select count(*) from analytics.fct_costs where cost_id = any(%s)", (cost_ids,)
    )[0][0]


def simulate_day(day: Day, plan: DayPlan = FULL_DAY) -> dict[str, Any]:
    """generate at T0; morning; plan.hours x (append an hour, hourly) with late rows, a withdrawn
    cost event and a replay of yesterday's morning; eod; a regenerate with dirty rows and a build.
    Returns what the checks need to know about the planted changes."""
    planted: dict[str, Any] = {"late_cost_ids": {}, "late_stored": {}, "plan": plan}
    day.generate("--scale", str(SCALE), "--days", str(DAYS), "--as-of", T0.isoformat())
    day.run("morning", "morning", as_of=T0)
    for index in range(1, plan.hours + 1):
        before = day.warehouse.query("select coalesce(max(cost_id), 0) from raw.costs")[0][0]
        late = plan.late_rows.get(index, 0)
        appended = day.generate("--append-hours", "1", "--late-rows", str(late), "--json")
        if late:
            late_rows = json.loads(appended.stdout)["injected_details"]["late_rows"]
            planted["late_cost_ids"][index] = late_rows["cost_ids"]
            stamped = [datetime.fromisoformat(moment) for moment in late_rows["incurred_at"]]
            assert all(moment < hour(index - 1) for moment in stamped)  # late: before the run
        if index == plan.withdrawn_hour:
            withdrawn = withdraw_cost_event(day.warehouse, hour(index), before)
            planted["withdrawn_stored_before"] = stored_costs(day.warehouse, [withdrawn])
        day.run(f"hourly {index}", "hourly", as_of=hour(index))
        if late:
            planted["late_stored"][index] = stored_costs(
                day.warehouse, planted["late_cost_ids"][index]
            )
        if index == plan.withdrawn_hour:
            planted["withdrawn_stored_after"] = stored_costs(day.warehouse, [withdrawn])
        if index == plan.replay_after:
            day.run("morning replay", "morning", as_of=T0 - timedelta(days=1))
    day.run("eod", "eod", as_of=hour(plan.hours))
    mails = [mail.message for mail in day.notify.smtp.messages]
    alert_mails = [mail for mail in mails if mail["X-Ytempire-Dedup-Key"]]
    planted["clean_deliveries"] = len(day.notify.http.received("")) + len(alert_mails)
    # the one other mail: the end of day's summary report (eod step 6), not a page
    planted["clean_report_mails"] = [mail["Subject"] for mail in mails if mail not in alert_mails]
    planted["clean_alert_rows"] = day.warehouse.query("select count(*) from ops.alerts_log")[0][0]
    end = hour(plan.hours)
    day.generate(
        "--scale", str(SCALE), "--days", str(DAYS), "--as-of", end.isoformat(),
        "--inject", "dirty_rows",
    )  # fmt: skip
    day.run("build after regenerate", "build", as_of=end)
    return planted


class DayChecks:
    """The assertions on a simulated day; a test module subclasses it as Test... with a
    module-scoped fixture `day` returning (Day, planted)."""

    def test_every_clean_step_exits_0_without_alert(self, day) -> None:
        simulated, planted = day
        clean = simulated.dbt_steps()[:-1]
        assert len(clean) == planted["plan"].hours + 3  # morning, the hourly runs, replay, eod
        for step in clean:
            assert step.exit_code == 0, (step.name, step.stderr[-2000:], step.alerts)
            assert step.alerts == [] and step.events == [], (step.name, step.alerts)
        # nothing was stored, sent to Slack / PagerDuty or mailed before the dirty regenerate
        assert planted["clean_alert_rows"] == 0
        assert planted["clean_deliveries"] == 0
        eod_day = hour(planted["plan"].hours).date().isoformat()
        assert planted["clean_report_mails"] == [f"YTEMPIRE daily summary {eod_day}"]

    def test_every_step_equals_the_oracle(self, day) -> None:
        simulated, _ = day
        for step in simulated.dbt_steps():
            assert len(step.built) >= 10, (step.name, step.built)
            problems = {model: rows[:5] for model, rows in step.mismatches.items() if rows}
            assert problems == {}, step.name

    def test_hourly_runs_test_only_what_they_built(self, day) -> None:
        simulated, _ = day
        for step in simulated.dbt_steps():
            if not step.name.startswith("hourly"):
                continue
            built = {
                result["unique_id"]
                for result in step.run_results["results"]
                if result["unique_id"].startswith("model.")
            }
            tested = [
                result["unique_id"]
                for result in step.run_results["results"]
                if result["unique_id"].startswith(("test.", "unit_test."))
            ]
            assert tested, step.name
            # rebuilt from the whole history and read by nothing the hour reports: not hourly
            assert not built & {"model.ytempire.dim_date", "model.ytempire.dq_quarantined_rows"}
            for unique_id in tested:
                parents = [
                    parent
                    for parent in step.manifest_parents.get(unique_id, [])
                    if parent.startswith("model.")
                ]
                assert set(parents) <= built, (step.name, unique_id, set(parents) - built)
            assert not any("assert_monthly" in unique_id for unique_id in tested), step.name
            assert not any(unique_id.startswith("unit_test.") for unique_id in tested), step.name
        morning = next(step for step in simulated.dbt_steps() if step.name == "morning")
        assert any(r["resource_type"] == "unit_test" for r in morning.document["results"])

    def test_late_rows_inside_the_lookback_reach_fct_costs(self, day) -> None:
        _, planted = day
        landed = {index: len(ids) for index, ids in planted["late_cost_ids"].items()}
        late_rows = planted["plan"].late_rows
        assert landed == late_rows  # each late append landed its rows stamped before the run
        assert planted["late_stored"] == late_rows  # and the next hourly run stored them all

    def test_a_withdrawn_cost_event_leaves_fct_costs(self, day) -> None:
        simulated, planted = day
        assert planted["withdrawn_stored_before"] == 1
        assert planted["withdrawn_stored_after"] == 0
        withdrawn_hour = planted["plan"].withdrawn_hour
        step = next(s for s in simulated.steps if s.name == f"hourly {withdrawn_hour}")
        assert "fct_costs" in step.built and step.mismatches["fct_costs"] == []

    def test_no_view_keeps_a_pinned_instant(self, day) -> None:
        simulated, _ = day
        definitions = simulated.warehouse.query(
            "select schemaname || '.' || viewname, definition from pg_views"
            " where schemaname in ('staging', 'analytics', 'diagnostics')"
        )
        assert len(definitions) >= 15
        kept = [name for name, definition in definitions if "2026-11-1" in definition]
        assert kept == []

    def test_regenerate_full_refreshes_and_says_so(self, day) -> None:
        simulated, _ = day
        final = simulated.dbt_steps()[-1]
        said = [line for line in final.stderr.splitlines() if "--full-refresh" in line]
        assert len(said) == 1 and "replaced by `ytempire generate`" in said[0]
        assert final.exit_code == 1  # dirty rows warn (DATA_QUALITY), nothing fails
        assert {alert["alert_type"] for alert in final.alerts} == {"DATA_QUALITY"}
        assert {alert["severity"] for alert in final.alerts} == {"WARNING"}
        assert set(final.built) == set(marts_oracle.MARTS)


# --- a cost spike in hour 5 -----------------------------------------------------------------

SPIKE_HOUR = 5
SPIKE_HOURS = 7
COST_CONDITION = "ytempire:cost_overruns:COST_PER_VIDEO"


def over_budget_in_window(day: Day, as_of: datetime) -> bool:
    """The oracle's answer: is an hour of the alert window over the critical cost per video?"""
    with connect(day.warehouse.conn, as_of=as_of.isoformat()) as db:

        def query_dicts(statement: str) -> list[dict[str, Any]]:
            with db.cursor(row_factory=psycopg.rows.dict_row) as cursor:
                return cursor.execute(statement).fetchall()

        raw = marts_oracle.load_raw(query_dicts, as_of)
    hours = marts_oracle.expected_marts(raw, ["cost_rollup_hourly"])["cost_rollup_hourly"]
    return any(
        row["is_in_alert_window"] and row["cost_status"] == "OVER_BUDGET" for row in hours.values()
    )


def simulate_spike_day(day: Day) -> dict[str, Any]:
    """generate at T0; morning; 7 x (append an hour, hourly) with a cost spike planted in hour 5;
    then a replacing generate with the spike, a build, a clean generate and a build."""
    day.generate("--scale", str(SCALE), "--days", str(DAYS), "--as-of", T0.isoformat())
    day.run("morning", "morning", as_of=T0)
    condition: dict[str, bool] = {}
    for index in range(1, SPIKE_HOURS + 1):
        inject = ["--inject", "cost_spike"] if index == SPIKE_HOUR else []
        day.generate("--append-hours", "1", *inject)
        day.run(f"hourly {index}", "hourly", as_of=hour(index))
        condition[f"hourly {index}"] = over_budget_in_window(day, hour(index))
    later = hour(SPIKE_HOURS + 1)
    day.generate("--scale", str(SCALE), "--days", str(DAYS), "--as-of", later.isoformat(),
                 "--inject", "cost_spike")  # fmt: skip
    day.run("build with a spike", "build", as_of=later)
    day.generate("--scale", str(SCALE), "--days", str(DAYS), "--as-of", later.isoformat())
    day.run("build after a clean generate", "build", as_of=later)
    return {"condition": condition}
