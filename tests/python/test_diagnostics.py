"""The PostgreSQL diagnostics (models/diagnostics) diagnose situations built for real.

One database per server (module scope): first the diagnostics are built on it while it is empty
(they must work on a bare project), then a situation is built (a big table scanned sequentially
on an unindexed column, unused / duplicate / invalid indexes, a table after mass deletes, a slow
statement, a `raw.video_stats` whose `likes` no statement reads by, bookkeeping tables filtered
on), the diagnostics are rebuilt, and each test asserts one diagnosis against figures
computed here from the rows we wrote. Runs on the embedded server (pg_stat_statements loaded, no
hypopg) and on the system one when reachable (hypopg when installed, usually no
pg_stat_statements), so both the with- and without-extension paths run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from orchestrator import maintenance
from orchestrator.connection import connect

PROJECT_DIR = Path(__file__).resolve().parents[2]
VARS: dict[str, Any] = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]

ORDERS_ROWS = 200_000
ORDERS_CUSTOMERS = 20_011  # customer_id = (order_id * 7919) % 20011: ~20k values, no order
FILTERED_SCANS = VARS["missing_index_min_seq_scans"] + 5
BLOATED_ROWS = 100_000
NOTES_ROWS = 5_000
VIDEO_STATS_ROWS = 30_000
BOOKKEEPING_ROWS = 15_000
BOOKKEEPING_TABLES = (("ops", "diag_events"), ("analytics", "diag_events_history"))


@dataclass
class Situation:
    warehouse: Any
    empty_build_returncode: int
    empty_counts: dict[str, int]
    build_results: list[dict[str, Any]]
    has_statements: bool
    has_hypopg_on_server: bool
    slow_statement: str
    deleted_rows: int


def invocation_for(wh) -> maintenance.Invocation:
    return maintenance.Invocation(target_path=wh.target_path, project_dir=PROJECT_DIR)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Cumulative statistics reach other sessions asynchronously: poll until they show."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def table_stat(wh, table: str, column: str, schema: str = "analytics") -> int:
    rows = wh.query(
        f"select {column} from pg_stat_user_tables where schemaname = %s and relname = %s",
        (schema, table),
    )
    return rows[0][0] if rows else -1


def diagnostics_counts(wh) -> dict[str, int]:
    views = [
        "pg_missing_indexes",
        "pg_unused_indexes",
        "pg_table_bloat",
        "performance_recommendations",
    ]
    return {view: wh.query(f"select count(*) from diagnostics.{view}")[0][0] for view in views}


def statements_loaded(wh) -> bool:
    return bool(
        wh.query(
            "select exists (select 1 from pg_extension where extname = 'pg_stat_statements')"
            " and position('pg_stat_statements' in current_setting('shared_preload_libraries')) > 0"
        )[0][0]
    )


def build_orders(wh) -> None:
    """A big table, read only by sequential scans filtering on an unindexed column."""
    wh.execute(
        "create table analytics.diag_orders (order_id bigint primary key, customer_id bigint,"
        " status text, created_at timestamptz) with (autovacuum_enabled = false)"
    )
    wh.execute(
        "insert into analytics.diag_orders select g, (g * 7919) %% %s,"
        " case when g %% 3 = 0 then 'paid' else 'open' end,"
        " timestamptz '2026-01-01' + g * interval '1 minute' from generate_series(1, %s) as g",
        (ORDERS_CUSTOMERS, ORDERS_ROWS),
    )
    wait_until(lambda: table_stat(wh, "diag_orders", "n_tup_ins") == ORDERS_ROWS, "orders stats")
    wh.execute("analyze analytics.diag_orders")
    with connect(wh.conn) as db:
        for customer in range(1, FILTERED_SCANS + 1):
            db.execute(
                "select count(*) from analytics.diag_orders where customer_id = %s", (customer,)
            )
    wait_until(lambda: table_stat(wh, "diag_orders", "seq_scan") >= FILTERED_SCANS, "seq scans")


def build_video_stats(wh) -> None:
    """raw.video_stats read only by scans filtering on `views` (in physical order, so no
    candidate), never by `likes` (many values in no order: a candidate without evidence)."""
    wh.execute("create schema if not exists raw")
    wh.execute(
        "create table raw.video_stats (video_id bigint, views bigint, likes bigint, pad text)"
        " with (autovacuum_enabled = false)"
    )
    wh.execute(
        "insert into raw.video_stats select g, g, (g * 7907) %% 99991, repeat('v', 60)"
        " from generate_series(1, %s) as g",
        (VIDEO_STATS_ROWS,),
    )
    wh.execute("analyze raw.video_stats")
    with connect(wh.conn) as db:
        for floor in range(FILTERED_SCANS):
            db.execute("select count(*) from raw.video_stats where views > %s", (floor,))
    wait_until(lambda: table_stat(wh, "video_stats", "seq_scan", "raw") >= FILTERED_SCANS, "scans")


def build_bookkeeping(wh) -> None:
    """Tables of the project's own bookkeeping (schema ops, a *_history table), scanned by
    statements filtering on an unindexed column: never a candidate."""
    wh.execute("create schema if not exists ops")
    for schema, table in BOOKKEEPING_TABLES:
        wh.execute(
            f"create table {schema}.{table} (event_id bigint, run_ref bigint, pad text)"
            " with (autovacuum_enabled = false)"
        )
        wh.execute(
            f"insert into {schema}.{table} select g, (g * 7919) %% 10007, repeat('e', 80)"
            " from generate_series(1, %s) as g",
            (BOOKKEEPING_ROWS,),
        )
        wh.execute(f"analyze {schema}.{table}")
        with connect(wh.conn) as db:
            for ref in range(FILTERED_SCANS):
                db.execute(f"select count(*) from {schema}.{table} where run_ref = %s", (ref,))


def build_notes(wh) -> None:
    """A small table with a primary key, a used index, an unused one, its duplicate and an
    invalid one (a failed concurrent unique build)."""
    wh.execute(
        "create table analytics.diag_notes (note_id bigint primary key, author text,"
        " author_rank integer, body text)"
    )
    wh.execute(
        "insert into analytics.diag_notes select g, 'a' || (g %% 50), g %% 1000, 'note'"
        " from generate_series(1, %s) as g",
        (NOTES_ROWS,),
    )
    wh.execute("create index diag_notes_author_idx on analytics.diag_notes (author)")
    wh.execute("create index diag_notes_author_copy_idx on analytics.diag_notes (author)")
    wh.execute("create index diag_notes_rank_idx on analytics.diag_notes (author_rank)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        wh.execute(
            "create unique index concurrently diag_notes_author_uq on analytics.diag_notes (author)"
        )
    with connect(wh.conn) as db:
        db.execute("set enable_seqscan = off")
        db.execute("select count(*) from analytics.diag_notes where author_rank = 5").fetchall()
    wait_until(lambda: table_stat(wh, "diag_notes", "idx_scan") >= 1, "index scan stats")


def build_bloated(wh) -> int:
    """A table after a mass delete (autovacuum off so the dead tuples stay): returns deleted."""
    wh.execute(
        "create table analytics.diag_bloated (item_id bigint, payload text)"
        " with (autovacuum_enabled = false)"
    )
    wh.execute(
        "insert into analytics.diag_bloated select g, repeat('y', 60)"
        " from generate_series(1, %s) as g",
        (BLOATED_ROWS,),
    )
    wait_until(lambda: table_stat(wh, "diag_bloated", "n_tup_ins") == BLOATED_ROWS, "insert stats")
    wh.execute("analyze analytics.diag_bloated")
    deleted = sum(1 for item in range(1, BLOATED_ROWS + 1) if item % 5 in (0, 1))
    wh.execute("delete from analytics.diag_bloated where item_id % 5 in (0, 1)")
    wait_until(lambda: table_stat(wh, "diag_bloated", "n_dead_tup") == deleted, "delete stats")
    return deleted


@pytest.fixture(scope="module")
def situation(new_warehouse) -> Situation:
    wh = new_warehouse("diag")
    empty = wh.dbt("build", "--select", "diagnostics")
    empty_counts = diagnostics_counts(wh) if empty.returncode == 0 else {}

    wh.execute("create schema if not exists analytics")
    build_orders(wh)
    build_notes(wh)
    deleted = build_bloated(wh)
    build_video_stats(wh)
    build_bookkeeping(wh)
    has_statements = statements_loaded(wh)
    seconds = VARS["slow_query_mean_ms"] / 1000 + 0.1
    slow_statement = "select pg_sleep($1)"
    wh.execute("select pg_sleep(%s)", (seconds,))
    hypopg_on_server = bool(
        wh.query("select count(*) from pg_available_extensions where name = 'hypopg'")[0][0]
    )
    build = wh.dbt("build", "--select", "diagnostics")
    assert build.returncode == 0, build.stdout[-3000:]
    build_results = wh.artifact("run_results.json")["results"]
    return Situation(
        wh,
        empty.returncode,
        empty_counts,
        build_results,
        has_statements,
        hypopg_on_server,
        slow_statement,
        deleted,
    )


def test_diagnostics_build_on_an_empty_database(situation: Situation) -> None:
    assert situation.empty_build_returncode == 0
    assert situation.empty_counts == {
        "pg_missing_indexes": 0,
        "pg_unused_indexes": 0,
        "pg_table_bloat": 0,
        "performance_recommendations": 0,
    }


def test_all_diagnostics_tests_pass(situation: Situation) -> None:
    results = situation.build_results
    assert results, "dbt build ran nothing"
    assert {result["status"] for result in results} <= {"success", "pass"}
    built = {
        result["unique_id"].split(".")[-1]
        for result in results
        if result["unique_id"].startswith("model.")
    }
    assert {
        "pg_missing_indexes",
        "pg_unused_indexes",
        "pg_table_bloat",
        "pg_slow_queries",
        "pg_stat_statements_history",
        "performance_recommendations",
    } <= built


def test_seq_scanned_unindexed_column_is_a_missing_index(situation: Situation) -> None:
    wh = situation.warehouse
    rows = wh.query_dicts(
        "select * from diagnostics.pg_missing_indexes where table_name = 'diag_orders'"
    )
    by_column = {row["column_name"]: row for row in rows}
    # order_id is indexed (pk), status has 2 values, created_at follows the physical order
    assert set(by_column) == {"customer_id"}
    candidate = by_column["customer_id"]
    assert candidate["seq_scans"] >= FILTERED_SCANS
    assert candidate["index_scans"] == 0
    assert candidate["seq_rows_read"] >= FILTERED_SCANS * ORDERS_ROWS
    assert candidate["rows_per_seq_scan"] == round(
        candidate["seq_rows_read"] / candidate["seq_scans"]
    )
    assert abs(candidate["estimated_distinct_values"] - ORDERS_CUSTOMERS) / ORDERS_CUSTOMERS < 0.2
    assert candidate["suggested_index"] == (
        "create index concurrently on analytics.diag_orders (customer_id);"
    )
    if situation.has_statements:
        assert candidate["filter_statement_calls"] >= FILTERED_SCANS
        assert candidate["estimated_benefit"] == "HIGH"
    else:
        assert candidate["filter_statement_calls"] is None
        assert candidate["estimated_benefit"] == "MEDIUM"
    assert candidate["hypothetical_checked_at"] is None
    assert candidate["hypopg_note"].startswith("not verified")
    assert candidate["candidate_rank"] == 1


def test_without_hypopg_the_check_says_so(situation: Situation) -> None:
    wh = situation.warehouse
    result = maintenance.check_missing_indexes(wh.conn, invocation=invocation_for(wh))
    assert result.report()["skipped"] == "hypopg is not installed"
    assert wh.query("select count(*) from diagnostics.pg_hypothetical_index_checks")[0][0] == 0
    evidence = wh.query(
        "select evidence from diagnostics.performance_recommendations"
        " where recommendation_id = 'MISSING_INDEX:analytics.diag_orders.customer_id'"
    )
    if situation.has_statements:  # backed by the statements, the hypopg check still unmade
        assert "not verified" in evidence[0][0]
    else:  # nothing backs it: no recommendation
        assert evidence == []


def test_hypopg_confirms_the_candidate(situation: Situation) -> None:
    wh = situation.warehouse
    if not situation.has_hypopg_on_server:
        pytest.skip(f"hypopg is not installed on the {wh.server} server")
    wh.execute("create extension if not exists hypopg")
    indexes_before = wh.query("select count(*) from pg_indexes where schemaname = 'analytics'")
    result = maintenance.check_missing_indexes(wh.conn, top_n=1, invocation=invocation_for(wh))
    [checked] = result.report()["checked"]
    assert checked["index"] == "create index on analytics.diag_orders (customer_id)"
    candidate = wh.query_dicts(
        "select * from diagnostics.pg_missing_indexes where column_name = 'customer_id'"
    )[0]
    assert candidate["is_hypothetical_index_used"] is True
    assert candidate["hypothetical_cost_after"] < candidate["hypothetical_cost_before"]
    assert candidate["hypopg_note"].startswith("hypopg: a hypothetical index cuts")
    # hypothetical only: nothing was created for real
    assert wh.query("select count(*) from pg_indexes where schemaname = 'analytics'") == (
        indexes_before
    )


def test_unused_duplicate_and_invalid_indexes(situation: Situation) -> None:
    rows = situation.warehouse.query_dicts(
        "select index_name, finding, duplicate_of_index, stats_reset_at, statistics_window_note"
        " from diagnostics.pg_unused_indexes where table_name = 'diag_notes'"
    )
    findings = {(row["index_name"], row["finding"]) for row in rows}
    assert findings == {
        ("diag_notes_author_idx", "UNUSED"),
        ("diag_notes_author_copy_idx", "UNUSED"),
        ("diag_notes_author_copy_idx", "DUPLICATE"),
        ("diag_notes_author_uq", "INVALID"),
    }
    # the primary key (never scanned) and the scanned index are not reported
    names = {row["index_name"] for row in rows}
    assert "diag_notes_pkey" not in names and "diag_notes_rank_idx" not in names
    duplicate = next(row for row in rows if row["finding"] == "DUPLICATE")
    assert duplicate["duplicate_of_index"] == "diag_notes_author_idx"
    assert all(row["statistics_window_note"].startswith("idx_scan counts since") for row in rows)


def test_recommendations_cover_each_issue_type(situation: Situation) -> None:
    rows = situation.warehouse.query_dicts("select * from diagnostics.performance_recommendations")
    by_id = {row["recommendation_id"]: row for row in rows}
    expected = {
        "UNUSED_INDEX:analytics.diag_notes_author_idx",
        "DUPLICATE_INDEX:analytics.diag_notes_author_copy_idx",
        "INVALID_INDEX:analytics.diag_notes_author_uq",
        "TABLE_BLOAT:analytics.diag_bloated",
    }
    if situation.has_statements:  # a missing index needs statements (or hypopg) behind it
        expected.add("MISSING_INDEX:analytics.diag_orders.customer_id")
    assert expected <= set(by_id)
    # an index both unused and duplicated is reported once, as the duplicate
    assert "UNUSED_INDEX:analytics.diag_notes_author_copy_idx" not in by_id
    assert by_id["DUPLICATE_INDEX:analytics.diag_notes_author_copy_idx"]["recommendation"] == (
        "drop index concurrently analytics.diag_notes_author_copy_idx;"
    )
    assert by_id["INVALID_INDEX:analytics.diag_notes_author_uq"]["recommendation"] == (
        "reindex index concurrently analytics.diag_notes_author_uq;"
    )
    assert {row["impact"] for row in rows} <= {"HIGH", "MEDIUM", "LOW"}
    assert all(row["evidence"] and row["recommendation"] for row in rows)


def statements_filtering(wh, table: str, predicate: str) -> tuple[int, int, float]:
    """(statements, calls, total ms) of this database's pg_stat_statements entries naming
    `table` whose text matches `predicate`, EXPLAIN left out: computed here, in Python."""
    rows = wh.query(
        "select query, calls, total_exec_time from pg_stat_statements"
        " where dbid = (select oid from pg_database where datname = current_database())"
    )
    matching = [
        (calls, ms)
        for query, calls, ms in rows
        if re.search(rf"\b{table}\b", query)
        and re.search(predicate, query)
        and not query.lstrip().lower().startswith("explain")
    ]
    return len(matching), sum(c for c, _ in matching), sum(ms for _, ms in matching)


def test_missing_index_evidence_is_the_statements_that_filter_on_it(situation: Situation) -> None:
    wh = situation.warehouse
    [candidate] = wh.query_dicts(
        "select has_evidence, evidence, filter_statement_count, filter_statement_calls"
        " from diagnostics.pg_missing_indexes"
        " where missing_index_id = 'analytics.diag_orders.customer_id'"
    )
    recommended = wh.query(
        "select evidence from diagnostics.performance_recommendations"
        " where recommendation_id = 'MISSING_INDEX:analytics.diag_orders.customer_id'"
    )
    if not situation.has_statements:
        [(checks,)] = wh.query(
            "select count(*) from diagnostics.pg_hypothetical_index_checks"
            " where table_name = 'diag_orders' and column_name = 'customer_id' and is_index_used"
        )
        if checks:  # test_hypopg_confirms_the_candidate ran here: its measured gain is the evidence
            assert candidate["has_evidence"] is True
            assert candidate["evidence"].startswith("hypothetical index: cost ")
            [(evidence,)] = recommended
            assert evidence.startswith(candidate["evidence"] + "; ")
        else:  # nothing backs it: no recommendation
            assert candidate["has_evidence"] is False and recommended == []
            assert candidate["evidence"].startswith(
                "no evidence: pg_stat_statements is not readable"
            )
        return
    statements, calls, total_ms = statements_filtering(wh, "diag_orders", r"customer_id\s*=")
    assert (statements, calls) == (1, FILTERED_SCANS)
    assert candidate["has_evidence"] is True
    assert (candidate["filter_statement_count"], candidate["filter_statement_calls"]) == (
        statements,
        calls,
    )
    [(evidence,)] = recommended
    match = re.match(r"1 statement filters on it, ([\d,]+) calls, ([\d,.]+) s total; ", evidence)
    assert match, evidence
    assert int(match[1].replace(",", "")) == calls
    assert abs(float(match[2].replace(",", "")) - total_ms / 1000) <= 0.051
    assert candidate["evidence"] == evidence.split("; ")[0]


def test_a_column_no_statement_reads_by_gets_no_recommendation(situation: Situation) -> None:
    wh = situation.warehouse
    rows = wh.query_dicts(
        "select column_name, has_evidence, evidence from diagnostics.pg_missing_indexes"
        " where schema_name = 'raw' and table_name = 'video_stats'"
    )
    by_column = {row["column_name"]: row for row in rows}
    # video_id and views follow the physical order; pad has one value
    assert set(by_column) == {"likes"}
    likes = by_column["likes"]
    assert likes["has_evidence"] is False
    if situation.has_statements:
        assert statements_filtering(wh, "video_stats", r"likes\s*(=|<|>)|(=|<|>)\s*likes")[0] == 0
        assert likes["evidence"] == (
            "no statement in pg_stat_statements filters, joins or sorts on it"
        )
    assert wh.query(
        "select count(*) from diagnostics.performance_recommendations"
        " where object_name like 'raw.video_stats%%'"
    ) == [(0,)]


def test_a_measured_hypothetical_gain_is_evidence_only_without_statements(
    situation: Situation,
) -> None:
    """A hypopg check recorded for raw.video_stats.likes (written here as the operation
    would): without pg_stat_statements it is the evidence; with it, no statement reads by the
    column, so still no recommendation."""
    wh = situation.warehouse
    wh.execute(
        "insert into diagnostics.pg_hypothetical_index_checks (index_check_id, schema_name,"
        " table_name, column_name, probe_query, hypothetical_index_definition, cost_before,"
        " cost_after, cost_reduction_pct, hypothetical_index_bytes, is_index_used, checked_at)"
        " values ('test', 'raw', 'video_stats', 'likes', 'select 1', 'create index', 1234,"
        " 12.5, 98.99, 8192, true, now())"
    )
    try:
        [likes] = wh.query_dicts(
            "select has_evidence, evidence from diagnostics.pg_missing_indexes"
            " where missing_index_id = 'raw.video_stats.likes'"
        )
        recommended = wh.query(
            "select evidence from diagnostics.performance_recommendations"
            " where recommendation_id = 'MISSING_INDEX:raw.video_stats.likes'"
        )
    finally:
        wh.execute(
            "delete from diagnostics.pg_hypothetical_index_checks where index_check_id = 'test'"
        )
    if situation.has_statements:
        assert likes["has_evidence"] is False and recommended == []
    else:
        assert likes == {"has_evidence": True, "evidence": "hypothetical index: cost 1234 -> 12.5"}
        [(evidence,)] = recommended
        assert evidence.startswith("hypothetical index: cost 1234 -> 12.5; ")


def test_bookkeeping_tables_are_never_candidates(situation: Situation) -> None:
    wh = situation.warehouse
    for schema, table in BOOKKEEPING_TABLES:
        assert table_stat(wh, table, "seq_scan", schema) >= FILTERED_SCANS  # read, and big
        assert wh.query(
            "select pg_relation_size(%s::regclass) >= %s * current_setting('block_size')::int",
            (f"{schema}.{table}", VARS["diagnostics_min_table_pages"]),
        ) == [(True,)]
        assert wh.query(
            "select count(*) from diagnostics.pg_missing_indexes"
            " where schema_name = %s and table_name = %s",
            (schema, table),
        ) == [(0,)]
    assert wh.query(
        "select count(*) from diagnostics.performance_recommendations"
        " where object_name like 'ops.%%' or object_name like 'diagnostics.%%'"
        " or object_name like '%%\\_history%%'"
    ) == [(0,)]


def expected_dead_level(dead_pct: float) -> str | None:
    for level in ("high", "medium", "low"):
        if dead_pct >= VARS[f"bloat_dead_share_{level}_pct"]:
            return level.upper()
    return None


def test_mass_delete_shows_as_bloat_then_vacuum_clears_it(situation: Situation) -> None:
    wh = situation.warehouse
    truth_pct = 100.0 * situation.deleted_rows / BLOATED_ROWS
    bloated = wh.query_dicts(
        "select * from diagnostics.pg_table_bloat where table_id = 'analytics.diag_bloated'"
    )[0]
    assert abs(float(bloated["dead_tuple_pct"]) - truth_pct) <= 1.0
    assert bloated["dead_tuples"] == situation.deleted_rows
    assert bloated["dead_tuple_level"] == expected_dead_level(truth_pct)
    assert bloated["is_bloated"] and bloated["needs_vacuum"]
    # tiny tables are ignored
    tiny = wh.query(
        "select count(*) from diagnostics.pg_table_bloat where table_name = 'diag_notes'"
    )
    assert tiny == [(0,)]

    invocation = invocation_for(wh)
    measured = maintenance.measure_table_bloat(
        wh.conn, tables=["analytics.diag_bloated"], invocation=invocation
    )
    if measured.report().get("skipped"):
        assert "pgstattuple" in measured.report()["skipped"]
    else:
        row = wh.query_dicts(
            "select * from diagnostics.pg_table_bloat where table_id = 'analytics.diag_bloated'"
        )[0]
        assert row["has_current_measurement"] and row["reclaimable_source"] == "pgstattuple_approx"
        # pgstattuple counts bytes: 40 % of equal-width rows is ~40 % of the tuple bytes
        assert 0.8 * truth_pct <= float(row["measured_dead_tuple_pct"]) <= truth_pct

    result = maintenance.vacuum_analyze(
        wh.conn, tables=["analytics.diag_bloated"], invocation=invocation
    )
    assert result.report()["tables"] == ["analytics.diag_bloated"]
    wait_until(
        lambda: table_stat(wh, "diag_bloated", "n_dead_tup") == 0, "vacuum to clear dead tuples"
    )
    after = wh.query_dicts(
        "select * from diagnostics.pg_table_bloat where table_id = 'analytics.diag_bloated'"
    )[0]
    assert float(after["dead_tuple_pct"]) == 0.0
    assert not after["is_bloated"] and not after["has_current_measurement"]
    gone = wh.query(
        "select count(*) from diagnostics.performance_recommendations"
        " where recommendation_id = 'TABLE_BLOAT:analytics.diag_bloated'"
    )
    assert gone == [(0,)]


def test_slow_statement_appears_in_slow_queries(situation: Situation) -> None:
    wh = situation.warehouse
    rows = wh.query_dicts("select * from diagnostics.pg_slow_queries")
    if not situation.has_statements:
        assert rows == []
        [(note, available)] = wh.query(
            "select note, is_available from diagnostics.pg_diagnostics_capabilities"
            " where capability_id = 'pg_stat_statements'"
        )
        assert not available and note.startswith("pg_stat_statements is ")
        return
    slow = [row for row in rows if row["query_text"] == situation.slow_statement]
    assert len(slow) == 1
    assert slow[0]["calls"] == 1 and slow[0]["is_slow"]
    assert float(slow[0]["mean_exec_ms"]) >= VARS["slow_query_mean_ms"]
    recommendation = wh.query(
        "select impact, recommendation from diagnostics.performance_recommendations"
        " where recommendation_id = %s",
        (f"SLOW_QUERY:query {slow[0]['slow_query_id']}",),
    )
    assert recommendation and recommendation[0][1].startswith("explain (analyze, buffers)")
    assert all(
        row["is_slow"] == (float(row["mean_exec_ms"]) >= VARS["slow_query_mean_ms"]) for row in rows
    )


def history_calls(wh, statement: str) -> list[int]:
    return [
        row[0]
        for row in wh.query(
            "select calls from diagnostics.pg_stat_statements_history where query_text = %s"
            " order by captured_at",
            (statement,),
        )
    ]


def test_statement_history_survives_the_reset(situation: Situation) -> None:
    wh = situation.warehouse
    invocation = invocation_for(wh)
    if not situation.has_statements:
        result = maintenance.snapshot_and_reset_statements(wh.conn, invocation=invocation)
        assert result.report()["reset"] is False
        assert result.report()["skipped"] == "pg_stat_statements is not loaded"
        return
    assert history_calls(wh, situation.slow_statement) == [1]
    wh.execute("select pg_sleep(%s)", (0.01,))
    result = maintenance.snapshot_and_reset_statements(wh.conn, invocation=invocation)
    assert result.report()["reset"] is True and result.report()["snapshot_rows"] >= 1
    live = wh.query(
        "select count(*) from pg_stat_statements where query = %s"
        " and dbid = (select oid from pg_database where datname = current_database())",
        (situation.slow_statement,),
    )
    assert live == [(0,)]
    assert history_calls(wh, situation.slow_statement) == [1, 2]
    rebuilt = wh.dbt("run", "--select", "pg_stat_statements_history")
    assert rebuilt.returncode == 0
    assert history_calls(wh, situation.slow_statement) == [1, 2]
