"""`make bench`: the benchmark anyone can rerun (issue 13).

On the embedded PostgreSQL by default (the system one when PGHOST is set), for each scale: the
generator's rows per second; the full build (wall, node time, the 10 slowest nodes); the hourly
cycle after `generate --append-hours 1` (wall, node time, models and tests run, rows written,
the 10 slowest nodes) and its ratios; every dashboard read (each playbook section query and the
dashboards' point reads) timed beside the seed's SQL over raw; `ytempire build` against plain
dbt on the same selection, alternating; the peak memory of the wrapper, plain dbt and the
PostgreSQL server.
Writes `bench/results/<date>.json` and `bench/results/<date>.md` (median, min, max over the
repetitions; ratios taken within one run).

    python -m bench.run                        # scales 1, 2, 5, 10; 3 repetitions
    python -m bench.run --smoke                # scale 0.1, one repetition (what `make test` runs)
    python -m bench.run --scales 1,2 --reps 5 --output /tmp/bench

Every command runs through its real entry point (`ytempire ...` and `dbt ...` subprocesses), each
scale in its own database (`ytempire_bench_<scale>`), dropped at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.seed_queries import pairs
from orchestrator import connection, database, dbt_invoke
from orchestrator.connection import Connection

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AS_OF = datetime(2026, 11, 16, 8, 20, tzinfo=UTC)
DAYS = 35
READ_REPS = 50
SEED_READ_BUDGET_S = 20.0  # a seed query slower than this per read is timed fewer times (>= 3)
COMPARE_SELECTION = "tag:finance"


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(values: list[float]) -> dict[str, float]:
    """Median, min and max (and the count) of repeated measurements."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


# -- processes ---------------------------------------------------------------------------------


@dataclass
class Finished:
    args: list[str]
    returncode: int
    wall_s: float
    max_rss_mb: float
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def check(self) -> Finished:
        # 1 and 2 are what the data says (warnings, a CRITICAL alert: at scale 10 the synthetic
        # day's cost passes the daily budget); only 3, "could not run", fails the benchmark
        if self.returncode not in (0, 1, 2):
            raise RuntimeError(
                f"{' '.join(self.args)} exited {self.returncode}:\n{self.stderr[-2000:]}"
                f"\n{self.stdout[-2000:]}"
            )
        return self


def run_process(args: list[str], env: dict[str, str]) -> Finished:
    """Run a command to its end; wall time and its own peak RSS (os.wait4's rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=PROJECT_DIR)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Finished(
            args,
            process.returncode,
            wall,
            usage.ru_maxrss / 1024,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


class ServerMemory:
    """Samples the PostgreSQL server's memory (sum of the proportional set sizes of the
    postmaster and its children, from /proc) while a command runs; keeps the peak."""

    def __init__(self, db_conn: Connection, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.postmaster = self._postmaster_pid(db_conn)
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _postmaster_pid(db_conn: Connection) -> int | None:
        with connection.connect(db_conn) as db:
            directory = db.execute("show data_directory").fetchone()[0]
        try:
            return int(Path(directory, "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None  # not on this machine, or not readable: the figure is left out

    def _pids(self) -> list[int]:
        pids = [self.postmaster] if self.postmaster else []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.postmaster:
                    pids.append(int(entry.name))
        return pids

    def _sample(self) -> None:
        while not self._stop.is_set():
            total_kb = 0
            for pid in self._pids():
                try:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            total_kb += int(line.split()[1])
                except (OSError, ValueError):
                    continue
            self.peak_mb = max(self.peak_mb, total_kb / 1024)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> ServerMemory:
        if self.postmaster:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


# -- one scale ---------------------------------------------------------------------------------


@dataclass
class Scale:
    scale: float
    days: int
    conn: Connection
    workdir: Path
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"scale {self.scale:g}, {self.days} days"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.conn.env())
        env.update(
            {
                "YTEMPIRE_TARGET_PATH": str(self.workdir / "target"),
                "YTEMPIRE_REPORTS_DIR": str(self.workdir / "reports"),
                "YTEMPIRE_OUTAGE_FILE": str(self.workdir / "outage"),
                "YTEMPIRE_LOG_DIR": str(self.workdir / "logs"),
                "YTEMPIRE_BACKUP_DIR": str(self.workdir / "backups"),
            }
        )
        for name in ("YTEMPIRE_SLACK_WEBHOOK_URL", "YTEMPIRE_PAGERDUTY_ROUTING_KEY"):
            env.pop(name, None)  # a benchmark notifies nobody
        env.update(extra)
        return env

    def ytempire(self, *args: str) -> Finished:
        return run_process([str(BIN / "ytempire"), *args], self.env()).check()


def node_times(results: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """The build's node time (the sum of its nodes' execution times) and its 10 slowest nodes."""
    built = [r for r in results if r.get("origin") == "build" and r.get("execution_time")]
    slowest = sorted(built, key=lambda r: r["execution_time"], reverse=True)[:10]
    return sum(r["execution_time"] for r in built), [
        {"node": r["unique_id"], "name": r["name"], "seconds": round(r["execution_time"], 3)}
        for r in slowest
    ]


def alert_label(alert: dict[str, Any]) -> str:
    """An alert as the table names it: type and level (what the data said during the run)."""
    return f"{alert.get('alert_type')} level {alert.get('level')}"


def counted(results: list[dict[str, Any]], resource_type: str) -> int:
    return sum(
        1 for r in results if r.get("origin") == "build" and r["resource_type"] == resource_type
    )


def generate_and_build(s: Scale, reps_build: int) -> None:
    generated = s.ytempire(
        "generate",
        "--scale",
        f"{s.scale:g}",
        "--days",
        str(s.days),
        "--as-of",
        iso(AS_OF),
        "--json",
    ).json()
    s.results["generator"] = {
        "rows": generated["total_rows"],
        "rows_per_second": generated["rows_per_second"],
        "seconds": generated["seconds"],
    }
    walls, nodes, rss, server = [], [], [], []
    slowest: list[dict[str, Any]] = []
    for _ in range(reps_build):
        with ServerMemory(s.conn) as memory:
            build = s.ytempire("build", "--as-of", iso(AS_OF), "--full-refresh", "--json")
        report = build.json()
        node_s, slowest = node_times(report["results"])
        alerts = sorted({alert_label(alert) for alert in report.get("alerts") or []})
        walls.append(build.wall_s)
        nodes.append(node_s)
        rss.append(build.max_rss_mb)
        server.append(memory.peak_mb)
    s.results["full_build"] = {
        "wall_s": summary(walls),
        "node_s": summary(nodes),
        "slowest_nodes": slowest,
        "wrapper_peak_rss_mb": max(rss),
        "server_peak_pss_mb": max(server),
        "exit_code": build.returncode,
        "alerts": alerts,
    }


def hourly_cycles(s: Scale, reps: int) -> None:
    """Each repetition appends one hour and runs `ytempire hourly` at that hour."""
    walls, nodes, rows_written, exit_codes = [], [], [], []
    alerts: set[str] = set()
    models = tests = 0
    slowest: list[dict[str, Any]] = []
    latest = AS_OF
    for _ in range(reps):
        s.ytempire("generate", "--append-hours", "1", "--json")
        latest += timedelta(hours=1)
        hourly = s.ytempire("hourly", "--as-of", iso(latest), "--json")
        report = hourly.json()
        results = report["results"]
        exit_codes.append(hourly.returncode)
        alerts |= {alert_label(alert) for alert in report.get("alerts") or []}
        node_s, slowest = node_times(results)
        walls.append(hourly.wall_s)
        nodes.append(node_s)
        models, tests = counted(results, "model"), counted(results, "test")
        rows_written.append(_rows_written(s.workdir / "target" / "run_results.json"))
    full = s.results["full_build"]["wall_s"]["median"]
    s.results["hourly"] = {
        "wall_s": summary(walls),
        "node_s": summary(nodes),
        "models_run": models,
        "tests_run": tests,
        "rows_written": summary(rows_written),
        "slowest_nodes": slowest,  # of the last repetition: what bounds the cycle
        "ratio_to_full_build": statistics.median(walls) / full,
        "as_of": iso(latest),
        "exit_codes": exit_codes,
        "alerts": sorted(alerts),
    }


def _rows_written(run_results: Path) -> float:
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return float("nan")
    return float(
        sum(
            (r.get("adapter_response") or {}).get("rows_affected") or 0
            for r in results
            if r["unique_id"].startswith("model.")
        )
    )


def dashboard_reads(s: Scale, reps: int) -> None:
    as_of = s.results.get("hourly", {}).get("as_of", iso(AS_OF))
    reads = []
    with connection.connect(s.conn, as_of=as_of) as db:
        db.execute("set statement_timeout = '120s'")
        user_id = db.execute("select min(user_id) from analytics.user_revenue_tracking").fetchone()
        params = {
            "now": as_of,
            "user_id": user_id[0] if user_id else 0,
            "run_id": 0,
            "tier_10k_cents": 1000000,
            "tier_5k_cents": 500000,
            "cost_warning_cents": 300,
            "cost_critical_cents": 350,
        }
        for pair in pairs():
            mart = _time_query(db, pair.mart_sql, params, reps)
            row: dict[str, Any] = {"read": pair.name, "mart_ms": mart}
            if pair.seed_sql:
                seed = _time_query(db, pair.seed_sql, params, reps, budget_s=SEED_READ_BUDGET_S)
                row["seed_ms"] = seed
                row["speedup"] = seed["median"] / mart["median"] if mart["median"] else None
            reads.append(row)
    s.results["reads"] = reads


def _time_query(db, sql: str, params: dict[str, Any], reps: int, budget_s: float | None = None):
    times = []
    started = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        db.execute(sql, params).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
        if budget_s and time.perf_counter() - started > budget_s and len(times) >= 3:
            break
    return {"median": statistics.median(times), "p95": p95(times), "n": len(times)}


def wrapper_against_dbt(s: Scale, reps: int) -> None:
    """`ytempire build -s SEL` and plain `dbt build -s SEL`, alternating, same instant."""
    as_of = s.results.get("hourly", {}).get("as_of", iso(AS_OF))
    target = s.workdir / "target-plain"
    plain_env = dbt_invoke.dbt_env(s.conn, PROJECT_DIR, target, as_of)
    plain_args = [
        str(BIN / "dbt"),
        "build",
        "--select",
        COMPARE_SELECTION,
        "--indirect-selection",
        "cautious",
        "--quiet",
    ]
    wrapper_args = [
        str(BIN / "ytempire"),
        "build",
        "-s",
        COMPARE_SELECTION,
        "--skip-freshness",
        "--as-of",
        as_of,
        "--json",
    ]
    run_process(plain_args, plain_env)  # the first parse of each target is not timed
    run_process(wrapper_args, s.env()).check()
    wrapper, plain, ratios, wrapper_rss, plain_rss = [], [], [], [], []
    for _ in range(reps):
        w = run_process(wrapper_args, s.env()).check()
        p = run_process(plain_args, plain_env).check()
        wrapper.append(w.wall_s)
        plain.append(p.wall_s)
        ratios.append(w.wall_s / p.wall_s)
        wrapper_rss.append(w.max_rss_mb)
        plain_rss.append(p.max_rss_mb)
    s.results["wrapper_vs_dbt"] = {
        "selection": COMPARE_SELECTION,
        "wrapper_s": summary(wrapper),
        "dbt_s": summary(plain),
        "ratio": summary(ratios),
        "wrapper_peak_rss_mb": max(wrapper_rss),
        "dbt_peak_rss_mb": max(plain_rss),
    }


def bench_scale(
    server: Connection,
    scale: float,
    days: int,
    reps: int,
    root: Path,
    keep: bool,
    full: bool = True,
) -> dict[str, Any]:
    name = f"ytempire_bench_{str(scale).replace('.', '_')}_{days}d"
    conn = server.with_database(name)
    _drop(conn)
    connection.ensure_database(conn)
    s = Scale(scale, days, conn, root / name)
    s.workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"[bench] {s.label}: generate, full build", file=sys.stderr, flush=True)
        generate_and_build(s, reps_build=max(1, min(reps, 2)) if full else 1)
        print(f"[bench] {s.label}: hourly cycles", file=sys.stderr, flush=True)
        hourly_cycles(s, reps)
        if full:
            print(f"[bench] {s.label}: dashboard reads", file=sys.stderr, flush=True)
            dashboard_reads(s, READ_REPS if reps > 1 else 5)
            print(f"[bench] {s.label}: wrapper against plain dbt", file=sys.stderr, flush=True)
            wrapper_against_dbt(s, reps)
    finally:
        if not keep:
            _drop(conn)
    return {"scale": scale, "days": days, "database": name, **s.results}


def _drop(conn: Connection) -> None:
    with connection.connect(conn.with_database("postgres")) as db:
        db.execute(f'drop database if exists "{conn.dbname}" with (force)')


# -- the table ---------------------------------------------------------------------------------


def ratios_across(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The hourly cycle's ratio to the same cycle at scale 1, and at scale 1 with twice the
    history (the run with `days` = 2 x DAYS), when those runs are in."""
    base = next((r for r in runs if r["scale"] == 1 and r["days"] == DAYS), None)
    double = next((r for r in runs if r["scale"] == 1 and r["days"] == 2 * DAYS), None)
    out: dict[str, Any] = {}
    if base:
        base_s = base["hourly"]["wall_s"]["median"]
        out["hourly_vs_scale_1"] = {
            f"{r['scale']:g}": r["hourly"]["wall_s"]["median"] / base_s
            for r in runs
            if r["days"] == DAYS
        }
        if double:
            out["hourly_twice_history_vs_scale_1"] = double["hourly"]["wall_s"]["median"] / base_s
    return out


def markdown(doc: dict[str, Any]) -> str:
    def f(value: float, digits: int = 2) -> str:
        return f"{value:,.{digits}f}"

    machine = doc["machine"]
    lines = [
        f"# Benchmark {doc['date']}",
        "",
        f"Machine: {machine['cpus']} cores, {machine['python']}, {machine['server']}; "
        f"repetitions: {doc['reps']}; as_of {doc['as_of']}; command: `{doc['command']}`.",
        "",
        "## Generator, full build, hourly cycle",
        "",
        "| scale | days | raw rows | generator rows/s | full build s (median, min-max) | "
        "hourly s (median, min-max) | hourly / full | models, tests in hourly | "
        "rows written hourly | wrapper MB | PostgreSQL MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in doc["runs"]:
        full, hourly = run["full_build"], run["hourly"]
        lines.append(
            f"| {run['scale']:g} | {run['days']} | {run['generator']['rows']:,} | "
            f"{run['generator']['rows_per_second']:,} | {f(full['wall_s']['median'], 1)} "
            f"({f(full['wall_s']['min'], 1)}-{f(full['wall_s']['max'], 1)}) | "
            f"{f(hourly['wall_s']['median'], 1)} ({f(hourly['wall_s']['min'], 1)}-"
            f"{f(hourly['wall_s']['max'], 1)}) | {f(hourly['ratio_to_full_build'], 3)} | "
            f"{hourly['models_run']}, {hourly['tests_run']} | "
            f"{hourly['rows_written']['median']:,.0f} | {f(full['wrapper_peak_rss_mb'], 0)} | "
            f"{f(full['server_peak_pss_mb'], 0)} |"
        )
    for run in doc["runs"]:
        said = sorted({*run["full_build"].get("alerts", []), *run["hourly"].get("alerts", [])})
        if said:
            lines.append(
                f"\nAlerts the data raised at scale {run['scale']:g}, {run['days']} days "
                f"(exit codes: build {run['full_build'].get('exit_code')}, hourly "
                f"{', '.join(map(str, run['hourly'].get('exit_codes', [])))}): {', '.join(said)}"
            )
    across = doc.get("ratios_across", {})
    if across:
        lines += [
            "",
            "Hourly cycle against scale 1: "
            + ", ".join(
                f"scale {k}: {v:.2f}x" for k, v in across.get("hourly_vs_scale_1", {}).items()
            ),
        ]
        if "hourly_twice_history_vs_scale_1" in across:
            lines.append(
                f"Hourly with twice the history (scale 1): "
                f"{across['hourly_twice_history_vs_scale_1']:.2f}x"
            )
    for run in doc["runs"]:
        if "reads" not in run:
            continue
        lines += [
            "",
            f"## Reads at scale {run['scale']:g} (ms; median / p95 over n)",
            "",
            "| read | mart median | mart p95 | seed SQL median | seed p95 | speed-up |",
            "|---|---|---|---|---|---|",
        ]
        for read in run["reads"]:
            seed = read.get("seed_ms")
            mart = read["mart_ms"]
            lines.append(
                f"| {read['read']} | {f(mart['median'])} | {f(mart['p95'])} | "
                + (
                    f"{f(seed['median'])} | {f(seed['p95'])} (n={seed['n']}) | "
                    f"{f(read['speedup'], 1)}x |"
                    if seed
                    else "- | - | - |"
                )
            )
        slow = run["full_build"]["slowest_nodes"]
        lines += [
            "",
            f"Slowest nodes of the full build at scale {run['scale']:g}: "
            + ", ".join(f"{n['name']} {n['seconds']:.2f} s" for n in slow),
        ]
        hourly_slow = run["hourly"].get("slowest_nodes")
        if hourly_slow:  # absent from results written before it was measured
            lines.append(
                f"Slowest nodes of the hourly cycle at scale {run['scale']:g} (its last run): "
                + ", ".join(f"{n['name']} {n['seconds']:.2f} s" for n in hourly_slow)
            )
        cmp = run.get("wrapper_vs_dbt")
        if cmp:
            lines.append(
                f"`ytempire build -s {cmp['selection']}` against plain dbt: "
                f"{f(cmp['wrapper_s']['median'])} s vs {f(cmp['dbt_s']['median'])} s, ratio "
                f"{f(cmp['ratio']['median'], 3)} (min {f(cmp['ratio']['min'], 3)}, max "
                f"{f(cmp['ratio']['max'], 3)}); peak RSS wrapper {f(cmp['wrapper_peak_rss_mb'], 0)}"
                f" MB, dbt {f(cmp['dbt_peak_rss_mb'], 0)} MB"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,2,5,10", help="comma-separated (default 1,2,5,10)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--smoke", action="store_true", help="scale 0.1, one repetition")
    parser.add_argument(
        "--no-history", action="store_true", help="leave out the scale-1 run with twice the history"
    )
    parser.add_argument("--output", type=Path, default=PROJECT_DIR / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--name", help="file name stem (default: the date, or <date>-smoke)")
    args = parser.parse_args(argv)

    scales = [0.1] if args.smoke else [float(x) for x in args.scales.split(",")]
    reps = 1 if args.smoke else args.reps
    server = database.resolve()
    started = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="ytempire-bench-") as tmp:
        for scale in scales:
            runs.append(bench_scale(server, scale, DAYS, reps, Path(tmp), args.keep))
        if not args.smoke and not args.no_history and 1.0 in scales:
            runs.append(bench_scale(server, 1.0, 2 * DAYS, reps, Path(tmp), args.keep, full=False))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    doc = {
        "date": today,
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "reps": reps,
        "as_of": iso(AS_OF),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "server": server.describe(),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "runs": runs,
        "ratios_across": ratios_across(runs),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.name or (f"{today}-smoke" if args.smoke else today)
    (args.output / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.output / f"{stem}.md").write_text(markdown(doc))
    print(markdown(doc))
    print(f"[bench] wrote {args.output / (stem + '.json')} in {doc['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
