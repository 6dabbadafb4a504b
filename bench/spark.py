"""The build-time comparison of the two engines (issue 15): the portable marts built from the
same generated data on PostgreSQL and on a local Spark (`method: session`, `local[2]`).

For each scale: `generate` into a fresh PostgreSQL database (the embedded server, or the one
PG* names) and `generate --target spark` into a fresh Spark warehouse, then
`dbt run -s +path:models/marts --full-refresh` pinned at one instant on each, through the
wrapper's `dbt_invoke.run` (parse included). Writes `bench/results/<date>-spark.json` and `.md`:
wall seconds of each step and the five slowest nodes of each build. Needs the `spark` extra
(`make bench-spark` installs it).

    python -m bench.spark --scales 0.02,1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.run import AS_OF, PROJECT_DIR, iso
from orchestrator import connection, database, dbt_invoke, spark_raw
from orchestrator.generate import generate

BUILD = ("run", "-s", "+path:models/marts", "--full-refresh")
SPARK_ENV = ("YTEMPIRE_DBT_TARGET", "YTEMPIRE_SPARK_DIR")


def slowest(target: Path, n: int = 5) -> list[tuple[str, float]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    timed = [(r["unique_id"].split(".")[-1], round(r["execution_time"], 1)) for r in results]
    return sorted(timed, key=lambda item: -item[1])[:n]


def build(conn: connection.Connection, target: Path) -> float:
    run = dbt_invoke.run(
        list(BUILD), conn, as_of=iso(AS_OF), target_path=target, project_dir=PROJECT_DIR
    )
    if run.returncode != 0:
        raise SystemExit(f"[bench.spark] the build failed:\n{run.stdout[-3000:]}")
    return round(run.seconds, 1)


def bench_scale(server: connection.Connection, scale: float, work: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"scale": scale}
    conn = server.with_database(f"ytempire_bench_spark_{str(scale).replace('.', '_')}")
    connection.ensure_database(conn)
    started = time.perf_counter()
    report = generate(conn, scale=scale, as_of=AS_OF, seed=42)
    row["raw_rows"] = report.total_rows
    row["postgres_generate_s"] = round(time.perf_counter() - started, 1)
    for name in SPARK_ENV:
        os.environ.pop(name, None)
    row["postgres_build_s"] = build(conn, work / f"target-pg-{scale:g}")
    row["postgres_slowest"] = slowest(work / f"target-pg-{scale:g}")
    spark_dir = work / f"spark-{scale:g}"
    os.environ.update({"YTEMPIRE_DBT_TARGET": "spark", "YTEMPIRE_SPARK_DIR": str(spark_dir)})
    try:
        started = time.perf_counter()
        spark_raw.generate(scale=scale, as_of=AS_OF, seed=42, project_dir=PROJECT_DIR)
        row["spark_generate_s"] = round(time.perf_counter() - started, 1)
        # the ops state of the wrapper stays in PostgreSQL: the same connection
        row["spark_build_s"] = build(conn, work / f"target-spark-{scale:g}")
        row["spark_slowest"] = slowest(work / f"target-spark-{scale:g}")
    finally:
        for name in SPARK_ENV:
            os.environ.pop(name, None)
        shutil.rmtree(spark_dir, ignore_errors=True)
        with connection.connect(server) as db:
            db.execute(f'drop database if exists "{conn.dbname}" with (force)')
    row["spark_over_postgres"] = round(row["spark_build_s"] / row["postgres_build_s"], 2)
    print(f"[bench.spark] {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        f"# Engines {doc['date']}: PostgreSQL against Spark",
        "",
        f"Machine: {doc['machine']['cpus']} cores, Python {doc['machine']['python']},"
        f" {doc['machine']['server']}, Spark local[2] (session); as_of"
        f" {doc['as_of']}; command: `{doc['command']}`.",
        "",
        "| scale | raw rows | PostgreSQL generate s | PostgreSQL build s | Spark generate s"
        " | Spark build s | Spark / PostgreSQL |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in doc["runs"]:
        lines.append(
            f"| {r['scale']:g} | {r['raw_rows']:,} | {r['postgres_generate_s']} |"
            f" {r['postgres_build_s']} | {r['spark_generate_s']} | {r['spark_build_s']} |"
            f" {r['spark_over_postgres']}x |"
        )
    lines.append("")
    for r in doc["runs"]:
        for engine in ("postgres", "spark"):
            nodes = ", ".join(f"{name} {seconds} s" for name, seconds in r[f"{engine}_slowest"])
            lines.append(f"Slowest {engine} nodes at scale {r['scale']:g}: {nodes}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="0.02,1", help="comma-separated (default 0.02,1)")
    parser.add_argument("--output", type=Path, default=PROJECT_DIR / "bench" / "results")
    parser.add_argument("--name", help="file name stem (default: <date>-spark)")
    args = parser.parse_args(argv)
    server = database.resolve()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ytempire-bench-spark-") as tmp:
        runs = [bench_scale(server, float(s), Path(tmp)) for s in args.scales.split(",")]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    doc = {
        "date": today,
        "command": "python -m bench.spark " + " ".join(argv if argv is not None else sys.argv[1:]),
        "as_of": iso(AS_OF),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "server": server.describe(),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "runs": runs,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.name or f"{today}-spark"
    (args.output / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.output / f"{stem}.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
