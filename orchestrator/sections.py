"""The parts of a playbook run its steps share: a report section, and what a step reads.

A leaf module below `orchestrator.playbooks` and `orchestrator.playbook_steps`, so the steps
can be written without importing the playbook definitions that list them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from orchestrator import maintenance
from orchestrator.context import RunContext
from orchestrator.report import BuildReport


@dataclass
class ReportSection:
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str | None = None
    error: str | None = None  # the step could not be done: the playbook exits 3 naming it
    finding: bool = False  # the step found a problem (a failed backup, a refused email): exit 1


@dataclass
class StepContext:
    """What a step reads: the run, its build, a connection pinned to the run's instant, the
    sections done so far and what the steps before dbt left (`state`)."""

    run: RunContext
    build: BuildReport
    db: psycopg.Connection
    instant: datetime
    sections: list[ReportSection] = field(default_factory=list)
    steps: list[maintenance.OperationResult] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> int | None:
        return self.build.run_id

    @property
    def project_dir(self) -> Path:
        return self.run.settings.project_dir

    def params(self) -> dict[str, Any]:
        """The named parameters a section query may use: the run id and the thresholds."""
        project = self.run.settings.project
        tiers = project.get("monthly_report_revenue_tiers_cents")
        return {
            "run_id": self.run_id,
            "tier_10k_cents": int(tiers["10k"]),
            "tier_5k_cents": int(tiers["5k"]),
            "cost_warning_cents": project.integer("cost_per_video_warning_cents"),
            "cost_critical_cents": project.integer("cost_per_video_critical_cents"),
        }


Compute = Callable[[StepContext], ReportSection]
