"""Maintenance operations (macros/maintenance) run through orchestrator.maintenance, for real.

One database per server (module scope) holding the raw tables of the contract
(orchestrator/sql/raw_schema.sql) with rows on both sides of each retention cutoff; every dbt
call pins `as_of` (same vars every time, so dbt parses the project once per database).
Expectations are computed here from the rows written. The operations report through
ops.maintenance_results, which each call empties of its own rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import alerts_store, maintenance
from orchestrator.connection import connect
from orchestrator.maintenance import Invocation, MaintenanceError
from orchestrator.quality import store as quality_store
from orchestrator.quality.outcome import CheckOutcome

PROJECT_DIR = Path(__file__).resolve().parents[2]
VARS: dict[str, Any] = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
RAW_SCHEMA = (PROJECT_DIR / "orchestrator" / "sql" / "raw_schema.sql").read_text()

AS_OF = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
PIN = {"as_of": AS_OF.isoformat()}
QUALITY_ROW = CheckOutcome(
    suite="volume",
    check_type="volume",
    check="check",
    expectation_type="expect_column_values_to_be_between",
    asset="cost_events_volume",
    severity="critical",
    status="passed",
    observed_value=0.0,
    observed="within range (1 judged)",
    description="a stored outcome of a known age",
    alert_type="QUALITY_VOLUME",
    owner="data_engineer",
)
AGES_DAYS = [0, 1, 29, 29.9, 30.1, 31, 45, 89.9, 90.1, 120]
CHURN_ROWS = 60_000


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def api_usage_rows() -> list[tuple]:
    rows = [
        (100 + index, ago(age), f"/videos/{index}", 1 + index, "ok")
        for index, age in enumerate(AGES_DAYS)
    ]
    rows.append((999, None, "/unknown", 1, "ok"))  # no timestamp: never archived
    return rows


@pytest.fixture(scope="module")
def maint(new_warehouse):
    wh = new_warehouse("maint")
    wh.execute(RAW_SCHEMA)
    wh.execute("create index api_usage_request_idx on raw.api_usage (request_id)")
    wh.execute("create table public.y (id integer)")
    with maintenance_connection(wh) as db:
        db.cursor().executemany(
            "insert into raw.query_log values (%s, %s, %s, %s)",
            [(index, "overview", ago(age), 100) for index, age in enumerate(AGES_DAYS)]
            + [(999, "overview", None, 100)],
        )
        db.cursor().executemany(
            "insert into raw.api_usage values (%s, %s, %s, %s, %s)", api_usage_rows()
        )
    return wh


def maintenance_connection(wh):
    from orchestrator.connection import connect

    return connect(wh.conn)


def invocation(wh) -> Invocation:
    return Invocation(dbt_vars=PIN, target_path=wh.target_path, project_dir=PROJECT_DIR)


def results_left(wh) -> int:
    """Rows of ops.maintenance_results (0 when the table does not exist)."""
    if wh.query("select to_regclass('ops.maintenance_results')")[0][0] is None:
        return 0
    return wh.query("select count(*) from ops.maintenance_results")[0][0]


def test_injected_table_name_is_refused_and_nothing_dropped(maint) -> None:
    with pytest.raises(
        MaintenanceError, match=r'vacuum_analyze: refused table name "x; drop table y"'
    ):
        maintenance.vacuum_analyze(maint.conn, ["x; drop table y"], invocation=invocation(maint))
    with pytest.raises(MaintenanceError, match=r"refused table \"public.y\": it is not a table"):
        maintenance.reindex(maint.conn, ["public.y"], invocation=invocation(maint))
    assert maint.query("select to_regclass('public.y') is not null")[0][0]
    assert maint.query("select count(*) from raw.api_usage")[0][0] == len(api_usage_rows())


def test_reports_come_from_the_results_table_and_leave_no_rows(maint) -> None:
    """A report is a row under the call's run_token, read and deleted by the wrapper; by hand
    (no run_token) an operation only logs its report, so no row is left unread."""
    result = maintenance.analyze_all(maint.conn, invocation=invocation(maint))
    assert result.ok and result.report() == {
        "operation": "analyze_all",
        "database": maint.conn.dbname,
    }
    columns = maint.query(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'ops' and table_name = 'maintenance_results'"
        " order by ordinal_position"
    )
    assert columns == [
        ("run_token", "text"),
        ("step", "text"),
        ("operation", "text"),
        ("ok", "boolean"),
        ("details", "jsonb"),
        ("seconds", "numeric"),
        ("recorded_at", "timestamp with time zone"),
    ]
    assert results_left(maint) == 0
    by_hand = maint.dbt("run-operation", "analyze_all", dbt_vars=PIN)
    assert by_hand.returncode == 0
    assert results_left(maint) == 0


def test_a_failed_playbook_step_does_not_stop_the_next(maint) -> None:
    """vacuum_full needs diagnostics.pg_table_bloat, not built yet here: it fails alone."""
    if maint.server != "embedded":
        pytest.skip("the playbook runner's logic is server-independent: tested on embedded only")
    assert maint.query("select to_regclass('diagnostics.pg_table_bloat')") == [(None,)]
    steps = maintenance.run_playbook(
        maint.conn, ["vacuum_full", "analyze_all"], False, invocation(maint)
    )
    assert [(step.operation, step.ok) for step in steps] == [
        ("vacuum_full", False),
        ("analyze_all", True),
    ]
    assert "run `dbt build -s diagnostics` first" in steps[0].error
    assert steps[1].report()["database"] == maint.conn.dbname
    assert steps[1].seconds > 0  # the step's own row, written by the playbook macro
    assert results_left(maint) == 0


def test_archive_is_all_or_nothing(maint) -> None:
    """A failure half way (the archive refuses one row) leaves raw.api_usage untouched."""
    maint.execute(
        "create table raw.api_usage_archive (like raw.api_usage including defaults,"
        " archived_at timestamptz, constraint no_videos_7 check (endpoint <> '/videos/7'))"
    )
    before = maint.query("select * from raw.api_usage order by request_id")
    with pytest.raises(MaintenanceError, match="no_videos_7"):
        maintenance.run_operation(maint.conn, "archive_api_usage", None, invocation(maint))
    assert maint.query("select * from raw.api_usage order by request_id") == before
    assert maint.query("select count(*) from raw.api_usage_archive") == [(0,)]
    maint.execute("alter table raw.api_usage_archive drop constraint no_videos_7")


def test_retention_moves_exactly_the_old_rows(maint) -> None:
    skipped = maintenance.run_operation(
        maint.conn, "purge_quality_results", None, invocation(maint)
    )
    assert skipped.report() == {
        "operation": "purge_quality_results",
        "table": "ops.data_quality_checks",
        "deleted": 0,
        "skipped": "table does not exist",
    }
    with connect(maint.conn) as db:
        alerts_store.ensure_schema(db)  # the wrapper's tables, ops.data_quality_checks included
        for age in AGES_DAYS:  # one stored check `age` days before as_of
            quality_store.record(db, None, ago(age), [replace(QUALITY_ROW, check=f"check_{age}")])
    api_before = {row[0]: row for row in maint.query("select * from raw.api_usage")}

    result = maintenance.retention_cleanup(maint.conn, invocation=invocation(maint))

    log_cutoff = ago(VARS["retention_query_log_days"])
    quality_cutoff = ago(VARS["retention_quality_results_days"])
    api_cutoff = ago(VARS["retention_api_usage_days"])
    expected_log_deleted = sum(1 for age in AGES_DAYS if ago(age) < log_cutoff)
    expected_quality_deleted = sum(1 for age in AGES_DAYS if ago(age) < quality_cutoff)
    expected_archived = {
        key for key, row in api_before.items() if row[1] is not None and row[1] < api_cutoff
    }
    assert result.report("purge_query_log")["deleted"] == expected_log_deleted
    assert result.report("purge_quality_results")["deleted"] == expected_quality_deleted
    assert result.report("archive_api_usage")["archived"] == len(expected_archived)
    assert results_left(maint) == 0

    remaining_log = maint.query("select executed_at from raw.query_log")
    assert len(remaining_log) == len(AGES_DAYS) + 1 - expected_log_deleted
    assert all(executed is None or executed >= log_cutoff for (executed,) in remaining_log)
    remaining_quality = maint.query("select checked_at from ops.data_quality_checks")
    assert len(remaining_quality) == len(AGES_DAYS) - expected_quality_deleted
    assert all(checked >= quality_cutoff for (checked,) in remaining_quality)

    remaining_api = {row[0] for row in maint.query("select request_id from raw.api_usage")}
    assert remaining_api == set(api_before) - expected_archived
    archived = maint.query(
        "select request_id, called_at, endpoint, quota_units, status, archived_at"
        " from raw.api_usage_archive"
    )
    assert {row[0]: row[:5] for row in archived} == {
        key: api_before[key] for key in expected_archived
    }
    assert {row[5] for row in archived} == {AS_OF}


def index_file(wh) -> int:
    [(relfilenode,)] = wh.query(
        "select relfilenode from pg_class where relname = 'api_usage_request_idx'"
    )
    return relfilenode


def statements_loaded(wh) -> bool:
    return bool(
        wh.query(
            "select exists (select 1 from pg_extension where extname = 'pg_stat_statements')"
            " and position('pg_stat_statements' in current_setting('shared_preload_libraries')) > 0"
        )[0][0]
    )


def test_reindex_is_concurrent_unless_asked_otherwise(maint) -> None:
    first = index_file(maint)
    concurrent = maintenance.reindex(maint.conn, ["raw.api_usage"], invocation=invocation(maint))
    assert concurrent.report()["tables"] == ["raw.api_usage"]
    assert concurrent.report()["concurrently"] is True
    second = index_file(maint)
    assert second != first
    plain = maintenance.reindex(
        maint.conn, ["raw.api_usage"], concurrently=False, invocation=invocation(maint)
    )
    assert plain.report()["concurrently"] is False
    assert index_file(maint) != second
    if statements_loaded(maint):
        statements = {
            row[0]
            for row in maint.query(
                "select lower(query) from pg_stat_statements where query ilike 'reindex%'"
                # the server's other databases (other tests, other workers) are not this one
                " and dbid = (select oid from pg_database where datname = current_database())"
            )
        }
        assert statements == {
            "reindex table concurrently raw.api_usage",
            "reindex table raw.api_usage",
        }


def churn_bytes(wh) -> int:
    return wh.query("select pg_relation_size('raw.diag_churn')")[0][0]


def test_vacuum_full_only_for_named_candidates_and_only_when_confirmed(maint) -> None:
    maint.execute(
        "create table raw.diag_churn (item_id bigint, payload text)"
        " with (autovacuum_enabled = false)"
    )
    maint.execute(
        "insert into raw.diag_churn select g, repeat('z', 100) from generate_series(1, %s) as g",
        (CHURN_ROWS,),
    )
    maint.execute("delete from raw.diag_churn where item_id % 10 <> 0")
    maint.execute("vacuum (analyze) raw.diag_churn")
    built = maint.dbt("run", "--select", "+pg_table_bloat", dbt_vars=PIN)
    assert built.returncode == 0, built.stdout[-2000:]
    [(reclaimable, candidate)] = maint.query(
        "select reclaimable_pct, is_vacuum_full_candidate from diagnostics.pg_table_bloat"
        " where table_id = 'raw.diag_churn'"
    )
    assert reclaimable >= VARS["bloat_vacuum_full_pct"] and candidate
    size_before = churn_bytes(maint)

    dry = maintenance.vacuum_full(maint.conn, invocation=invocation(maint))
    assert dry.report()["dry_run"] is True
    assert dry.report()["would_rewrite"] == ["raw.diag_churn"]
    assert churn_bytes(maint) == size_before

    done = maintenance.vacuum_full(maint.conn, confirm=True, invocation=invocation(maint))
    assert done.report()["tables"] == ["raw.diag_churn"]
    assert churn_bytes(maint) < size_before * 0.2
    assert maint.query(
        "select count(*) from diagnostics.pg_table_bloat where is_vacuum_full_candidate"
    ) == [(0,)]


def test_weekly_and_monthly_playbook_steps(maint) -> None:
    if maint.server != "embedded":
        pytest.skip(
            "the playbook composition runs on the embedded server only (suite time); "
            "each operation is tested on both servers above"
        )
    expected = {
        row[0]
        for row in maint.query(
            "select format('%%I.%%I', nspname, relname) from pg_class"
            " join pg_namespace on pg_namespace.oid = relnamespace"
            " where relkind in ('r', 'm') and nspname = any(%s)",
            (VARS["diagnostics_schemas"],),
        )
    }
    weekly = maintenance.weekly(maint.conn, invocation(maint))
    assert [step.operation for step in weekly] == [
        "vacuum_analyze",
        "reindex",
        "analyze_all",
        "retention_cleanup",
        "build_diagnostics",
        "measure_table_bloat",
        "check_missing_indexes",
    ]
    assert all(step.ok for step in weekly), [(step.operation, step.error) for step in weekly]
    assert weekly[0].seconds > 0  # timed inside the one dbt process of the playbook
    vacuumed = set(weekly[0].report()["tables"])
    assert vacuumed == expected
    monthly = maintenance.monthly(maint.conn, invocation=invocation(maint))
    assert [step.operation for step in monthly] == [
        "build_diagnostics",
        "snapshot_and_reset_statements",
        "analyze_all",
        "vacuum_full",
    ]
    assert all(step.ok for step in monthly), [(step.operation, step.error) for step in monthly]
    assert monthly[3].report()["dry_run"] is True
    assert results_left(maint) == 0
