"""`make lint`'s convention checks: the project's dbt-bouncer check (a primary key is unique and
not null, or a composite-key test) and the coverage figures, over the project's own manifest
with tests or descriptions taken out of a copy. No database: `dbt parse` does not connect."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "scripts"))
import model_coverage  # noqa: E402  (scripts/ is not a package)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("parse")
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(ROOT),
        "PGHOST": os.environ.get("PGHOST", "127.0.0.1"),
        "DBT_LOG_PATH": str(target / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    profiles = ROOT / "profiles.yml"
    if not profiles.exists():
        env["DBT_PROFILES_DIR"] = str(target)
        (target / "profiles.yml").write_text((ROOT / "profiles.yml.example").read_text())
    subprocess.run(
        [str(BIN / "dbt"), "parse", "--quiet", "--no-partial-parse", "--target-path", str(target)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return json.loads((target / "manifest.json").read_text())


def _models(manifest: dict[str, Any]) -> list[str]:
    return sorted(k for k, n in manifest["nodes"].items() if n["resource_type"] == "model")


def _key_tests(manifest: dict[str, Any], model_id: str, names: set[str]) -> list[str]:
    return [
        k
        for k, n in manifest["nodes"].items()
        if n["resource_type"] == "test"
        and n.get("attached_node") == model_id
        and (n.get("test_metadata") or {}).get("name") in names
    ]


def _failing_models(manifest: dict[str, Any], folder: Path) -> set[str]:
    """Run dbt-bouncer's primary-key check (the project's config) over `manifest`."""
    artifacts = folder / "artifacts"
    artifacts.mkdir()
    (artifacts / "manifest.json").write_text(json.dumps(manifest))
    config = yaml.safe_load((ROOT / "dbt-bouncer.yml").read_text())
    config["dbt_artifacts_dir"] = str(artifacts)
    config["custom_checks_dir"] = str(ROOT / config["custom_checks_dir"])
    (folder / "dbt-bouncer.yml").write_text(yaml.safe_dump(config))
    results = folder / "results.json"
    subprocess.run(
        [
            str(BIN / "dbt-bouncer"),
            "run",
            "--config-file",
            str(folder / "dbt-bouncer.yml"),
            "--check",
            "check_model_has_primary_key_test",
            "--output-file",
            str(results),
        ],
        cwd=folder,
        capture_output=True,
        check=False,
    )
    rows = json.loads(results.read_text())
    assert len(rows) == len(_models(manifest))  # the check ran once per model
    return {r["unique_id"] for r in rows if r["outcome"] == "failed"}


def test_every_model_of_the_project_has_a_primary_key_test(manifest, tmp_path):
    assert _failing_models(manifest, tmp_path) == set()


def test_a_key_missing_half_its_tests_fails_a_composite_key_suffices(manifest, tmp_path):
    mutated = copy.deepcopy(manifest)
    models = _models(mutated)
    composite = [m for m in models if _key_tests(mutated, m, {"unique_combination_of_columns"})]
    single = [m for m in models if m not in composite]
    assert len(single) >= 2 and len(composite) >= 2
    removed = {
        single[0]: {"not_null"},  # unique alone is no primary key
        single[1]: {"unique"},  # nor is not_null alone
        composite[0]: {"unique"},  # still keyed by its combination of columns
        composite[1]: {"unique", "unique_combination_of_columns"},  # keyed by nothing left
    }
    for model_id, names in removed.items():
        for test_id in _key_tests(mutated, model_id, names):
            del mutated["nodes"][test_id]
    assert _failing_models(mutated, tmp_path) == {single[0], single[1], composite[1]}


def test_coverage_counts_models_described_and_tested(manifest):
    total = len(_models(manifest))
    assert model_coverage.coverage(manifest) == {
        "documentation": (total, total),
        "test": (total, total),
    }
    mutated = copy.deepcopy(manifest)
    undescribed, untested = _models(mutated)[:2], _models(mutated)[-1]
    for model_id in undescribed:
        mutated["nodes"][model_id]["description"] = "  "
    for test_id, node in list(mutated["nodes"].items()):
        if node["resource_type"] == "test" and untested in node["depends_on"]["nodes"]:
            del mutated["nodes"][test_id]
    assert model_coverage.coverage(mutated) == {
        "documentation": (total - 2, total),
        "test": (total - 1, total),
    }
