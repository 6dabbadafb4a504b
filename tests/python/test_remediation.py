"""Automatic remediation: the `remediation:` config, and a run that opens a CACHE_HIT_RATE alert
running the configured warm-up once per alert (a real build on the embedded PostgreSQL, the
command a real program appending to a file), the FLUSHDB on a real redis-server, and the
dashboard rebuild through dbt.

The alert comes from the cheapest real path: the raw tables of orchestrator/sql/raw_schema.sql
with two cache collections whose interval hit rate (computed here) is under the critical var,
and `ytempire build -s +cache_performance -s +monitoring_clock`.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import Warehouse, warehouse_factory
from redis_server import REDIS_PASSWORD, RedisServer, free_port, private_redis

from orchestrator import escalation_matrix, project_vars, remediation
from orchestrator.alert import Alert, Severity
from orchestrator.cli import main
from orchestrator.context import RunContext, RunRequest, Settings
from orchestrator.errors import EXIT_FAILURES, ConfigError

PROJECT_DIR = Path(__file__).resolve().parents[2]
RAW_SCHEMA_SQL = PROJECT_DIR / "orchestrator" / "sql" / "raw_schema.sql"
SHIPPED = yaml.safe_load((PROJECT_DIR / "config" / "escalation.yml").read_text())
AS_OF = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
# two collections: the interval between them has HITS hits and MISSES misses
BEFORE = (10_000, 1_000)
HITS, MISSES = 100, 300
WARMUP = (
    "import os, sys\n"
    "line = os.environ['YTEMPIRE_ALERT_TYPE'] + ' ' + os.environ['YTEMPIRE_ALERT_ID']\n"
    "with open(sys.argv[1], 'a') as out:\n"
    "    out.write(line + '\\n')\n"
)


def escalation_file(path: Path, rules: dict[str, Any]) -> Path:
    document = copy.deepcopy(SHIPPED)
    document["remediation"] = rules
    path.write_text(yaml.safe_dump(document))
    return path


def warmup_rule(marker: Path, **extra: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "action": "cache_warmup",
        "command": [sys.executable, "-c", WARMUP, str(marker)],
        "timeout_seconds": 30,
        **extra,
    }


def cache_alert(alert_id: int | None = 42) -> Alert:
    return Alert(
        dedup_key="ytempire:performance_issues:CACHE_HIT_RATE",
        alert_type="CACHE_HIT_RATE",
        escalation="performance_issues",
        severity=Severity.CRITICAL,
        level=2,
        owner="backend_team",
        action="Scale resources",
        sla_minutes=120,
        message="cache hit rate 25%",
        alert_id=alert_id,
    )


# ---------------------------------------------------------------------------------------------
# configuration


def test_shipped_rules_are_all_disabled() -> None:
    matrix = escalation_matrix.load(PROJECT_DIR / "config" / "escalation.yml")
    assert set(matrix.remediation) == {"DASHBOARD_PERFORMANCE", "CACHE_HIT_RATE"}
    assert not any(rule.enabled for rule in matrix.remediation.values())
    assert matrix.remediation["DASHBOARD_PERFORMANCE"].action == "rebuild_dashboard_marts"
    assert matrix.remediation["CACHE_HIT_RATE"].action == "cache_warmup"
    assert matrix.remediation["CACHE_HIT_RATE"].flush is False


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            {"DATA_FRESHNES": {"action": "cache_warmup"}},
            r"remediation\.DATA_FRESHNES` is not a known key \(allowed: DASHBOARD_PERFORMANCE, "
            r"CACHE_HIT_RATE\)",
        ),
        (
            {"CACHE_HIT_RATE": {"action": "reboot"}},
            r"remediation\.CACHE_HIT_RATE\.action` is 'reboot', not an action \(allowed: "
            r"rebuild_dashboard_marts, cache_warmup\)",
        ),
        (
            {"CACHE_HIT_RATE": {"action": "cache_warmup", "enabled": "yes"}},
            r"CACHE_HIT_RATE\.enabled` is 'yes'; it must be true or false",
        ),
        (
            {"CACHE_HIT_RATE": {"action": "cache_warmup", "command": "warm.sh --all"}},
            r"CACHE_HIT_RATE\.command` must be a list of non-empty strings",
        ),
        (
            {"CACHE_HIT_RATE": {"action": "cache_warmup", "enabled": True}},
            r"CACHE_HIT_RATE\.command` is empty",
        ),
        (
            {"CACHE_HIT_RATE": {"action": "cache_warmup", "command": ["x"], "timeout_seconds": 0}},
            r"timeout_seconds` is 0; it must be a positive integer",
        ),
        (
            {"DASHBOARD_PERFORMANCE": {"action": "rebuild_dashboard_marts", "flush": True}},
            r"DASHBOARD_PERFORMANCE\.flush` is not a known key \(allowed: enabled, action, select",
        ),
    ],
)
def test_validation_names_file_key_and_allowed(tmp_path, rules, expected) -> None:
    path = escalation_file(tmp_path / "escalation.yml", rules)
    with pytest.raises(ConfigError, match=expected) as raised:
        escalation_matrix.load(path)
    assert str(path) in str(raised.value)


# ---------------------------------------------------------------------------------------------
# the cache flush on a real redis-server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


def context_with(path: Path, dry_run: bool = False) -> RunContext:
    settings = replace(Settings.resolve(PROJECT_DIR), matrix=escalation_matrix.load(path))
    return RunContext(settings=settings, request=RunRequest(dry_run=dry_run, as_of=AS_OF))


def test_flush_empties_only_the_url_database_then_warms_up(
    redis_server, tmp_path, monkeypatch
) -> None:
    marker = tmp_path / "warmed.txt"
    path = escalation_file(tmp_path / "e.yml", {"CACHE_HIT_RATE": warmup_rule(marker, flush=True)})
    ctx = context_with(path)
    monkeypatch.setenv("YTEMPIRE_REDIS_URL", redis_server.url(db=5))
    with redis_server.client(db=5) as cache, redis_server.client(db=6) as other:
        cache.mset({"video:1": "a", "video:2": "b"})
        other.set("keep:1", "c")
        ok, detail = remediation.cache_warmup(
            ctx, ctx.settings.matrix.remediation["CACHE_HIT_RATE"], cache_alert()
        )
        assert ok, detail
        assert cache.dbsize() == 0 and other.get("keep:1") == b"c"
    assert marker.read_text() == "CACHE_HIT_RATE 42\n"
    assert detail.startswith(f"FLUSHDB on 127.0.0.1:{redis_server.port} db 5; ")
    assert REDIS_PASSWORD not in detail


def test_a_failed_flush_skips_the_warmup_and_hides_the_password(tmp_path, monkeypatch) -> None:
    marker = tmp_path / "warmed.txt"
    path = escalation_file(tmp_path / "e.yml", {"CACHE_HIT_RATE": warmup_rule(marker, flush=True)})
    ctx = context_with(path)
    monkeypatch.setenv("YTEMPIRE_REDIS_URL", f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0")
    ok, detail = remediation.cache_warmup(
        ctx, ctx.settings.matrix.remediation["CACHE_HIT_RATE"], cache_alert()
    )
    assert not ok and "FLUSHDB on 127.0.0.1" in detail and "failed" in detail
    assert REDIS_PASSWORD not in detail and not marker.exists()
    monkeypatch.delenv("YTEMPIRE_REDIS_URL")
    ok, detail = remediation.cache_warmup(
        ctx, ctx.settings.matrix.remediation["CACHE_HIT_RATE"], cache_alert()
    )
    assert not ok and "YTEMPIRE_REDIS_URL" in detail and not marker.exists()


def test_a_failing_or_hanging_command_is_reported(tmp_path) -> None:
    rules = {
        "CACHE_HIT_RATE": {
            "enabled": True,
            "action": "cache_warmup",
            "command": [sys.executable, "-c", "import sys; sys.exit('cache cold: 3 keys')"],
        }
    }
    ctx = context_with(escalation_file(tmp_path / "e.yml", rules))
    rule = ctx.settings.matrix.remediation["CACHE_HIT_RATE"]
    ok, detail = remediation.cache_warmup(ctx, rule, cache_alert())
    assert not ok and ": exit 1 in " in detail and detail.endswith("(cache cold: 3 keys)")
    hanging = replace(rule, command=(sys.executable, "-c", "import time; time.sleep(30)"))
    ok, detail = remediation.cache_warmup(ctx, replace(hanging, timeout_seconds=1), cache_alert())
    assert not ok and "killed after 1s" in detail
    missing = replace(rule, command=(str(tmp_path / "no-such-program"),))
    ok, detail = remediation.cache_warmup(ctx, missing, cache_alert())
    assert not ok and "program not found" in detail


# ---------------------------------------------------------------------------------------------
# a run that opens a CACHE_HIT_RATE alert


@pytest.fixture(scope="module")
def cache_warehouse(embedded_server, tmp_path_factory) -> Iterator[Warehouse]:
    """Empty raw tables, and two cache collections whose interval hit rate is critical."""
    with warehouse_factory(embedded_server, tmp_path_factory) as make:
        warehouse = make("remediation")
        warehouse.execute(RAW_SCHEMA_SQL.read_text())
        rows = [
            (AS_OF - timedelta(minutes=10), *BEFORE),
            (AS_OF - timedelta(minutes=5), BEFORE[0] + HITS, BEFORE[1] + MISSES),
        ]
        for collected_at, hits, misses in rows:
            warehouse.execute(
                "insert into raw.cache_stats values (%s, %s, %s, 50000000, 1200)",
                (collected_at, hits, misses),
            )
        yield warehouse


def test_the_planted_rate_is_under_the_critical_threshold() -> None:
    critical = project_vars.load(PROJECT_DIR).integer("cache_hit_rate_critical_pct")
    assert critical > 100 * HITS / (HITS + MISSES)


def build(warehouse: Warehouse, env: dict[str, str], *extra: str) -> dict[str, Any]:
    # the threshold tests read cache_performance and monitoring_clock: both are built
    arguments = ["build", "-s", "+cache_performance", "-s", "+monitoring_clock"]
    arguments += ["--skip-freshness", "--json"]
    arguments += ["--as-of", AS_OF.isoformat(), *extra]
    result = CliRunner().invoke(main, arguments, env=env)
    assert "Traceback" not in result.output, result.output[-3000:]
    assert result.exit_code == EXIT_FAILURES, result.output[-3000:]
    return json.loads(result.stdout)


def remediation_log(warehouse: Warehouse) -> list[dict[str, Any]]:
    return warehouse.query_dicts(
        "select alert_id, action, ok, detail, dry_run from ops.remediation_log "
        "order by remediation_id"
    )


def test_a_new_alert_is_remediated_once_and_a_dry_run_only_logs(
    cache_warehouse: Warehouse, tmp_path: Path
) -> None:
    marker = tmp_path / "warmed.txt"
    path = escalation_file(tmp_path / "escalation.yml", {"CACHE_HIT_RATE": warmup_rule(marker)})
    env = {
        **cache_warehouse.conn.env(),
        "YTEMPIRE_TARGET_PATH": str(cache_warehouse.target_path),
        "YTEMPIRE_ESCALATION_FILE": str(path),
        "YTEMPIRE_UNDELIVERED_FILE": str(tmp_path / "undelivered.jsonl"),
        "YTEMPIRE_OUTAGE_FILE": str(tmp_path / "outage.json"),
    }

    dry = build(cache_warehouse, env, "--dry-run")
    assert [a["alert_type"] for a in dry["alerts"]] == ["CACHE_HIT_RATE"]
    assert not marker.exists()
    [logged] = remediation_log(cache_warehouse)
    assert logged["dry_run"] and logged["ok"] and logged["alert_id"] is None
    assert logged["detail"].startswith(f"would run {sys.executable} -c ")

    first = build(cache_warehouse, env)
    [alert] = [a for a in first["alerts"] if a["alert_type"] == "CACHE_HIT_RATE"]
    alert_id = alert["alert_id"]
    assert marker.read_text() == f"CACHE_HIT_RATE {alert_id}\n"
    rows = remediation_log(cache_warehouse)
    assert [(r["alert_id"], r["action"], r["ok"], r["dry_run"]) for r in rows[1:]] == [
        (alert_id, "cache_warmup", True, False)
    ]
    assert ": exit 0 in " in rows[1]["detail"]

    second = build(cache_warehouse, env)  # the same alert, still open
    assert [a["alert_id"] for a in second["alerts"] if a["alert_type"] == "CACHE_HIT_RATE"] == [
        alert_id
    ]
    assert marker.read_text() == f"CACHE_HIT_RATE {alert_id}\n"
    assert remediation_log(cache_warehouse) == rows


def test_the_dashboard_rebuild_runs_dbt_build_of_the_selection(
    cache_warehouse: Warehouse, tmp_path: Path, monkeypatch
) -> None:
    rules = {
        "DASHBOARD_PERFORMANCE": {
            "enabled": True,
            "action": "rebuild_dashboard_marts",
            "select": "stg_raw__cache_stats",
        }
    }
    monkeypatch.setenv("YTEMPIRE_TARGET_PATH", str(cache_warehouse.target_path))
    ctx = context_with(escalation_file(tmp_path / "e.yml", rules))
    rule = ctx.settings.matrix.remediation["DASHBOARD_PERFORMANCE"]
    assert remediation.describe(rule) == "dbt build -s stg_raw__cache_stats"
    ok, detail = remediation.rebuild_dashboard_marts(ctx, cache_warehouse.conn, rule)
    assert ok, detail
    assert detail.startswith("dbt build -s stg_raw__cache_stats: exit 0 in ")
    results = json.loads(
        (cache_warehouse.target_path / "remediation" / "run_results.json").read_text()
    )
    assert {r["unique_id"] for r in results["results"]} >= {"model.ytempire.stg_raw__cache_stats"}
