"""The dbt docs site as the catalogue: exposures, groups, access, contracts, docs blocks, sources.

One database on the embedded server (generator scale 0.02, 10 days, as_of pinned) and one
`dbt run` of every model but the diagnostics: it enforces the marts' contracts (dbt fails a
model whose columns or types differ from its YAML) and writes the manifest every other check
reads. What each exposure depends on is compared with what the wrapper really reads: the
relations named in the playbooks' queries and steps, the troubleshooting checks and the
threshold review (orchestrator/), not with a second copy of the YAML.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from conftest import PROJECT_DIR, Warehouse, warehouse_factory

from orchestrator import playbook_steps, threshold_review, troubleshoot
from orchestrator.commands import cron
from orchestrator.commands import troubleshoot as troubleshoot_command
from orchestrator.connection import Connection, connect
from orchestrator.generate import generate
from orchestrator.generate_tables import DASHBOARDS
from orchestrator.playbooks import PLAYBOOKS, Playbook

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
# a relation the wrapper's SQL reads (from / join schema.name); ops and archive are not dbt's
RELATION = re.compile(r"\b(?:from|join)\s+(analytics|staging|diagnostics|raw)\.([a-z_]+)\b")
REPORTS = {
    # the report documents of models/marts/_exposures.yml: the playbook and section titles
    "daily_summary_report": ("eod", ("Daily summary", "User daily reports (today)")),
    "weekly_performance_report": ("weekly", ("Weekly performance report",)),
    "monthly_business_report": (
        "monthly",
        ("Monthly report", "Growth trends", "Cost baselines and thresholds"),
    ),
}
ESCALATION = yaml.safe_load((PROJECT_DIR / "config" / "escalation.yml").read_text())
PROJECT = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())


@dataclass
class Built:
    warehouse: Warehouse
    manifest: dict[str, Any]
    results: dict[str, str]

    def models(self, under: str = "models/") -> dict[str, dict[str, Any]]:
        return {
            node["name"]: node
            for node in self.manifest["nodes"].values()
            if node["resource_type"] == "model" and node["original_file_path"].startswith(under)
        }

    def exposure(self, name: str) -> dict[str, Any]:
        return self.manifest["exposures"][f"exposure.ytempire.{name}"]

    def reads(self, name: str) -> set[str]:
        """schema.name of every node an exposure depends on."""
        found = set()
        for unique_id in self.exposure(name)["depends_on"]["nodes"]:
            node = self.manifest["nodes"].get(unique_id) or self.manifest["sources"][unique_id]
            found.add(f"{node['schema']}.{node['name']}")
        return found


@pytest.fixture(scope="module")
def built(embedded_server: Connection, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("catalogue")
        generate(warehouse.conn, scale=0.02, days=10, as_of=AS_OF)
        invocation = warehouse.dbt(
            "run", "--exclude", "path:models/diagnostics", dbt_vars={"as_of": AS_OF.isoformat()}
        )
        assert not invocation.could_not_run, invocation.stdout[-3000:]
        results = {
            result["unique_id"]: result["status"]
            for result in warehouse.artifact("run_results.json")["results"]
        }
        yield Built(warehouse, warehouse.artifact("manifest.json"), results)


def relations_in(text: str) -> set[str]:
    return {f"{schema}.{name}" for schema, name in RELATION.findall(text)}


def playbook_reads(playbook: Playbook, titles: tuple[str, ...] | None = None) -> set[str]:
    """What a playbook's sections read: the relations in its queries and in its Python steps'
    code (the threshold review reads the series of its signals)."""
    found: set[str] = set()
    for report in playbook.reports:
        if titles is not None and report.title not in titles:
            continue
        if report.query is not None:
            found |= relations_in(report.query)
        else:
            found |= relations_in(inspect.getsource(report.compute))
            if report.compute is playbook_steps.threshold_review:
                found |= {signal.relation for signal in threshold_review.SIGNALS}
    return found


def troubleshoot_reads() -> set[str]:
    """Every symptom's relations and what its checks query (the dashboards' queries included)."""
    found = {
        relation for symptom in troubleshoot.SYMPTOMS.values() for relation in symptom.relations
    }
    for _, query in troubleshoot.DASHBOARD_QUERIES.values():
        found |= relations_in(query)
    found |= relations_in(troubleshoot.RECONCILIATION_SQL)
    for symptom in troubleshoot.SYMPTOMS.values():
        found |= relations_in(inspect.getsource(symptom.run))
    return found


def command_of(exposure: dict[str, Any]) -> str:
    """The `ytempire` subcommand an application exposure is (its label: `ytempire <command>`)."""
    label = exposure["label"]
    assert label.startswith("ytempire "), label
    return label.split()[1]


def test_the_run_builds_every_contracted_mart(built: Built) -> None:
    marts = built.models("models/marts/")
    assert set(marts) == {path.stem for path in (PROJECT_DIR / "models/marts").rglob("*.sql")}
    for name, node in marts.items():
        assert node["contract"]["enforced"] is True, name
        assert built.results[node["unique_id"]] == "success", name


def test_fifteen_exposures_dashboards_reports_and_commands(built: Built) -> None:
    exposures = {node["name"]: node for node in built.manifest["exposures"].values()}
    assert len(exposures) == 15
    dashboards = {name for name, node in exposures.items() if node["type"] == "dashboard"}
    assert dashboards == set(DASHBOARDS)
    reports = {name for name, node in exposures.items() if node["type"] == "analysis"}
    assert reports == set(REPORTS)
    commands = {command_of(node) for node in exposures.values() if node["type"] == "application"}
    assert commands == {*PLAYBOOKS, "troubleshoot", "diagnose"}
    for name, node in exposures.items():
        assert node["maturity"] in ("high", "medium"), name
        assert node["description"].strip(), name
        assert node["depends_on"]["nodes"], name


def test_every_exposure_depends_on_existing_nodes_and_marts_it_reads_are_contracted(
    built: Built,
) -> None:
    for exposure in built.manifest["exposures"].values():
        for unique_id in exposure["depends_on"]["nodes"]:
            node = built.manifest["nodes"].get(unique_id) or built.manifest["sources"].get(
                unique_id
            )
            assert node is not None, (exposure["name"], unique_id)
            if node["resource_type"] == "model":
                assert node["access"] == "public", (exposure["name"], unique_id)
            if node.get("original_file_path", "").startswith("models/marts/"):
                assert node["contract"]["enforced"] is True, unique_id
        if exposure["type"] in ("dashboard", "analysis"):
            assert all(
                built.manifest["nodes"][uid]["original_file_path"].startswith("models/marts/")
                for uid in exposure["depends_on"]["nodes"]
            ), exposure["name"]


def test_each_command_depends_on_exactly_what_its_sections_read(built: Built) -> None:
    for exposure in built.manifest["exposures"].values():
        if exposure["type"] != "application":
            continue
        command = command_of(exposure)
        if command in PLAYBOOKS:
            expected = playbook_reads(PLAYBOOKS[command])
        elif command == "troubleshoot":
            expected = troubleshoot_reads()
        else:
            source = inspect.getsource(troubleshoot_command.diagnose_command.callback)
            expected = relations_in(source) | {troubleshoot_command.RECOMMENDATIONS}
        assert built.reads(exposure["name"]) == expected, command
        schedule = {line[1]: line[0] for line in cron.SCHEDULE}
        if command in schedule:
            assert f"cron `{schedule[command]}`" in exposure["description"], command
        assert f"`ytempire {command}" in exposure["description"], command


def test_reports_and_dashboards_depend_on_what_they_show(built: Built) -> None:
    for name, (command, titles) in REPORTS.items():
        assert built.reads(name) == playbook_reads(PLAYBOOKS[command], titles), name
    for dashboard, (relation, _) in troubleshoot.DASHBOARD_QUERIES.items():
        assert relation in built.reads(dashboard), dashboard


def test_owners_are_the_escalation_roles_contacts(built: Built) -> None:
    contacts = ESCALATION["contacts"]
    roles = {
        level["owner"] for category in ESCALATION["categories"].values()
        for level in category["levels"].values()
    }  # fmt: skip
    owners = [node["owner"] for node in built.manifest["exposures"].values()]
    owners += [group["owner"] for group in built.manifest["groups"].values()]
    for owner in owners:
        assert owner["name"] in roles, owner
        assert owner["email"] == contacts[owner["name"]]["email"], owner


def test_every_model_has_a_group_and_is_public_exactly_when_an_exposure_reads_it(
    built: Built,
) -> None:
    groups = {group["name"] for group in built.manifest["groups"].values()}
    read = {
        unique_id
        for exposure in built.manifest["exposures"].values()
        for unique_id in exposure["depends_on"]["nodes"]
    }
    for name, node in built.models().items():
        assert node["group"] in groups, name
        assert node["access"] == ("public" if node["unique_id"] in read else "protected"), name


COLUMNS_OF = (
    "select attname, format_type(atttypid, atttypmod) from pg_attribute"
    " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum"
)


def test_contracts_equal_the_models_selects_and_the_built_relations(built: Built) -> None:
    """Each mart's contract (names, order, types with their modifiers) is what the model's own
    select gives (a temporary view over its compiled SQL) and what the build made."""
    with connect(built.warehouse.conn) as db:
        for name, node in built.models("models/marts/").items():
            declared = [
                (column["name"], column["data_type"]) for column in node["columns"].values()
            ]
            with db.transaction(force_rollback=True):
                db.execute(f"create temporary view contract_probe as {node['compiled_code']}")
                selected = db.execute(COLUMNS_OF, ("contract_probe",)).fetchall()
            assert declared == selected, name
            assert db.execute(COLUMNS_OF, (f"analytics.{name}",)).fetchall() == declared, name
            info = db.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'analytics' and table_name = %s order by ordinal_position",
                (name,),
            ).fetchall()
            assert info == [(column, type_.split("(")[0]) for column, type_ in declared], name


def test_materializations_come_from_dbt_project_not_model_files(built: Built) -> None:
    for path in sorted((PROJECT_DIR / "models").rglob("*.sql")):
        configs = re.findall(r"config\((.*?)\)\s*}}", path.read_text(), re.S)
        assert not any("materialized" in config for config in configs), path
    relkind = dict(
        built.warehouse.query(
            "select relname, relkind from pg_class"
            " join pg_namespace on relnamespace = pg_namespace.oid"
            " where nspname in ('analytics', 'staging')"
        )
    )
    kinds = {"view": "v", "table": "r", "incremental": "r"}
    views = set()
    for name, node in built.models().items():
        if node["original_file_path"].startswith("models/diagnostics/"):
            continue
        assert relkind[name] == kinds[node["config"]["materialized"]], name
        if relkind[name] == "v" and node["schema"] == "analytics":
            views.add(name)
    # the live views of the marts (they read as_of() and the raw tables on every query)
    assert views == {
        "api_quota_usage", "data_freshness", "job_status", "monitoring_clock", "system_health",
        "morning_summary", "realtime_metrics",
    }  # fmt: skip


def test_diagnostics_read_the_catalog_through_the_pg_catalog_source(built: Built) -> None:
    declared = {
        node["name"] for node in built.manifest["sources"].values()
        if node["source_name"] == "pg_catalog"
    }  # fmt: skip
    used: set[str] = set()
    for name, node in built.models("models/diagnostics/").items():
        code = re.sub(r"{#.*?#}", "", node["raw_code"], flags=re.S)  # without Jinja comments
        assert not re.search(r"\b(from|join)\s+(pg_catalog\.)?pg_\w+", code), name
        called = set(re.findall(r"source\('pg_catalog', '(\w+)'\)", code))
        depends = {
            uid.rsplit(".", 1)[1] for uid in node["depends_on"]["nodes"]
            if uid.startswith("source.ytempire.pg_catalog.")
        }  # fmt: skip
        assert depends == called, name
        used |= depends
    assert used == declared
    assert {"pg_stat_user_tables", "pg_class", "pg_index", "pg_stats", "pg_extension",
            "pg_namespace", "pg_available_extensions"} <= declared  # fmt: skip


def test_every_source_has_freshness_or_the_no_sla_tag(built: Built) -> None:
    exempt = set()
    for unique_id, source in built.manifest["sources"].items():
        freshness = source.get("freshness") or {}
        has_sla = any(
            (freshness.get(key) or {}).get("count") for key in ("warn_after", "error_after")
        )
        if "no_sla" in source["tags"]:
            assert not has_sla, unique_id
            assert source["source_description"].strip(), unique_id
            exempt.add(f"{source['source_name']}.{source['name']}")
        else:
            assert has_sla and source["loaded_at_field"], unique_id
    raw_exempt = {name for name in exempt if name.startswith("raw.")}
    assert raw_exempt == {
        "raw.users", "raw.channels", "raw.videos", "raw.job_runs", "raw.query_log",
        "raw.cache_stats",
    }  # fmt: skip
    for name in raw_exempt:  # the reason names each table
        source = built.manifest["sources"][f"source.ytempire.{name}"]
        assert name.split(".")[1] in source["source_description"], name


def docs_block(name: str) -> str:
    for path in (PROJECT_DIR / "models").rglob("_*__docs.md"):
        found = re.search(
            r"{%\s*docs " + name + r"\s*%}(.*?){%\s*enddocs\s*%}", path.read_text(), re.S
        )
        if found:
            return found.group(1)
    raise AssertionError(f"no docs block {name}")


def test_threshold_table_shows_the_shipped_vars() -> None:
    shown = dict(re.findall(r"`(\w+)` = (\d+)", docs_block("threshold_table")))
    variables = PROJECT["vars"]
    assert shown, "no `var` = value in the threshold table"
    for name, value in shown.items():
        assert variables[name] == int(value), name
    for signal in threshold_review.SIGNALS:
        assert {signal.warning_var, signal.critical_var} <= set(shown), signal.name


def test_escalation_matrix_block_is_the_config() -> None:
    rows = re.findall(
        r"^\| (\w+) \| (\d) \| [^|]+ \| (\w+) \| (\d+) \|$", docs_block("escalation_matrix"), re.M
    )
    expected = [
        (category, str(level), spec["owner"], str(spec["sla_minutes"]))
        for category, body in ESCALATION["categories"].items()
        for level, spec in body["levels"].items()
    ]
    assert rows == expected


def test_docs_blocks_are_reused(built: Built) -> None:
    for command in ("morning", "hourly", "eod", "weekly", "monthly"):
        text = docs_block(f"playbook_{command}").strip()
        users = [
            node["name"] for node in built.manifest["exposures"].values()
            if text in node["description"]
        ]  # fmt: skip
        assert any(built.exposure(name)["type"] == "application" for name in users), command
    nodes = [*built.manifest["nodes"].values(), *built.manifest["exposures"].values()]
    for block in ("threshold_table", "escalation_matrix", "trending_score_formula"):
        text = docs_block(block).strip()
        users = [node["name"] for node in nodes if text in (node.get("description") or "")]
        assert len(users) >= 2, block
