"""Staging, intermediate and core marts: real dbt builds on generated data, checked by an oracle.

Every expectation is computed in Python from the raw rows read back from the database: the
dedupe / exclusion rules of the core contract are re-implemented independently in
marts_oracle_core (the core of the one oracle of every mart), then compared with what dbt built.
Per server: a clean warehouse (built once, plus `dbt source freshness`), a dirty one
(`dirty_rows`), and a copy of the clean one that gets one more hour of raw rows and an
incremental run with as_of one hour later.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import Warehouse
from marts_oracle import MARTS
from marts_oracle_core import Raw, load_raw, project_vars, utc_hour
from psycopg import sql

from orchestrator.connection import Connection, connect
from orchestrator.dbt_invoke import DbtInvocation
from orchestrator.generate import GenerateReport, generate

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
SCALE = 0.03
DAYS = 14
CORE_MODELS = {model for model in MARTS if model.startswith(("dim_", "fct_", "dq_"))}
Key = tuple[Any, ...]


def dbt_vars(as_of: datetime) -> dict[str, str]:
    return {"as_of": as_of.isoformat()}


def build_core(warehouse: Warehouse, as_of: datetime, command: str = "build") -> DbtInvocation:
    """`dbt build` (or run) of the core marts and everything upstream; only tests on them."""
    return warehouse.dbt(
        command, "-s", "+tag:core", "--indirect-selection", "cautious", dbt_vars=dbt_vars(as_of)
    )


def run_results(warehouse: Warehouse) -> list[dict[str, Any]]:
    return warehouse.artifact("run_results.json")["results"]


def rows_affected(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows each node of a run wrote, by node name (dbt's adapter_response)."""
    return {
        result["unique_id"].split(".")[2]: result["adapter_response"].get("rows_affected")
        for result in results
    }


def statuses_by_name(results: list[dict[str, Any]]) -> dict[str, str]:
    return {result["unique_id"].split(".")[2]: result["status"] for result in results}


# --------------------------------------------------------------------------------------------
# Comparison with the oracle (marts_oracle_core: the contract's rules over the raw rows)
# --------------------------------------------------------------------------------------------


def totals_by_video(pairs: Iterator[tuple[int, int]]) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for video_id, cents in pairs:
        totals[video_id] += cents
    return dict(totals)


def built_video_performance(warehouse: Warehouse) -> dict[Key, dict[str, Any]]:
    rows = warehouse.query_dicts("select * from analytics.fct_video_performance")
    return {(row["video_id"], utc_hour(row["collected_hour"])): row for row in rows}


def assert_matches_oracle(warehouse: Warehouse, raw: Raw) -> None:
    """fct_video_performance, fct_revenue and fct_costs equal the oracle (rows, deltas, cents)."""
    counters = ("views", "likes", "comments", "watch_minutes")
    deltas = tuple(f"{counter}_delta" for counter in counters)
    expected = raw.core.fct_video_performance
    built = built_video_performance(warehouse)
    assert expected, "the oracle found no video stats: the fixture data is empty"
    assert set(built) == set(expected)
    for key, want in expected.items():
        row = built[key]
        assert (row["channel_id"], row["user_id"]) == (want["channel_id"], want["user_id"]), key
        assert tuple(row[name] for name in counters) == tuple(want[name] for name in counters), key
        assert tuple(row[name] for name in deltas) == tuple(want[name] for name in deltas), key
        assert row["engagement_rate"] == want["engagement_rate"], key
        assert row["is_counter_correction"] is want["is_counter_correction"], key
        assert row["collected_at"] == want["collected_at"], key

    revenue = {key: row["revenue_cents"] for key, row in raw.core.fct_revenue.items()}
    built_revenue = {
        (video_id, revenue_date): cents
        for video_id, revenue_date, cents in warehouse.query(
            "select video_id, revenue_date, revenue_cents from analytics.fct_revenue"
        )
    }
    assert built_revenue == revenue
    assert_totals(
        warehouse,
        "fct_revenue",
        "revenue_cents",
        [(video_id, cents) for (video_id, _), cents in revenue.items()],
    )

    costs = {
        cost_id: (row["video_id"], row["amount_cents"])
        for cost_id, row in raw.core.fct_costs.items()
    }
    built_costs = {
        cost_id: (video_id, cents)
        for cost_id, video_id, cents in warehouse.query(
            "select cost_id, video_id, amount_cents from analytics.fct_costs"
        )
    }
    assert built_costs == costs
    assert_totals(warehouse, "fct_costs", "amount_cents", list(costs.values()))


def assert_totals(
    warehouse: Warehouse, model: str, column: str, expected: list[tuple[int, int]]
) -> None:
    """Per-video and overall sums of a money column, to the cent."""
    per_video = dict(
        warehouse.query(f"select video_id, sum({column}) from analytics.{model} group by video_id")
    )
    assert per_video == totals_by_video(iter(expected))
    overall = warehouse.query(f"select coalesce(sum({column}), 0) from analytics.{model}")[0][0]
    assert overall == sum(cents for _, cents in expected)


# --------------------------------------------------------------------------------------------
# Fixtures: one generated warehouse per scenario and server, built once
# --------------------------------------------------------------------------------------------


@dataclass
class BuiltWarehouse:
    warehouse: Warehouse
    report: GenerateReport
    build: DbtInvocation
    results: list[dict[str, Any]]
    raw: Raw
    freshness: dict[str, dict[str, Any]] = field(default_factory=dict)  # table -> sources.json


def generate_and_build(
    make: Callable[[str], Warehouse], label: str, inject: tuple[str, ...] = ()
) -> BuiltWarehouse:
    warehouse = make(label)
    report = generate(warehouse.conn, scale=SCALE, days=DAYS, as_of=AS_OF, seed=42, inject=inject)
    build = build_core(warehouse, AS_OF)
    assert not build.could_not_run, build.stdout[-3000:]
    return BuiltWarehouse(
        warehouse, report, build, run_results(warehouse), load_raw(warehouse.query_dicts, AS_OF)
    )


@pytest.fixture(scope="module")
def clean(new_warehouse: Callable[[str], Warehouse]) -> BuiltWarehouse:
    built = generate_and_build(new_warehouse, "core_clean")
    freshness = built.warehouse.dbt("source", "freshness", dbt_vars=dbt_vars(AS_OF))
    assert freshness.returncode == 0, freshness.stdout[-3000:]
    built.freshness = {
        result["unique_id"].split(".")[-1]: result
        for result in built.warehouse.artifact("sources.json")["results"]
    }
    return built


@pytest.fixture(scope="module")
def dirty(new_warehouse: Callable[[str], Warehouse]) -> BuiltWarehouse:
    return generate_and_build(new_warehouse, "core_dirty", ("dirty_rows",))


# --------------------------------------------------------------------------------------------
# Clean data
# --------------------------------------------------------------------------------------------


def test_clean_build_passes_without_warnings(clean: BuiltWarehouse) -> None:
    statuses = statuses_by_name(clean.results)
    assert clean.build.returncode == 0, clean.build.stdout[-3000:]
    assert set(statuses) >= CORE_MODELS
    not_passing = {
        name: status for name, status in statuses.items() if status not in ("success", "pass")
    }
    assert not_passing == {}
    kinds = {result["unique_id"].split(".")[0] for result in clean.results}
    assert {"model", "test", "unit_test"} <= kinds


def test_clean_sources_are_fresh_as_of_the_pinned_time(clean: BuiltWarehouse) -> None:
    loaded_at = {
        "video_stats": "collected_at",
        "revenue": "loaded_at",
        "costs": "incurred_at",
        "api_usage": "called_at",
    }
    assert set(clean.freshness) == set(loaded_at)
    for table, column in loaded_at.items():
        result = clean.freshness[table]
        latest = clean.warehouse.query(f"select max({column}) from raw.{table}")[0][0]
        assert result["status"] == "pass", table
        assert datetime.fromisoformat(result["snapshotted_at"]) == AS_OF
        assert datetime.fromisoformat(result["max_loaded_at"]) == latest
        warn_minutes = project_var(f"freshness_{table}_warn_minutes")
        assert AS_OF - latest <= timedelta(minutes=warn_minutes)


def test_clean_data_quarantines_nothing(clean: BuiltWarehouse) -> None:
    assert clean.warehouse.query("select count(*) from analytics.dq_quarantined_rows") == [(0,)]


def test_facts_equal_the_oracle_on_clean_data(clean: BuiltWarehouse) -> None:
    assert_matches_oracle(clean.warehouse, clean.raw)


def test_dimensions_hold_every_valid_entity(clean: BuiltWarehouse) -> None:
    warehouse, raw = clean.warehouse, clean.raw
    videos = {
        row[0]: row[1:]
        for row in warehouse.query(
            "select video_id, channel_id, user_id, published_date, published_at "
            "from analytics.dim_video"
        )
    }
    assert {video_id: row[:2] for video_id, row in videos.items()} == {
        video_id: (row["channel_id"], row["user_id"])
        for video_id, row in raw.core.dim_video.items()
    }
    for _, _, published_date, published_at in videos.values():
        assert published_date == published_at.astimezone(UTC).date()
    default_goal = int(project_var("default_monthly_goal_cents"))
    raw_goals = {row["user_id"]: row["monthly_goal_cents"] for row in raw["users"]}
    built_goals = dict(
        warehouse.query("select user_id, monthly_goal_cents from analytics.dim_user")
    )
    assert built_goals == {
        user_id: goal if goal is not None else default_goal for user_id, goal in raw_goals.items()
    }


def test_dim_date_covers_raw_dates_through_tomorrow(clean: BuiltWarehouse) -> None:
    warehouse = clean.warehouse
    first_dates = [
        warehouse.query(f"select min({column}) from raw.{table}")[0][0]
        for table, column in (
            ("users", "created_at"),
            ("channels", "created_at"),
            ("videos", "published_at"),
            ("video_stats", "collected_at"),
            ("revenue", "revenue_date"),
            ("costs", "incurred_at"),
            ("api_usage", "called_at"),
            ("job_runs", "started_at"),
            ("query_log", "executed_at"),
            ("cache_stats", "collected_at"),
        )
    ]
    first = min(
        value.astimezone(UTC).date() if isinstance(value, datetime) else value
        for value in first_dates
        if value is not None
    )
    rows = warehouse.query_dicts("select * from analytics.dim_date order by date_day")
    days = [row["date_day"] for row in rows]
    assert days[0] == first
    assert days[-1] == AS_OF.date() + timedelta(days=1)
    assert len(days) == (days[-1] - days[0]).days + 1
    for row in rows:
        day: date = row["date_day"]
        assert row["day_of_week_number"] == day.isoweekday()
        assert row["week_start_date"] == day - timedelta(days=day.isoweekday() - 1)
        assert row["month_start_date"] == day.replace(day=1)
        assert (row["year_number"], row["month_number"]) == (day.year, day.month)
        assert row["is_weekend"] is (day.isoweekday() >= 6)


def test_surrogate_keys_are_md5_of_the_grain(clean: BuiltWarehouse) -> None:
    warehouse = clean.warehouse
    for key, video_id, hour in warehouse.query(
        "select video_performance_id, video_id, collected_hour "
        "from analytics.fct_video_performance limit 50"
    ):
        assert key == md5_hex(f"{video_id}-{hour.astimezone(UTC):%Y-%m-%d %H:%M:%S}+00")
    for key, video_id, revenue_date in warehouse.query(
        "select revenue_id, video_id, revenue_date from analytics.fct_revenue limit 50"
    ):
        assert key == md5_hex(f"{video_id}-{revenue_date.isoformat()}")


def test_core_tables_are_indexed_on_the_keys_marts_filter_on(clean: BuiltWarehouse) -> None:
    indexed = defaultdict(set)
    for table, definition in clean.warehouse.query(
        "select tablename, indexdef from pg_indexes where schemaname = 'analytics'"
    ):
        columns = definition[definition.index("(") + 1 : definition.rindex(")")]
        indexed[table].add(columns.split(",")[0].strip())
    assert {"video_performance_id", "video_id", "user_id", "collected_hour"} <= indexed[
        "fct_video_performance"
    ]
    assert {"cost_id", "video_id", "user_id", "incurred_hour"} <= indexed["fct_costs"]
    assert {"revenue_id", "video_id", "user_id", "revenue_date"} <= indexed["fct_revenue"]


# --------------------------------------------------------------------------------------------
# Dirty data: warnings, not failures; every planted row flagged, quarantined or collapsed
# --------------------------------------------------------------------------------------------


EXPECTED_DIRTY_WARNINGS = {
    # raw tests (sources)
    "source_not_null_raw_video_stats_video_id",
    "source_not_null_raw_costs_video_id",
    # staging flags
    "not_null_stg_raw__video_stats_video_id",
    "expression_is_true_stg_raw__video_stats_duplicate_row_count___0",
    "expression_is_true_stg_raw__video_stats_is_future___false",
    "not_null_stg_raw__costs_video_id",
    "expression_is_true_stg_raw__costs_duplicate_row_count___0",
    # core
    "fct_video_performance_has_no_counter_correction",
    "dq_quarantined_rows_is_empty",
}


def test_dirty_build_warns_and_does_not_fail(dirty: BuiltWarehouse) -> None:
    statuses = statuses_by_name(dirty.results)
    assert dirty.build.returncode == 0, dirty.build.stdout[-3000:]
    failing = {name for name, status in statuses.items() if status in ("error", "fail")}
    assert failing == set()
    warned = {name for name, status in statuses.items() if status == "warn"}
    assert warned == EXPECTED_DIRTY_WARNINGS
    for result in dirty.results:
        if result["status"] == "warn":
            assert result["failures"] > 0


def test_every_planted_dirty_row_is_accounted_for(dirty: BuiltWarehouse) -> None:
    warehouse, details = dirty.warehouse, dirty.report.injected_details["dirty_rows"]
    quarantined = warehouse.query_dicts(
        "select source_table, reason, video_id, row_key_json, row_json "
        "from analytics.dq_quarantined_rows"
    )
    # collapsed: each exact duplicate is one staged row that counts the copy
    for video_id, collected_at in details["video_stats_duplicates"]:
        assert warehouse.query(
            "select duplicate_row_count from staging.stg_raw__video_stats "
            "where video_id = %s and collected_at = %s",
            (video_id, collected_at),
        ) == [(1,)]
    for cost_id in details["costs_duplicate_cost_ids"]:
        assert warehouse.query(
            "select duplicate_row_count from staging.stg_raw__costs where cost_id = %s", (cost_id,)
        ) == [(1,)]
        assert warehouse.query(
            "select count(*) from analytics.fct_costs where cost_id = %s", (cost_id,)
        ) == [(1,)]
    # quarantined: null ids and future rows, and nothing else
    null_stats = sorted(
        datetime.fromisoformat(row["row_key_json"].split('"collected_at" : "')[1].rstrip('"}'))
        for row in quarantined
        if (row["source_table"], row["reason"]) == ("raw.video_stats", "null_id")
    )
    assert null_stats == sorted(details["video_stats_null_video_id"])
    future_stats = sorted(
        row["video_id"]
        for row in quarantined
        if (row["source_table"], row["reason"]) == ("raw.video_stats", "future_timestamp")
    )
    assert future_stats == sorted(video_id for video_id, _ in details["video_stats_future"])
    null_costs = [row for row in quarantined if row["source_table"] == "raw.costs"]
    assert len(null_costs) == 1 and null_costs[0]["reason"] == "null_id"
    assert f'"cost_id" : {details["costs_null_video_cost_id"]}' in null_costs[0]["row_key_json"]
    assert len(quarantined) == len(null_stats) + len(future_stats) + len(null_costs)
    # flagged: the counter that went backwards is kept, with a negative delta
    backwards = details["video_stats_backwards"]
    row = built_video_performance(warehouse)[
        (backwards["video_id"], utc_hour(backwards["collected_at"]))
    ]
    assert row["views"] == backwards["views"]
    assert row["is_counter_correction"] is True
    assert row["views_delta"] == backwards["views"] - backwards["previous_views"]
    assert warehouse.query(
        "select count(*) from analytics.fct_video_performance where is_counter_correction"
    ) == [(1,)]


def test_facts_equal_the_oracle_on_dirty_data(dirty: BuiltWarehouse) -> None:
    assert_matches_oracle(dirty.warehouse, dirty.raw)


# --------------------------------------------------------------------------------------------
# Incremental: one more hour of raw rows, as_of one hour later
# --------------------------------------------------------------------------------------------


@dataclass
class IncrementalRuns:
    warehouse: Warehouse
    before: dict[str, dict[Key, dict[str, Any]]]
    after: dict[str, dict[Key, dict[str, Any]]]
    new_stats: list[tuple[Any, ...]]
    new_costs: list[tuple[Any, ...]]
    second_run: DbtInvocation
    second_results: list[dict[str, Any]]
    revenue: RevenueChanges


def snapshot_facts(warehouse: Warehouse) -> dict[str, dict[Key, dict[str, Any]]]:
    costs = warehouse.query_dicts("select * from analytics.fct_costs")
    revenue = warehouse.query_dicts("select * from analytics.fct_revenue")
    return {
        "fct_video_performance": built_video_performance(warehouse),
        "fct_costs": {(row["cost_id"],): row for row in costs},
        "fct_revenue": {(row["video_id"], row["revenue_date"]): row for row in revenue},
    }


@dataclass
class RevenueChanges:
    """The revenue rows of the incremental fixture's extra hour, by what fct_revenue must do."""

    refreshed: tuple[Key, int]  # today's estimate landed again: (key, new estimated_cents)
    corrected: tuple[Key, int]  # an actual of a day 5 days back corrected: (key, new actual)
    after_as_of: Key  # a version landed after the run's as_of: not counted yet


def one_more_hour_of_revenue(warehouse: Warehouse) -> RevenueChanges:
    """Insert the revenue versions of the extra hour: a refreshed estimate, a correction of an
    old day, and a version landed after the second run's instant."""
    today = AS_OF.date()
    old_day = today - timedelta(days=5)
    (a, a_estimated), (c, _) = warehouse.query(
        "select video_id, estimated_cents from analytics.fct_revenue where revenue_date = %s "
        "order by video_id limit 2",
        (today,),
    )
    [(b, b_estimated, b_actual)] = warehouse.query(
        "select video_id, estimated_cents, actual_cents from analytics.fct_revenue "
        "where revenue_date = %s and actual_cents is not null order by video_id limit 1",
        (old_day,),
    )
    with connect(warehouse.conn) as db, db.cursor() as cursor:
        cursor.executemany(
            "insert into raw.revenue (video_id, revenue_date, estimated_cents, actual_cents,"
            " loaded_at) values (%s, %s, %s, %s, %s)",
            [
                (a, today, a_estimated + 123, None, AS_OF + timedelta(minutes=25)),
                (b, old_day, b_estimated, b_actual + 77, AS_OF + timedelta(minutes=35)),
                (c, today, 999_999, None, AS_OF + timedelta(hours=2)),
            ],
        )
    return RevenueChanges(
        refreshed=((a, today), a_estimated + 123),
        corrected=((b, old_day), b_actual + 77),
        after_as_of=(c, today),
    )


@dataclass
class LateOwner:
    """Revenue that waited days in quarantine (unknown_video) for its video, the video's
    channel or the channel's user, which lands in the hour before `as_of`."""

    landed: str  # "video", "channel" or "user": what lands late
    revenue_date: date
    as_of: datetime
    key: Key = ()
    channel_id: int = 0
    revenue_cents: int = 0


def land_late_owner(warehouse: Warehouse, late: LateOwner) -> LateOwner:
    """Insert the late owner and its old revenue row. Only the rows of what lands are stamped
    in the last hour (the video's updated_at, the channel's updated_at, the user's created_at);
    everything else, the revenue row included, is stamped days before."""
    landed_at = late.as_of - timedelta(minutes=30)
    published = datetime.combine(late.revenue_date, datetime.min.time(), UTC) + timedelta(hours=9)
    long_ago = published - timedelta(days=2)
    [(video_id, channel_id, user_id)] = warehouse.query(
        "select (select max(video_id) + 1 from raw.videos), "
        "(select max(channel_id) + 1 from raw.channels), (select max(user_id) + 1 from raw.users)"
    )
    [(old_channel, old_user)] = warehouse.query(
        "select channel_id, user_id from analytics.dim_channel order by channel_id limit 1"
    )
    with connect(warehouse.conn) as db, db.cursor() as cursor:
        if late.landed == "user":
            cursor.execute(
                "insert into raw.users (user_id, email, is_active, created_at,"
                " monthly_goal_cents) values (%s, 'late@example.com', true, %s, 1000000)",
                (user_id, landed_at),
            )
        else:
            user_id = old_user
        if late.landed in ("channel", "user"):
            cursor.execute(
                "insert into raw.channels (channel_id, user_id, title, niche, is_active,"
                " created_at, updated_at) values (%s, %s, 'Late', 'tech', true, %s, %s)",
                (
                    channel_id,
                    user_id,
                    long_ago,
                    landed_at if late.landed == "channel" else long_ago,
                ),
            )
        else:
            channel_id = old_channel
        cursor.execute(
            "insert into raw.videos (video_id, channel_id, title, published_at, duration_s,"
            " updated_at) values (%s, %s, 'Landed late', %s, 600, %s)",
            (video_id, channel_id, published, landed_at if late.landed == "video" else published),
        )
        cursor.execute(
            "insert into raw.revenue (video_id, revenue_date, estimated_cents, actual_cents,"
            " loaded_at) values (%s, %s, 510, 480, %s)",
            (video_id, late.revenue_date, published + timedelta(days=1, hours=2)),
        )
    return LateOwner(
        late.landed, late.revenue_date, late.as_of, (video_id, late.revenue_date), channel_id, 480
    )


def one_more_hour_of_rows(warehouse: Warehouse) -> tuple[list[tuple], list[tuple]]:
    """Each live video's next hourly collection, two costs in the next hour, one late cost."""
    latest = warehouse.query(
        "select distinct on (video_id) video_id, collected_at, views, likes, comments, "
        "watch_minutes from raw.video_stats where collected_at > %s and collected_at <= %s "
        "order by video_id, collected_at desc",
        (AS_OF - timedelta(hours=1), AS_OF),
    )
    new_stats = [
        (
            video_id,
            collected_at + timedelta(hours=1),
            views + 10 + index,
            likes + 1,
            comments,
            watch_minutes + 5,
        )
        for index, (video_id, collected_at, views, likes, comments, watch_minutes) in enumerate(
            latest
        )
    ]
    next_cost_id = warehouse.query("select max(cost_id) + 1 from raw.costs")[0][0]
    video_ids = [row[0] for row in latest[:2]]
    new_costs = [
        (next_cost_id, video_ids[0], "render", 41, AS_OF + timedelta(minutes=30)),
        (next_cost_id + 1, video_ids[1], "voice", 37, AS_OF + timedelta(minutes=50)),
        # landed late: incurred before the first run's as_of, inside the lookback window
        (next_cost_id + 2, video_ids[1], "api_calls", 3, AS_OF - timedelta(minutes=30)),
    ]
    return new_stats, new_costs


def insert_rows(warehouse: Warehouse, new_stats: list[tuple], new_costs: list[tuple]) -> None:
    with connect(warehouse.conn) as db, db.cursor() as cursor:
        cursor.executemany(
            "insert into raw.video_stats (video_id, collected_at, views, likes, comments, "
            "watch_minutes) values (%s, %s, %s, %s, %s, %s)",
            new_stats,
        )
        cursor.executemany(
            "insert into raw.costs (cost_id, video_id, category, amount_cents, incurred_at) "
            "values (%s, %s, %s, %s, %s)",
            new_costs,
        )


@pytest.fixture(scope="module")
def incremental(
    clean: BuiltWarehouse, pg_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IncrementalRuns]:
    """A copy of the clean warehouse (already built at AS_OF), one more hour, one more run."""
    warehouse = clone_warehouse(clean.warehouse, pg_server, tmp_path_factory)
    try:
        before = snapshot_facts(warehouse)
        new_stats, new_costs = one_more_hour_of_rows(warehouse)
        insert_rows(warehouse, new_stats, new_costs)
        revenue = one_more_hour_of_revenue(warehouse)
        second = build_core(warehouse, AS_OF + timedelta(hours=1), command="run")
        assert second.returncode == 0, second.stdout[-3000:]
        yield IncrementalRuns(
            warehouse,
            before,
            snapshot_facts(warehouse),
            new_stats,
            new_costs,
            second,
            run_results(warehouse),
            revenue,
        )
    finally:
        with connect(pg_server) as db:
            db.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(warehouse.conn.dbname)
                )
            )


def clone_warehouse(
    source: Warehouse, pg_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Warehouse:
    """A new database created from `source` as a template (its raw data and built models)."""
    name = f"{source.conn.dbname[:50]}_copy"
    with connect(pg_server) as db:
        db.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        db.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(source.conn.dbname)
            )
        )
    return Warehouse(
        conn=pg_server.with_database(name),
        target_path=tmp_path_factory.mktemp(f"target-{name}"),
        server=source.server,
    )


def test_incremental_run_adds_only_the_new_hour(incremental: IncrementalRuns) -> None:
    before = incremental.before["fct_video_performance"]
    after = incremental.after["fct_video_performance"]
    assert incremental.new_stats, "no live video in the last hour: the fixture data is wrong"
    expected_new = {
        (video_id, utc_hour(collected_at)) for video_id, collected_at, *_ in incremental.new_stats
    }
    assert set(after) - set(before) == expected_new
    assert set(before) <= set(after)
    changed = [key for key, row in before.items() if after[key] != row]
    assert changed == []
    for video_id, collected_at, views, likes, comments, watch_minutes in incremental.new_stats:
        row = after[(video_id, utc_hour(collected_at))]
        previous = max(
            (row for key, row in before.items() if key[0] == video_id),
            key=lambda row: row["collected_hour"],
        )
        assert (
            row["views_delta"],
            row["likes_delta"],
            row["comments_delta"],
            row["watch_minutes_delta"],
        ) == (
            views - previous["views"],
            likes - previous["likes"],
            comments - previous["comments"],
            watch_minutes - previous["watch_minutes"],
        )
        assert row["is_counter_correction"] is False


def test_incremental_run_adds_only_the_new_costs(incremental: IncrementalRuns) -> None:
    before = incremental.before["fct_costs"]
    after = incremental.after["fct_costs"]
    assert set(after) - set(before) == {(row[0],) for row in incremental.new_costs}
    assert all(after[key] == row for key, row in before.items())
    for cost_id, video_id, category, cents, incurred_at in incremental.new_costs:
        row = after[(cost_id,)]
        assert (row["video_id"], row["cost_category"], row["amount_cents"], row["incurred_at"]) == (
            video_id,
            category,
            cents,
            incurred_at,
        )


def test_incremental_revenue_replaces_exactly_the_changed_days(
    incremental: IncrementalRuns,
) -> None:
    before, after = incremental.before["fct_revenue"], incremental.after["fct_revenue"]
    changes = incremental.revenue
    (refreshed, estimated), (corrected, actual) = changes.refreshed, changes.corrected
    assert set(after) == set(before)
    assert {key for key, row in before.items() if after[key] != row} == {refreshed, corrected}
    assert (after[refreshed]["estimated_cents"], after[refreshed]["revenue_cents"]) == (
        estimated,
        estimated,
    )
    assert after[refreshed]["is_estimated"] is True
    assert (after[corrected]["actual_cents"], after[corrected]["revenue_cents"]) == (actual, actual)
    assert after[changes.after_as_of] == before[changes.after_as_of]


def test_incremental_models_were_not_rebuilt(incremental: IncrementalRuns) -> None:
    affected = rows_affected(incremental.second_results)
    assert 0 < affected["fct_video_performance"] < len(incremental.after["fct_video_performance"])
    assert 0 < affected["fct_costs"] < len(incremental.after["fct_costs"])
    # the days from the earliest one that changed (the corrected day, 5 days back) on
    revenue = incremental.after["fct_revenue"]
    earliest = incremental.revenue.corrected[0][1]
    assert affected["fct_revenue"] == sum(1 for key in revenue if key[1] >= earliest)
    assert affected["fct_revenue"] < len(revenue)


def test_incremental_result_equals_a_full_recomputation(incremental: IncrementalRuns) -> None:
    assert_matches_oracle(
        incremental.warehouse,
        load_raw(incremental.warehouse.query_dicts, AS_OF + timedelta(hours=1)),
    )


LATE_OWNERS = (  # one run each, an hour apart; each one's day earlier than the one before
    ("video", 9),
    ("channel", 10),
    ("user", 11),
)


@dataclass
class OwnerChange:
    """A change of an already stored video's owner or validity, landed in the hour: "moved" (a
    new version of a channel, with another user) or "orphaned" (a new version of a video, on a
    channel that does not exist: quarantined as unknown_channel)."""

    kind: str
    video_ids: list[int]
    earliest_day: date  # the earliest stored revenue day of those videos
    user_id: int | None  # the videos' user after the change (None: no longer valid)
    affected: int = 0
    rows: dict[Key, dict[str, Any]] = field(default_factory=dict)


def land_owner_change(warehouse: Warehouse, kind: str, as_of: datetime) -> OwnerChange:
    """The channel (moved) or video (orphaned) whose stored revenue starts latest (a video's:
    at least 3 days back), changed."""
    landed_at = as_of - timedelta(minutes=30)
    with connect(warehouse.conn) as db, db.cursor() as cursor:
        if kind == "moved":
            [(channel_id, earliest_day)] = warehouse.query(
                "select channel_id, min(revenue_date) from analytics.fct_revenue"
                " group by channel_id order by 2 desc, 1 limit 1"
            )
            [(user_id,)] = warehouse.query(
                "select min(user_id) from analytics.dim_user where user_id <> "
                "(select user_id from analytics.dim_channel where channel_id = %s)",
                (channel_id,),
            )
            cursor.execute(
                "insert into raw.channels (channel_id, user_id, title, niche, is_active,"
                " created_at, updated_at) select channel_id, %s, channel_title, niche, is_active,"
                " created_at, %s from staging.stg_raw__channels where channel_id = %s",
                (user_id, landed_at, channel_id),
            )
            video_ids = [
                row[0]
                for row in warehouse.query(
                    "select distinct video_id from analytics.fct_revenue where channel_id = %s",
                    (channel_id,),
                )
            ]
            return OwnerChange(kind, video_ids, earliest_day, user_id)
        # older than the days every run recomputes anyway (those from the lookback's date on)
        [(video_id, earliest_day)] = warehouse.query(
            "select video_id, min(revenue_date) from analytics.fct_revenue group by video_id"
            " having min(revenue_date) < %s order by 2 desc, 1 limit 1",
            (as_of.date() - timedelta(days=3),),
        )
        cursor.execute(
            "insert into raw.videos (video_id, channel_id, title, published_at, duration_s,"
            " updated_at) select video_id, -1, video_title, published_at, duration_seconds, %s"
            " from staging.stg_raw__videos where video_id = %s",
            (landed_at, video_id),
        )
        return OwnerChange(kind, [video_id], earliest_day, None)


@dataclass
class LateOwnerRuns:
    warehouse: Warehouse
    runs: list[tuple[LateOwner, int, dict[Key, dict[str, Any]], Raw]]  # (case, affected, rows, raw)
    changes: dict[str, OwnerChange]


@pytest.fixture(scope="module")
def late_owners(
    clean: BuiltWarehouse, pg_server: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LateOwnerRuns]:
    """A copy of the clean warehouse; then, an hour apart, a late video, a late channel and a
    late user land (each with revenue that waited days for it), and an incremental run."""
    warehouse = clone_warehouse(clean.warehouse, pg_server, tmp_path_factory)
    runs = []
    try:
        for hours, (landed, days_back) in enumerate(LATE_OWNERS, start=1):
            as_of = AS_OF + timedelta(hours=hours)
            late = land_late_owner(
                warehouse, LateOwner(landed, AS_OF.date() - timedelta(days=days_back), as_of)
            )
            run = build_core(warehouse, as_of, command="run")
            assert run.returncode == 0, run.stdout[-3000:]
            affected = rows_affected(run_results(warehouse))["fct_revenue"]
            rows = snapshot_facts(warehouse)["fct_revenue"]
            runs.append((late, affected, rows, load_raw(warehouse.query_dicts, as_of)))
        changes = {}
        for hours, kind in enumerate(("moved", "orphaned"), start=len(LATE_OWNERS) + 1):
            as_of = AS_OF + timedelta(hours=hours)
            change = land_owner_change(warehouse, kind, as_of)
            run = build_core(warehouse, as_of, command="run")
            assert run.returncode == 0, run.stdout[-3000:]
            change.affected = rows_affected(run_results(warehouse))["fct_revenue"]
            change.rows = snapshot_facts(warehouse)["fct_revenue"]
            changes[kind] = change
        yield LateOwnerRuns(warehouse, runs, changes)
    finally:
        with connect(pg_server) as db:
            db.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(warehouse.conn.dbname)
                )
            )


@pytest.mark.parametrize("landed", [landed for landed, _ in LATE_OWNERS])
def test_revenue_waiting_for_its_owner_reaches_fct_revenue_when_it_lands(
    late_owners: LateOwnerRuns, landed: str
) -> None:
    """Its day is older than anything else that changed, so the run recomputes from exactly
    that day: the window start's clause for what landed (video, channel or user) found it."""
    [(late, affected, rows, raw)] = [run for run in late_owners.runs if run[0].landed == landed]
    assert (rows[late.key]["channel_id"], rows[late.key]["revenue_cents"]) == (
        late.channel_id,
        late.revenue_cents,
    )
    assert affected == sum(1 for key in rows if key[1] >= late.revenue_date)
    assert affected < len(rows)
    expected = {key: row["revenue_cents"] for key, row in raw.core.fct_revenue.items()}
    assert {key: row["revenue_cents"] for key, row in rows.items()} == expected


@pytest.mark.parametrize("kind", ["moved", "orphaned"])
def test_a_stored_video_whose_owner_changes_is_recomputed(
    late_owners: LateOwnerRuns, kind: str
) -> None:
    """Its days are recomputed from its earliest stored one: the moved channel's videos carry
    the new user; the orphaned video's revenue leaves fct_revenue (now unknown_channel)."""
    change = late_owners.changes[kind]
    rows = change.rows
    mine = [row for key, row in rows.items() if key[0] in change.video_ids]
    if change.user_id is None:
        assert mine == []
    else:
        assert mine
        assert {row["user_id"] for row in mine} == {change.user_id}
    assert change.affected == sum(1 for key in rows if key[1] >= change.earliest_day)


# --------------------------------------------------------------------------------------------
# helpers used above
# --------------------------------------------------------------------------------------------


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def project_var(name: str) -> Any:
    return project_vars()[name]
