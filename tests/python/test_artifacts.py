"""The artifact parser against real dbt artifacts: a tiny dbt project run on each server.

The project has a fresh, a late, a stale and a missing source; a model with meta, one without,
one that breaks; tests that pass, warn, fail (one storing its failures with a figure column)
and one skipped downstream of the broken model. Expectations come from the rows written here.
The alert meta rules (AlertMeta: fallback, validation) are also checked on hand-made manifests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from textwrap import dedent

import pytest

from orchestrator import artifacts, dbt_invoke, dbt_stage, escalation, escalation_matrix, figures
from orchestrator.alert_meta import AlertMeta
from orchestrator.artifacts import Manifest, ResultKind
from orchestrator.connection import connect
from orchestrator.errors import ConfigError

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
            config:
              meta:  # documentation meta: not alert keys, and no role as owner
                contains_pii: false
                owner: [alice, bob]
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
    assert unique.meta == AlertMeta(
        alert_type="COST_PER_VIDEO", escalation="cost_overruns", owner="data_engineer"
    )
    # a test's own meta wins, key by key, over its model's
    accepted = next(r for r in results if r.unique_id.split(".")[2].startswith("accepted_values"))
    assert accepted.meta == AlertMeta(
        alert_type="API_QUOTA",
        escalation="cost_overruns",
        owner="data_engineer",
        figure_column="value_field",
        figure_agg="max",
        figure_unit="units",
    )
    # a model without alert meta: the project's test default
    plain = _by_name(results, "not_null_m_plain_id")
    assert plain.meta == AlertMeta(**PROJECT_TEST_META)
    m_plain = f"model.{manifest.project_name}.m_plain"
    assert manifest.meta_for(m_plain) == AlertMeta()  # its documentation meta is not alert meta
    assert manifest.meta_for(m_plain) is manifest.meta_for(m_plain)  # parsed once


def test_freshness_results_and_minutes(probe):
    _, target, manifest = probe
    _, results = artifacts.parse_sources(target, manifest)
    by_table = {r.unique_id.rsplit(".", 1)[-1]: r for r in results}
    assert by_table["fresh_t"].kind is ResultKind.PASS
    assert by_table["late_t"].kind is ResultKind.WARN
    assert by_table["stale_t"].kind is ResultKind.ERROR
    assert 179 <= by_table["stale_t"].minutes_stale <= 185
    assert by_table["stale_t"].error_after_minutes == 60
    assert by_table["stale_t"].meta.alert_type == "DATA_FRESHNESS"
    # dbt leaves a source whose query failed out of sources.json
    assert "missing_t" not in by_table


def test_missing_freshness_becomes_runtime_error(probe):
    warehouse, target, manifest = probe
    _, results = artifacts.parse_sources(target, manifest)
    with connect(warehouse.conn) as db:
        reasons = dbt_stage.missing_reasons(db, manifest, results)
    missing = artifacts.missing_freshness_results(manifest, results, reasons)
    assert [m.unique_id.rsplit(".", 1)[-1] for m in missing] == ["missing_t"]
    assert missing[0].kind is ResultKind.ERROR and missing[0].status == "runtime error"
    assert "probe_raw.missing_t does not exist" in missing[0].message
    alert = escalation.alert_for_result(
        escalation_matrix.load(PROJECT_DIR / "config/escalation.yml"), missing[0]
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
    alert = escalation.alert_for_result(
        escalation_matrix.load(PROJECT_DIR / "config/escalation.yml"), odd
    )
    assert "quantum-superposition" in alert.message and "does not know" in alert.message
    assert alert.level == 1


def test_exposures_are_not_results(probe, tmp_path):
    """dbt build lists each exposure as "no-op": not a pass, not an alert, not counted."""
    _, target, manifest = probe
    document = json.loads((target / "run_results.json").read_text())
    real = len(document["results"])
    exposure = dict(document["results"][0], unique_id="exposure.ytempire.x", status="no-op")
    document["results"].append(exposure)
    (tmp_path / "run_results.json").write_text(json.dumps(document))
    _, results = artifacts.parse_run_results(tmp_path, manifest)
    assert len(results) == real
    assert not any(result.unique_id.startswith("exposure.") for result in results)


def test_figure_is_read_from_stored_failures(probe):
    warehouse, target, manifest = probe
    _, results = artifacts.parse_run_results(target, manifest)
    accepted = next(r for r in results if r.unique_id.split(".")[2].startswith("accepted_values"))
    with connect(warehouse.conn) as db:
        figure = figures.figure_for(db, accepted)
    assert figure == f"{max(v for v in VALUES if v not in (1, 2))} units"
    plain = _by_name(results, "not_null_m_plain_id")
    with connect(warehouse.conn) as db:
        assert figures.figure_for(db, plain) == "1 failing row"


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
    assert figures.format_figure(value, unit, column) == expected


# --- alert meta on hand-made manifests ---------------------------------------------------------

MODEL = "model.shop.orders"
TEST = "test.shop.not_null_orders_id.abc"


def _manifest(
    model_meta: dict | None = None,
    test_meta: dict | None = None,
    *,
    test_explicit: dict | None = None,
    project_test_meta: dict | None = None,
    extra_nodes: dict | None = None,
) -> Manifest:
    """A model and a test on it; `test_meta` is what dbt rendered (project default merged in),
    `test_explicit` what the test itself set (unrendered_config)."""
    nodes = {
        MODEL: {
            "resource_type": "model",
            "package_name": "shop",
            "name": "orders",
            "original_file_path": "models/orders.sql",
            "config": {"meta": model_meta or {}},
        },
        TEST: {
            "resource_type": "test",
            "package_name": "shop",
            "name": "not_null_orders_id",
            "original_file_path": "models/_models.yml",
            "attached_node": MODEL,
            "config": {"meta": test_meta or {}},
            "unrendered_config": {"meta": test_explicit or {}},
        },
        **(extra_nodes or {}),
    }
    return Manifest(nodes, "shop", None, project_test_meta or {})


def test_meta_fallback_test_then_model_then_project():
    default = {"alert_type": "DATA_INTEGRITY", "escalation": "data_issues", "owner": "x_team"}
    model = {"alert_type": "COST_PER_VIDEO", "owner": "data_engineer"}
    own = {"alert_type": "API_QUOTA", "figure_column": "units_used", "figure_agg": "min"}
    manifest = _manifest(model, {**default, **own}, test_explicit=own, project_test_meta=default)
    assert manifest.meta_for(TEST) == AlertMeta(
        alert_type="API_QUOTA",  # the test's own
        escalation="data_issues",  # the project's: the model has none
        owner="data_engineer",  # the model's
        figure_column="units_used",
        figure_agg="min",
    )
    # a test whose unrendered meta is just the project default has no keys of its own
    plain = _manifest(model, default, test_explicit=default, project_test_meta=default)
    assert plain.meta_for(TEST).alert_type == "COST_PER_VIDEO"
    assert _manifest().meta_for(TEST) == AlertMeta()
    assert _manifest().meta_for("test.shop.not_in_the_manifest") == AlertMeta()


def test_models_may_carry_documentation_meta():
    documentation = {"contains_pii": True, "owner": ["alice", "bob"], "owners": "a", "team": "b"}
    manifest = _manifest(
        documentation,
        extra_nodes={
            "test.other_package.t": {
                "resource_type": "test",
                "package_name": "other_package",
                "config": {"meta": {"severity_hint": "high", "alert_type": "PACKAGE_CHECK"}},
            },
        },
    )
    manifest.check_meta()
    assert manifest.meta_for(MODEL) == AlertMeta()  # a list of people is not a role
    assert manifest.meta_for("test.other_package.t").alert_type == "PACKAGE_CHECK"
    assert _manifest({"owner": "Jane Doe"}).meta_for(MODEL).owner == "Jane Doe"


WHERE = r"test\.shop\.not_null_orders_id\.abc \(models/_models\.yml\): meta "


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"escalation_level": 4}, r"`escalation_level` is 4; it must be 1, 2 or 3"),
        ({"escalation_level": "3"}, r"`escalation_level` is '3'; it must be 1, 2 or 3"),
        ({"escalation_level": True}, r"`escalation_level` is True; it must be 1, 2 or 3"),
        (
            {"figure_column": "x", "figure_agg": "avg"},
            r"`figure_agg` is 'avg'; it must be max or min",
        ),
        ({"figure_unit": "%"}, r"`figure_unit` is set without `figure_column`"),
        ({"figure_column": ""}, r"`figure_column` is ''; it must be a non-empty string"),
        ({"alert_type": 42}, r"`alert_type` is 42; it must be an upper-case name"),
        ({"alert_type": "data_freshness"}, r"`alert_type` is 'data_freshness'; it must be an up"),
        ({"escalation": ["quota"]}, r"`escalation` is \['quota'\]; it must be a non-empty str"),
        ({"owner": ["alice"]}, r"`owner` is \['alice'\]; it must be a non-empty string"),
        (
            {"figure_colum": "x"},
            r"`figure_colum` is not an alert key \(did you mean `figure_column`\? allowed: "
            r"alert_type, escalation, owner, escalation_level, figure_column, figure_agg, "
            r"figure_unit\)",
        ),
        ({"team": "growth"}, r"`team` is not an alert key \(allowed: alert_type, "),
    ],
)
def test_malformed_test_meta_names_node_key_and_allowed(meta, expected):
    with pytest.raises(ConfigError, match=WHERE + expected):
        _manifest(test_meta=meta).meta_for(TEST)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"alert_typ": "X"}, r"`alert_typ` looks like a misspelt `alert_type`: rename it"),
        ({"Escalation": "quota"}, r"`Escalation` looks like a misspelt `escalation`"),
        ({"escalation_level": 0}, r"`escalation_level` is 0; it must be 1, 2 or 3"),
    ],
)
def test_malformed_model_meta_fails_the_model_and_its_tests(meta, expected):
    where = r"model\.shop\.orders \(models/orders\.sql\): meta "
    with pytest.raises(ConfigError, match=where + expected):
        _manifest(meta).meta_for(TEST)


def test_sources_hold_alert_keys_only():
    source = {
        "resource_type": "source",
        "package_name": "shop",
        "original_file_path": "models/_sources.yml",
        "config": {"meta": {"alert_type": "DATA_FRESHNESS", "escalaton": "data_issues"}},
    }
    manifest = _manifest(extra_nodes={"source.shop.raw.orders": source})
    with pytest.raises(
        ConfigError,
        match=r"source\.shop\.raw\.orders .*`escalaton` is not an alert key "
        r"\(did you mean `escalation`\?",
    ):
        manifest.check_meta()


def test_load_manifest_checks_every_node(tmp_path):
    manifest = _manifest(test_meta={"escalation_level": 5})
    document = {"metadata": {"project_name": "shop"}, "nodes": manifest.nodes}
    (tmp_path / artifacts.MANIFEST).write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=r"not_null_orders_id\.abc .*`escalation_level` is 5"):
        artifacts.load_manifest(tmp_path)


def test_one_parse_writes_the_manifest_once_and_each_run_its_own_results(probe):
    """In one process the project is parsed once per settings: manifest.json is written by the
    first run of that parse only, every later run writes its own results artifact (from dbt's
    result); a manifest.json replaced by someone else is written again. dbt's log file is at
    info unless DBT_LOG_LEVEL_FILE says otherwise."""
    warehouse, target, _ = probe
    root = target.parent
    manifest = target / "manifest.json"

    def stamp() -> tuple[int, int]:
        return manifest.stat().st_size, manifest.stat().st_mtime_ns

    def invocation_id(name: str) -> str:
        return json.loads((target / name).read_text())["metadata"]["invocation_id"]

    before, sources_before = stamp(), invocation_id("sources.json")
    freshness = dbt_invoke.run(
        ["source", "freshness"], warehouse.conn, target_path=target, project_dir=root
    )
    assert not freshness.parsed and stamp() == before
    assert invocation_id("sources.json") != sources_before
    checked = json.loads((target / "sources.json").read_text())["results"]
    assert {r["unique_id"].split(".")[-1] for r in checked} >= {"fresh_t", "late_t", "stale_t"}

    manifest.write_text(manifest.read_text())  # another writer: a different file now
    replaced = stamp()
    build = dbt_invoke.run(["build"], warehouse.conn, target_path=target, project_dir=root)
    assert not build.parsed and stamp() != replaced  # written again by this run
    _, results = artifacts.parse_run_results(target, artifacts.load_manifest(target, {}))
    assert _by_name(results, "unique_m_values_id").kind is ResultKind.FAIL
    again = stamp()
    dbt_invoke.run(["build", "-s", "m_values"], warehouse.conn, target_path=target,
                   project_dir=root)  # fmt: skip
    assert stamp() == again
    ran = json.loads((target / "run_results.json").read_text())["results"]
    assert {r["unique_id"] for r in ran} >= {"model.artifacts_probe.m_values"}
    assert "model.artifacts_probe.m_plain" not in {r["unique_id"] for r in ran}

    log = (target / "logs" / "dbt.log").read_text()
    assert "[info ]" in log and "[debug]" not in log
