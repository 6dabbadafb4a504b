"""Print the documentation and test coverage of the project's models, from dbt's manifest.

dbt-bouncer enforces both at 100 % (check_model_documentation_coverage and
check_model_test_coverage in dbt-bouncer.yml) but prints a figure only when it fails; `make lint`
prints it here, counted as dbt-bouncer counts: a model is documented when its description is
populated (dbt-bouncer's own rule), tested when at least one data test depends on it.

    python scripts/model_coverage.py [target/manifest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dbt_bouncer.utils import is_description_populated

MIN_DESCRIPTION_LENGTH = 4  # dbt-bouncer's for check_model_documentation_coverage


def coverage(manifest: dict) -> dict[str, tuple[int, int]]:
    """(covered, total) models of the manifest's own project, per kind of coverage."""
    project = manifest["metadata"]["project_name"]
    nodes = manifest["nodes"].values()
    models = [n for n in nodes if n["resource_type"] == "model" and n["package_name"] == project]
    tested = {
        parent for n in nodes if n["resource_type"] == "test" for parent in n["depends_on"]["nodes"]
    }
    documented = [
        m
        for m in models
        if is_description_populated(m["description"] or "", MIN_DESCRIPTION_LENGTH)
    ]
    return {
        "documentation": (len(documented), len(models)),
        "test": (sum(m["unique_id"] in tested for m in models), len(models)),
    }


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "target/manifest.json")
    for kind, (covered, total) in coverage(json.loads(path.read_text())).items():
        percent = 100 * covered / total if total else 100.0
        print(f"model {kind} coverage: {percent:.1f} % ({covered} of {total} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
