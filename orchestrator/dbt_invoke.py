"""The one module that runs dbt: as a subprocess of this virtualenv's `dbt`, one at a time.

dbt's console output is only ever passed through for people; results are read from the
artifacts it writes to the target path (see `orchestrator.artifacts`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import paths
from orchestrator.connection import Connection, pgoptions_with_as_of
from orchestrator.errors import DbtFailed

log = logging.getLogger(__name__)

# dbt's own exit codes: 0 success, 1 some node failed/errored, 2 dbt could not run at all.
DBT_EXIT_OK = 0
DBT_EXIT_NODE_FAILURES = 1
DBT_EXIT_CANNOT_RUN = 2


@dataclass
class DbtInvocation:
    args: list[str]
    returncode: int
    target_path: Path
    seconds: float
    stdout: str = ""
    stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def could_not_run(self) -> bool:
        return self.returncode not in (DBT_EXIT_OK, DBT_EXIT_NODE_FAILURES)


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbt")
    if not found:
        raise DbtFailed("dbt is not installed in this environment: run `make setup`.")
    return found


def ensure_profiles(project_dir: Path) -> Path:
    """profiles.yml beside dbt_project.yml, copied from profiles.yml.example when missing."""
    profiles = project_dir / "profiles.yml"
    if not profiles.exists():
        example = project_dir / "profiles.yml.example"
        if not example.exists():
            raise DbtFailed(f"{profiles} is missing and so is {example}: restore them from git.")
        shutil.copyfile(example, profiles)
    return project_dir


def dbt_env(
    conn: Connection, project_dir: Path, target_path: Path, as_of: str | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(conn.env())
    options = pgoptions_with_as_of(as_of, env.get("PGOPTIONS"))
    if options:
        env["PGOPTIONS"] = options
    env.update(
        {
            "DBT_PROFILES_DIR": str(ensure_profiles(project_dir)),
            "DBT_PROJECT_DIR": str(project_dir),
            "DBT_TARGET_PATH": str(target_path),
            "DBT_LOG_PATH": str(target_path / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
        }
    )
    return env


def run(
    args: list[str],
    conn: Connection,
    *,
    dbt_vars: dict[str, Any] | None = None,
    as_of: str | None = None,
    target_path: Path | None = None,
    project_dir: Path | None = None,
    capture: bool = True,
) -> DbtInvocation:
    """Run `dbt <args>` against `conn`; never raises for failing nodes, only returns the code.

    `as_of` pins as_of() for this process only (PGOPTIONS, see macros/as_of.sql): nothing dbt
    compiles or stores keeps it."""
    project_dir = project_dir or paths.project_root()
    target_path = (target_path or project_dir / "target").resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    command = [dbt_executable(), *args]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars, default=str)]
    log.info("running dbt %s", " ".join(args))
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=project_dir,
        env=dbt_env(conn, project_dir, target_path, as_of),
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    invocation = DbtInvocation(
        args=list(args),
        returncode=completed.returncode,
        target_path=target_path,
        seconds=time.monotonic() - started,
        stdout=completed.stdout or "",
        stderr=completed.stderr or "",
    )
    log.info(
        "dbt %s exited %s in %.1fs",
        args[0] if args else "",
        completed.returncode,
        invocation.seconds,
    )
    return invocation
