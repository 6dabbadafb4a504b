"""The business marts on Apache Spark give PostgreSQL's numbers (issue 15; `make test-spark`).

The fixture of test_marts_oracle.py (generator scale 0.02, seed 42, as_of 2026-11-15T12:07Z), in
its dirty scenario (duplicates, null ids, a counter correction, future rows: every mart has rows,
dq_quarantined_rows included), is generated into the embedded PostgreSQL and into a local Spark
(`spark_raw.generate`, the same rows), and the portable marts are built on both with the same
models. Every mart is compared row by row: the same keys, the same columns, the same values
(Decimal exactly, timestamps as UTC instants, json objects as objects). The Spark build is also
compared with the oracle (compare_marts). Then both engines rerun incrementally at an earlier
instant (a replay: Spark's insert_overwrite must drop the days after it) and at the fixture's
instant again, and are compared again.

Marker `spark`: not in `make test` (needs the `spark` extra, Java and about ten minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from conftest import PROJECT_DIR, Warehouse
from marts_oracle import MART_KEYS, MARTS, compare_marts
from notify_fixtures import make_notify_env
from notify_servers import SLACK_WARNING_PREFIX, RecordingHTTPServer, RecordingSMTPServer

from orchestrator import dbt_invoke, spark_raw
from orchestrator.cli import main
from orchestrator.connection import Connection, connect
from orchestrator.errors import ConfigError
from orchestrator.generate import generate

pytestmark = pytest.mark.spark
pytest_plugins = ["notify_fixtures"]

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
REPLAY_AS_OF = AS_OF - timedelta(hours=26)  # the day before, earlier in the day
SCALE = 0.02
SEED = 42
INJECT = ("dirty_rows",)
MARTS_SELECTION = ("-s", "+path:models/marts")
Row = dict[str, Any]
Query = Callable[[str], list[Row]]


# --- reading both engines the same way ---------------------------------------------------------


def comparable(value: Any) -> Any:
    """A value as both engines must agree on it: timestamps as UTC instants, Decimal and float
    as exact decimals (a float by its shortest repr, never rounded), json objects parsed."""
    if isinstance(value, datetime):
        # pyspark returns naive datetimes in this process's local time
        return value.astimezone(UTC)
    if isinstance(value, bool | int | date) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, str) and value.startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            return {key: json_value(item) for key, item in json.loads(value).items()}
    return value


def json_value(value: Any) -> Any:
    """A json member: an ISO timestamp string as its UTC instant, anything else as is."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value).astimezone(UTC)
    return value


def spark_query(session: Any) -> Query:
    """query_dicts over the Spark session (as compare_marts takes it): rows as dicts, timestamps
    as aware UTC datetimes (what psycopg returns for timestamptz)."""

    def query_dicts(statement: str) -> list[Row]:
        return [
            {
                column: value.astimezone(UTC) if isinstance(value, datetime) else value
                for column, value in row.asDict().items()
            }
            for row in session.sql(statement).collect()
        ]

    return query_dicts


def pg_query(warehouse: Warehouse, as_of: datetime) -> Query:
    """query_dicts on a connection with the instant pinned, as the wrapper pins a run's."""

    def query_dicts(statement: str) -> list[Row]:
        with connect(warehouse.conn) as db, db.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute("select set_config('ytempire.as_of', %s, false)", (as_of.isoformat(),))
            return cur.execute(statement).fetchall()

    return query_dicts


def engine_differences(model: str, postgres: list[Row], spark: list[Row]) -> list[str]:
    """Every difference between the two engines' rows of `model`, keyed by its primary key."""
    key_columns = MART_KEYS[model]

    def keyed(rows: list[Row]) -> dict[Any, Row]:
        return {
            tuple(comparable(row[column]) for column in key_columns): {
                column: comparable(value) for column, value in row.items()
            }
            for row in rows
        }

    pg_rows, spark_rows = keyed(postgres), keyed(spark)
    problems = []
    if len(pg_rows) != len(postgres) or len(spark_rows) != len(spark):
        problems.append(
            f"duplicate keys: {len(postgres)} rows on PostgreSQL, {len(spark)} on Spark"
        )
    if postgres and spark and set(postgres[0]) != set(spark[0]):
        problems.append(f"columns: PostgreSQL {sorted(postgres[0])} != Spark {sorted(spark[0])}")
    for key in sorted(set(pg_rows) ^ set(spark_rows), key=str)[:5]:
        problems.append(f"{key}: only on {'PostgreSQL' if key in pg_rows else 'Spark'}")
    for key in sorted(set(pg_rows) & set(spark_rows), key=str):
        for column, want in pg_rows[key].items():
            got = spark_rows[key].get(column)
            if got != want:
                problems.append(f"{key} {column}: Spark {got!r} != PostgreSQL {want!r}")
    return problems


# --- the two builds ----------------------------------------------------------------------------


@dataclass
class SparkWarehouse:
    """dbt's `spark` target (a local session in this process) with its own folders."""

    conn: Connection  # dbt_invoke's signature; the Spark target does not use it
    spark_dir: Path
    target_path: Path

    @contextlib.contextmanager
    def selected(self) -> Iterator[None]:
        saved = {
            name: os.environ.get(name) for name in ("YTEMPIRE_DBT_TARGET", "YTEMPIRE_SPARK_DIR")
        }
        os.environ.update(
            {"YTEMPIRE_DBT_TARGET": "spark", "YTEMPIRE_SPARK_DIR": str(self.spark_dir)}
        )
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def dbt(self, *args: str, as_of: datetime) -> dbt_invoke.DbtInvocation:
        """As the wrapper runs dbt: the instant given as `as_of`, which on this target becomes
        `--vars as_of` (dbt_invoke.spark_target)."""
        with self.selected():
            return dbt_invoke.run(
                list(args),
                self.conn,
                as_of=as_of.isoformat(),
                target_path=self.target_path,
                project_dir=PROJECT_DIR,
            )

    @property
    def session(self) -> Any:
        with self.selected():
            return spark_raw.session(PROJECT_DIR)

    def query(self) -> Query:
        return spark_query(self.session)


@dataclass
class Engines:
    postgres: Warehouse
    spark: SparkWarehouse

    def differences(self, as_of: datetime) -> dict[str, list[str]]:
        postgres, spark = pg_query(self.postgres, as_of), self.spark.query()
        return {
            model: engine_differences(
                model,
                postgres(f"select * from analytics.{model}"),
                spark(f"select * from analytics.{model}"),
            )
            for model in MARTS
        }


@pytest.fixture(scope="module")
def pg_server(embedded_server: Connection) -> Connection:
    """The embedded server only: the comparison is the same on every PostgreSQL."""
    return embedded_server


@pytest.fixture(scope="module")
def engines(
    new_warehouse: Callable[[str], Warehouse], tmp_path_factory: pytest.TempPathFactory
) -> Engines:
    postgres = new_warehouse("spark")
    spark = SparkWarehouse(
        conn=postgres.conn,
        spark_dir=tmp_path_factory.mktemp("spark"),
        target_path=tmp_path_factory.mktemp("target-spark"),
    )
    generate(postgres.conn, scale=SCALE, as_of=AS_OF, seed=SEED, inject=INJECT)
    with spark.selected():
        spark_raw.generate(
            scale=SCALE, as_of=AS_OF, seed=SEED, inject=INJECT, project_dir=PROJECT_DIR
        )
    return Engines(postgres, spark)


@dataclass
class Step:
    as_of: datetime
    differences: dict[str, list[str]]
    oracle: dict[str, list[str]]


def build_and_compare(engines: Engines, as_of: datetime, *extra: str) -> Step:
    pg_run = engines.postgres.dbt(
        "run", *MARTS_SELECTION, *extra, dbt_vars={"as_of": as_of.isoformat()}
    )
    assert pg_run.returncode == 0, pg_run.stdout[-3000:]
    spark_run = engines.spark.dbt("run", *MARTS_SELECTION, *extra, as_of=as_of)
    assert spark_run.returncode == 0, spark_run.stdout[-3000:]
    return Step(as_of, engines.differences(as_of), compare_marts(engines.spark.query(), as_of))


@pytest.fixture(scope="module")
def full_build(engines: Engines) -> Step:
    return build_and_compare(engines, AS_OF, "--full-refresh")


@pytest.fixture(scope="module")
def replay(engines: Engines, full_build: Step) -> Step:
    """An incremental run at an earlier instant: the windows are replaced backwards."""
    return build_and_compare(engines, REPLAY_AS_OF)


@pytest.fixture(scope="module")
def forward(engines: Engines, replay: Step) -> Step:
    """Then an incremental run at the fixture's instant again: the windows move forward."""
    return build_and_compare(engines, AS_OF)


# --- the tests ---------------------------------------------------------------------------------


def test_every_portable_mart_has_rows_on_both_engines(engines: Engines, full_build: Step) -> None:
    """An empty mart on both engines would agree and prove nothing."""
    postgres, spark = pg_query(engines.postgres, AS_OF), engines.spark.query()
    counts = {
        model: (
            postgres(f"select count(*) as n from analytics.{model}")[0]["n"],
            spark(f"select count(*) as n from analytics.{model}")[0]["n"],
        )
        for model in MARTS
    }
    assert [model for model, (pg_count, _) in counts.items() if not pg_count] == []
    assert {model: spark_count for model, (_, spark_count) in counts.items()} == {
        model: pg_count for model, (pg_count, _) in counts.items()
    }


@pytest.mark.parametrize("model", MARTS)
def test_spark_equals_postgresql_row_by_row(full_build: Step, model: str) -> None:
    assert full_build.differences[model] == []


@pytest.mark.parametrize("model", MARTS)
def test_spark_build_equals_the_oracle(full_build: Step, model: str) -> None:
    assert full_build.oracle[model] == []


def test_one_cent_and_one_second_show_as_differences(engines: Engines, full_build: Step) -> None:
    """The comparison is not vacuous: one cent more in one Spark fct_costs row, one second
    later in one dq_quarantined_rows json, are exactly one difference each."""
    postgres, spark = pg_query(engines.postgres, AS_OF), engines.spark.query()
    costs = spark("select * from analytics.fct_costs")
    costs[0] = {**costs[0], "amount_cents": costs[0]["amount_cents"] + 1}
    (cost_problem,) = engine_differences(
        "fct_costs", postgres("select * from analytics.fct_costs"), costs
    )
    assert " amount_cents: Spark " in cost_problem
    quarantined = spark("select * from analytics.dq_quarantined_rows")
    timestamped = next(row for row in quarantined if '"incurred_at"' in row["row_json"])
    document = json.loads(timestamped["row_json"])
    moment = datetime.fromisoformat(document["incurred_at"]) + timedelta(seconds=1)
    timestamped["row_json"] = json.dumps({**document, "incurred_at": moment.isoformat()})
    (json_problem,) = engine_differences(
        "dq_quarantined_rows", postgres("select * from analytics.dq_quarantined_rows"), quarantined
    )
    assert " row_json: Spark " in json_problem


def test_an_incremental_replay_drops_the_days_after_it(engines: Engines, replay: Step) -> None:
    """insert_overwrite replaces only the partitions it writes: the pre-hook drops the window's
    first, so nothing after the replayed instant is left in the facts."""
    latest = engines.spark.query()(
        "select max(collected_hour) as hour from analytics.fct_video_performance"
    )[0]["hour"]
    assert latest <= REPLAY_AS_OF
    assert replay.differences == {model: [] for model in MARTS}
    assert replay.oracle == {model: [] for model in MARTS}


def test_an_incremental_run_forward_again_is_exact(engines: Engines, forward: Step) -> None:
    latest = engines.spark.query()(
        "select max(collected_hour) as hour from analytics.fct_video_performance"
    )[0]["hour"]
    assert latest > REPLAY_AS_OF + timedelta(hours=24)
    assert forward.differences == {model: [] for model in MARTS}
    assert forward.oracle == {model: [] for model in MARTS}


# --- configuration ------------------------------------------------------------------------------


def write_profile(folder: Path, spark_output: dict[str, Any] | None) -> None:
    outputs: dict[str, Any] = {"default": {"type": "postgres"}}
    if spark_output is not None:
        outputs["spark"] = spark_output
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(
        json.dumps({"ytempire": {"target": "default", "outputs": outputs}})
    )


def test_a_cluster_or_missing_spark_output_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader writes through a local session: a `spark` output with another method, or
    none, says what is wrong and what to do, before any Spark starts."""
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    write_profile(tmp_path, {"type": "spark", "method": "thrift", "host": "spark.example"})
    with pytest.raises(ConfigError, match=r"method 'thrift'"):
        spark_raw.spark_parameters(PROJECT_DIR)
    write_profile(tmp_path, None)
    with pytest.raises(ConfigError, match=r"no `spark` output: copy it from profiles.yml.example"):
        spark_raw.spark_parameters(PROJECT_DIR)


def test_the_spark_target_pins_the_instant_as_a_var() -> None:
    """No session settings on Spark: the wrapper's as_of becomes `--vars as_of` there only."""
    assert dbt_invoke.spark_target({"YTEMPIRE_DBT_TARGET": "spark"})
    assert not dbt_invoke.spark_target({"YTEMPIRE_DBT_TARGET": "default"})
    assert not dbt_invoke.spark_target({})


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [
        (["--append-hours", "1"], "--append-hours is PostgreSQL only"),
        (["--scale", "0"], "--scale 0 is out of range"),
    ],
)
def test_generate_for_spark_refuses_bad_input_before_spark_starts(
    arguments: list[str], mentions: str
) -> None:
    result = CliRunner().invoke(main, ["generate", "--target", "spark", *arguments])
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and mentions in lines[0], result.output
    assert "Traceback" not in result.output


# --- the wrapper, unchanged, on the spark target ------------------------------------------------


def build_through_the_wrapper(env: dict[str, str]) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["build", "--as-of", AS_OF.isoformat(), "--json"], env=env)
    assert result.stdout.strip(), result.stderr[-3000:]
    document = json.loads(result.stdout)
    document["exit_code_seen"] = result.exit_code
    return document


def alert_signature(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (
        alert["alert_type"],
        alert["escalation"],
        alert["severity"],
        alert["level"],
        alert["owner"],
        alert["node_id"],
        alert["figure"],
    )


def test_the_wrapper_runs_unchanged_on_spark(
    engines: Engines,
    forward: Step,
    new_warehouse: Callable[[str], Warehouse],
    http_recorder: RecordingHTTPServer,
    smtp_recorder: RecordingSMTPServer,
    tmp_path: Path,
) -> None:
    """`ytempire build` on the spark target (YTEMPIRE_DBT_TARGET=spark), its `ops` state in a
    PostgreSQL database of its own: source freshness, the build, the escalation matrix and the
    Slack stand-in, exactly as on PostgreSQL. The fixture's dirty rows warn on both engines:
    the same alerts (type, category, severity, level, owner, node, figure), the same exit
    code, and one Slack post per alert on the warning channel for each run."""
    notify = make_notify_env(http_recorder, smtp_recorder, tmp_path)
    postgres = build_through_the_wrapper(
        {
            **engines.postgres.conn.env(),
            **notify.env,
            "YTEMPIRE_TARGET_PATH": str(tmp_path / "target-pg"),
            "YTEMPIRE_OUTAGE_FILE": str(tmp_path / "outage-pg"),
        }
    )
    posted_for_postgres = len(http_recorder.received(SLACK_WARNING_PREFIX))
    ops = new_warehouse("spark-ops")
    spark = build_through_the_wrapper(
        {
            **ops.conn.env(),
            **notify.env,
            "YTEMPIRE_DBT_TARGET": "spark",
            "YTEMPIRE_SPARK_DIR": str(engines.spark.spark_dir),
            "YTEMPIRE_TARGET_PATH": str(tmp_path / "target-spark"),
            "YTEMPIRE_OUTAGE_FILE": str(tmp_path / "outage-spark"),
        }
    )
    assert spark["error"] is None, spark["error"]
    assert spark["freshness_invocation_id"], "source freshness ran on Spark"
    assert spark["counts"].get("pass", 0) > 100, spark["counts"]
    warnings = sorted(map(alert_signature, spark["alerts"]))
    assert warnings, "the dirty rows warn"
    assert warnings == sorted(map(alert_signature, postgres["alerts"]))
    assert {signature[2] for signature in warnings} == {"WARNING"}
    assert spark["exit_code_seen"] == postgres["exit_code_seen"] == 1
    posted_for_spark = len(http_recorder.received(SLACK_WARNING_PREFIX)) - posted_for_postgres
    assert posted_for_postgres == posted_for_spark == len(warnings)
    # the ops state went to the ops database, not to a database of the Spark run
    stored = ops.query("select alert_type, severity from ops.alerts_log order by alert_type")
    assert sorted(stored) == sorted((signature[0], signature[2]) for signature in warnings)
