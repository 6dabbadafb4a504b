"""The synthetic raw-data generator: determinism, scale, clean shapes, injections, CLI.

Every expectation is computed here from the raw rows (SQL or Python), never copied from the
generator; thresholds come from the vars of dbt_project.yml.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import Warehouse

from orchestrator import project_vars
from orchestrator.cli import main
from orchestrator.errors import ConfigError
from orchestrator.generate import TABLES, GenerateReport, generate
from orchestrator.generate_injections import FUTURE_OFFSET, INJECTIONS

PROJECT_VARS: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "dbt_project.yml").read_text()
)["vars"]
AS_OF = datetime(2026, 11, 20, 14, 37, tzinfo=UTC)
SMALL = {"scale": 0.02, "days": 14, "as_of": AS_OF, "seed": 7}
TIMESTAMP_COLUMNS = {
    "users": ("created_at",),
    "channels": ("created_at", "updated_at"),
    "videos": ("published_at", "updated_at"),
    "video_stats": ("collected_at",),
    "revenue": ("loaded_at",),
    "costs": ("incurred_at",),
    "api_usage": ("called_at",),
    "job_runs": ("started_at", "finished_at"),
    "query_log": ("executed_at",),
    "cache_stats": ("collected_at",),
}


def table_digests(warehouse: Warehouse) -> dict[str, str]:
    """md5 of every raw table's rows in a stable order."""
    digests = {}
    for table in TABLES:
        digests[table] = warehouse.query(
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
            f"from raw.{table} as t"
        )[0][0]
    return digests


def count_rows(warehouse: Warehouse, table: str) -> int:
    return warehouse.query(f"select count(*) from raw.{table}")[0][0]


@pytest.fixture(scope="module")
def clean(new_warehouse: Callable[[str], Warehouse]) -> tuple[Warehouse, GenerateReport]:
    warehouse = new_warehouse("gen_clean")
    return warehouse, generate(warehouse.conn, **SMALL)


@pytest.fixture(scope="module")
def injected(new_warehouse: Callable[[str], Warehouse]) -> tuple[Warehouse, GenerateReport]:
    warehouse = new_warehouse("gen_injected")
    return warehouse, generate(warehouse.conn, **SMALL, inject=list(INJECTIONS))


# --- determinism and scale ------------------------------------------------------------------


def test_same_arguments_give_identical_tables_and_another_seed_differs(
    clean: tuple[Warehouse, GenerateReport], warehouse: Warehouse
) -> None:
    clean_db, clean_report = clean
    naive_as_of = AS_OF.replace(tzinfo=None)  # naive means UTC
    again = generate(warehouse.conn, **{**SMALL, "as_of": naive_as_of})
    assert again.rows == clean_report.rows
    assert table_digests(warehouse) == table_digests(clean_db)
    generate(warehouse.conn, **{**SMALL, "seed": SMALL["seed"] + 1})
    other = table_digests(warehouse)
    reference = table_digests(clean_db)
    assert all(other[table] != reference[table] for table in TABLES)


def test_entity_counts_scale_linearly_and_a_rerun_replaces_the_data(warehouse: Warehouse) -> None:
    small = generate(warehouse.conn, scale=0.05, days=2, as_of=AS_OF)
    small_counts = {t: count_rows(warehouse, t) for t in ("users", "channels", "videos")}
    large = generate(warehouse.conn, scale=0.1, days=2, as_of=AS_OF)
    for table, before in small_counts.items():
        after = count_rows(warehouse, table)
        assert before == small.rows[table] and after == large.rows[table]
        assert 1.8 <= after / before <= 2.2, (table, before, after)
    for table in TABLES:  # nothing left over from the first run
        assert count_rows(warehouse, table) == large.rows[table]


def test_a_rerun_keeps_views_that_depend_on_raw_tables(warehouse: Warehouse) -> None:
    generate(warehouse.conn, scale=0.01, days=2, as_of=AS_OF)
    warehouse.execute("create view public.stats_probe as select video_id from raw.video_stats")
    report = generate(warehouse.conn, scale=0.02, days=2, as_of=AS_OF)
    assert (
        warehouse.query("select count(*) from public.stats_probe")[0][0]
        == report.rows["video_stats"]
    )


# --- clean shapes ---------------------------------------------------------------------------


def test_shapes_follow_the_entities(clean: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, report = clean
    assert report.rows["videos"] == 200 and report.rows["users"] == 2
    emails = warehouse.query("select user_id, email from raw.users order by 1")
    assert all(email == f"user{user_id}@example.com" for user_id, email in emails)
    orphans = warehouse.query(
        "select count(*) from raw.videos as v left join raw.channels as c using (channel_id) "
        "where c.channel_id is null or c.created_at >= v.published_at"
    )[0][0]
    assert orphans == 0
    durations = warehouse.query("select min(duration_s), max(duration_s) from raw.videos")[0]
    assert durations[0] >= 300 and durations[1] <= 900
    hours = warehouse.query(
        "select count(distinct extract(hour from published_at at time zone 'UTC')) from raw.videos"
    )[0][0]
    assert hours == 24
    newest = warehouse.query("select max(published_at) from raw.videos")[0][0]
    assert AS_OF - timedelta(minutes=30) <= newest < AS_OF


def test_no_timestamp_is_after_as_of(clean: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, _ = clean
    for table, columns in TIMESTAMP_COLUMNS.items():
        for column in columns:
            latest = warehouse.query(f"select max({column}) from raw.{table}")[0][0]
            assert latest <= AS_OF, (table, column, latest)
    revenue_day = warehouse.query("select max(revenue_date) from raw.revenue")[0][0]
    assert revenue_day == AS_OF.date()


def test_cost_per_video_stays_under_the_warning(clean: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, _ = clean
    events = warehouse.query(
        "select cost_id, video_id, category, amount_cents, incurred_at from raw.costs"
    )
    assert len({row[0] for row in events}) == len(events)
    per_video: dict[int, int] = defaultdict(int)
    per_hour: dict[datetime, list[tuple[int, int]]] = defaultdict(list)
    for _, video_id, _, amount, incurred_at in events:
        per_video[video_id] += amount
        per_hour[incurred_at.replace(minute=0, second=0, microsecond=0)].append((video_id, amount))
    assert min(per_video.values()) >= 200 and max(per_video.values()) <= 290
    assert len(per_video) == 200
    warning = PROJECT_VARS["cost_per_video_warning_cents"]
    for hour, rows in per_hour.items():
        assert sum(a for _, a in rows) / len({v for v, _ in rows}) < warning, hour
    categories = warehouse.query("select count(distinct category) from raw.costs")[0][0]
    assert categories == 5
    newest_cost = max(row[4] for row in events)
    assert AS_OF - newest_cost <= timedelta(minutes=30)


def test_video_stats_are_fresh_cumulative_and_live_for_72_hours(
    clean: tuple[Warehouse, GenerateReport],
) -> None:
    warehouse, _ = clean
    rows = warehouse.query(
        "select s.video_id, s.collected_at, s.views, s.likes, s.comments, s.watch_minutes, "
        "v.published_at from raw.video_stats as s join raw.videos as v using (video_id) "
        "order by s.video_id, s.collected_at"
    )
    latest = max(row[1] for row in rows)
    assert AS_OF - latest <= timedelta(minutes=PROJECT_VARS["freshness_video_stats_warn_minutes"])
    previous: dict[int, tuple] = {}
    for video_id, collected_at, *counters, published_at in rows:
        assert published_at < collected_at <= published_at + timedelta(hours=72)
        if video_id in previous:
            before_at, before_counters = previous[video_id]
            assert collected_at - before_at == timedelta(hours=1)
            assert all(
                now >= before for now, before in zip(counters, before_counters, strict=True)
            ), video_id
        previous[video_id] = (collected_at, tuple(counters))
    views, likes, comments = rows[-1][2], rows[-1][3], rows[-1][4]
    assert 0.03 * views - 1 <= likes <= 0.06 * views
    assert 0.005 * views - 1 <= comments <= 0.01 * views


def test_revenue_lags_a_day_and_loads_fresh_estimates(
    clean: tuple[Warehouse, GenerateReport],
) -> None:
    warehouse, _ = clean
    rows = warehouse.query(
        "select video_id, revenue_date, estimated_cents, actual_cents, loaded_at from raw.revenue"
    )
    keys = {(row[0], row[1]) for row in rows}
    assert len(keys) == len(rows)
    lag_day = AS_OF.date() - timedelta(days=1)
    for _, revenue_date, estimated, actual, loaded_at in rows:
        assert estimated >= 0
        if revenue_date >= lag_day:
            assert actual is None and AS_OF - loaded_at <= timedelta(minutes=15)
        else:
            assert actual is not None and loaded_at.date() == revenue_date + timedelta(days=1)
    published = dict(warehouse.query("select video_id, published_at from raw.videos"))
    expected_rows = sum(
        (AS_OF.date() - at.astimezone(UTC).date()).days + 1 for at in published.values()
    )
    assert len(rows) == expected_rows


def test_api_usage_stays_in_quota_at_every_day(clean: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, _ = clean
    days = warehouse.query(
        "select (called_at at time zone 'UTC')::date, sum(quota_units) from raw.api_usage "
        "group by 1 order by 1"
    )
    full_days = [units for day, units in days if day < AS_OF.date()]
    assert all(3000 <= units <= 6500 for units in full_days), full_days
    assert max(units for _, units in days) < PROJECT_VARS["api_quota_warning_units"]
    today = dict(days)[AS_OF.date()]
    assert today < min(full_days)  # the current day grows with the time of day
    latest = warehouse.query("select max(called_at) from raw.api_usage")[0][0]
    assert AS_OF - latest <= timedelta(minutes=10)
    statuses = dict(warehouse.query("select status, count(*) from raw.api_usage group by 1"))
    assert statuses["success"] > 50 * statuses.get("error", 0) > 0


def test_jobs_dashboards_and_cache_are_healthy(clean: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, _ = clean
    jobs = warehouse.query(
        "select job_name, started_at, finished_at, status, error_message from raw.job_runs"
    )
    assert {row[3] for row in jobs} == {"success"} and {row[4] for row in jobs} == {None}
    assert all(row[2] > row[1] for row in jobs)
    nightly = [row for row in jobs if row[0] != "hourly_monitoring"]
    for _, started_at, finished_at, _, _ in nightly:
        assert (
            timedelta(minutes=30)
            <= started_at - started_at.replace(hour=0, minute=0, second=0, microsecond=0)
            and finished_at.hour < 6
        )
    assert len({row[0] for row in nightly}) == 5
    durations = warehouse.query(
        "select max(duration_ms), percentile_cont(0.5) within group "
        "(order by duration_ms) from raw.query_log"
    )[0]
    assert durations[0] < PROJECT_VARS["dashboard_warning_ms"] and 200 <= durations[1] <= 400
    per_hour = warehouse.query(
        "select min(n) from (select date_trunc('hour', executed_at), count(*) as n "
        "from raw.query_log where executed_at < %s group by 1) as hours",
        (AS_OF.replace(minute=0),),
    )[0][0]
    assert per_hour >= 5
    cache = warehouse.query(
        "select collected_at, keyspace_hits, keyspace_misses from "
        "raw.cache_stats order by collected_at"
    )
    assert all(b[0] - a[0] == timedelta(minutes=5) for a, b in itertools.pairwise(cache))
    for before, after in itertools.pairwise(cache):
        hits, misses = after[1] - before[1], after[2] - before[2]
        assert 0.88 <= hits / (hits + misses) <= 0.96
    assert all(0.88 <= hits / (hits + misses) <= 0.96 for _, hits, misses in cache)


# --- injections -----------------------------------------------------------------------------


def latest_video_stats_age_minutes(warehouse: Warehouse) -> float:
    latest = warehouse.query(
        "select max(collected_at) from raw.video_stats "
        "where collected_at <= %s and video_id is not null",
        (AS_OF,),
    )[0][0]
    return (AS_OF - latest).total_seconds() / 60


def cost_events(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query(
        "select distinct cost_id, video_id, amount_cents, incurred_at "
        "from raw.costs where video_id is not null"
    )


def cost_per_video(events: list[tuple], start: datetime, end: datetime) -> float:
    inside = [(video, amount) for _, video, amount, at in events if start <= at < end]
    return sum(a for _, a in inside) / len({v for v, _ in inside})


def spike_hours_cents_per_video(warehouse: Warehouse) -> tuple[float, float]:
    """The cost per video of the rolling hour before AS_OF and of AS_OF's clock hour."""
    events = cost_events(warehouse)
    clock_start = AS_OF.replace(minute=0)
    return (
        cost_per_video(events, AS_OF - timedelta(hours=1), AS_OF),
        cost_per_video(events, clock_start, clock_start + timedelta(hours=1)),
    )


def quota_units_today(warehouse: Warehouse) -> tuple[int, int]:
    """(all units, units of successful requests) of AS_OF's day up to AS_OF."""
    return warehouse.query(
        "select sum(quota_units), sum(quota_units) filter (where status = 'success') "
        "from raw.api_usage where called_at >= %s and called_at <= %s",
        (AS_OF.replace(hour=0, minute=0), AS_OF),
    )[0]


def slow_dashboard_durations_ms(warehouse: Warehouse) -> tuple[int, int]:
    """The shortest and longest revenue_overview query of AS_OF's day up to AS_OF."""
    return warehouse.query(
        "select min(duration_ms), max(duration_ms) from raw.query_log "
        "where dashboard_name = 'revenue_overview' and executed_at >= %s and executed_at <= %s",
        (AS_OF.replace(hour=0, minute=0), AS_OF),
    )[0]


@dataclass(frozen=True)
class Crossing:
    """The threshold var an injection must cross and where past it its figures land: `band` is
    (lowest - var, highest - var), the margins orchestrator/generate_injections.py documents."""

    var: str
    band: tuple[float, float]
    figures: Callable[[Warehouse], tuple[float, float]]

    def assert_lands(self, warehouse: Warehouse, threshold: float) -> None:
        lowest, highest = self.figures(warehouse)
        assert threshold < threshold + self.band[0] <= lowest <= highest <= threshold + self.band[1]


CROSSINGS = {
    "stale_video_stats": Crossing(
        "freshness_video_stats_error_minutes",
        (121, 190),  # the lag is the var + 120 minutes rounded up to whole hours, plus 1-10
        lambda warehouse: (latest_video_stats_age_minutes(warehouse),) * 2,
    ),
    "cost_spike": Crossing(
        "cost_per_video_critical_cents",
        (70, 230),
        lambda warehouse: tuple(sorted(spike_hours_cents_per_video(warehouse))),
    ),
    "quota_overuse": Crossing(
        "api_quota_critical_units",
        (550, 649),
        lambda warehouse: (quota_units_today(warehouse)[0],) * 2,
    ),
    "slow_dashboard": Crossing("dashboard_critical_ms", (500, 4_000), slow_dashboard_durations_ms),
}


@pytest.mark.parametrize("name", CROSSINGS)
def test_with_the_shipped_vars_each_injection_lands_past_its_critical_level(
    injected: tuple[Warehouse, GenerateReport], name: str
) -> None:
    """What test_injections relies on: past the error-level var (not just the warning one),
    by the documented margins (the module docstring's bracketed figures)."""
    crossing = CROSSINGS[name]
    crossing.assert_lands(injected[0], PROJECT_VARS[crossing.var])


@pytest.mark.parametrize("name", CROSSINGS)
def test_a_moved_threshold_moves_its_injection(warehouse: Warehouse, name: str) -> None:
    """The var moved past everything the shipped size plants (the old anomaly would not cross
    it), in a copy of the project vars: the injection follows it."""
    crossing = CROSSINGS[name]
    band_width = crossing.band[1] - crossing.band[0]
    moved = PROJECT_VARS[crossing.var] + crossing.band[1] + band_width
    project = project_vars.load(overrides={crossing.var: moved})
    generate(warehouse.conn, **SMALL, inject=[name], project=project)
    crossing.assert_lands(warehouse, moved)
    assert project_vars.load().values[crossing.var] == PROJECT_VARS[crossing.var]


def test_stale_video_stats(injected: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, report = injected
    age_minutes = latest_video_stats_age_minutes(warehouse)
    assert report.injected_details["stale_video_stats"]["latest_age_minutes"] == age_minutes


def test_cost_spike(injected: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, report = injected
    events = cost_events(warehouse)
    rolling, _ = spike_hours_cents_per_video(warehouse)
    totals: dict[int, int] = defaultdict(int)
    for _, video, amount, _ in events:
        totals[video] += amount
    details = report.injected_details["cost_spike"]
    critical = PROJECT_VARS["cost_per_video_critical_cents"]
    assert details["video_ids"] and all(totals[v] > critical for v in details["video_ids"])
    day_total = sum(amount for _, _, amount, at in events if at.date() == AS_OF.date())
    assert day_total < (
        PROJECT_VARS["daily_cost_budget_multiplier_critical"]
        * PROJECT_VARS["daily_cost_budget_cents"]
    )
    assert math.isclose(details["rolling_hour_cents_per_video"], rolling)


def test_quota_overuse(injected: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, report = injected
    used, used_success = quota_units_today(warehouse)
    assert PROJECT_VARS["api_quota_critical_units"] + 450 <= used_success <= used
    assert report.injected_details["quota_overuse"]["units_used"] == used
    other_days = warehouse.query(
        "select max(u) from (select (called_at at time zone 'UTC')::date as d, "
        "sum(quota_units) as u from raw.api_usage group by 1) as days where d < %s",
        (AS_OF.date(),),
    )[0][0]
    assert other_days < PROJECT_VARS["api_quota_warning_units"]


def test_slow_dashboard(injected: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, _ = injected
    rows = warehouse.query(
        "select dashboard_name, avg(duration_ms), percentile_cont(0.95) within group "
        "(order by duration_ms), max(duration_ms), min(duration_ms) from raw.query_log "
        "where executed_at >= %s and executed_at <= %s group by 1",
        (AS_OF.replace(hour=0, minute=0), AS_OF),
    )
    critical = PROJECT_VARS["dashboard_critical_ms"]
    for dashboard, avg, p95, longest, shortest in rows:
        if dashboard == "revenue_overview":
            assert min(avg, p95, longest, shortest) > critical
        else:
            assert longest < PROJECT_VARS["dashboard_warning_ms"]
    earlier = warehouse.query(
        "select max(duration_ms) from raw.query_log where executed_at < %s",
        (AS_OF.replace(hour=0, minute=0),),
    )[0][0]
    assert earlier < PROJECT_VARS["dashboard_warning_ms"]


def test_failed_job(injected: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, report = injected
    failed = warehouse.query(
        "select run_id, job_name, started_at, finished_at, error_message "
        "from raw.job_runs where status <> 'success'"
    )
    assert len(failed) == 1
    run_id, name, started_at, finished_at, error = failed[0]
    assert name == "nightly_revenue_rollup" and error and finished_at > started_at
    assert started_at.date() == AS_OF.date() and started_at.hour < 6
    assert report.injected_details["failed_job"]["run_id"] == run_id


def test_failed_job_before_six_is_last_night(warehouse: Warehouse) -> None:
    early = AS_OF.replace(hour=3)
    generate(warehouse.conn, scale=0.01, days=2, as_of=early, inject=["failed_job"])
    started_at = warehouse.query("select started_at from raw.job_runs where status = 'failed'")
    assert [row[0].date() for row in started_at] == [early.date() - timedelta(days=1)]


def test_dirty_rows(injected: tuple[Warehouse, GenerateReport]) -> None:
    warehouse, report = injected
    details = report.injected_details["dirty_rows"]
    duplicates = warehouse.query(
        "select video_id, collected_at, count(*) from raw.video_stats "
        "where video_id is not null group by 1, 2 having count(*) > 1 order by 2"
    )
    exact = warehouse.query("select count(*) - count(distinct s::text) from raw.video_stats as s")[
        0
    ][0]
    assert exact == 5 and sum(row[2] - 1 for row in duplicates) == 5
    assert [(row[0], row[1]) for row in duplicates] == [
        tuple(d) for d in details["video_stats_duplicates"]
    ]
    nulls = warehouse.query(
        "select collected_at from raw.video_stats where video_id is null order by 1"
    )
    assert [row[0] for row in nulls] == details["video_stats_null_video_id"]
    backwards = warehouse.query(
        "select video_id, collected_at, views, previous from (select video_id, collected_at, "
        "views, lag(views) over (partition by video_id order by collected_at) as previous "
        "from (select distinct * from raw.video_stats where video_id is not null) as d) as s "
        "where views < previous"
    )
    assert backwards == [
        (
            details["video_stats_backwards"]["video_id"],
            details["video_stats_backwards"]["collected_at"],
            details["video_stats_backwards"]["views"],
            details["video_stats_backwards"]["previous_views"],
        )
    ]
    future = warehouse.query(
        "select video_id, collected_at from raw.video_stats where collected_at > %s order by 1",
        (AS_OF,),
    )
    assert len(future) == 2 and {row[1] for row in future} == {AS_OF + FUTURE_OFFSET}
    cost_duplicates = warehouse.query(
        "select cost_id from raw.costs group by cost_id having count(*) > 1 order by 1"
    )
    assert [row[0] for row in cost_duplicates] == details["costs_duplicate_cost_ids"]
    assert (
        warehouse.query("select count(*) - count(distinct c::text) from raw.costs as c")[0][0] == 3
    )
    null_costs = warehouse.query("select cost_id from raw.costs where video_id is null")
    assert null_costs == [(details["costs_null_video_cost_id"],)]


def test_each_injection_changes_only_its_own_table(warehouse: Warehouse) -> None:
    own_table = {
        "stale_video_stats": {"video_stats"},
        "cost_spike": {"costs"},
        "quota_overuse": {"api_usage"},
        "slow_dashboard": {"query_log"},
        "failed_job": {"job_runs"},
        "dirty_rows": {"video_stats", "costs"},
    }
    arguments = {"scale": 0.01, "days": 3, "as_of": AS_OF, "seed": 3}
    generate(warehouse.conn, **arguments)
    reference = table_digests(warehouse)
    for name in INJECTIONS:
        report = generate(warehouse.conn, **arguments, inject=[name])
        digests = table_digests(warehouse)
        changed = {table for table in TABLES if digests[table] != reference[table]}
        assert changed == own_table[name], name
        assert report.injected == (name,) and set(report.injected_details) == {name}


def test_unknown_injection_lists_the_valid_ones(warehouse: Warehouse) -> None:
    with pytest.raises(ConfigError, match="cost_spike") as raised:
        generate(warehouse.conn, scale=0.01, days=1, as_of=AS_OF, inject=["meteor"])
    assert "meteor" in str(raised.value)
    assert (
        warehouse.query(
            "select count(*) from information_schema.schemata where schema_name = 'raw'"
        )[0][0]
        == 0
    )


# --- CLI ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [
        (["--scale", "abc"], "--scale"),
        (["--scale", "0"], "--scale"),
        (["--scale", "-1"], "--scale"),
        (["--days", "0"], "--days"),
        (["--days", "x"], "--days"),
        (["--as-of", "yesterday-ish"], "--as-of"),
        (["--inject", "meteor"], "stale_video_stats"),
    ],
)
def test_cli_bad_input_is_one_sentence(
    arguments: list[str], mentions: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "1")  # never reached: validation comes first
    result = CliRunner().invoke(main, ["generate", *arguments])
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and mentions in lines[0]
    assert "Traceback" not in result.output


def test_cli_loads_and_prints_the_row_counts(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in warehouse.conn.env().items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--scale",
            "0.01",
            "--days",
            "2",
            "--as-of",
            "2026-11-20 14:37",
            "--seed",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in result.output.splitlines()[1 : len(TABLES) + 1]
    }
    assert printed == {table: count_rows(warehouse, table) for table in TABLES}
    assert "rows/s" in result.output
