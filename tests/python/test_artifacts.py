"""The artifact parser against real dbt artifacts: a tiny dbt project run on each server.

The project has a fresh, a late, a stale and a missing source; a model with meta, one without,
one that breaks; tests that pass, warn, fail (one storing its failures with a figure column)
and one skipped downstream of the broken model. Expectations come from the rows written here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from textwrap import dedent

import pytest

from orchestrator import artifacts, dbt_invoke, escalation, runner
from orchestrator.artifacts import ResultKind
from orchestrator.connection import connect

PROJECT_DIR = Path(__file__).resolve().parents[2]
VALUES = [1, 2, 5, 7, 7]  # m_values.v; accepted values are 1 and 2
PROJECT_TEST_META = {
    "alert_type": "TEST_DEFAULT",
    "escalation": "data_issues",
    "owner": "analytics_engineer",
}

FILES = {
    "dbt_project.yml": """
        name: artifacts_probe
        version: "0.1.0"
        config-version: 2
        profile: ytempire
        flags:
          send_anonymous_usage_stats: false
        models:
          artifacts_probe:
            +materialized: table
        data_tests:
          artifacts_probe:
            +meta:
              alert_type: TEST_DEFAULT
              escalation: data_issues
              owner: analytics_engineer
        sources:
          artifacts_probe:
            +meta:
              alert_type: DATA_FRESHNESS
              escalation: data_issues
              owner: analytics_engineer
    """,
    "models/_models.yml": """
        version: 2
        sources:
          - name: probe
            schema: probe_raw
            loaded_at_field: loaded_at
            config:
              freshness:
                warn_after: {count: 15, period: minute}
                error_after: {count: 60, period: minute}
            tables:
              - name: fresh_t
              - name: late_t
              - name: stale_t
              - name: missing_t
        models:
          - name: m_values
            config:
              meta:
                alert_type: COST_PER_VIDEO
                escalation: cost_overruns
                owner: data_engineer
            columns:
              - name: id
                data_tests:
                  - unique
                  - not_null:
                      config:
                        severity: warn
              - name: v
                data_tests:
                  - accepted_values:
                      arguments:
                        values: [1, 2]
                      config:
                        store_failures: true
                        meta:
                          alert_type: API_QUOTA
                          figure_column: value_field
                          figure_agg: max
                          figure_unit: units
          - name: m_plain
            columns:
              - name: id
                data_tests:
                  - not_null
          - name: m_broken
            columns:
              - name: id
                data_tests:
                  - not_null
    """,
    "models/m_values.sql": "select * from (values {rows}) as t (id, v)",
    "models/m_plain.sql": "select 1 as id union all select null",
    "models/m_broken.sql": "select id from probe_raw.no_such_table",
}


def _write_project(root: Path) -> None:
    rows = ", ".join(f"({i // 2 + 1}, {v})" for i, v in enumerate(VALUES))
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).strip().replace("{rows}", rows) + "\n")
    shutil.copyfile(PROJECT_DIR / "profiles.yml.example", root / "profiles.yml")


@pytest.fixture(scope="module")
def probe(new_warehouse, tmp_path_factory):
    """Run `dbt source freshness` and `dbt build` of the probe project once per server."""
    warehouse = new_warehouse("artifacts")
    root = tmp_path_factory.mktemp("artifacts_probe")
    _write_project(root)
    with connect(warehouse.conn) as db:
        db.execute("create schema probe_raw")
        for table, age in (
            ("fresh_t", "1 minute"),
            ("late_t", "30 minutes"),
            ("stale_t", "3 hours"),
        ):
            db.execute(f"create table probe_raw.{table} (loaded_at timestamptz)")
            db.execute(f"insert into probe_raw.{table} values (now() - interval '{age}')")
    target = root / "target"
    freshness = dbt_invoke.run(
        ["source", "freshness"], warehouse.conn, target_path=target, project_dir=root
    )
    build = dbt_invoke.run(["build"], warehouse.conn, target_path=target, project_dir=root)
    assert not freshness.could_not_run, freshness.stdout[-2000:]
    assert not build.could_not_run, build.stdout[-2000:]
    manifest = artifacts.load_manifest(target, PROJECT_TEST_META)
    return warehouse, target, manifest


def _by_name(results, name):
    found = [r for r in results if r.name == name or r.unique_id.split(".")[2] == name]
    assert len(found) == 1, [r.unique_id for r in results]
    return found[0]


def test_build_results_are_classified(probe):
    _, target, manifest = probe
    invocation_id, results = artifacts.parse_run_results(target, manifest)
    assert (
        invocation_id
        == json.loads((target / "run_results.json").read_text())["metadata"]["invocation_id"]
    )
    kinds = {r.unique_id.split(".")[2]: r.kind for r in results}
    assert kinds["m_values"] is ResultKind.PASS
    assert kinds["m_broken"] is ResultKind.ERROR
    assert kinds["unique_m_values_id"] is ResultKind.FAIL  # ids 1,1,2,2,3
    assert kinds["not_null_m_plain_id"] is ResultKind.FAIL
    assert kinds["not_null_m_broken_id"] is ResultKind.SKIPPED
    unique = _by_name(results, "unique_m_values_id")
    ids = [i // 2 + 1 for i in range(len(VALUES))]
    assert unique.failures == len({i for i in ids if ids.count(i) > 1})
    skipped = _by_name(results, "not_null_m_broken_id")
    assert not skipped.alerts and not skipped.evaluated


def test_warn_severity_and_failures_count(probe):
    _, target, manifest = probe
    _, results = artifacts.parse_run_results(target, manifest)
    accepted = next(r for r in results if r.unique_id.split(".")[2].startswith("accepted_values"))
    assert accepted.kind is ResultKind.FAIL
    assert accepted.failures == len({v for v in VALUES if v not in (1, 2)})
    assert accepted.relation_name and "accepted_values" in accepted.relation_name


def test_meta_inheritance(probe):
    _, target, manifest = probe
    _, results = artifacts.parse_run_results(target, manifest)
    unique = _by_name(results, "unique_m_values_id")
    # a test without its own meta takes its model's
    assert unique.meta["alert_type"] == "COST_PER_VIDEO"
    assert unique.meta["owner"] == "data_engineer"
    # a test's own meta wins, key by key, over its model's
    accepted = next(r for r in results if r.unique_id.split(".")[2].startswith("accepted_values"))
    assert accepted.meta["alert_type"] == "API_QUOTA"
    assert accepted.meta["escalation"] == "cost_overruns"
    assert accepted.meta["figure_column"] == "value_field"
    # a model without meta: the project's test default
    plain = _by_name(results, "not_null_m_plain_id")
    assert plain.meta == PROJECT_TEST_META


def test_freshness_results_and_minutes(probe):
    _, target, manifest = probe
    _, results = artifacts.parse_sources(target, manifest)
    by_table = {r.unique_id.rsplit(".", 1)[-1]: r for r in results}
    assert by_table["fresh_t"].kind is ResultKind.PASS
    assert by_table["late_t"].kind is ResultKind.WARN
    assert by_table["stale_t"].kind is ResultKind.ERROR
    assert 179 <= by_table["stale_t"].minutes_stale <= 185
    assert by_table["stale_t"].error_after_minutes == 60
    assert by_table["stale_t"].meta["alert_type"] == "DATA_FRESHNESS"
    # dbt leaves a source whose query failed out of sources.json
    assert "missing_t" not in by_table


def test_missing_freshness_becomes_runtime_error(probe):
    warehouse, target, manifest = probe
    _, results = artifacts.parse_sources(target, manifest)
    with connect(warehouse.conn) as db:
        reasons = runner._missing_reasons(db, manifest, results)
    missing = artifacts.missing_freshness_results(manifest, results, reasons)
    assert [m.unique_id.rsplit(".", 1)[-1] for m in missing] == ["missing_t"]
    assert missing[0].kind is ResultKind.ERROR and missing[0].status == "runtime error"
    assert "probe_raw.missing_t does not exist" in missing[0].message
    alert = escalation.alert_for_result(
        escalation.load(PROJECT_DIR / "config/escalation.yml"), missing[0]
    )
    assert alert.level == 2 and alert.alert_type == "DATA_FRESHNESS"


def test_unknown_status_is_reported_not_dropped(probe, tmp_path):
    _, target, manifest = probe
    document = json.loads((target / "run_results.json").read_text())
    document["results"][0]["status"] = "quantum-superposition"
    (tmp_path / "run_results.json").write_text(json.dumps(document))
    _, results = artifacts.parse_run_results(tmp_path, manifest)
    odd = results[0]
    assert odd.kind is ResultKind.UNKNOWN and odd.status == "quantum-superposition"
    assert odd.alerts
    alert = escalation.alert_for_result(escalation.load(PROJECT_DIR / "config/escalation.yml"), odd)
    assert "quantum-superposition" in alert.message and "does not know" in alert.message
    assert alert.level == 1


def test_figure_is_read_from_stored_failures(probe):
    warehouse, target, manifest = probe
    _, results = artifacts.parse_run_results(target, manifest)
    accepted = next(r for r in results if r.unique_id.split(".")[2].startswith("accepted_values"))
    with connect(warehouse.conn) as db:
        figure = runner._figure(db, accepted)
    assert figure == f"{max(v for v in VALUES if v not in (1, 2))} units"
    plain = _by_name(results, "not_null_m_plain_id")
    with connect(warehouse.conn) as db:
        assert runner._figure(db, plain) == "1 failing row"


def test_missing_artifact_is_a_clear_error(tmp_path):
    with pytest.raises(artifacts.DbtFailed, match=r"run_results\.json"):
        artifacts.parse_run_results(tmp_path, artifacts.Manifest({}, "x", None))


@pytest.mark.parametrize(
    ("value", "unit", "column", "expected"),
    [
        (412, "USD per video", "cost_per_video_cents", "$4.12 per video"),
        (4.126, "USD per video", "cost_per_video_usd", "$4.13 per video"),
        (9512, "units", "units_used", "9,512 units"),
        (54.26, "%", "hit_rate_pct", "54.3%"),
        (182.4, "minutes", "minutes_since_load", "182 minutes"),
    ],
)
def test_format_figure(value, unit, column, expected):
    assert runner.format_figure(value, unit, column) == expected
