"""`ops.alerts_log` and `ops.run_log` on a real database: open, cooldown, level rise, resolve,
the SLA clock, ack/resolve by id, and the `ytempire alerts` commands."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from orchestrator import (
    alert_lifecycle,
    alerts_store,
    escalation,
    escalation_matrix,
    notify,
    outbox,
    project_vars,
    run_log,
)
from orchestrator.alert import Channel, Event, Member, Severity
from orchestrator.alert_state import apply_changes
from orchestrator.cli import main
from orchestrator.connection import connect

PROJECT_DIR = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
COOLDOWN = project_vars.load(PROJECT_DIR).alert_cooldown_minutes
SETTINGS_ENV = {
    "YTEMPIRE_SLACK_WARNING_WEBHOOK_URL": "http://127.0.0.1:9/services/T/BW/warningtoken",
    "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL": "http://127.0.0.1:9/services/T/BC/criticaltoken",
    "YTEMPIRE_PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
}


@pytest.fixture(scope="module")
def matrix() -> escalation_matrix.Matrix:
    return escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")


@pytest.fixture
def db(warehouse):
    with connect(warehouse.conn) as connection:
        alerts_store.ensure_schema(connection)
        alerts_store.ensure_schema(connection)  # idempotent
        yield connection


def _alert(matrix, key="ytempire:test.ytempire.t", severity=Severity.WARNING, category="quota"):
    placement = escalation.Placement(
        dedup_key=key,
        alert_type="API_QUOTA",
        category=category,
        severity=severity,
        level=escalation.level_for(severity),
        message=f"{key} is off",
        figure="7,600 units",
        node_owner="analytics_engineer",
        node_id=key.removeprefix("ytempire:"),
    )
    return escalation.place(matrix, placement)


def _reconcile(db, alerts, now, evaluated=None):
    with db.transaction():
        return alert_lifecycle.reconcile(
            db,
            alerts,
            evaluated_keys=evaluated if evaluated is not None else [a.dedup_key for a in alerts],
            now=now,
            cooldown_minutes=COOLDOWN,
        )


def _events(changes):
    return [(c.event, c.alert.level, c.alert.event_seq) for c in changes]


def test_new_then_cooldown_then_reminder(db, matrix):
    alert = _alert(matrix)
    first = _reconcile(db, [alert], T0)
    assert _events(first) == [(Event.TRIGGER, 1, 1)]
    assert first[0].alert.alert_id is not None
    inside = _reconcile(db, [alert], T0 + timedelta(minutes=COOLDOWN - 1))
    assert inside == []
    after = _reconcile(db, [alert], T0 + timedelta(minutes=COOLDOWN))
    assert _events(after) == [(Event.REMIND, 1, 2)]
    rows = db.execute("select count(*), max(occurrences) from ops.alerts_log").fetchone()
    assert rows == (1, 3)  # one row per condition, seen three times


def test_level_rise_triggers_at_once(db, matrix):
    _reconcile(db, [_alert(matrix)], T0)
    risen = _reconcile(db, [_alert(matrix, severity=Severity.CRITICAL)], T0 + timedelta(minutes=1))
    assert _events(risen) == [(Event.TRIGGER, 2, 2)]
    assert risen[0].alert.previous_level == 1  # the trigger says it is an escalation
    assert risen[0].alert.owner == matrix.level("quota", 2).owner
    assert risen[0].alert.severity is Severity.CRITICAL
    # the same condition seen again at a lower level does not lower the alert
    lower = _reconcile(db, [_alert(matrix)], T0 + timedelta(minutes=2))
    assert lower == []
    assert db.execute("select level from ops.alerts_log").fetchone()[0] == 2


def test_cleared_condition_resolves_only_when_evaluated(db, matrix):
    one, two = _alert(matrix, "ytempire:a"), _alert(matrix, "ytempire:b")
    _reconcile(db, [one, two], T0)
    # this run checked only "a" (e.g. a narrower selection): "b" stays open
    changes = _reconcile(db, [], T0 + timedelta(minutes=5), evaluated=["ytempire:a"])
    assert [(c.event, c.alert.dedup_key) for c in changes] == [(Event.RESOLVE, "ytempire:a")]
    statuses = dict(db.execute("select dedup_key, status from ops.alerts_log").fetchall())
    assert statuses == {"ytempire:a": "resolved", "ytempire:b": "open"}
    # the condition coming back is a new alert (new id), not the resolved one
    again = _reconcile(db, [one], T0 + timedelta(minutes=6))
    assert again[0].event is Event.TRIGGER and again[0].alert.alert_id != changes[0].alert.alert_id


def test_one_open_row_per_condition_is_enforced(db, matrix):
    _reconcile(db, [_alert(matrix)], T0)
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(
            "insert into ops.alerts_log (dedup_key, alert_type, escalation, severity, level, "
            "owner, action, sla_minutes, message, opened_at, level_since, last_seen_at) "
            "select dedup_key, alert_type, escalation, severity, level, owner, action, "
            "sla_minutes, message, opened_at, level_since, last_seen_at from ops.alerts_log"
        )


def test_sla_clock_escalates_1_then_2_then_3(db, matrix):
    alert = _alert(matrix, category="data_issues")
    _reconcile(db, [alert], T0)
    sla = [matrix.level("data_issues", n).sla_minutes for n in (1, 2, 3)]

    def tick(minutes):
        with db.transaction():
            return alert_lifecycle.escalate_overdue(db, matrix, now=T0 + timedelta(minutes=minutes))

    assert tick(sla[0] - 1) == []
    second = tick(sla[0])
    assert [(c.event, c.alert.level, c.alert.owner) for c in second] == [
        (Event.TRIGGER, 2, matrix.level("data_issues", 2).owner)
    ]
    assert second[0].alert.severity is Severity.CRITICAL
    assert tick(sla[0] + sla[1] - 1) == []
    third = tick(sla[0] + sla[1])
    assert [(c.alert.level, c.alert.owner, c.alert.action) for c in third] == [
        (3, matrix.level("data_issues", 3).owner, matrix.level("data_issues", 3).action)
    ]
    assert tick(sla[0] + sla[1] + sla[2] + 600) == []  # level 3 is the top
    seqs = [c.alert.event_seq for c in second + third]
    assert seqs == [2, 3]
    assert [c.alert.previous_level for c in second + third] == [1, 2]
    stored = alerts_store.get_alert(db, third[0].alert.alert_id)
    assert (stored.alert.previous_level, stored.alert.condition) == (
        2,
        matrix.level("data_issues", 3).condition,
    )
    assert stored.alert.owner_contact == matrix.contacts[stored.alert.owner]


def test_acknowledged_alert_neither_escalates_nor_reminds(db, matrix):
    created = _reconcile(db, [_alert(matrix)], T0)[0].alert
    alert_lifecycle.acknowledge(db, created.alert_id, by="tester", now=T0 + timedelta(minutes=1))
    with db.transaction():
        assert alert_lifecycle.escalate_overdue(db, matrix, now=T0 + timedelta(days=1)) == []
    assert _reconcile(db, [_alert(matrix)], T0 + timedelta(days=1)) == []
    # a higher level re-opens it
    risen = _reconcile(db, [_alert(matrix, severity=Severity.CRITICAL)], T0 + timedelta(days=1))
    assert risen[0].event is Event.TRIGGER and risen[0].alert.status == "open"


def test_ack_and_resolve_by_id(db, matrix):
    created = _reconcile(db, [_alert(matrix)], T0)[0].alert
    with pytest.raises(alerts_store.AlertNotFound, match="No alert with id 999999"):
        alert_lifecycle.acknowledge(db, 999999, by="x", now=T0)
    alert_lifecycle.record_channels(db, created.alert_id, ["slack_warning"])
    change = alert_lifecycle.resolve(db, created.alert_id, by="tester", now=T0)
    assert change.event is Event.RESOLVE
    assert change.alert.notified_channels == (Channel.SLACK_WARNING,)
    with pytest.raises(alerts_store.AlertNotFound, match="already resolved"):
        alert_lifecycle.resolve(db, created.alert_id, by="tester", now=T0)


def test_events_reach_the_outbox_once_and_resolve_follows_the_trigger(db, matrix):
    outbox.ensure_schema(db)
    settings = notify.NotifySettings.from_env(SETTINGS_ENV)
    changes = _reconcile(db, [_alert(matrix, severity=Severity.CRITICAL)], T0)
    with db.transaction():
        notes, skipped = apply_changes(db, changes, settings)
    assert sorted(str(n.channel) for n in notes) == ["pagerduty", "slack_critical"]
    assert skipped == [
        "email: skipped, YTEMPIRE_SMTP_URL and YTEMPIRE_EMAIL_FROM and "
        "YTEMPIRE_ONCALL_EMAIL not set"
    ]
    with db.transaction():  # the same event again is not a second delivery
        apply_changes(db, changes, settings)
    assert db.execute("select count(*) from ops.notification_outbox").fetchone()[0] == 2
    resolved = _reconcile(db, [], T0 + timedelta(minutes=1), evaluated=["ytempire:test.ytempire.t"])
    with db.transaction():
        notes, _ = apply_changes(db, resolved, settings)
    assert sorted((str(n.event), str(n.channel)) for n in notes) == [
        ("resolve", "pagerduty"),
        ("resolve", "slack_critical"),
    ]
    stored = db.execute("select payload::text from ops.notification_outbox").fetchall()
    for (payload,) in stored:
        for secret in SETTINGS_ENV.values():
            assert secret not in payload


def test_details_are_stored_in_the_extra_column(db, matrix):
    alert = replace(
        _alert(matrix),
        dbt_status="warn",
        failures=2,
        members=(Member(node_id="test.ytempire.t", node_name="t", status="warn", level=1),),
    )
    created = _reconcile(db, [alert], T0)[0].alert
    extra = db.execute(
        "select extra from ops.alerts_log where alert_id = %s", (created.alert_id,)
    ).fetchone()[0]
    assert extra == alert.details()
    assert "event_seq" not in extra and "notified_channels" not in extra
    assert created == replace(alert, alert_id=created.alert_id, event_seq=1, notified_channels=())


def test_rows_stored_by_an_older_version_still_load(db):
    """An `extra` document with keys this version does not know, and without some it does."""
    old_details = {"node_owner": "analytics_engineer", "event_seq": 4, "retired": [1, 2]}
    row = db.execute(
        "insert into ops.alerts_log (dedup_key, alert_type, escalation, severity, level, owner, "
        "action, sla_minutes, message, extra, opened_at, level_since, last_seen_at) "
        "values ('ytempire:old', 'API_QUOTA', 'quota', 'WARNING', 1, 'analytics_engineer', "
        "'look', 60, 'an old row', %s, %s, %s, %s) returning alert_id",
        (Jsonb(old_details), T0, T0, T0),
    ).fetchone()
    stored = alerts_store.get_alert(db, row[0])
    assert stored.alert.node_owner == "analytics_engineer"
    assert stored.alert.event_seq == 0  # the column's, not the stale key
    assert (stored.alert.members, stored.alert.condition, stored.alert.owner_contact) == (
        (),
        None,
        None,
    )


def test_run_log_rows(db):
    run_id = run_log.start_run(db, "build", ["build", "-s", "x"], 4242, T0)
    summary = run_log.RunSummary(
        status="finished",
        exit_code=1,
        dbt_invocation_id="abc",
        counts={"pass": 5, "warn": 1},
        alerts_raised=1,
    )
    run_log.finish_run(db, run_id, summary, T0 + timedelta(seconds=30))
    row = db.execute(
        "select command, arguments, pid, exit_code, dbt_invocation_id, results_total, passed, "
        "warned, alerts_raised, finished_at - started_at from ops.run_log where run_id = %s",
        (run_id,),
    ).fetchone()
    assert row == ("build", ["build", "-s", "x"], 4242, 1, "abc", 6, 5, 1, 1, timedelta(seconds=30))


# --- the `ytempire alerts` commands ----------------------------------------------------------


@pytest.fixture
def cli_env(warehouse, monkeypatch, tmp_path):
    for name, value in warehouse.conn.env().items():
        monkeypatch.setenv(name, value)
    for name in (
        "YTEMPIRE_SLACK_WARNING_WEBHOOK_URL",
        "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL",
        "YTEMPIRE_PAGERDUTY_ROUTING_KEY",
        "YTEMPIRE_SMTP_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("YTEMPIRE_UNDELIVERED_FILE", str(tmp_path / "undelivered.jsonl"))
    return warehouse


def test_alerts_commands(cli_env, db, matrix):
    created = _reconcile(db, [_alert(matrix, category="data_issues")], T0)[0].alert
    cli = CliRunner()
    listed = cli.invoke(main, ["alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert [a["alert_id"] for a in document["alerts"]] == [created.alert_id]
    assert document["alerts"][0]["level"] == 1
    extra = document["alerts"][0]["extra"]
    assert (extra["event_seq"], extra["notified_channels"]) == (1, [])
    assert (extra["node_owner"], extra["condition"]) == (
        "analytics_engineer",
        matrix.level("data_issues", 1).condition,
    )
    table = cli.invoke(main, ["alerts", "list"])
    assert "data_issues" in table.stdout and str(created.alert_id) in table.stdout

    sla = matrix.level("data_issues", 1).sla_minutes
    late = (T0 + timedelta(minutes=sla)).isoformat()
    escalated = cli.invoke(main, ["alerts", "escalate", "--json", "--now", late])
    assert escalated.exit_code == 0, escalated.output
    body = json.loads(escalated.stdout)
    assert [(a["alert_id"], a["level"], a["owner"]) for a in body["escalated"]] == [
        (created.alert_id, 2, matrix.level("data_issues", 2).owner)
    ]
    assert "pagerduty: skipped, YTEMPIRE_PAGERDUTY_ROUTING_KEY not set" in escalated.stderr

    acked = cli.invoke(main, ["alerts", "ack", str(created.alert_id), "--by", "tester"])
    assert acked.exit_code == 0 and "acknowledged" in acked.stdout
    resolved = cli.invoke(main, ["alerts", "resolve", str(created.alert_id)])
    assert resolved.exit_code == 0 and "resolved" in resolved.stdout
    missing = cli.invoke(main, ["alerts", "ack", "424242"])
    assert missing.exit_code == 3
    assert missing.stderr.strip() == (
        "ytempire: No alert with id 424242: see `ytempire alerts list --all`."
    )
    assert "Traceback" not in missing.output
