"""Notifications: payloads, routing, retries, the outbox and the undelivered file.

Real parts only: a recording HTTP server plays Slack and PagerDuty, an aiosmtpd server plays
the SMTP relay, and the outbox lives in a real PostgreSQL database (both servers).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import psycopg
import pytest
from conftest import Warehouse
from notify_servers import (
    DOCS_URL,
    EMAIL_FROM,
    ONCALL_EMAIL,
    PAGERDUTY_PATH,
    SLACK_CRITICAL_PREFIX,
    SLACK_WARNING_PREFIX,
    NotifyEnv,
)

from orchestrator import direct_delivery, notify, outbox, outbox_delivery
from orchestrator.alert import Alert, Channel, Event, Notification, Severity
from orchestrator.connection import connect
from orchestrator.errors import ConfigError
from orchestrator.notify import NotifySettings, route
from orchestrator.notify.transport import parse_retry_after, post_json

pytest_plugins = ["notify_fixtures"]

CRITICAL_CHANNELS = [Channel.PAGERDUTY, Channel.SLACK_CRITICAL, Channel.EMAIL]


def make_alert(
    severity: Severity = Severity.CRITICAL,
    *,
    level: int | None = None,
    alert_id: int | None = 7,
    dedup_key: str = "ytempire:test.ytempire.assert_cost_per_video_under_critical",
    **details: Any,
) -> Alert:
    critical = severity is Severity.CRITICAL
    return Alert(
        dedup_key=dedup_key,
        alert_type="COST_PER_VIDEO",
        escalation="cost_overruns",
        severity=severity,
        level=level if level is not None else (2 if critical else 1),
        owner="analytics_engineer",
        action="Review the cost breakdown of the videos over budget",
        sla_minutes=30 if critical else 120,
        message="Cost per video reached $3.72 on 4 videos (limit $3.50) <check> & fix",
        figure="3.72 USD per video",
        node_id="test.ytempire.assert_cost_per_video_under_critical",
        node_name="assert_cost_per_video_under_critical",
        alert_id=alert_id,
        **details,
    )


def our_logs(caplog: pytest.LogCaptureFixture) -> str:
    """What the orchestrator logged (the test SMTP server's own debug log is not ours)."""
    return "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith("orchestrator")
    )


def notifications(alert: Alert, event: Event, settings: NotifySettings) -> list[Notification]:
    notes, skipped = notify.notifications_for(alert, event, settings)
    assert skipped == []
    return notes


# ---------------------------------------------------------------------------------------------
# settings


def test_settings_read_every_variable_and_hide_secrets(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    env = notify_env.env
    assert settings.slack_warning_webhook_url == env["YTEMPIRE_SLACK_WARNING_WEBHOOK_URL"]
    assert settings.pagerduty_url == notify_env.http.url(PAGERDUTY_PATH)
    assert settings.smtp is not None and settings.smtp.port == notify_env.smtp.port
    assert settings.smtp.user == "ytempire" and settings.smtp.password == notify_env.smtp.password
    assert settings.oncall_emails == (ONCALL_EMAIL,)
    assert (settings.timeout_s, settings.max_attempts, settings.backoff_s) == (1.0, 3, 0.05)
    assert all(settings.is_configured(channel) for channel in Channel)
    notify_env.assert_no_secret(repr(settings), settings.smtp.describe())


def test_defaults_when_nothing_is_set() -> None:
    settings = NotifySettings.from_env({})
    assert settings.pagerduty_url == "https://events.pagerduty.com/v2/enqueue"
    assert not any(settings.is_configured(channel) for channel in Channel)
    assert settings.missing(Channel.EMAIL) == [
        "YTEMPIRE_SMTP_URL",
        "YTEMPIRE_EMAIL_FROM",
        "YTEMPIRE_ONCALL_EMAIL",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("YTEMPIRE_SLACK_WARNING_WEBHOOK_URL", "hooks.slack.test/services/t1/b2/s3cr3tt0ken"),
        ("YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL", "ftp://hooks.slack.test/services/t1/b2/s3cr3tt0k"),
        ("YTEMPIRE_PAGERDUTY_ROUTING_KEY", "short"),
        ("YTEMPIRE_PAGERDUTY_URL", "events.pagerduty.com"),
        ("YTEMPIRE_SMTP_URL", "mail://user:hunter2secret@mail.example.com"),
        ("YTEMPIRE_SMTP_URL", "smtp://mail.example.com:25?tls=yes"),
        ("YTEMPIRE_SMTP_URL", "smtp://user:hunter2secret@mail.example.com:port"),
        ("YTEMPIRE_EMAIL_FROM", "alerts"),
        ("YTEMPIRE_ONCALL_EMAIL", "oncall@ytempire.test, nobody"),
        ("YTEMPIRE_NOTIFY_TIMEOUT_S", "0"),
        ("YTEMPIRE_NOTIFY_MAX_ATTEMPTS", "50"),
        ("YTEMPIRE_NOTIFY_BACKOFF_S", "-1"),
        ("YTEMPIRE_NOTIFY_MAX_DELIVERY_S", "0"),
        ("YTEMPIRE_NOTIFY_MAX_DELIVERY_S", "a minute"),
    ],
)
def test_invalid_setting_names_the_variable_without_echoing_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        NotifySettings.from_env({name: value})
    assert name in str(caught.value)
    for secret in ("s3cr3tt0k", "hunter2secret"):
        assert secret not in str(caught.value)


def test_delivery_budget_default_and_its_floor() -> None:
    assert NotifySettings.from_env({}).max_delivery_s == 60.0
    assert (
        NotifySettings.from_env({"YTEMPIRE_NOTIFY_MAX_DELIVERY_S": "12.5"}).max_delivery_s == 12.5
    )
    with pytest.raises(ConfigError) as short:
        NotifySettings.from_env({"YTEMPIRE_NOTIFY_MAX_DELIVERY_S": "5"})  # timeout 10 by default
    assert str(short.value) == (
        "YTEMPIRE_NOTIFY_MAX_DELIVERY_S='5' is shorter than YTEMPIRE_NOTIFY_TIMEOUT_S (10s): "
        "set it to at least the timeout (a run must fit one try), or lower the timeout."
    )
    with pytest.raises(ConfigError) as default:
        NotifySettings.from_env({"YTEMPIRE_NOTIFY_TIMEOUT_S": "90"})
    assert str(default.value).startswith(
        "YTEMPIRE_NOTIFY_MAX_DELIVERY_S (default 60) is shorter than "
        "YTEMPIRE_NOTIFY_TIMEOUT_S (90s)"
    )


def test_smtp_url_forms() -> None:
    secure = NotifySettings.from_env({"YTEMPIRE_SMTP_URL": "smtps://a%40b:p%2Fw@mail.test"}).smtp
    assert secure is not None
    assert (secure.port, secure.use_ssl, secure.user, secure.password) == (465, True, "a@b", "p/w")
    relay = NotifySettings.from_env({"YTEMPIRE_SMTP_URL": "smtp://mail.test:587?starttls=true"})
    assert relay.smtp is not None and (relay.smtp.port, relay.smtp.starttls) == (587, True)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_a_try_is_unconfirmed_only_when_sent_without_an_answer(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings(YTEMPIRE_NOTIFY_TIMEOUT_S="0.3")
    url = notify_env.http.url(PAGERDUTY_PATH)
    notify_env.http.fail_next(1, status=503)
    refused_by_server = post_json(url, {"n": 1}, settings.timeout_s)
    notify_env.http.delay_next(1, seconds=0.8)
    no_answer = post_json(url, {"n": 2}, settings.timeout_s)
    notify_env.http.down()
    no_connection = post_json(url, {"n": 3}, settings.timeout_s)
    assert (refused_by_server.status, refused_by_server.unconfirmed) == (503, False)
    assert no_answer.unconfirmed and "no answer within 0.3s" in (no_answer.error or "")
    assert not no_connection.unconfirmed and "Connection refused" in (no_connection.error or "")
    assert [request.json["n"] for request in notify_env.http.received()] == [1, 2]

    body = notify.render(Notification(Channel.EMAIL, Event.TRIGGER, make_alert()), settings)
    notify_env.smtp.refuse_next(1, "451 4.3.0 Try again later")
    temporary = notify.send(Channel.EMAIL, body, settings)
    notify_env.smtp.delay_next(1, seconds=0.8)
    late = notify.send(Channel.EMAIL, body, settings)
    assert (temporary.status, temporary.unconfirmed, temporary.permanent) == (451, False, False)
    assert late.unconfirmed and "after the message was sent" in (late.error or "")
    assert [mail.delayed_s for mail in notify_env.smtp.messages] == [0.8]


def test_only_pagerduty_is_idempotent() -> None:
    assert [channel for channel in Channel if notify.idempotent(channel)] == [Channel.PAGERDUTY]


# ---------------------------------------------------------------------------------------------
# routing


def test_routing_follows_the_playbook(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    critical = route(make_alert(Severity.CRITICAL), Event.TRIGGER, settings)
    warning = route(make_alert(Severity.WARNING), Event.TRIGGER, settings)
    assert critical.channels == CRITICAL_CHANNELS and critical.skipped == []
    assert warning.channels == [Channel.SLACK_WARNING] and warning.skipped == []


def test_unconfigured_channels_are_skipped_with_one_line_each(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings(YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL="", YTEMPIRE_SMTP_URL="")
    decision = route(make_alert(Severity.CRITICAL), Event.TRIGGER, settings)
    assert decision.channels == [Channel.PAGERDUTY]
    assert decision.skipped == [
        "slack_critical: skipped, YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL not set",
        "email: skipped, YTEMPIRE_SMTP_URL not set",
    ]
    nothing = route(make_alert(Severity.WARNING), Event.TRIGGER, NotifySettings.from_env({}))
    assert nothing.channels == []
    assert nothing.skipped == ["slack_warning: skipped, YTEMPIRE_SLACK_WARNING_WEBHOOK_URL not set"]


def test_resolve_goes_where_the_trigger_went(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    escalated = make_alert(
        Severity.CRITICAL, notified_channels=(Channel.SLACK_WARNING, Channel.PAGERDUTY)
    )
    decision = route(escalated, Event.RESOLVE, settings)
    assert decision.channels == [Channel.SLACK_WARNING, Channel.PAGERDUTY]
    assert route(make_alert(), Event.RESOLVE, settings).channels == CRITICAL_CHANNELS


# ---------------------------------------------------------------------------------------------
# payloads


def test_slack_message_is_block_kit_with_every_fact(notify_env: NotifyEnv) -> None:
    alert = make_alert(Severity.CRITICAL)
    body = notify.render(
        Notification(Channel.SLACK_CRITICAL, Event.TRIGGER, alert), notify_env.settings()
    )
    assert [block["type"] for block in body["blocks"]] == [
        "header",
        "section",
        "section",
        "context",
    ]
    header = body["blocks"][0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    assert "CRITICAL L2" in header["text"] and "COST_PER_VIDEO" in header["text"]
    assert body["blocks"][1]["text"]["text"] == (
        "Cost per video reached $3.72 on 4 videos (limit $3.50) &lt;check&gt; &amp; fix"
    )
    fields = {
        field["text"].split("\n", 1)[0]: field["text"].split("\n", 1)[1]
        for field in body["blocks"][2]["fields"]
    }
    assert fields["*Level*"] == "2 (cost_overruns)"
    assert fields["*Owner*"] == alert.owner
    assert fields["*Figure*"] == alert.figure
    assert fields["*Action*"] == alert.action
    assert fields["*SLA*"] == "30 min (level 2)"
    assert fields["*Node*"] == alert.node_id
    assert all(field["type"] == "mrkdwn" for field in body["blocks"][2]["fields"])
    context = body["blocks"][3]["elements"][0]["text"]
    assert f"<{DOCS_URL}/#!/test/{alert.node_id}|dbt docs: {alert.node_name}>" in context
    assert body["text"].startswith("[ytempire CRITICAL L2] COST_PER_VIDEO")


def test_slack_resolve_and_escalation_say_so(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    resolved = notify.render(
        Notification(Channel.SLACK_WARNING, Event.RESOLVE, make_alert(Severity.WARNING)), settings
    )
    assert "RESOLVED" in resolved["blocks"][0]["text"]["text"]
    assert resolved["blocks"][1]["text"]["text"].startswith("Cleared: ")
    escalated = notify.render(
        Notification(Channel.SLACK_CRITICAL, Event.TRIGGER, make_alert(level=3, previous_level=2)),
        settings,
    )
    assert "ESCALATED CRITICAL L3" in escalated["blocks"][0]["text"]["text"]
    texts = [field["text"] for field in escalated["blocks"][2]["fields"]]
    assert "*Escalated from*\nlevel 2" in texts


def test_pagerduty_event_fields(notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    for severity, expected in ((Severity.CRITICAL, "critical"), (Severity.WARNING, "warning")):
        alert = make_alert(severity)
        body = notify.render(Notification(Channel.PAGERDUTY, Event.TRIGGER, alert), settings)
        assert body["event_action"] == "trigger"
        assert body["dedup_key"] == alert.dedup_key
        assert "routing_key" not in body
        payload = body["payload"]
        assert payload["severity"] == expected
        assert payload["source"] == alert.node_id
        assert payload["class"] == "COST_PER_VIDEO" and payload["group"] == "cost_overruns"
        assert payload["summary"] and len(payload["summary"]) <= 1024
        assert payload["custom_details"]["owner"] == alert.owner
        assert payload["custom_details"]["level"] == alert.level
        assert payload["custom_details"]["figure"] == alert.figure
        assert body["links"][0]["href"] == f"{DOCS_URL}/#!/test/{alert.node_id}"
    resolve = notify.render(Notification(Channel.PAGERDUTY, Event.RESOLVE, make_alert()), settings)
    assert resolve == {"dedup_key": make_alert().dedup_key, "event_action": "resolve"}


def test_email_is_plain_text_and_html(notify_env: NotifyEnv) -> None:
    alert = make_alert()
    body = notify.render(Notification(Channel.EMAIL, Event.TRIGGER, alert), notify_env.settings())
    mail = notify.email.build_message(body)
    assert mail["From"] == EMAIL_FROM and mail["To"] == ONCALL_EMAIL
    assert mail["Subject"].startswith("[ytempire CRITICAL L2] COST_PER_VIDEO")
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    rich = mail.get_body(("html",))
    assert plain is not None and rich is not None
    assert alert.action in plain.get_content() and alert.figure in plain.get_content()
    assert "&lt;check&gt; &amp; fix" in rich.get_content()
    assert f'href="{DOCS_URL}/#!/test/{alert.node_id}"' in rich.get_content()


# ---------------------------------------------------------------------------------------------
# the outbox against a real database


@pytest.fixture(scope="module")
def outbox_warehouse(new_warehouse: Callable[[str], Warehouse]) -> Warehouse:
    return new_warehouse("notify")


@pytest.fixture
def db(outbox_warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    with connect(outbox_warehouse.conn) as connection:
        outbox.ensure_schema(connection)
        connection.execute("truncate ops.notification_outbox restart identity")
        yield connection


def outbox_rows(db: psycopg.Connection) -> list[dict[str, Any]]:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("select * from ops.notification_outbox order by id").fetchall()


def test_critical_alert_reaches_each_channel_exactly_once(
    db: psycopg.Connection, notify_env: NotifyEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = notify_env.settings()
    alert = make_alert()
    ids = outbox.enqueue(db, notifications(alert, Event.TRIGGER, settings), settings)
    assert len(ids) == 3 and {row["status"] for row in outbox_rows(db)} == {"pending"}

    report = outbox_delivery.deliver_pending(db, settings)

    assert sorted(item.channel for item in report.sent) == sorted(map(str, CRITICAL_CHANNELS))
    assert len(notify_env.pagerduty()) == 1 and len(notify_env.slack_critical()) == 1
    assert notify_env.slack_warning() == [] and len(notify_env.smtp.messages) == 1
    event = notify_env.pagerduty()[0].json
    assert event["routing_key"] == notify_env.env["YTEMPIRE_PAGERDUTY_ROUTING_KEY"]
    assert event["dedup_key"] == alert.dedup_key and event["event_action"] == "trigger"
    mail = notify_env.smtp.messages[0]
    assert mail.rcpt_tos == [ONCALL_EMAIL] and mail.login == "ytempire"
    rows = outbox_rows(db)
    assert [(row["status"], row["attempts"]) for row in rows] == [("sent", 1)] * 3
    assert all(row["sent_at"] is not None for row in rows)
    notify_env.assert_no_secret(
        json.dumps([row["payload"] for row in rows]), our_logs(caplog), report.lines()
    )


def test_enqueue_is_idempotent_per_event(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    alert = make_alert(Severity.WARNING)
    first = outbox.enqueue(db, notifications(alert, Event.TRIGGER, settings), settings)
    again = outbox.enqueue(db, notifications(alert, Event.TRIGGER, settings), settings)
    assert first == again and len(outbox_rows(db)) == 1
    outbox_delivery.deliver_pending(db, settings)
    outbox.enqueue(db, notifications(alert, Event.TRIGGER, settings), settings)
    outbox_delivery.deliver_pending(db, settings)
    assert len(notify_env.slack_warning()) == 1

    reminder = make_alert(Severity.WARNING, event_seq=1)
    outbox.enqueue(db, notifications(reminder, Event.REMIND, settings), settings)
    outbox_delivery.deliver_pending(db, settings)
    assert len(notify_env.slack_warning()) == 2
    assert "REMINDER" in notify_env.slack_warning()[1].json["blocks"][0]["text"]["text"]


def test_server_errors_are_retried_to_exactly_one_delivery(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    settings = notify_env.settings()
    notify_env.http.fail_next(2, status=500)
    outbox.enqueue(
        db, notifications(make_alert(Severity.WARNING), Event.TRIGGER, settings), settings
    )
    report = outbox_delivery.deliver_pending(db, settings)
    received = notify_env.http.received(SLACK_WARNING_PREFIX)
    assert [request.status for request in received] == [500, 500, 200]
    assert len(notify_env.slack_warning()) == 1
    assert len(report.sent) == 1 and outbox_rows(db)[0]["attempts"] == 3


def test_rate_limit_honours_retry_after(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    notify_env.http.fail_next(1, status=429, retry_after="1")
    outbox.enqueue(db, [Notification(Channel.PAGERDUTY, Event.TRIGGER, make_alert())], settings)
    outbox_delivery.deliver_pending(db, settings)
    first, second = notify_env.http.received(PAGERDUTY_PATH)
    assert (first.status, second.status) == (429, 202)
    assert second.received_at - first.received_at >= 0.95
    assert outbox_rows(db)[0]["status"] == "sent"


def test_retry_after_beyond_the_budget_waits_for_a_later_run(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    settings = notify_env.settings()
    notify_env.http.fail_next(1, status=429, retry_after="600")
    outbox.enqueue(db, [Notification(Channel.PAGERDUTY, Event.TRIGGER, make_alert())], settings)
    outbox_delivery.deliver_pending(db, settings)
    outbox_delivery.deliver_pending(db, settings)  # not due yet: nothing sent
    assert len(notify_env.http.received(PAGERDUTY_PATH)) == 1
    row = outbox_rows(db)[0]
    assert row["status"] == "pending" and "429" in row["last_error"]
    wait = db.execute(
        "select extract(epoch from next_attempt_at - now()) from ops.notification_outbox"
    ).fetchone()[0]
    assert 500 < float(wait) <= 600


def test_timeouts_are_retried(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    settings = notify_env.settings(YTEMPIRE_NOTIFY_TIMEOUT_S="0.3")
    notify_env.http.delay_next(1, seconds=1.0)
    outbox.enqueue(db, [Notification(Channel.PAGERDUTY, Event.TRIGGER, make_alert())], settings)
    report = outbox_delivery.deliver_pending(db, settings)
    assert len(report.sent) == 1
    assert [request.acknowledged for request in notify_env.http.received()] == [False, True]


def test_server_down_leaves_it_pending_and_the_next_run_delivers_once(
    db: psycopg.Connection, notify_env: NotifyEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = notify_env.settings()
    notify_env.http.down()
    outbox.enqueue(db, notifications(make_alert(), Event.TRIGGER, settings), settings)
    report = outbox_delivery.deliver_pending(db, settings)
    assert len(report.pending) == 2 and len(report.sent) == 1  # email still works
    rows = {row["channel"]: row for row in outbox_rows(db)}
    assert rows["pagerduty"]["status"] == "pending" and rows["pagerduty"]["attempts"] == 3
    assert "Connection refused" in rows["pagerduty"]["last_error"]

    notify_env.http.up()
    second = outbox_delivery.deliver_pending(db, settings)
    third = outbox_delivery.deliver_pending(db, settings)
    assert len(second.sent) == 2 and third.deliveries == []
    assert len(notify_env.pagerduty()) == 1 and len(notify_env.slack_critical()) == 1
    assert len(notify_env.smtp.messages) == 1
    notify_env.assert_no_secret(
        our_logs(caplog),
        [row["last_error"] for row in outbox_rows(db)],
        second.lines(),
        report.lines(),
    )


def test_a_channel_that_is_down_is_not_hammered_row_after_row(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    settings = notify_env.settings()
    notify_env.http.down()
    for alert_id in (1, 2, 3):
        outbox.enqueue(
            db,
            [
                Notification(
                    Channel.SLACK_WARNING,
                    Event.TRIGGER,
                    make_alert(Severity.WARNING, alert_id=alert_id),
                )
            ],
            settings,
        )
    outbox_delivery.deliver_pending(db, settings)
    attempts = [row["attempts"] for row in outbox_rows(db)]
    assert attempts == [3, 0, 0]
    assert "failed earlier in this run" in outbox_rows(db)[2]["last_error"]


def test_client_errors_are_dead_letters_with_a_reason(
    db: psycopg.Connection, notify_env: NotifyEnv, caplog: pytest.LogCaptureFixture
) -> None:
    settings = notify_env.settings()
    notify_env.http.fail_next(1, status=400)
    outbox.enqueue(db, [Notification(Channel.PAGERDUTY, Event.TRIGGER, make_alert())], settings)
    report = outbox_delivery.deliver_pending(db, settings)
    outbox_delivery.deliver_pending(db, settings)
    assert len(report.dead) == 1 and len(notify_env.http.received()) == 1
    row = outbox_rows(db)[0]
    assert row["status"] == "dead" and row["last_error"].startswith("HTTP 400")
    assert any(
        record.levelno == logging.ERROR and "marked dead" in record.getMessage()
        for record in caplog.records
    )


def test_redirects_are_not_followed(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    notify_env.http.fail_next(1, status=301)
    outbox.enqueue(db, [Notification(Channel.PAGERDUTY, Event.TRIGGER, make_alert())], settings)
    report = outbox_delivery.deliver_pending(db, settings)
    assert len(report.dead) == 1 and [r.path for r in notify_env.http.received()] == [
        PAGERDUTY_PATH
    ]
    assert "redirect not followed" in outbox_rows(db)[0]["last_error"]


def test_smtp_temporary_refusal_is_retried_permanent_one_is_dead(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    settings = notify_env.settings()
    notify_env.smtp.refuse_next(1, "451 4.3.0 Try again later")
    outbox.enqueue(
        db, [Notification(Channel.EMAIL, Event.TRIGGER, make_alert(alert_id=1))], settings
    )
    outbox_delivery.deliver_pending(db, settings)
    notify_env.smtp.refuse_next(1, "550 5.1.1 No such mailbox")
    outbox.enqueue(
        db, [Notification(Channel.EMAIL, Event.TRIGGER, make_alert(alert_id=2))], settings
    )
    outbox_delivery.deliver_pending(db, settings)
    assert [(row["status"], row["attempts"]) for row in outbox_rows(db)] == [
        ("sent", 2),
        ("dead", 1),
    ]
    assert len(notify_env.smtp.messages) == 1


def test_a_channel_unset_at_send_time_keeps_its_rows(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    settings = notify_env.settings()
    outbox.enqueue(
        db,
        [Notification(Channel.SLACK_WARNING, Event.TRIGGER, make_alert(Severity.WARNING))],
        settings,
    )
    without = notify_env.settings(YTEMPIRE_SLACK_WARNING_WEBHOOK_URL="")
    report = outbox_delivery.deliver_pending(db, without)
    assert report.skipped == ["slack_warning: skipped, YTEMPIRE_SLACK_WARNING_WEBHOOK_URL not set"]
    assert outbox_rows(db)[0]["status"] == "pending" and notify_env.http.received() == []
    outbox_delivery.deliver_pending(db, settings)
    assert len(notify_env.slack_warning()) == 1


def test_resolve_reaches_pagerduty_with_the_same_dedup_key(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    settings = notify_env.settings()
    alert = make_alert()
    outbox.enqueue(db, notifications(alert, Event.TRIGGER, settings), settings)
    outbox_delivery.deliver_pending(db, settings)
    cleared = make_alert(notified_channels=outbox.notified_channels(db, alert.alert_id or 0))
    outbox.enqueue(db, notifications(cleared, Event.RESOLVE, settings), settings)
    outbox_delivery.deliver_pending(db, settings)
    trigger, resolve = (request.json for request in notify_env.pagerduty())
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == alert.dedup_key
    assert resolve["routing_key"] == notify_env.env["YTEMPIRE_PAGERDUTY_ROUTING_KEY"]
    assert len(notify_env.slack_critical()) == 2 and len(notify_env.smtp.messages) == 2


def test_dry_run_sends_nothing(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    outbox.enqueue(db, notifications(make_alert(), Event.TRIGGER, settings), settings)
    report = outbox_delivery.deliver_pending(db, settings, dry_run=True)
    direct = direct_delivery.deliver_direct(
        notifications(make_alert(alert_id=None), Event.TRIGGER, settings), settings, dry_run=True
    )
    assert len(report.deliveries) == 3 and all(item.body for item in report.deliveries)
    assert all(line.split(": ", 1)[1].startswith("would send") for line in report.lines())
    assert len(direct.deliveries) == 3 and all(
        item.status == "dry_run" for item in direct.deliveries
    )
    assert notify_env.http.received() == [] and notify_env.smtp.messages == []
    assert {row["status"] for row in outbox_rows(db)} == {"pending"}
    notify_env.assert_no_secret(json.dumps(report.to_dict()), json.dumps(direct.to_dict()))
    assert notify_env.undelivered_file is not None and not notify_env.undelivered_file.exists()


def test_two_deliverers_never_send_a_row_twice(
    db: psycopg.Connection, outbox_warehouse: Warehouse, notify_env: NotifyEnv
) -> None:
    settings = notify_env.settings()
    for alert_id in range(1, 7):
        outbox.enqueue(
            db,
            [Notification(Channel.PAGERDUTY, Event.TRIGGER, make_alert(alert_id=alert_id))],
            settings,
        )
    notify_env.http.delay_next(6, seconds=0.1)  # in time: slow enough for the passes to overlap
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            with connect(outbox_warehouse.conn) as own:
                outbox_delivery.deliver_pending(own, settings)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    bodies = [
        request.json["payload"]["custom_details"]["alert_id"]
        for request in notify_env.http.received(PAGERDUTY_PATH)
    ]
    assert sorted(bodies) == [1, 2, 3, 4, 5, 6]
    assert {row["status"] for row in outbox_rows(db)} == {"sent"}


# ---------------------------------------------------------------------------------------------
# without a database


def test_direct_delivery_when_the_database_is_down_then_requeued(
    db: psycopg.Connection, notify_env: NotifyEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = notify_env.settings()
    path = notify_env.undelivered_file
    assert path is not None
    outage = make_alert(alert_id=None, level=3, dedup_key="ytempire:complete_data_outage")
    notify_env.http.down()
    report = direct_delivery.deliver_direct(
        notifications(outage, Event.TRIGGER, settings), settings
    )
    assert sorted((item.channel, item.status) for item in report.deliveries) == [
        ("email", "sent"),
        ("pagerduty", "pending"),
        ("slack_critical", "pending"),
    ]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["status"] for line in lines} == {"sent", "pending"}
    notify_env.assert_no_secret(path.read_text())

    again = direct_delivery.deliver_direct(notifications(outage, Event.TRIGGER, settings), settings)
    assert [item.status for item in again.deliveries if item.channel == "email"] == ["duplicate"]
    assert len(notify_env.smtp.messages) == 1

    notify_env.http.up()
    delivered = outbox_delivery.deliver_pending(db, settings)
    assert delivered.requeued == 3 and not path.exists()
    assert len(notify_env.pagerduty()) == 1 and len(notify_env.slack_critical()) == 1
    assert len(notify_env.smtp.messages) == 1
    rows = outbox_rows(db)
    assert sorted((row["channel"], row["status"]) for row in rows) == [
        ("email", "sent"),
        ("pagerduty", "sent"),
        ("slack_critical", "sent"),
    ]
    assert all(row["level"] == 3 and row["alert_id"] is None for row in rows)
    assert outbox_delivery.deliver_pending(db, settings).deliveries == []
    notify_env.assert_no_secret(
        our_logs(caplog),
        json.dumps([row["payload"] for row in rows]),
        [row["last_error"] for row in rows],
    )


def test_unreadable_undelivered_lines_are_kept_aside(
    db: psycopg.Connection, notify_env: NotifyEnv
) -> None:
    path = notify_env.undelivered_file
    assert path is not None
    path.write_text("not json\n")
    outbox_delivery.deliver_pending(db, notify_env.settings())
    assert not path.exists()
    assert path.with_name(path.name + ".invalid").read_text() == "not json\n"


def test_received_email_is_the_rendered_one(db: psycopg.Connection, notify_env: NotifyEnv) -> None:
    settings = notify_env.settings()
    alert = make_alert()
    outbox.enqueue(db, [Notification(Channel.EMAIL, Event.TRIGGER, alert)], settings)
    outbox_delivery.deliver_pending(db, settings)
    received = notify_env.smtp.messages[0].message
    assert isinstance(received, EmailMessage)
    assert str(received["X-Ytempire-Dedup-Key"]).strip() == alert.dedup_key
    assert received.get_body(("html",)) is not None
    assert SLACK_CRITICAL_PREFIX not in received.as_string()
