"""Delivery semantics per channel under faults, with the real recording servers and outbox.

The figures (lost, duplicated, ...) come from `delivery_faults` (see its docstring for what they
count). PagerDuty is idempotent and retried freely; Slack and email are retried only when a try
provably did not arrive, and a try that timed out after sending is tried once more in a later run
only, so an event shows at most twice. Every run's delivery time is bounded by
YTEMPIRE_NOTIFY_MAX_DELIVERY_S; what it leaves is pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from conftest import Warehouse
from delivery_faults import (
    HANG_S,
    TIMEOUT_S,
    Figures,
    copies,
    fault_alert,
    fault_settings,
    run_scenario,
    table,
)
from notify_servers import NotifyEnv

from orchestrator import direct_delivery, outbox, outbox_delivery, undelivered
from orchestrator.alert import Channel, Event, Notification
from orchestrator.connection import connect

pytest_plugins = ["notify_fixtures"]

SLACK, PAGERDUTY, EMAIL = Channel.SLACK_WARNING, Channel.PAGERDUTY, Channel.EMAIL


@pytest.fixture(scope="module")
def faults_warehouse(new_warehouse: Callable[[str], Warehouse]) -> Warehouse:
    return new_warehouse("faults")


@pytest.fixture
def db(faults_warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    with connect(faults_warehouse.conn) as connection:
        outbox.ensure_schema(connection)
        connection.execute("truncate ops.notification_outbox restart identity")
        yield connection


def summary(figures: Figures) -> dict[str, int]:
    return {
        "runs": figures.runs,
        "lost": figures.lost,
        "duplicated": figures.duplicated,
        "extra_copies": figures.extra_copies,
        "pending": figures.pending,
        "dead": figures.dead,
    }


def by_number(figures: Figures) -> list[tuple[str, int, int]]:
    """(status, attempts, unconfirmed_attempts) per event, in event order."""
    return [(row["status"], row["attempts"], row["unconfirmed_attempts"]) for row in figures.rows]


# ---------------------------------------------------------------------------------------------
# failures that provably did not arrive: 0 lost, 0 duplicated, on every channel


@pytest.mark.parametrize("channel", [SLACK, PAGERDUTY, EMAIL], ids=str)
def test_server_errors_lose_and_duplicate_nothing(
    db: psycopg.Connection, notify_env: NotifyEnv, channel: Channel
) -> None:
    figures = run_scenario(db, notify_env, "500", channel)
    assert summary(figures) == {
        "runs": 2, "lost": 0, "duplicated": 0, "extra_copies": 0, "pending": 0, "dead": 0,
    }  # fmt: skip
    # run 1: three refusals of event 1, then the channel rests; run 2: one more, then delivered
    assert by_number(figures) == [("sent", 5, 0), ("sent", 1, 0), ("sent", 1, 0)]
    assert figures.max_copies == 1


@pytest.mark.parametrize("channel", [SLACK, PAGERDUTY, EMAIL], ids=str)
def test_rate_limits_lose_and_duplicate_nothing(
    db: psycopg.Connection, notify_env: NotifyEnv, channel: Channel
) -> None:
    figures = run_scenario(db, notify_env, "429", channel)
    assert summary(figures) == {
        "runs": 1, "lost": 0, "duplicated": 0, "extra_copies": 0, "pending": 0, "dead": 0,
    }  # fmt: skip
    assert by_number(figures) == [("sent", 3, 0), ("sent", 1, 0), ("sent", 1, 0)]
    if channel is not EMAIL:  # Retry-After: 0.2 honoured twice
        assert figures.run_seconds[0] >= 0.4


@pytest.mark.parametrize("channel", [SLACK, PAGERDUTY, EMAIL], ids=str)
def test_refused_connections_keep_everything_pending(
    db: psycopg.Connection, notify_env: NotifyEnv, channel: Channel
) -> None:
    figures = run_scenario(db, notify_env, "refused", channel)
    assert summary(figures) == {
        "runs": 2, "lost": 0, "duplicated": 0, "extra_copies": 0, "pending": 3, "dead": 0,
    }  # fmt: skip
    # each run makes three tries of the first row only; the others wait their turn
    assert by_number(figures) == [("pending", 6, 0), ("pending", 0, 0), ("pending", 0, 0)]
    assert copies(notify_env, channel) == []


@pytest.mark.parametrize("channel", [SLACK, PAGERDUTY, EMAIL], ids=str)
def test_down_for_one_run_then_back_delivers_each_once(
    db: psycopg.Connection, notify_env: NotifyEnv, channel: Channel
) -> None:
    figures = run_scenario(db, notify_env, "down_then_back", channel)
    assert summary(figures) == {
        "runs": 2, "lost": 0, "duplicated": 0, "extra_copies": 0, "pending": 0, "dead": 0,
    }  # fmt: skip
    assert by_number(figures) == [("sent", 4, 0), ("sent", 1, 0), ("sent", 1, 0)]
    assert sorted(item.dedup_key for item in copies(notify_env, channel)) == [
        fault_alert("down_then_back", channel, number).dedup_key for number in (1, 2, 3)
    ]


# ---------------------------------------------------------------------------------------------
# a receiver that hangs past the timeout: the request may have arrived


@pytest.mark.parametrize("channel", [SLACK, EMAIL], ids=str)
def test_hang_sends_slack_and_email_at_most_twice(
    db: psycopg.Connection, notify_env: NotifyEnv, channel: Channel
) -> None:
    figures = run_scenario(db, notify_env, "hang", channel)
    assert summary(figures) == {
        "runs": 2, "lost": 0, "duplicated": 1, "extra_copies": 1, "pending": 0, "dead": 0,
    }  # fmt: skip
    # run 1: one try of event 1, no answer: kept (unconfirmed), the channel rests; run 2: once
    assert by_number(figures) == [("sent", 2, 1), ("sent", 1, 0), ("sent", 1, 0)]
    assert figures.max_copies == 2
    assert figures.run_seconds[0] < 2 * TIMEOUT_S  # one timeout, not three


def test_hang_retries_pagerduty_freely(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    figures = run_scenario(db, notify_env, "hang", PAGERDUTY)
    # PagerDuty folds the copies by dedup_key: four copies of event 1, one alert
    assert summary(figures) == {
        "runs": 2, "lost": 0, "duplicated": 0, "extra_copies": 3, "pending": 0, "dead": 0,
    }  # fmt: skip
    assert by_number(figures) == [("sent", 4, 3), ("sent", 1, 0), ("sent", 1, 0)]
    first = [item for item in copies(notify_env, PAGERDUTY) if item.dedup_key.endswith(".1")]
    assert [item.acknowledged for item in first] == [False, False, False, True]
    assert figures.run_seconds[0] >= 3 * TIMEOUT_S


@pytest.mark.parametrize("channel", [SLACK, EMAIL], ids=str)
def test_hang_over_two_runs_dead_letters_instead_of_a_third_copy(
    db: psycopg.Connection, notify_env: NotifyEnv, channel: Channel
) -> None:
    figures = run_scenario(db, notify_env, "hang_two_runs", channel)
    assert summary(figures) == {
        "runs": 3, "lost": 0, "duplicated": 1, "extra_copies": 1, "pending": 0, "dead": 1,
    }  # fmt: skip
    assert by_number(figures) == [("dead", 2, 2), ("sent", 1, 0), ("sent", 1, 0)]
    reason = figures.rows[0]["last_error"]
    assert "no answer to 2 tries that were sent: not sent again" in reason
    assert "may have it" in reason
    assert figures.max_copies == 2


def test_unconfirmed_row_says_so_while_pending(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    settings = fault_settings(notify_env)
    note = Notification(SLACK, Event.TRIGGER, fault_alert("marker", SLACK, 1))
    outbox.enqueue(db, [note], settings)
    notify_env.http.delay_next(1, HANG_S)
    report = outbox_delivery.deliver_pending(db, settings)
    assert [(item.status, item.attempts) for item in report.deliveries] == [("pending", 1)]
    row = db.execute(
        "select status, unconfirmed_attempts, last_error from ops.notification_outbox"
    ).fetchone()
    assert row[:2] == ("pending", 1)
    assert "no answer within 0.3s" in row[2] and "tried once more in the next run" in row[2]
    assert len(notify_env.http.received()) == 1


# ---------------------------------------------------------------------------------------------
# the delivery budget


def test_budget_bounds_a_run_and_keeps_the_rest_pending(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    budget = 1.45
    settings = fault_settings(
        notify_env, YTEMPIRE_NOTIFY_MAX_DELIVERY_S=str(budget), YTEMPIRE_NOTIFY_BACKOFF_S="0.3"
    )
    channels = [PAGERDUTY, Channel.SLACK_CRITICAL, EMAIL, SLACK]
    notes = [
        Notification(channel, Event.TRIGGER, fault_alert("budget", channel, number))
        for channel in channels
        for number in (1, 2)
    ]
    outbox.enqueue(db, notes, settings)
    notify_env.http.delay_next(1000, HANG_S)
    notify_env.smtp.delay_next(1000, HANG_S)
    started = time.monotonic()
    first = outbox_delivery.deliver_pending(db, settings)
    first_s = time.monotonic() - started
    notify_env.http.clear_plan()
    notify_env.smtp.clear_plan()
    second = outbox_delivery.deliver_pending(db, settings)

    # PagerDuty #1: try (0.3 s), backoff 0.3, try: 0.9 s; a third try would end at 1.8 s: no.
    # Slack critical #1: one try, 0.9 -> 1.2 s (unconfirmed, so no retry). Email would end at
    # 1.5 s, past the budget: it and the rest are not tried.
    assert first_s <= budget
    assert [item.status for item in first.deliveries] == ["pending"] * 8
    assert [item.attempts for item in first.deliveries] == [2, 0, 1, 0, 0, 0, 0, 0]
    over = [item.channel for item in first.deliveries if "delivery budget" in (item.error or "")]
    assert over == ["email", "email", "slack_warning", "slack_warning"]
    assert "(YTEMPIRE_NOTIFY_MAX_DELIVERY_S=1.45s) was used up" in (first.deliveries[4].error or "")
    assert [item.status for item in second.deliveries] == ["sent"] * 8
    for channel in channels:
        assert sorted({item.dedup_key for item in copies(notify_env, channel)}) == sorted(
            fault_alert("budget", channel, number).dedup_key for number in (1, 2)
        )
    assert len(copies(notify_env, Channel.SLACK_CRITICAL)) == 3  # one unconfirmed, two sent


def test_table_lists_each_scenario(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    figures = [run_scenario(db, notify_env, "429", SLACK)]
    lines = table(figures).splitlines()
    assert lines[0].split() == [
        "fault", "channel", "runs", "lost", "duplicated", "extra_copies", "pending", "dead",
        "seconds",
    ]  # fmt: skip
    assert lines[1].split()[:8] == ["429", "slack_warning", "1", "0", "0", "0", "0", "0"]
    as_dict: dict[str, Any] = figures[0].to_dict()
    assert "rows" not in as_dict and as_dict["fault"] == "429"


# ---------------------------------------------------------------------------------------------
# the schema


def test_an_outbox_without_the_new_column_gets_it(db: psycopg.Connection) -> None:
    db.execute("alter table ops.notification_outbox drop column unconfirmed_attempts")
    outbox.ensure_schema(db)
    found = db.execute(
        "select column_default, is_nullable from information_schema.columns "
        "where table_schema = 'ops' and table_name = 'notification_outbox' "
        "and column_name = 'unconfirmed_attempts'"
    ).fetchone()
    assert found == ("0", "NO")


def test_an_unconfirmed_try_without_the_database_counts_once_it_is_back(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    """The database is down: the outage alert goes out directly and the receiver hangs. The
    undelivered file keeps the unconfirmed try, the outbox takes it over, and the one more try
    it gets is the last: at most two copies, as through the outbox."""
    settings = fault_settings(notify_env)
    note = Notification(SLACK, Event.TRIGGER, fault_alert("direct_hang", SLACK, 1))
    key = outbox.event_key(note)
    notify_env.http.clear()
    notify_env.http.delay_next(2, HANG_S)
    direct_delivery.deliver_direct([note], settings)
    line = undelivered.latest_lines(settings.undelivered_file())[key]
    assert (line["status"], line["unconfirmed_attempts"]) == ("pending", 1)
    outbox_delivery.deliver_pending(db, settings)  # the file moves in; one more try, no answer
    row = db.execute(
        "select status, unconfirmed_attempts from ops.notification_outbox where event_key = %s",
        (key,),
    ).fetchone()
    assert row == ("dead", 2)
    time.sleep(HANG_S)  # the hanging receiver processes the second copy late
    assert len(copies(notify_env, SLACK)) == 2
