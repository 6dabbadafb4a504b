"""The threshold vars of `dbt_project.yml`, as the wrapper sees them (one source of truth).

The wrapper never repeats a number: it reads the same `vars:` block dbt reads. A `--vars`
override given to one dbt invocation is not seen here; the wrapper's own settings (cooldown,
daily budget) come from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator import paths
from orchestrator.errors import ConfigError

PROJECT_FILE = "dbt_project.yml"


@dataclass(frozen=True)
class ProjectVars:
    """`vars:` and the project-level test `meta` of dbt_project.yml."""

    values: dict[str, Any]
    project_name: str
    test_meta: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    def get(self, name: str) -> Any:
        if name not in self.values:
            where = self.source or PROJECT_FILE
            raise ConfigError(
                f"{where} has no var `{name}`: add it under `vars:` (the wrapper reads its "
                "thresholds there)."
            )
        return self.values[name]

    def integer(self, name: str) -> int:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"{self.source or PROJECT_FILE}: var `{name}` is {value!r}; it must be a number."
            )
        return int(value)

    @property
    def alert_cooldown_minutes(self) -> int:
        return self.integer("alert_cooldown_minutes")

    @property
    def daily_cost_critical_cents(self) -> int:
        """Daily cost above which cost_overruns goes to level 3 (multiplier x budget)."""
        return self.integer("daily_cost_budget_multiplier_critical") * self.integer(
            "daily_cost_budget_cents"
        )

    @property
    def business_timezone(self) -> str:
        return str(self.get("business_timezone") or "UTC")


def load(
    project_dir: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> ProjectVars:
    """Read `vars:` and `data_tests: <project>: +meta` from the project's dbt_project.yml.

    `overrides` win over the file's vars, as dbt's `--vars` would (the file is not changed)."""
    path = (project_dir or paths.project_root()) / PROJECT_FILE
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"Cannot read {path} ({exc.strerror}): run inside the project.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML ({exc}): fix the file.") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must be a YAML mapping.")
    values = document.get("vars") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: `vars:` must be a mapping of names to values.")
    name = str(document.get("name") or "")
    tests = (document.get("data_tests") or {}).get(name) or {}
    test_meta = tests.get("+meta") or tests.get("meta") or {}
    return ProjectVars(
        values={**values, **(overrides or {})},
        project_name=name,
        test_meta=dict(test_meta),
        source=path,
    )
