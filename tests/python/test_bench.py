"""The benchmark's smoke (`python -m bench.run --smoke`, issue 13) through its real entry point,
on the embedded server: every figure of the table is the JSON's, and the counts it reports are
checked against dbt's own listing of the hourly selection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.seed_queries import SEED_SQL, pairs
from orchestrator.playbooks import PLAYBOOKS

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(embedded_server, tmp_path_factory) -> tuple[dict, str, dict[str, str]]:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, **embedded_server.env()}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(out)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [json_file] = out.glob("*-smoke.json")
    [md_file] = out.glob("*-smoke.md")
    return json.loads(json_file.read_text()), md_file.read_text(), env


def test_smoke_is_one_repetition_at_scale_0_1(smoke) -> None:
    doc, _, _ = smoke
    [run] = doc["runs"]
    assert (run["scale"], run["days"], doc["reps"]) == (0.1, 35, 1)
    assert run["full_build"]["wall_s"]["n"] == 1 and run["hourly"]["wall_s"]["n"] == 1
    assert run["generator"]["rows"] > 0 and run["generator"]["rows_per_second"] > 0
    # clean synthetic data at scale 0.1: the measured runs page nobody
    assert (run["full_build"]["exit_code"], run["full_build"]["alerts"]) == (0, [])
    assert (run["hourly"]["exit_codes"], run["hourly"]["alerts"]) == ([0], [])


def test_hourly_counts_are_the_hourly_selection(smoke, tmp_path) -> None:
    """The models the hourly cycle ran are the models dbt lists for the hourly selection."""
    doc, _, env = smoke
    [run] = doc["runs"]
    selection = PLAYBOOKS["hourly"].selection
    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "ls",
            "--resource-type",
            "model",
            "--output",
            "name",
            *selection,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
            "--quiet",
        ],
        env={**env, "PGDATABASE": "postgres"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    models = [line for line in listed.stdout.splitlines() if line.strip()]
    assert run["hourly"]["models_run"] == len(models) > 0
    assert run["hourly"]["tests_run"] > 0
    assert run["hourly"]["rows_written"]["median"] > 0  # the appended hour landed somewhere


def test_every_read_is_timed_and_paired_with_the_seed_sql(smoke) -> None:
    doc, _, _ = smoke
    [run] = doc["runs"]
    reads = {read["read"]: read for read in run["reads"]}
    assert list(reads) == [pair.name for pair in pairs()]
    assert {name for name, read in reads.items() if "seed_ms" in read} == {
        f"{playbook}: {title}" for playbook, title in SEED_SQL
    }
    for read in reads.values():
        assert read["mart_ms"]["n"] == 5
        assert 0 < read["mart_ms"]["median"] <= read["mart_ms"]["p95"]
        if "seed_ms" in read:
            expected = read["seed_ms"]["median"] / read["mart_ms"]["median"]
            assert read["speedup"] == pytest.approx(expected)


def test_the_table_shows_the_measurements(smoke) -> None:
    doc, md, _ = smoke
    [run] = doc["runs"]
    full, hourly = run["full_build"], run["hourly"]
    row = next(line for line in md.splitlines() if line.startswith("| 0.1 | 35 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == f"{run['generator']['rows']:,}"
    assert cells[4].startswith(f"{full['wall_s']['median']:,.1f} (")
    assert cells[6] == f"{hourly['wall_s']['median'] / full['wall_s']['median']:,.3f}"
    assert cells[7] == f"{hourly['models_run']}, {hourly['tests_run']}"
    slow = full["slowest_nodes"]
    assert 0 < len(slow) <= 10
    assert [n["seconds"] for n in slow] == sorted((n["seconds"] for n in slow), reverse=True)
    assert sum(n["seconds"] for n in slow) <= full["node_s"]["median"] + 0.01
    hourly_slow = hourly["slowest_nodes"]
    assert 0 < len(hourly_slow) <= 10
    assert [n["seconds"] for n in hourly_slow] == sorted(
        (n["seconds"] for n in hourly_slow), reverse=True
    )
    assert sum(n["seconds"] for n in hourly_slow) <= hourly["node_s"]["max"] + 0.01
    [line] = [x for x in md.splitlines() if x.startswith("Slowest nodes of the hourly cycle")]
    assert f"{hourly_slow[0]['name']} {hourly_slow[0]['seconds']:.2f} s" in line
    cmp = run["wrapper_vs_dbt"]
    assert cmp["ratio"]["median"] == pytest.approx(
        cmp["wrapper_s"]["median"] / cmp["dbt_s"]["median"]
    )
    assert f"ratio {cmp['ratio']['median']:,.3f}" in md
