"""The great-expectations suites (`ytempire quality`, and `morning` after its build) on both
servers, through the real CLI with real HTTP and SMTP receivers.

One warehouse per server: generated (scale 0.02, 35 days, as_of pinned) and built by
`ytempire morning`, which runs the suites after dbt. Clean data passes every expectation. Each
planted problem (written into the marts the suites read, then put back) fails exactly the
expectations it should, with the observed value computed here independently, raises the suite's
alert at the matrix level its severity gives (owner, channels), and resolves when put back.
"""

from __future__ import annotations

import json
import re
import secrets as token_source
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import PROJECT_DIR, Warehouse
from notify_servers import (
    EMAIL_FROM,
    ONCALL_EMAIL,
    PAGERDUTY_PATH,
    SLACK_CRITICAL_PREFIX,
    SLACK_WARNING_PREFIX,
    RecordingHTTPServer,
    RecordingSMTPServer,
)

from orchestrator import conditions, escalation_matrix, playbooks
from orchestrator.cli import main
from orchestrator.commands.quality import SUITE_NAMES
from orchestrator.connection import connect
from orchestrator.context import RunContext, RunRequest
from orchestrator.dbt_stage import DbtOutcome
from orchestrator.generate import generate
from orchestrator.quality.stage import QualityOutcome

AS_OF = datetime(2026, 11, 16, 8, 20, tzinfo=UTC)  # a Monday morning
SCALE, DAYS = 0.02, 35


@dataclass
class Quality:
    warehouse: Warehouse
    env: dict[str, str]
    http: RecordingHTTPServer
    smtp: RecordingSMTPServer
    morning: dict[str, Any]
    morning_code: int

    def run(self, *arguments: str) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(
            main, ["quality", "--as-of", AS_OF.isoformat(), "--json", *arguments], env=self.env
        )
        assert "Traceback" not in result.output, result.output[-3000:]
        return result.exit_code, json.loads(result.stdout)

    def stored(self, run_id: int) -> list[dict[str, Any]]:
        return self.warehouse.query_dicts(
            "select check_name, check_type, status, severity, observed_value, observed,"
            " checked_at from ops.data_quality_checks where run_id = %s order by check_id",
            (run_id,),
        )

    def scalar(self, statement: str, params: Any = None) -> Any:
        with connect(self.warehouse.conn, as_of=AS_OF.isoformat()) as db:
            return db.execute(statement, params).fetchone()[0]


@pytest.fixture(scope="module")
def quality(new_warehouse, tmp_path_factory) -> Iterator[Quality]:
    warehouse = new_warehouse("quality")
    generate(warehouse.conn, scale=SCALE, days=DAYS, as_of=AS_OF, seed=42)
    state = tmp_path_factory.mktemp("quality_state")
    http = RecordingHTTPServer().start()
    smtp = RecordingSMTPServer(user="ytempire", password=token_source.token_urlsafe(12)).start()
    env = {
        **warehouse.conn.env(),
        "YTEMPIRE_TARGET_PATH": str(warehouse.target_path),
        "YTEMPIRE_OUTAGE_FILE": str(state / "outage.json"),
        "YTEMPIRE_UNDELIVERED_FILE": str(state / "undelivered.jsonl"),
        "YTEMPIRE_SLACK_WARNING_WEBHOOK_URL": http.url(SLACK_WARNING_PREFIX + "w"),
        "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL": http.url(SLACK_CRITICAL_PREFIX + "c"),
        "YTEMPIRE_PAGERDUTY_ROUTING_KEY": token_source.token_hex(16),
        "YTEMPIRE_PAGERDUTY_URL": http.url(PAGERDUTY_PATH),
        "YTEMPIRE_SMTP_URL": smtp.url(),
        "YTEMPIRE_EMAIL_FROM": EMAIL_FROM,
        "YTEMPIRE_ONCALL_EMAIL": ONCALL_EMAIL,
        "YTEMPIRE_NOTIFY_TIMEOUT_S": "2",
    }
    result = CliRunner().invoke(main, ["morning", "--as-of", AS_OF.isoformat(), "--json"], env=env)
    assert "Traceback" not in result.output, result.output[-3000:]
    try:
        yield Quality(warehouse, env, http, smtp, json.loads(result.stdout), result.exit_code)
    finally:
        http.down()
        smtp.stop()


def section(document: dict[str, Any], title: str) -> list[dict[str, Any]]:
    return next(s["rows"] for s in document["reports"] if s["title"] == title)


def every_check() -> list[tuple[str, str]]:
    from orchestrator.quality import suites

    return [(suite.check_type, check.name) for suite in suites.SUITES for check in suite.checks]


# --------------------------------------------------------------------------------------------
# Clean data, morning, the stored rows
# --------------------------------------------------------------------------------------------


def test_morning_runs_every_suite_after_its_build_and_clean_data_passes(quality) -> None:
    document = quality.morning
    assert quality.morning_code == 0, (document.get("error"), document.get("alerts"))
    assert [(c["check_type"], c["check"]) for c in document["quality"]] == every_check()
    assert {c["status"] for c in document["quality"]} == {"passed"}
    assert document["alerts"] == []
    stored = quality.stored(document["run_id"])
    assert [(row["check_type"], row["check_name"]) for row in stored] == every_check()
    assert {row["checked_at"] for row in stored} == {AS_OF}  # the run's instant, not the clock


def test_morning_data_quality_section_counts_the_stored_checks(quality) -> None:
    rows = [
        {key: row[key] for key in ("check_type", "passed", "warnings", "failed")}
        for row in section(quality.morning, "Data quality checks")
        if row["source"] == "great-expectations"  # the dbt tests are counted beside them
    ]
    stored = quality.stored(quality.morning["run_id"])
    by_type = Counter((row["check_type"], row["status"]) for row in stored)
    expected = [
        {
            "check_type": check_type,
            "passed": by_type[(check_type, "passed")],
            "warnings": by_type[(check_type, "warning")],
            "failed": by_type[(check_type, "failed")] + by_type[(check_type, "error")],
        }
        for check_type in sorted({row["check_type"] for row in stored})
    ]
    assert rows == expected
    assert sum(row["passed"] for row in rows) == len(every_check())


def test_quality_json_matches_the_stored_rows(quality) -> None:
    code, document = quality.run()
    assert code == 0, document["alerts"]
    assert document["results"] == []  # no dbt run
    stored = quality.stored(document["run_id"])
    assert [
        (row["check_name"], row["status"], row["severity"], row["observed"]) for row in stored
    ] == [(c["check"], c["status"], c["severity"], c["observed"]) for c in document["quality"]]
    assert [float(row["observed_value"]) for row in stored] == [
        c["observed_value"] for c in document["quality"]
    ]
    assert document["quality_counts"] == {
        "passed": len(every_check()),
        "warning": 0,
        "failed": 0,
        "error": 0,
    }


def test_a_dry_run_checks_but_stores_nothing(quality) -> None:
    code, document = quality.run("--dry-run")
    assert code == 0
    assert document["dry_run"] is True
    assert len(document["quality"]) == len(every_check())
    assert quality.stored(document["run_id"]) == []


def test_the_command_offers_exactly_the_suites() -> None:
    from orchestrator.quality import suites

    assert tuple(suite.name for suite in suites.SUITES) == SUITE_NAMES


def test_one_suite_runs_alone(quality) -> None:
    code, document = quality.run("--suite", "volume")
    assert code == 0
    assert [c["check"] for c in document["quality"]] == [
        name for check_type, name in every_check() if check_type == "volume"
    ]


# --------------------------------------------------------------------------------------------
# Planted problems
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    table: str  # the mart the problem is written into (saved first, put back after)
    statement: str
    failing: dict[str, str]  # check -> status it must have
    alerts: dict[str, tuple[int, str]]  # alert type -> (level, owner) it must raise


CUT = "%(as_of)s::timestamptz - interval '24 hours'"
PLANTS = {
    "missing_day_of_stats": Plant(
        "fct_video_performance",
        f"delete from analytics.fct_video_performance where collected_at > {CUT}",
        {
            "video_stats_volume_in_weekday_band": "failed",
            "published_yesterday_stats_last_24h": "warning",
        },
        {"QUALITY_VOLUME": (2, "data_engineer"), "QUALITY_COMPLETENESS": (1, "data_engineer")},
    ),
    "cost_category_tripled": Plant(
        "fct_costs",
        "update analytics.fct_costs set amount_cents = amount_cents * 3"
        f" where cost_category = 'voice' and incurred_at > {CUT}",
        {"cost_per_video_not_above_band": "warning"},
        {"QUALITY_DISTRIBUTION": (1, "analytics_engineer")},
    ),
    "engagement_over_1_on_1pct": Plant(
        "fct_video_performance",
        "update analytics.fct_video_performance set engagement_rate = 1.5"
        " where video_performance_id in (select video_performance_id"
        " from analytics.fct_video_performance order by video_performance_id"
        " limit (select ceil(count(*) / 100.0) from analytics.fct_video_performance))",
        {"engagement_rate_in_unit_interval": "failed"},
        {"QUALITY_DISTRIBUTION": (2, "data_engineer")},
    ),
    "counter_reset": Plant(
        "fct_video_performance",
        "update analytics.fct_video_performance"
        " set views = 0, likes = 0, comments = 0, watch_minutes = 0"
        " where video_performance_id = (select video_performance_id"
        " from analytics.fct_video_performance where video_id = (select min(video_id)"
        " from analytics.fct_video_performance) order by collected_hour offset 3 limit 1)",
        {"counters_never_decrease_beyond_tolerance": "warning"},
        {"QUALITY_CONSISTENCY": (1, "analytics_engineer")},
    ),
}


def expected_observed(quality: Quality, name: str) -> float:
    """The observed value of the planted problem's first check, computed from the marts here."""
    clock = {"as_of": AS_OF}
    if name == "missing_day_of_stats":
        return 0.0  # no row in the last 24 h: ratio 0 to the four-week average
    if name == "cost_category_tripled":
        touched = quality.scalar(
            "select count(distinct incurred_date) from analytics.fct_costs"
            f" where cost_category = 'voice' and incurred_at > {CUT}",
            clock,
        )
        judged = quality.scalar(  # (day, category) pairs of the last 7 days with a baseline
            "select count(*) from (select distinct incurred_date, cost_category"
            " from analytics.fct_costs where incurred_date > %(day)s::date - 7"
            " and incurred_at <= %(as_of)s) as days"
            " where exists (select 1 from analytics.cost_baselines as b"
            " where b.cost_category = days.cost_category and not b.is_total_row"
            " and b.month_start_date = (date_trunc('month', days.incurred_date)"
            " - interval '1 month')::date)",
            {**clock, "day": AS_OF.date()},
        )
        return round(100 * touched / judged, 4)
    if name == "engagement_over_1_on_1pct":
        total, planted = quality.warehouse.query(
            "select count(engagement_rate), count(*) filter (where engagement_rate > 1)"
            " from analytics.fct_video_performance"
        )[0]
        return round(100 * planted / total, 4)
    rows, videos = quality.warehouse.query(  # counter_reset: one row of those with a previous
        "select count(*), count(distinct video_id) from analytics.fct_video_performance"
        " where collected_at <= %s",
        (AS_OF,),
    )[0]
    return round(100 / (rows - videos), 4)


def pagerduty_events(quality: Quality) -> list[dict[str, Any]]:
    return [r.json for r in quality.http.acknowledged(PAGERDUTY_PATH)]


def slack_dedup_keys(bodies: list[str]) -> list[str]:
    return [key for body in bodies for key in re.findall(r"dedup key `([^`]+)`", body)]


@pytest.mark.parametrize("name", list(PLANTS))
def test_a_planted_problem_fails_exactly_its_checks_alerts_and_resolves(quality, name) -> None:
    plant = PLANTS[name]
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    quality.warehouse.execute(f"create table public.saved as table analytics.{plant.table}")
    quality.http.clear()
    mails_before = len(quality.smtp.messages)
    try:
        quality.warehouse.execute(plant.statement, {"as_of": AS_OF})
        code, document = quality.run()
        failing = {c["check"]: c for c in document["quality"] if c["status"] != "passed"}
        assert {check: c["status"] for check, c in failing.items()} == plant.failing
        first = failing[next(iter(plant.failing))]
        assert first["observed_value"] == pytest.approx(expected_observed(quality, name))
        stored = {row["check_name"]: row for row in quality.stored(document["run_id"])}
        assert float(stored[first["check"]]["observed_value"]) == pytest.approx(
            first["observed_value"]
        )
        critical = {t for t, (level, _) in plant.alerts.items() if level >= 2}
        assert code == (2 if critical else 1)

        alerts = {alert["alert_type"]: alert for alert in document["alerts"]}
        assert {t: (a["level"], a["owner"]) for t, a in alerts.items()} == plant.alerts
        assert {a["escalation"] for a in alerts.values()} == {"quality"}
        for alert_type in critical:  # level 1: the suite's first responder; 2: the matrix's
            assert alerts[alert_type]["owner"] == matrix.level("quality", 2).owner
        for alert in alerts.values():
            assert alert["figure"] == failing[alert["node_id"].rsplit(".", 1)[1]]["observed"]
        channels = Counter(n["channel"] for n in document["notifications"])
        warnings = len(plant.alerts) - len(critical)
        assert channels == Counter(
            {"pagerduty": len(critical), "slack_critical": len(critical), "email": len(critical)}
            | ({"slack_warning": warnings} if warnings else {})
        )
        triggers = pagerduty_events(quality)
        assert sorted((e["event_action"], e["dedup_key"]) for e in triggers) == sorted(
            ("trigger", alerts[t]["dedup_key"]) for t in critical
        )
        mails = quality.smtp.messages[mails_before:]
        assert sorted(m.message["X-Ytempire-Dedup-Key"] for m in mails) == sorted(
            alerts[t]["dedup_key"] for t in critical
        )
        owners = {alerts[t]["dedup_key"]: alerts[t]["owner"] for t in critical}
        for mail in mails:
            # the on-call address first, then the owner's from the matrix (then who is on call)
            owner = owners[mail.message["X-Ytempire-Dedup-Key"]]
            assert mail.rcpt_tos[:2] == [ONCALL_EMAIL, matrix.contacts[owner].email]
        slack = [r.body.decode() for r in quality.http.acknowledged(SLACK_WARNING_PREFIX)]
        assert sorted(slack_dedup_keys(slack)) == sorted(
            a["dedup_key"] for t, a in alerts.items() if t not in critical
        )
    finally:
        quality.warehouse.execute(
            f"truncate analytics.{plant.table};"
            f" insert into analytics.{plant.table} select * from public.saved;"
            " drop table public.saved"
        )

    code, document = quality.run()
    assert code == 0, document["alerts"]
    assert {c["status"] for c in document["quality"]} == {"passed"}
    resolved = [e["dedup_key"] for e in document["events"] if e["event"] == "resolve"]
    assert sorted(resolved) == sorted(a["dedup_key"] for a in alerts.values())
    resolves = [e for e in pagerduty_events(quality) if e["event_action"] == "resolve"]
    assert sorted(e["dedup_key"] for e in resolves) == sorted(
        alerts[t]["dedup_key"] for t in critical
    )


def test_a_check_that_cannot_run_is_an_error_naming_the_relation(quality) -> None:
    quality.warehouse.execute("alter table analytics.dim_channel rename to dim_channel_away")
    try:
        code, document = quality.run("--suite", "consistency")
    finally:
        quality.warehouse.execute("alter table analytics.dim_channel_away rename to dim_channel")
    errors = {c["check"]: c for c in document["quality"] if c["status"] == "error"}
    assert set(errors) == {"videos_with_stats_have_a_channel", "videos_with_stats_have_an_owner"}
    assert all('"analytics.dim_channel" does not exist' in c["observed"] for c in errors.values())
    assert code == 2
    (alert,) = document["alerts"]
    assert (alert["alert_type"], alert["level"]) == ("QUALITY_CONSISTENCY", 2)
    code, document = quality.run("--suite", "consistency")
    assert code == 0
    assert [e["event"] for e in document["events"]] == ["resolve"]


# --------------------------------------------------------------------------------------------
# Monthly reads the stored checks; hourly never imports great_expectations
# --------------------------------------------------------------------------------------------


def test_monthly_section_counts_last_months_checks(quality) -> None:
    report = next(
        r for r in playbooks.PLAYBOOKS["monthly"].reports if r.title.startswith("Data quality")
    )
    next_month = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    rows = quality.warehouse.query_dicts(
        "select check_type, check_name, status from ops.data_quality_checks"
        " where checked_at >= %s and checked_at < %s",
        (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    )
    assert len(rows) > len(every_check())  # morning and the quality runs above
    counted = Counter((r["check_type"], r["check_name"], r["status"]) for r in rows)
    expected = [
        (
            check_type,
            check,
            counted[(check_type, check, "passed")],
            counted[(check_type, check, "warning")],
            counted[(check_type, check, "failed")] + counted[(check_type, check, "error")],
        )
        for check_type, check in sorted({(r["check_type"], r["check_name"]) for r in rows})
    ]
    with connect(quality.warehouse.conn, as_of=next_month.isoformat()) as db:
        section = playbooks.query_section(db, report)
    assert section.error is None
    assert section.rows == expected
    with connect(quality.warehouse.conn, as_of=(next_month - timedelta(days=1)).isoformat()) as db:
        assert playbooks.query_section(db, report).rows == []  # October: nothing checked


def test_hourly_does_not_import_great_expectations(quality) -> None:
    if quality.warehouse.server != "embedded":
        pytest.skip("one server is enough: this checks the imports, not the data")
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from orchestrator.cli import main\n"
        f"result = CliRunner().invoke(main, ['hourly', '--as-of', '{AS_OF.isoformat()}'])\n"
        "print(result.exit_code, 'great_expectations' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**quality.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_DIR,
    )
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr[-2000:]


# --------------------------------------------------------------------------------------------
# The conditions stage: suites that cannot run at all, and what a quality-only run resolves
# --------------------------------------------------------------------------------------------


def test_suites_that_cannot_run_raise_quality_error_and_resolve_nothing_of_dbt() -> None:
    ctx = RunContext.build(RunRequest(command="quality", run_dbt=False, run_quality=True))
    failed = conditions.evaluate(
        ctx, None, DbtOutcome(ran=False), QualityOutcome(failure="the suites could not run: x")
    )
    (alert,) = failed.alerts
    assert (alert.alert_type, alert.escalation, alert.level) == ("QUALITY_ERROR", "quality", 2)
    assert alert.owner == ctx.settings.matrix.level("quality", 2).owner
    # dbt did not run: neither its could-not-run condition nor the quality one is resolved
    assert conditions.KEY_DBT_COULD_NOT_RUN not in failed.evaluated
    assert conditions.QUALITY_COULD_NOT_RUN.key not in failed.evaluated
    passed = conditions.evaluate(ctx, None, DbtOutcome(ran=False), QualityOutcome(ran=True))
    assert passed.alerts == []
    assert conditions.QUALITY_COULD_NOT_RUN.key in passed.evaluated
    assert conditions.KEY_DBT_COULD_NOT_RUN not in passed.evaluated
