"""Routing by contact and on-call: the owner's Slack handle, email and PagerDuty key, and who is
on call at the run's clock in the business time zone.

End to end through the alert-state stage (`alert_state.reconcile` with a pinned `now`), the
outbox and delivery, to a recording HTTP server (Slack, PagerDuty) and SMTP server, with the
outbox in a real PostgreSQL database. Expectations are computed here from the YAML itself.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml
from conftest import Warehouse
from notify_servers import ONCALL_EMAIL, NotifyEnv

from orchestrator import (
    alert_state,
    alerts_store,
    conditions,
    escalation_matrix,
    notify,
    outbox,
    outbox_delivery,
    project_vars,
    run_log,
)
from orchestrator.alert import Channel, Event
from orchestrator.connection import connect
from orchestrator.context import RunContext, RunRequest, Settings
from orchestrator.errors import ConfigError
from orchestrator.notify.on_call import on_call_at

pytest_plugins = ["notify_fixtures"]

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((PROJECT_DIR / "config" / "escalation.yml").read_text())
OWNER_KEY_ENV = "YTEMPIRE_PD_DATA_ENG_ROUTING_KEY"
OWNER_KEY = "0123456789abcdef0123456789abcdef"
# ISO week 50 of 2026: an odd rotation index, so nights differ from the weekday primary
TUESDAY_10 = (2026, 12, 8, 10, 0)
SATURDAY_10 = (2026, 12, 12, 10, 0)
TUESDAY_22 = (2026, 12, 8, 22, 0)
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def expected_roles(document: dict[str, Any], local: datetime) -> tuple[str, str]:
    """Who is on call at the local time `local`, read straight from the escalation YAML."""
    on_call = document["on_call"]
    start, end = on_call["working_hours"].split("-")
    minutes = local.hour * 60 + local.minute
    start_min = int(start[:2]) * 60 + int(start[3:])
    end_min = int(end[:2]) * 60 + int(end[3:])
    working_day = DAY_NAMES[local.weekday()] in on_call["working_days"]
    if working_day and start_min <= minutes < end_min:
        return on_call["primary"]["weekdays"], on_call["backup"]
    rotation = on_call["primary"]["nights_weekends"]
    week = date(local.year, local.month, local.day).isocalendar()[1]
    return rotation[(week - 1) % len(rotation)], on_call["backup"]


def at(parts: tuple[int, ...], zone: str) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))


# ---------------------------------------------------------------------------------------------
# the schedule


@pytest.mark.parametrize("parts", [TUESDAY_10, SATURDAY_10, TUESDAY_22])
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_on_call_roles_follow_the_schedule(parts, zone) -> None:
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    local = at(parts, zone)
    assert matrix.on_call is not None
    assert matrix.on_call.roles_at(local.astimezone(UTC), zone) == expected_roles(SHIPPED, local)


def test_the_three_instants_pick_three_answers_from_the_shipped_file() -> None:
    """Guards the test data: Tuesday 10:00 is the weekday primary, the other two the rotation."""
    on_call = SHIPPED["on_call"]
    assert expected_roles(SHIPPED, at(TUESDAY_10, "UTC"))[0] == on_call["primary"]["weekdays"]
    night = expected_roles(SHIPPED, at(TUESDAY_22, "UTC"))[0]
    assert night == expected_roles(SHIPPED, at(SATURDAY_10, "UTC"))[0]
    assert night != on_call["primary"]["weekdays"]


def test_the_business_time_zone_decides() -> None:
    """20:00 UTC on a Tuesday is after hours in UTC and 15:00 (working) in New York."""
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    instant = datetime(2026, 12, 8, 20, 0, tzinfo=UTC)
    in_new_york = instant.astimezone(ZoneInfo("America/New_York"))
    assert on_call_at(matrix, "UTC", instant).primary.role == (expected_roles(SHIPPED, instant)[0])
    new_york = on_call_at(matrix, "America/New_York", instant)
    assert new_york.primary.role == expected_roles(SHIPPED, in_new_york)[0]
    assert new_york.primary.role != on_call_at(matrix, "UTC", instant).primary.role
    with pytest.raises(ConfigError, match="business_timezone"):
        on_call_at(matrix, "Mars/Olympus_Mons", instant)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("working_hours", "9-18", r"on_call\.working_hours` is '9-18'; it must be \"HH:MM-HH:MM\""),
        ("working_hours", "18:00-09:00", r"working_hours` .*the end must be after the start"),
        ("working_days", ["monday", "funday"], r"working_days` has 'funday'.*allowed: monday"),
        ("working_days", [], r"working_days` must be a non-empty list"),
        ("shift", "x", r"on_call\.shift` is not a known key \(allowed: working_hours"),
        ("backup", "nobody", r"on_call\.backup` is 'nobody', not a role"),
    ],
)
def test_on_call_validation_names_file_key_and_allowed(tmp_path, key, value, expected) -> None:
    document = copy.deepcopy(SHIPPED)
    document["on_call"][key] = value
    target = tmp_path / "escalation.yml"
    target.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=expected) as raised:
        escalation_matrix.load(target)
    assert str(target) in str(raised.value)


def test_rotation_roles_are_checked(tmp_path) -> None:
    document = copy.deepcopy(SHIPPED)
    document["on_call"]["primary"]["nights_weekends"] = ["data_engineer", "ghost"]
    target = tmp_path / "escalation.yml"
    target.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"nights_weekends` is 'ghost', not a role"):
        escalation_matrix.load(target)
    document["on_call"]["primary"]["nights_weekends"] = []
    target.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"nights_weekends` must be a role or a non-empty list"):
        escalation_matrix.load(target)


# ---------------------------------------------------------------------------------------------
# end to end: the alert-state stage at a pinned clock, the outbox, the recording servers


@pytest.fixture(scope="module")
def routing_warehouse(new_warehouse: Callable[[str], Warehouse]) -> Warehouse:
    return new_warehouse("routing")


@pytest.fixture
def db(routing_warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    with connect(routing_warehouse.conn) as connection:
        alerts_store.ensure_schema(connection)
        outbox.ensure_schema(connection)
        connection.execute("truncate ops.notification_outbox, ops.alerts_log restart identity")
        yield connection


@pytest.fixture
def escalation_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The shipped matrix, with data_engineer's own PagerDuty key variable."""
    document = copy.deepcopy(SHIPPED)
    document["contacts"]["data_engineer"]["pagerduty_routing_key_env"] = OWNER_KEY_ENV
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(document))
    monkeypatch.setenv(escalation_matrix.ENV_FILE, str(path))
    return document


def deliver_data_engineer_alert(
    db: psycopg.Connection, now: datetime, zone: str = "UTC"
) -> RunContext:
    """One CRITICAL data_issues level-2 alert (owner data_engineer) through the alert-state
    stage at the pinned clock `now`, then delivered."""
    settings = Settings.resolve(PROJECT_DIR)
    project = project_vars.load(PROJECT_DIR, overrides={"business_timezone": zone})
    ctx = RunContext(settings=replace(settings, project=project), request=RunRequest(now=now))
    alert = conditions.system_alert(
        ctx.settings.matrix, conditions.DBT_COULD_NOT_RUN, "dbt could not run (routing test)"
    )
    assert alert.owner == "data_engineer"
    run_id = run_log.start_run(db, "build", [], os.getpid(), now)
    found = conditions.Conditions(alerts=[alert], evaluated={alert.dedup_key})
    state = alert_state.reconcile(ctx, db, found, run_id)
    assert [change.event for change in state.changes] == [Event.TRIGGER]
    report = outbox_delivery.deliver_pending(db, ctx.settings.notify)
    assert sorted(item.channel for item in report.sent) == sorted(
        map(str, (Channel.PAGERDUTY, Channel.SLACK_CRITICAL, Channel.EMAIL))
    )
    return ctx


@pytest.mark.parametrize(
    ("parts", "zone"),
    [(TUESDAY_10, "UTC"), (SATURDAY_10, "UTC"), (TUESDAY_22, "UTC"), (TUESDAY_22, "Asia/Tokyo")],
)
def test_the_owner_and_who_is_on_call_reach_every_channel(
    db, notify_env: NotifyEnv, escalation_file, monkeypatch, parts, zone
) -> None:
    notify_env.apply(monkeypatch.setenv)
    monkeypatch.setenv(OWNER_KEY_ENV, OWNER_KEY)
    local = at(parts, zone)
    deliver_data_engineer_alert(db, local.astimezone(UTC), zone)

    contacts = escalation_file["contacts"]
    owner = contacts["data_engineer"]
    primary, backup = expected_roles(escalation_file, local)
    on_call_text = (
        f"{primary} ({contacts[primary]['slack']}), backup {backup} ({contacts[backup]['slack']})"
    )

    [slack] = notify_env.slack_critical()
    blocks = slack.json["blocks"]
    assert blocks[1]["text"]["text"].startswith(f"{owner['slack']}: dbt could not run")
    fields = dict(field["text"].split("\n", 1) for field in blocks[2]["fields"])
    assert fields["*Owner*"] == f"data_engineer ({owner['slack']})"
    assert fields["*On call*"] == on_call_text

    [mail] = notify_env.smtp.messages
    wanted = [ONCALL_EMAIL, owner["email"], contacts[primary]["email"]]
    assert mail.rcpt_tos == list(dict.fromkeys(wanted))  # each address once, in that order
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert on_call_text in text

    [event] = notify_env.pagerduty()
    assert event.json["routing_key"] == OWNER_KEY
    assert "routing_key_env" not in event.json
    details = event.json["payload"]["custom_details"]
    assert details["owner_slack"] == owner["slack"] and details["owner_email"] == owner["email"]
    assert (details["on_call"]["primary"], details["on_call"]["backup"]) == (primary, backup)


def test_pagerduty_falls_back_to_the_default_key(
    db, notify_env: NotifyEnv, escalation_file, monkeypatch
) -> None:
    notify_env.apply(monkeypatch.setenv)
    monkeypatch.delenv(OWNER_KEY_ENV, raising=False)
    deliver_data_engineer_alert(db, at(TUESDAY_10, "UTC"))
    [event] = notify_env.pagerduty()
    assert event.json["routing_key"] == notify_env.env["YTEMPIRE_PAGERDUTY_ROUTING_KEY"]
    stored = db.execute("select payload::text from ops.notification_outbox").fetchall()
    assert all(OWNER_KEY not in row[0] for row in stored)


def test_a_malformed_owner_key_names_its_variable(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings(**{OWNER_KEY_ENV: "short"})
    with pytest.raises(ConfigError, match=OWNER_KEY_ENV) as raised:
        settings.routing_key_for(OWNER_KEY_ENV)
    assert "short" not in str(raised.value)
    assert settings.routing_key_for("YTEMPIRE_UNSET_ROUTING_KEY") == settings.pagerduty_routing_key


def test_owner_keys_are_redacted(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings(**{OWNER_KEY_ENV: OWNER_KEY})
    assert settings.redact(f"refused key {OWNER_KEY}") == "refused key [redacted]"


def test_recipients_are_deduplicated_without_case(notify_env: NotifyEnv) -> None:
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    settings = notify.routing.for_run(
        notify_env.settings(YTEMPIRE_ONCALL_EMAIL=f"{ONCALL_EMAIL},Data-Eng@ytempire.com"),
        matrix,
        "UTC",
        at(TUESDAY_22, "UTC"),  # primary: data_engineer, the owner too
    )
    alert = conditions.system_alert(matrix, conditions.DBT_COULD_NOT_RUN, "x")
    assert notify.routing.recipients(alert, settings) == [ONCALL_EMAIL, "Data-Eng@ytempire.com"]
