"""The one context a run works in, built once before anything runs (as dbt-core's `requires.py`
fills `ctx.obj`): the settings read from files and the environment, and what this run was asked
to do. `ytempire build`, every playbook and `alerts escalate` share it; the stages of a run
(orchestrator.runner) read it and never look settings up themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orchestrator import database, escalation_matrix, notify, paths, project_vars
from orchestrator.connection import Connection

ENV_TARGET_PATH = "YTEMPIRE_TARGET_PATH"
ENV_OUTAGE_FILE = "YTEMPIRE_OUTAGE_FILE"
OUTAGE_FILE = "outage.json"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    """Everything a run reads from files and the environment, validated once."""

    project_dir: Path
    target_path: Path  # dbt's target folder (YTEMPIRE_TARGET_PATH, default <project>/target)
    outage_file: Path  # where an outage notified without the database is remembered
    matrix: escalation_matrix.Matrix
    notify: notify.NotifySettings
    project: project_vars.ProjectVars

    @classmethod
    def resolve(cls, project_dir: Path | None = None) -> Settings:
        root = project_dir or paths.project_root()
        return cls(
            project_dir=root,
            target_path=_target_path(root),
            outage_file=_outage_file(root),
            matrix=escalation_matrix.load(escalation_matrix.default_path(root)),
            notify=notify.NotifySettings.from_env(),
            project=project_vars.load(root),
        )


def _target_path(project_dir: Path) -> Path:
    configured = os.environ.get(ENV_TARGET_PATH)
    return (Path(configured).expanduser() if configured else project_dir / "target").resolve()


def _outage_file(project_dir: Path) -> Path:
    configured = os.environ.get(ENV_OUTAGE_FILE)
    if configured:
        return Path(configured).expanduser()
    return paths.state_dir(project_dir) / OUTAGE_FILE


@dataclass
class RunRequest:
    """What the command was asked to do."""

    command: str = "build"  # build, or a playbook: the run_log's command
    selection: list[str] = field(default_factory=list)  # dbt build arguments
    as_of: datetime | None = None  # the pinned instant for dbt's as_of()
    now: datetime | None = None  # the SLA clock (tests pin it); defaults to the wall clock
    dry_run: bool = False
    skip_freshness: bool = False
    run_dbt: bool = True  # False: `ytempire quality` (the suites only)
    run_quality: bool = False  # the great-expectations suites after dbt (morning, quality)
    quality_suites: tuple[str, ...] = ()  # names of orchestrator.quality.suites (none: all)

    @property
    def as_of_text(self) -> str | None:
        return self.as_of.astimezone(UTC).isoformat() if self.as_of else None


@dataclass
class RunContext:
    settings: Settings
    request: RunRequest
    started_at: datetime = field(default_factory=utcnow)

    @classmethod
    def build(cls, request: RunRequest, project_dir: Path | None = None) -> RunContext:
        return cls(settings=Settings.resolve(project_dir), request=request)

    @property
    def clock(self) -> datetime:
        """The SLA clock: --now, else the moment the run started."""
        return self.request.now or self.started_at

    def connection(self) -> Connection:
        """The database (raises DatabaseUnavailable, which a run turns into the outage path)."""
        return database.resolve()
