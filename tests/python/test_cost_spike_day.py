"""A cost spike planted in hour 5 of a simulated day (simulated_day.py, embedded PostgreSQL):
exactly one alert opens in hour 5, on the matrix's level, owner and channels, and resolves
(PagerDuty resolve on the same dedup key) in the first hour the oracle says it cleared; a
replacing generate that drops the spike resolves it too (issue 8's first finding)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import PROJECT_DIR
from notify_servers import PAGERDUTY_PATH, SLACK_CRITICAL_PREFIX, SLACK_WARNING_PREFIX
from simulated_day import (
    COST_CONDITION,
    SPIKE_HOUR,
    SPIKE_HOURS,
    Day,
    fresh_day,
    simulate_spike_day,
)

from orchestrator import escalation_matrix

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spike_day(
    embedded_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Day, dict[str, Any]]]:
    with fresh_day(embedded_server, tmp_path_factory, "spike") as simulated:
        yield simulated, simulate_spike_day(simulated)


def events_by_step(day: Day) -> dict[str, list[tuple[str, str]]]:
    return {
        step.name: [(event["dedup_key"], event["event"]) for event in step.events]
        for step in day.dbt_steps()
    }


def test_the_spike_opens_one_alert_in_its_hour_and_resolves_when_it_clears(spike_day) -> None:
    day, planted = spike_day
    condition = planted["condition"]
    assert [name for name, over in condition.items() if over][:1] == [f"hourly {SPIKE_HOUR}"]
    cleared = next(
        name for name, over in condition.items() if not over and int(name.split()[1]) > SPIKE_HOUR
    )
    expected = {
        name: [(COST_CONDITION, "trigger")]
        if name == f"hourly {SPIKE_HOUR}"
        else [(COST_CONDITION, "resolve")]
        if name == cleared
        else []
        for name in (f"hourly {index}" for index in range(1, SPIKE_HOURS + 1))
    }
    observed = events_by_step(day)
    assert {name: observed[name] for name in expected} == expected
    assert observed["morning"] == []


def test_the_spike_alert_has_the_matrix_level_owner_and_channels(spike_day) -> None:
    day, _ = spike_day
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    step = next(s for s in day.steps if s.name == f"hourly {SPIKE_HOUR}")
    [alert] = step.alerts
    assert (alert["alert_type"], alert["escalation"], alert["severity"], alert["level"]) == (
        "COST_PER_VIDEO",
        "cost_overruns",
        "CRITICAL",
        2,
    )
    assert alert["owner"] == matrix.level("cost_overruns", 2).owner
    assert alert["figure"].startswith("$") and alert["figure"].endswith("per video")
    assert step.exit_code == 2
    channels = sorted(note["channel"] for note in step.document["notifications"])
    assert channels == ["email", "pagerduty", "slack_critical"]


def test_pagerduty_gets_one_trigger_and_its_resolve_per_spike(spike_day) -> None:
    day, _ = spike_day
    events = [
        (request.json["event_action"], request.json["dedup_key"])
        for request in day.notify.http.acknowledged(PAGERDUTY_PATH)
    ]
    # the spike of hour 5, then the spike of the replacing generate, each resolved
    assert events == [
        ("trigger", COST_CONDITION),
        ("resolve", COST_CONDITION),
        ("trigger", COST_CONDITION),
        ("resolve", COST_CONDITION),
    ]
    assert len(day.notify.http.acknowledged(SLACK_CRITICAL_PREFIX)) == 4
    assert day.notify.http.acknowledged(SLACK_WARNING_PREFIX) == []


def test_a_clean_generate_after_a_spike_drops_it_and_resolves(spike_day) -> None:
    day, _ = spike_day
    spiked, clean = day.dbt_steps()[-2:]
    assert [e["event"] for e in spiked.events] == ["trigger"] and spiked.exit_code == 2
    assert [(e["dedup_key"], e["event"]) for e in clean.events] == [(COST_CONDITION, "resolve")]
    assert clean.exit_code == 0 and clean.alerts == []
    assert clean.mismatches["fct_costs"] == [] and spiked.mismatches["fct_costs"] == []
    assert day.warehouse.query("select count(*) from ops.alerts_log where status = 'open'") == [
        (0,)
    ]
