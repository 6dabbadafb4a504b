"""`ytempire build` end to end: real dbt, real PostgreSQL, real HTTP and SMTP servers.

One scenario per server, in order (each step builds on the state the previous one left):
injected anomalies alert (Slack failing twice with 500 first, PagerDuty down for the whole run),
a second run inside the cooldown sends nothing new and delivers what was pending, the SLA clock
escalates, an unreachable database gives exit 3 and a level-3 outage alert, clearing the
anomalies resolves everything (PagerDuty `resolve` with the same dedup_key), two concurrent runs
(one runs, one exits at once), and no secret in anything captured. Expected figures are computed
here from the raw rows.
"""

from __future__ import annotations

import json
import os
import re
import secrets as token_source
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from notify_servers import (
    EMAIL_FROM,
    ONCALL_EMAIL,
    PAGERDUTY_PATH,
    SLACK_CRITICAL_PREFIX,
    SLACK_WARNING_PREFIX,
    RecordingHTTPServer,
    RecordingSMTPServer,
    free_port,
)

from orchestrator import conditions, escalation, escalation_matrix, lock
from orchestrator.alert import Severity
from orchestrator.cli import main
from orchestrator.generate import generate
from orchestrator.report import exit_code_for

PROJECT_DIR = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
SCALE, DAYS = 0.02, 7
# every threshold test of the playbook marts, and what they need upstream (a narrow run: the
# wrapper adds --indirect-selection cautious)
SELECTION = ["-s", "+tag:threshold", "--exclude", "resource_type:unit_test"]
INJECTED = {  # injection -> (alert_type, escalation category): each must raise exactly one alert
    "stale_video_stats": ("DATA_FRESHNESS", "data_issues"),
    "quota_overuse": ("API_QUOTA", "quota"),
    "slow_dashboard": ("DASHBOARD_PERFORMANCE", "performance_issues"),
    "failed_job": ("JOB_FAILURE", "data_issues"),
    "cost_spike": ("COST_PER_VIDEO", "cost_overruns"),
}
CRITICAL_CHANNELS = {"pagerduty", "slack_critical", "email"}
DEDUP_IN_SLACK = re.compile(r"dedup key `([^`]+)`")


@dataclass
class Scenario:
    warehouse: Any
    env: dict[str, str]
    slack: RecordingHTTPServer
    pagerduty: RecordingHTTPServer
    smtp: RecordingSMTPServer
    secrets: list[str]
    matrix: escalation_matrix.Matrix
    captured: list[str] = field(default_factory=list)
    triggered: dict[str, dict] = field(default_factory=dict)  # dedup_key -> alert (step 1)

    def build(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
        result = CliRunner().invoke(
            main,
            ["build", "--as-of", AS_OF.isoformat(), "--json", *args],
            env={**self.env, **(env or {})},
        )
        self.captured += [result.stdout, result.stderr]
        assert "Traceback" not in result.output, result.output
        document = json.loads(result.stdout) if result.stdout.strip() else {}
        return result.exit_code, document, result.stderr

    def query(self, statement: str, params: Any = None) -> list[tuple]:
        return self.warehouse.query(statement, params)

    def pagerduty_events(self) -> list[dict]:
        return [r.json for r in self.pagerduty.acknowledged(PAGERDUTY_PATH)]

    def slack_critical(self) -> list[dict]:
        return [r.json for r in self.slack.acknowledged(SLACK_CRITICAL_PREFIX)]

    def slack_warning(self) -> list[dict]:
        return [r.json for r in self.slack.acknowledged(SLACK_WARNING_PREFIX)]


@pytest.fixture(scope="module")
def scenario(new_warehouse, tmp_path_factory):
    warehouse = new_warehouse("build")
    slack, pagerduty = RecordingHTTPServer().start(), RecordingHTTPServer().start()
    smtp = RecordingSMTPServer(user="ytempire", password=token_source.token_urlsafe(12)).start()
    state = tmp_path_factory.mktemp("build_state")
    tokens = [token_source.token_hex(12), token_source.token_hex(12)]
    routing_key = token_source.token_hex(16)
    env = {
        **warehouse.conn.env(),
        "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
        "YTEMPIRE_SLACK_WARNING_WEBHOOK_URL": slack.url(SLACK_WARNING_PREFIX + tokens[0]),
        "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL": slack.url(SLACK_CRITICAL_PREFIX + tokens[1]),
        "YTEMPIRE_PAGERDUTY_ROUTING_KEY": routing_key,
        "YTEMPIRE_PAGERDUTY_URL": pagerduty.url(PAGERDUTY_PATH),
        "YTEMPIRE_SMTP_URL": smtp.url(),
        "YTEMPIRE_EMAIL_FROM": EMAIL_FROM,
        "YTEMPIRE_ONCALL_EMAIL": ONCALL_EMAIL,
        "YTEMPIRE_NOTIFY_TIMEOUT_S": "1",
        "YTEMPIRE_NOTIFY_MAX_ATTEMPTS": "3",
        "YTEMPIRE_NOTIFY_BACKOFF_S": "0.05",
        "YTEMPIRE_NOTIFY_MAX_WAIT_S": "1",
        "YTEMPIRE_UNDELIVERED_FILE": str(state / "undelivered.jsonl"),
        "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
        "YTEMPIRE_DOCS_URL": "http://docs.ytempire.test",
    }
    secrets = [
        *tokens,
        routing_key,
        str(smtp.password),
        env["YTEMPIRE_SMTP_URL"],
        env["YTEMPIRE_SLACK_WARNING_WEBHOOK_URL"],
        env["YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL"],
    ]
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    yield Scenario(warehouse, env, slack, pagerduty, smtp, secrets, matrix)
    slack.down()
    pagerduty.down()
    smtp.stop()


def _expected_figures(scenario: Scenario) -> dict[str, str]:
    """The figures each alert must quote, computed from the raw rows."""
    day_start = AS_OF.replace(hour=0, minute=0)
    latest = scenario.query(
        "select max(collected_at) from raw.video_stats where collected_at <= %s", (AS_OF,)
    )[0][0]
    units = scenario.query(
        "select sum(quota_units) from raw.api_usage where called_at >= %s and called_at <= %s",
        (day_start, AS_OF),
    )[0][0]
    durations = [
        row[0]
        for row in scenario.query(
            "select duration_ms from raw.query_log where dashboard_name = 'revenue_overview' "
            "and executed_at >= %s and executed_at <= %s",
            (day_start, AS_OF),
        )
    ]
    hour = AS_OF.replace(minute=0)
    per_video = scenario.query(
        "select sum(amount_cents)::numeric / count(distinct video_id) from raw.costs "
        "where incurred_at >= %s and incurred_at <= %s group by date_trunc('hour', incurred_at)",
        (hour - timedelta(hours=1), AS_OF),
    )
    return {
        "COST_PER_VIDEO": f"${max(row[0] for row in per_video) / 100:,.2f} per video",
        "DATA_FRESHNESS": f"{(AS_OF - latest).total_seconds() / 60:.0f} minutes stale",
        "API_QUOTA": f"{units:,} units",
        "DASHBOARD_PERFORMANCE": f"{sum(durations) / len(durations):,.0f} ms",
    }


def test_1_each_injection_raises_one_alert_on_the_right_channels(scenario):
    generate(scenario.warehouse.conn, scale=SCALE, days=DAYS, as_of=AS_OF, inject=list(INJECTED))
    scenario.slack.fail_next(2, status=500)  # Slack answers 500 twice, then recovers
    scenario.pagerduty.down()  # PagerDuty is down for the whole run
    code, report, stderr = scenario.build(*SELECTION)
    assert code == 2, stderr

    alerts = report["alerts"]
    by_type = {}
    for alert in alerts:
        by_type.setdefault(alert["alert_type"], []).append(alert)
    expected_types = {alert_type for alert_type, _ in INJECTED.values()}
    assert set(by_type) == expected_types, [(a["alert_type"], a["message"]) for a in alerts]
    assert all(len(found) == 1 for found in by_type.values()), by_type
    figures = _expected_figures(scenario)
    for alert_type, category in INJECTED.values():
        alert = by_type[alert_type][0]
        level = scenario.matrix.level(category, 2)
        assert (alert["escalation"], alert["severity"], alert["level"]) == (category, "CRITICAL", 2)
        assert (alert["owner"], alert["action"], alert["sla_minutes"]) == (
            level.owner,
            level.action,
            level.sla_minutes,
        )
        assert alert["event"] == "trigger"
        if alert_type in figures:
            assert alert["figure"] == figures[alert_type], alert
        scenario.triggered[alert["dedup_key"]] = alert

    keys = set(scenario.triggered)
    planned = {(n["dedup_key"], n["channel"]) for n in report["notifications"]}
    assert planned == {(key, channel) for key in keys for channel in CRITICAL_CHANNELS}
    # Slack: 500, 500, then exactly one acknowledged delivery per alert
    slack_ok = scenario.slack_critical()
    assert sorted(_slack_key(body) for body in slack_ok) == sorted(keys)
    assert len([r for r in scenario.slack.requests if r.status == 500]) == 2
    assert scenario.slack_warning() == []
    assert len(scenario.smtp.messages) == len(keys)
    contacts = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml").contacts
    for mail in scenario.smtp.messages:
        # the on-call address, then the alert owner's (routing by contact), then who is on call
        owner = scenario.triggered[mail.message["X-Ytempire-Dedup-Key"]]["owner"]
        assert mail.message["To"].split(", ")[:2] == [ONCALL_EMAIL, contacts[owner].email]
    # PagerDuty down: nothing lost, every trigger left pending for the next run
    assert report["delivery"]["pending"] == len(keys)
    pending = scenario.query(
        "select dedup_key, event from ops.notification_outbox where status = 'pending'"
    )
    assert sorted(pending) == sorted((key, "trigger") for key in keys)
    run = scenario.query(
        "select exit_code, dbt_invocation_id, status from ops.run_log order by run_id desc limit 1"
    )
    assert run == [(2, report["dbt_invocation_id"], "finished")]
    assert (
        report["dbt_invocation_id"]
        == scenario.warehouse.artifact("run_results.json")["metadata"]["invocation_id"]
    )


def _slack_key(body: dict) -> str:
    """The dedup key a Slack message is about (its context line quotes it)."""
    found = DEDUP_IN_SLACK.findall(json.dumps(body))
    assert len(found) == 1, body
    return found[0]


def test_2_second_run_inside_cooldown_sends_nothing_new_and_delivers_pending(scenario):
    assert scenario.triggered, "step 1 did not run"
    scenario.pagerduty.up()
    before_slack, before_mail = len(scenario.slack_critical()), len(scenario.smtp.messages)
    code, report, stderr = scenario.build(*SELECTION)
    assert code == 2, stderr
    assert report["notifications"] == []
    assert {a["dedup_key"] for a in report["alerts"]} == set(scenario.triggered)
    assert len(scenario.slack_critical()) == before_slack
    assert len(scenario.smtp.messages) == before_mail
    events = scenario.pagerduty_events()
    assert sorted((e["dedup_key"], e["event_action"]) for e in events) == sorted(
        (key, "trigger") for key in scenario.triggered
    )
    assert {e["payload"]["severity"] for e in events} == {"critical"}
    assert scenario.query(
        "select count(*) from ops.notification_outbox where status <> 'sent'"
    ) == [(0,)]


def test_3_sla_clock_escalates_past_due_alerts(scenario):
    assert scenario.triggered, "step 1 did not run"
    shortest = min(a["sla_minutes"] for a in scenario.triggered.values())
    longest = max(a["sla_minutes"] for a in scenario.triggered.values())
    later = datetime.now(UTC) + timedelta(minutes=shortest, seconds=30)
    result = CliRunner().invoke(
        main, ["alerts", "escalate", "--json", "--now", later.isoformat()], env=scenario.env
    )
    scenario.captured += [result.stdout, result.stderr]
    assert result.exit_code == 0, result.output
    escalated = json.loads(result.stdout)["escalated"]
    due = {k for k, a in scenario.triggered.items() if a["sla_minutes"] <= shortest}
    assert {a["dedup_key"] for a in escalated} == due
    for alert in escalated:
        level_3 = scenario.matrix.level(alert["escalation"], 3)
        assert (alert["level"], alert["owner"], alert["sla_minutes"]) == (
            3,
            level_3.owner,
            level_3.sla_minutes,
        )
    pd_level_3 = [
        e
        for e in scenario.pagerduty_events()
        if e["dedup_key"] in due and e["event_action"] == "trigger"
    ]
    assert len(pd_level_3) == 2 * len(due)  # the level-2 trigger, then the level-3 one
    if longest > shortest:  # alerts with a longer SLA are not due yet
        assert len(escalated) < len(scenario.triggered)


def test_4_unreachable_database_is_exit_3_and_a_level_3_outage(scenario):
    closed = {"PGHOST": "127.0.0.1", "PGPORT": str(free_port()), "PGDATABASE": "nowhere"}
    scenario.pagerduty.up()  # (also when this step runs alone)
    before = len(scenario.pagerduty_events())
    requests_before, mails_before = len(scenario.slack.requests), len(scenario.smtp.messages)
    # --dry-run shows what would be sent and sends nothing
    code, report, _ = scenario.build("--dry-run", *SELECTION, env=closed)
    assert code == 3 and report["dry_run"]
    assert {n["channel"] for n in report["notifications"]} == CRITICAL_CHANNELS
    assert len(scenario.pagerduty_events()) == before
    assert (len(scenario.slack.requests), len(scenario.smtp.messages)) == (
        requests_before,
        mails_before,
    )
    assert not Path(scenario.env["YTEMPIRE_OUTAGE_FILE"]).exists()
    started = time.monotonic()
    code, report, stderr = scenario.build(*SELECTION, env=closed)
    assert code == 3
    assert time.monotonic() - started < 30
    assert stderr.strip().splitlines()[-1].startswith("ytempire: Cannot reach PostgreSQL at")
    [alert] = report["alerts"]
    outage = scenario.matrix.level("data_issues", 3)
    assert (alert["dedup_key"], alert["level"], alert["owner"], alert["severity"]) == (
        conditions.KEY_DATABASE_UNREACHABLE,
        3,
        outage.owner,
        "CRITICAL",
    )
    assert "Complete data outage" in alert["message"]
    new = scenario.pagerduty_events()[before:]
    assert [(e["dedup_key"], e["event_action"]) for e in new] == [
        (conditions.KEY_DATABASE_UNREACHABLE, "trigger")
    ]
    assert _slack_key(scenario.slack_critical()[-1]) == conditions.KEY_DATABASE_UNREACHABLE
    # a second run during the outage, inside the cooldown, pages nobody again
    code, _, _ = scenario.build(*SELECTION, env=closed)
    assert code == 3
    assert len(scenario.pagerduty_events()) == before + 1


def test_5_clearing_the_anomalies_resolves_every_alert(scenario):
    assert scenario.triggered, "step 1 did not run"
    generate(scenario.warehouse.conn, scale=SCALE, days=DAYS, as_of=AS_OF)
    # the raw data was replaced: rebuild the incremental facts from it
    code, report, stderr = scenario.build(*SELECTION, "--full-refresh")
    assert code == 0, (stderr, report.get("alerts"))
    assert report["alerts"] == []
    resolved = {e["dedup_key"] for e in report["events"] if e["event"] == "resolve"}
    assert resolved == {*scenario.triggered, conditions.KEY_DATABASE_UNREACHABLE}
    assert scenario.query("select count(*) from ops.alerts_log where status <> 'resolved'") == [
        (0,)
    ]
    resolves = [e for e in scenario.pagerduty_events() if e["event_action"] == "resolve"]
    assert sorted(e["dedup_key"] for e in resolves) == sorted(resolved)
    assert scenario.slack_warning() == []


def test_6_no_secret_in_anything_captured(scenario):
    stored = scenario.query(
        "select coalesce(string_agg(payload::text || coalesce(last_error, ''), ' '), '') "
        "from ops.notification_outbox"
    )[0][0]
    logged = scenario.query(
        "select coalesce(string_agg(t::text, ' '), '') from ops.alerts_log as t"
    )[0][0]
    runs = scenario.query("select coalesce(string_agg(t::text, ' '), '') from ops.run_log as t")[0][
        0
    ]
    undelivered = Path(scenario.env["YTEMPIRE_UNDELIVERED_FILE"])
    texts = [*scenario.captured, stored, logged, runs]
    if undelivered.exists():
        texts.append(undelivered.read_text())
    assert len(scenario.captured) >= 10
    for text in texts:
        for secret in scenario.secrets:
            assert secret not in text


def _held(scenario: Scenario) -> bool:
    key = lock.lock_key(lock.DBT_LOCK) & 0xFFFFFFFFFFFFFFFF
    return bool(
        scenario.query(
            "select count(*) from pg_locks where locktype = 'advisory' and granted "
            "and database = (select oid from pg_database where datname = current_database()) "
            "and classid = %s and objid = %s",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        )[0][0]
    )


def test_7_two_concurrent_runs_one_runs_one_exits_at_once(scenario):
    if not scenario.query("select to_regclass('raw.users') is not null")[0][0]:
        generate(scenario.warehouse.conn, scale=SCALE, days=DAYS, as_of=AS_OF)  # run alone
    executable = str(Path(sys.executable).with_name("ytempire"))
    env = {**os.environ, **scenario.env}
    for name in (
        "YTEMPIRE_SLACK_WARNING_WEBHOOK_URL",
        "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL",
        "YTEMPIRE_PAGERDUTY_ROUTING_KEY",
        "YTEMPIRE_SMTP_URL",
    ):
        env.pop(name)
    command = [
        executable,
        "build",
        "--as-of",
        AS_OF.isoformat(),
        "--skip-freshness",
        "-s",
        "stg_raw__users",
    ]
    first = subprocess.Popen(
        command, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _held(scenario):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.1)
        started = time.monotonic()
        second = subprocess.run(
            command, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
        )
        took = time.monotonic() - started
        assert first.poll() is None, "the first run ended before the second could collide"
    finally:
        out, err = first.communicate(timeout=300)
    assert second.returncode == 3
    assert took < 10
    assert f"another `ytempire build` is running (pid {first.pid}, since" in second.stderr
    assert second.stdout == ""
    assert first.returncode == 0, (out, err)
    assert "alerts: none" in out


# --- the command surface (no dbt run needed) -------------------------------------------------


def test_help_documents_the_exit_codes():
    for args in (["build", "--help"], ["--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0
        text = " ".join(result.stdout.split())
        assert "0 all passed, 1 warnings only, 2 failures, 3 could not run" in text


@pytest.mark.parametrize(
    ("severities", "error", "expected"),
    [
        ((), None, 0),
        (("WARNING",), None, 1),
        (("WARNING", "CRITICAL"), None, 2),
        (("WARNING",), "dbt build could not run", 3),
    ],
)
def test_exit_code_from_the_alerts(severities, error, expected):
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    alerts = [
        escalation.place(
            matrix,
            escalation.Placement(
                dedup_key=f"k{i}",
                alert_type="T",
                category="quota",
                severity=Severity(s),
                level=1,
                message="m",
            ),
        )
        for i, s in enumerate(severities)
    ]
    assert exit_code_for(error, alerts) == expected


def test_bad_escalation_file_is_exit_3_in_one_line(tmp_path):
    broken = tmp_path / "escalation.yml"
    broken.write_text("categories: {}\ncontacts: {}\n")
    result = CliRunner().invoke(main, ["build"], env={"YTEMPIRE_ESCALATION_FILE": str(broken)})
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert str(broken) in result.stderr and "categories.data_issues" in result.stderr
