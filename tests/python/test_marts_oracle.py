"""compare_marts, the one oracle of every mart, against real builds of one small warehouse.

One database on the embedded server: generator scale 0.02 (35 days, pinned as_of), every mart
built with `dbt run --full-refresh` and compared; then the raw data is replaced by the same data
with `dirty_rows` (duplicates, null ids, a counter going backwards, future rows), rebuilt and
compared again. Every mart must agree with the oracle on both, and a cent more in one fct_costs
row or a view more in one fct_video_performance row must show in exactly those two marts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import yaml
from conftest import PROJECT_DIR, Warehouse
from marts_oracle import MART_KEYS, MARTS, Raw, compare_marts, expected_marts, load_raw

from orchestrator.connection import connect
from orchestrator.generate import generate

# the embedded server only: the oracle is the same on every server
pytestmark = pytest.mark.parametrize("pg_server", ["embedded"], indirect=True)

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
SCALE = 0.02
BUILD = ("run", "-s", "+path:models/marts", "--full-refresh")
NOT_ORACLED = {"system_health"}  # reads the catalog, not the raw data
Query = Callable[[str], list[dict[str, Any]]]


def pinned(warehouse: Warehouse, as_of: datetime) -> Query:
    """query_dicts on a connection with the instant pinned, as the wrapper pins a run's."""

    def query_dicts(statement: str) -> list[dict[str, Any]]:
        with connect(warehouse.conn) as db, db.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute("select set_config('ytempire.as_of', %s, false)", (as_of.isoformat(),))
            return cur.execute(statement).fetchall()

    return query_dicts


@dataclass
class Scenario:
    raw: Raw
    expected: dict[str, dict[Any, dict[str, Any]]]
    comparison: dict[str, list[str]]


def generate_build_compare(warehouse: Warehouse, inject: tuple[str, ...]) -> Scenario:
    generate(warehouse.conn, scale=SCALE, as_of=AS_OF, seed=42, inject=inject)
    run = warehouse.dbt(*BUILD, dbt_vars={"as_of": AS_OF.isoformat()})
    assert run.returncode == 0, run.stdout[-3000:]
    query = pinned(warehouse, AS_OF)
    raw = load_raw(query, AS_OF)
    return Scenario(raw, expected_marts(raw), compare_marts(query, AS_OF))


@pytest.fixture(scope="module")
def warehouse(new_warehouse: Callable[[str], Warehouse]) -> Warehouse:
    return new_warehouse("oracle")


@pytest.fixture(scope="module")
def clean(warehouse: Warehouse) -> Scenario:
    return generate_build_compare(warehouse, ())


@pytest.fixture(scope="module")
def dirty(warehouse: Warehouse, clean: Scenario) -> Scenario:
    """The same warehouse after the clean scenario, raw replaced by dirty data, rebuilt."""
    return generate_build_compare(warehouse, ("dirty_rows",))


def documented_primary_keys() -> dict[str, str]:
    """model -> the column its YAML describes as the primary key."""
    keys = {}
    for path in (PROJECT_DIR / "models" / "marts").glob("*/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            for column in model.get("columns", []):
                if column.get("description", "").startswith("Primary key"):
                    keys[model["name"]] = column["name"]
    return keys


def test_every_mart_has_an_oracle_keyed_by_its_primary_key(clean: Scenario) -> None:
    models = {path.stem for path in (PROJECT_DIR / "models" / "marts").glob("*/*.sql")}
    assert set(MARTS) == models - NOT_ORACLED
    assert set(MART_KEYS) == set(MARTS)
    for model, primary_key in documented_primary_keys().items():
        if model in NOT_ORACLED:
            continue
        if primary_key in MART_KEYS[model]:
            continue
        # a surrogate key (md5 of the grain): the grain is the key, the surrogate a figure
        first_row = next(iter(clean.expected[model].values()))
        assert primary_key in first_row, f"{model}: {primary_key} is neither key nor checked"


def test_both_scenarios_give_every_mart_rows(clean: Scenario, dirty: Scenario) -> None:
    """An empty mart would agree with an empty oracle and prove nothing."""
    assert [model for model in MARTS if not dirty.expected[model]] == []
    assert [model for model in MARTS if not clean.expected[model]] == ["dq_quarantined_rows"]
    reasons = sorted(
        (row["source_table"], row["reason"])
        for row in dirty.expected["dq_quarantined_rows"].values()
    )
    assert reasons == [
        ("raw.costs", "null_id"),
        *[("raw.video_stats", "future_timestamp")] * 2,
        *[("raw.video_stats", "null_id")] * 2,
    ]
    corrections = [
        key
        for key, row in dirty.expected["fct_video_performance"].items()
        if row["is_counter_correction"]
    ]
    assert len(corrections) == 1


@pytest.mark.parametrize("model", MARTS)
def test_clean_build_equals_the_oracle(clean: Scenario, model: str) -> None:
    assert clean.comparison[model] == []


@pytest.mark.parametrize("model", MARTS)
def test_dirty_build_equals_the_oracle(dirty: Scenario, model: str) -> None:
    assert dirty.comparison[model] == []


def test_one_cent_and_one_view_show_in_exactly_their_marts(
    warehouse: Warehouse, dirty: Scenario
) -> None:
    """The comparison is not vacuous: one cent more in one fct_costs row and one view more in
    one fct_video_performance row are one new mismatch each in those two marts and change no
    other mart's comparison (the tables built from them are not rebuilt; the views over them
    read other columns)."""
    tamper = (
        "update analytics.fct_costs set amount_cents = amount_cents + ({shift})"
        " where cost_id = (select min(cost_id) from analytics.fct_costs);"
        "update analytics.fct_video_performance set views = views + ({shift})"
        " where video_performance_id = ("
        "select min(video_performance_id) from analytics.fct_video_performance)"
    )
    warehouse.execute(tamper.format(shift=1))
    try:
        tampered = compare_marts(pinned(warehouse, AS_OF), AS_OF)
    finally:
        warehouse.execute(tamper.format(shift=-1))
    new = {
        model: [problem for problem in problems if problem not in dirty.comparison[model]]
        for model, problems in tampered.items()
    }
    assert {model for model, problems in new.items() if problems} == {
        "fct_costs",
        "fct_video_performance",
    }
    ((cost_problem,), (views_problem,)) = new["fct_costs"], new["fct_video_performance"]
    assert " amount_cents: mart " in cost_problem
    assert " views: mart " in views_problem
    restored = compare_marts(
        pinned(warehouse, AS_OF), AS_OF, ["fct_costs", "fct_video_performance"]
    )
    assert restored == {model: dirty.comparison[model] for model in restored}


def test_a_user_without_created_at_is_quarantined_not_lost(warehouse: Warehouse, dirty) -> None:
    """Last in the module (it changes raw): a user row with a null created_at is kept out of
    dim_user and listed in dq_quarantined_rows as null_timestamp, as the oracle says."""
    warehouse.execute(
        "insert into raw.users (user_id, email, is_active, created_at, monthly_goal_cents)"
        " select max(user_id) + 1, 'unstamped@example.com', true, null, null from raw.users"
    )
    run = warehouse.dbt(*BUILD, dbt_vars={"as_of": AS_OF.isoformat()})
    assert run.returncode == 0, run.stdout[-3000:]
    comparison = compare_marts(pinned(warehouse, AS_OF), AS_OF, ["dim_user", "dq_quarantined_rows"])
    assert comparison == {"dim_user": [], "dq_quarantined_rows": []}
    assert warehouse.query(
        "select reason from analytics.dq_quarantined_rows where source_table = 'raw.users'"
    ) == [("null_timestamp",)]
