"""The escalation file (config/escalation.yml): loaded, validated, and alerts placed on it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from orchestrator import escalation, escalation_matrix, project_vars
from orchestrator.alert import Alert, Contact, Member, Severity
from orchestrator.alert_meta import AlertMeta
from orchestrator.artifacts import NodeResult, ResultKind
from orchestrator.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parents[2]
ESCALATION_FILE = PROJECT_DIR / "config" / "escalation.yml"
COLUMNS = (  # the fields of Alert that are columns of ops.alerts_log
    "dedup_key",
    "alert_type",
    "escalation",
    "severity",
    "level",
    "owner",
    "action",
    "sla_minutes",
    "message",
    "figure",
    "node_id",
    "node_name",
    "docs_url",
    "status",
    "alert_id",
)


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(ESCALATION_FILE.read_text())


@pytest.fixture(scope="module")
def matrix() -> escalation_matrix.Matrix:
    return escalation_matrix.load(ESCALATION_FILE)


def _result(kind: ResultKind, meta: AlertMeta | None = None, **fields) -> NodeResult:
    values = {
        "unique_id": "test.ytempire.assert_something",
        "resource_type": "test",
        "name": "assert_something",
        "status": {"warn": "warn", "fail": "fail", "error": "error"}.get(str(kind), str(kind)),
        "kind": kind,
        "origin": "build",
        "failures": 3,
        "meta": meta or AlertMeta(),
    }
    values.update(fields)
    return NodeResult(**values)


def test_the_shipped_file_is_the_playbook_matrix(matrix, document):
    assert set(matrix.categories) == set(escalation_matrix.REQUIRED_CATEGORIES)
    for name, category in matrix.categories.items():
        raw_levels = document["categories"][name]["levels"]
        assert sorted(category.levels) == [1, 2, 3]
        for number, level in category.levels.items():
            assert level.owner == raw_levels[number]["owner"]
            assert level.sla_minutes == raw_levels[number]["sla_minutes"]
            assert level.owner in matrix.contacts
    # the playbook's own figures, kept as data
    assert matrix.level("data_issues", 1).sla_minutes == 30
    assert matrix.level("cost_overruns", 3).owner == "vp_of_ai"
    assert matrix.level("cost_overruns", 3).sla_minutes == 15
    for contact in matrix.contacts.values():
        assert contact.pagerduty_routing_key_env == "YTEMPIRE_PAGERDUTY_ROUTING_KEY"


def _broken(document: dict, path: list, value) -> dict:
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ["categories", "data_issues", "levels", 2, "owner"],
            "data_enginer",
            r"categories\.data_issues\.levels\.2\.owner` is 'data_enginer', not a role .*"
            r"allowed: .*\bdata_engineer\b",
        ),
        (
            ["categories", "quota", "levels", 3],
            KeyError,
            r"categories\.quota\.levels\.3` is missing",
        ),
        (
            ["categories", "quality", "levels", 1, "sla_minutes"],
            -5,
            r"levels\.1\.sla_minutes` is -5; it must be a positive integer",
        ),
        (
            ["categories", "quality", "levels", 1, "slaminutes"],
            5,
            r"levels\.1\.slaminutes` is not a known key \(allowed: condition, owner, action, "
            r"sla_minutes\)",
        ),
        (
            ["categories", "cost_overrun"],
            {"levels": {}},
            r"categories\.cost_overrun` is not a known key \(allowed: data_issues",
        ),
        (
            ["categories", "performance_issues"],
            KeyError,
            r"categories\.performance_issues` is missing",
        ),
        (
            ["contacts", "data_engineer", "pagerduty_routing_key_env"],
            "abc-123-not-a-name!",
            r"must name an environment variable",
        ),
        (["on_call", "backup"], "nobody", r"on_call\.backup` is 'nobody', not a role"),
    ],
)
def test_validation_names_file_key_and_allowed(document, tmp_path, path, value, expected):
    target = tmp_path / "escalation.yml"
    target.write_text(yaml.safe_dump(_broken(document, path, value)))
    with pytest.raises(ConfigError, match=expected) as raised:
        escalation_matrix.load(target)
    assert str(target) in str(raised.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read the escalation file"):
        escalation_matrix.load(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("categories: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        escalation_matrix.load(bad)


def test_env_var_names_another_file(monkeypatch, tmp_path):
    monkeypatch.setenv(escalation_matrix.ENV_FILE, str(tmp_path / "mine.yml"))
    assert escalation_matrix.default_path(PROJECT_DIR) == tmp_path / "mine.yml"


def test_warning_is_level_1_with_the_nodes_owner(matrix):
    meta = AlertMeta(alert_type="API_QUOTA", escalation="quota", owner="data_engineer")
    alert = escalation.alert_for_result(
        matrix, _result(ResultKind.WARN, meta), "7,812 units", "http://docs.example"
    )
    assert (alert.severity, alert.level, alert.escalation) == (Severity.WARNING, 1, "quota")
    assert alert.owner == "data_engineer"  # the node's owner is the first responder
    assert alert.action == matrix.level("quota", 1).action
    assert alert.sla_minutes == matrix.level("quota", 1).sla_minutes
    assert alert.figure == "7,812 units" and "7,812 units" in alert.message
    assert alert.docs_url == "http://docs.example/#!/test/test.ytempire.assert_something"
    assert alert.dedup_key == "ytempire:quota:API_QUOTA"  # one condition per type and category


@pytest.mark.parametrize("kind", [ResultKind.FAIL, ResultKind.ERROR])
def test_failure_is_level_2_with_the_matrix_owner(matrix, kind):
    meta = AlertMeta(
        alert_type="COST_PER_VIDEO", escalation="cost_overruns", owner="analytics_engineer"
    )
    alert = escalation.alert_for_result(matrix, _result(kind, meta))
    assert (alert.severity, alert.level) == (Severity.CRITICAL, 2)
    assert alert.owner == matrix.level("cost_overruns", 2).owner
    assert alert.node_owner == "analytics_engineer"


def test_node_can_declare_a_system_wide_failure(matrix):
    meta = AlertMeta(alert_type="DAILY_COST", escalation="cost_overruns", escalation_level=3)
    alert = escalation.alert_for_result(matrix, _result(ResultKind.FAIL, meta))
    assert alert.level == 3 and alert.owner == matrix.level("cost_overruns", 3).owner
    warned = escalation.alert_for_result(matrix, _result(ResultKind.WARN, meta))
    assert warned.level == 1


def test_node_without_meta_still_alerts_as_data_issues(matrix):
    alert = escalation.alert_for_result(matrix, _result(ResultKind.ERROR))
    assert alert.escalation == "data_issues" and alert.alert_type == escalation.DEFAULT_ALERT_TYPE
    assert alert.level == 2 and alert.owner == matrix.level("data_issues", 2).owner


def test_unknown_category_is_kept_visible(matrix):
    meta = AlertMeta(escalation="typo", owner="nobody")
    alert = escalation.alert_for_result(matrix, _result(ResultKind.WARN, meta))
    assert alert.escalation == "data_issues" and alert.unknown_escalation == "typo"
    assert alert.owner == matrix.level("data_issues", 1).owner and alert.unknown_owner == "nobody"
    assert escalation.condition_key(matrix, meta) == "ytempire:data_issues:DBT_RESULT"


def test_escalated_goes_one_level_up(matrix):
    meta = AlertMeta(alert_type="DATA_FRESHNESS", escalation="data_issues")
    first = escalation.alert_for_result(matrix, _result(ResultKind.WARN, meta))
    second = escalation.escalated(matrix, first)
    third = escalation.escalated(matrix, second)
    assert [a.level for a in (first, second, third)] == [1, 2, 3]
    assert [a.owner for a in (second, third)] == [
        matrix.level("data_issues", n).owner for n in (2, 3)
    ]
    assert second.severity is Severity.CRITICAL
    assert (first.previous_level, second.previous_level, third.previous_level) == (None, 1, 2)
    assert third.condition == matrix.level("data_issues", 3).condition
    assert third.owner_contact == matrix.contacts[third.owner]
    assert escalation.escalated(matrix, third).level == 3  # the top stays the top


def test_freshness_message_quotes_minutes_and_limits(matrix):
    result = _result(
        ResultKind.ERROR,
        AlertMeta(escalation="data_issues"),
        origin="freshness",
        resource_type="source",
        name="raw.video_stats",
        minutes_stale=182.4,
        warn_after_minutes=15.0,
        error_after_minutes=60.0,
        failures=None,
    )
    alert = escalation.alert_for_result(matrix, result, "182 minutes stale")
    assert alert.message == (
        "source raw.video_stats last loaded 182 minutes ago (warn after 15 min, error after 60 min)"
    )


def test_project_vars_come_from_dbt_project_yml():
    values = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    loaded = project_vars.load(PROJECT_DIR)
    assert loaded.alert_cooldown_minutes == values["alert_cooldown_minutes"]
    assert loaded.daily_cost_critical_cents == (
        values["daily_cost_budget_multiplier_critical"] * values["daily_cost_budget_cents"]
    )
    with pytest.raises(ConfigError, match="no var `nope`"):
        loaded.get("nope")


def test_one_alert_per_condition_the_worst_member_speaks(matrix):
    meta = AlertMeta(alert_type="DATA_FRESHNESS", escalation="data_issues")
    source = _result(
        ResultKind.ERROR,
        meta,
        origin="freshness",
        resource_type="source",
        unique_id="source.ytempire.raw.video_stats",
        name="raw.video_stats",
        minutes_stale=182.0,
        failures=None,
    )
    other_source = _result(
        ResultKind.WARN,
        meta,
        origin="freshness",
        resource_type="source",
        unique_id="source.ytempire.raw.revenue",
        name="raw.revenue",
        minutes_stale=75.0,
        failures=None,
    )
    mart_test = _result(ResultKind.FAIL, meta, name="assert_data_not_stale", failures=1)
    quota = _result(ResultKind.WARN, AlertMeta(alert_type="API_QUOTA", escalation="quota"))
    alerts = [
        escalation.alert_for_result(matrix, result, figure)
        for result, figure in (
            (other_source, "75 minutes stale"),
            (mart_test, "180 minutes"),
            (quota, "7,600 units"),
            (source, "182 minutes stale"),
        )
    ]
    merged = escalation.merge_conditions(alerts)
    assert [a.dedup_key for a in merged] == [
        "ytempire:data_issues:DATA_FRESHNESS",
        "ytempire:quota:API_QUOTA",
    ]
    freshness = merged[0]
    assert (freshness.level, freshness.severity, freshness.figure) == (
        2,
        Severity.CRITICAL,
        "182 minutes stale",
    )
    assert freshness.node_id == "source.ytempire.raw.video_stats"
    assert freshness.owner == matrix.level("data_issues", 2).owner
    assert "also: assert_data_not_stale, raw.revenue" in freshness.message
    assert [m.node_name for m in freshness.members] == [
        "raw.video_stats",
        "assert_data_not_stale",
        "raw.revenue",
    ]
    assert merged[1] is alerts[2]


def _freshness_alert(matrix) -> Alert:
    result = _result(
        ResultKind.ERROR,
        AlertMeta(alert_type="DATA_FRESHNESS", escalation="data_issues", owner="data_engineer"),
        origin="freshness",
        resource_type="source",
        unique_id="source.ytempire.raw.video_stats",
        name="raw.video_stats",
        status="error",
        minutes_stale=182.44,
        failures=None,
    )
    return escalation.alert_for_result(matrix, result, "182 minutes stale")


def test_alert_carries_what_dbt_reported_and_the_matrix_said(matrix):
    alert = _freshness_alert(matrix)
    assert (alert.dbt_status, alert.failures, alert.minutes_stale) == ("error", None, 182.4)
    assert alert.members == (
        Member(
            node_id="source.ytempire.raw.video_stats",
            node_name="raw.video_stats",
            status="error",
            figure="182 minutes stale",
            level=2,
        ),
    )
    assert alert.condition == matrix.level("data_issues", 2).condition
    assert alert.owner_contact == matrix.contacts[alert.owner]
    assert (alert.node_owner, alert.unknown_owner, alert.unknown_escalation) == (
        "data_engineer",
        None,
        None,
    )
    assert (alert.previous_level, alert.event_seq, alert.notified_channels) == (None, 0, None)


def test_details_are_stored_and_read_back(matrix):
    alert = escalation.escalated(matrix, _freshness_alert(matrix))
    stored = json.loads(json.dumps(alert.details()))  # what the jsonb column gives back
    assert stored["members"][0]["node_name"] == "raw.video_stats"
    assert stored["previous_level"] == 2 and stored["minutes_stale"] == 182.4
    assert "event_seq" not in stored and "notified_channels" not in stored
    bare = Alert(**{name: getattr(alert, name) for name in COLUMNS})
    assert bare.with_details(stored) == alert


def test_details_of_older_rows_still_load(matrix):
    """Unknown keys are ignored, missing ones keep their defaults."""
    bare = Alert(**{name: getattr(_freshness_alert(matrix), name) for name in COLUMNS})
    loaded = bare.with_details(
        {
            "node_owner": "data_engineer",
            "members": [{"node_id": "source.x.raw.y", "status": "warn", "retired_key": 1}],
            "owner_contact": {"slack": "#data-eng", "phone": "555"},
            "a_key_from_an_older_version": {"anything": True},
        }
    )
    assert loaded.node_owner == "data_engineer"
    assert loaded.members == (Member(node_id="source.x.raw.y", status="warn"),)
    assert loaded.owner_contact == Contact(role=bare.owner, slack="#data-eng")
    assert (loaded.condition, loaded.previous_level, loaded.minutes_stale) == (None, None, None)
    assert bare.with_details(None) == bare == bare.with_details({})


def test_to_dict_keeps_the_extra_section_of_the_json_document(matrix):
    alert = _freshness_alert(matrix)
    document = json.loads(json.dumps(alert.to_dict()))
    assert set(document) == {*COLUMNS, "extra"}
    assert document["severity"] == "CRITICAL" and document["level"] == 2
    assert document["extra"] == {**alert.details(), "event_seq": 0}
    assert document["extra"]["members"][0]["figure"] == "182 minutes stale"
