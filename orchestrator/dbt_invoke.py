"""The one module that runs dbt: in this process through `dbtRunner`, parsing the project once.

A process parses the project once per (project, connection settings, `--vars`) and hands the
parsed manifest to every later invocation (`dbtRunner(manifest=...)`, as dbt-core's programmatic
API allows), so `ytempire build`'s freshness check, its builds and a playbook's maintenance
operations share one parse, and a test session parses once per database name. The pinned
instant is not part of the parse: it reaches `as_of()` through the session setting
`ytempire.as_of` (PGOPTIONS, see macros/as_of.sql), so nothing compiled keeps it.

dbt's console output is kept (the last lines, for the error message of a run that could not
start) and echoed to stderr only with `-vv`; results are read from the artifacts dbt writes to
the target path (`orchestrator.artifacts`). `ytempire dbt -- ...` and `docs serve` run dbt as a
subprocess instead (`capture=False`), so a person sees dbt's own output.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import dbt_inprocess, paths
from orchestrator.connection import Connection, pgoptions_with_as_of
from orchestrator.errors import ConfigError, DbtFailed

log = logging.getLogger(__name__)

# dbt's own exit codes: 0 success, 1 some node failed/errored, 2 dbt could not run at all.
DBT_EXIT_OK = 0
DBT_EXIT_NODE_FAILURES = 1
DBT_EXIT_CANNOT_RUN = 2

ENV_PROFILES_DIR = "DBT_PROFILES_DIR"
# profiles.yml's output, chosen by this variable (profiles.yml.example: `default` is PostgreSQL)
ENV_TARGET = "YTEMPIRE_DBT_TARGET"
# Spark targets (README "Moving to Spark"): no session settings, so the pinned instant reaches
# as_of() as the `as_of` var; no PostgreSQL catalog (diagnostics, the raw contract's check)
SPARK_TARGETS = frozenset({"spark"})


@dataclass
class DbtInvocation:
    args: list[str]
    returncode: int
    target_path: Path
    seconds: float
    stdout: str = ""  # dbt's console lines (the last OUTPUT_LINES_KEPT in-process)
    stderr: str = ""
    error: str | None = None  # why dbt failed: the exception, or the first failing node's message
    parsed: bool = False  # this invocation parsed the project (no cached manifest)

    @property
    def could_not_run(self) -> bool:
        return self.returncode not in (DBT_EXIT_OK, DBT_EXIT_NODE_FAILURES)


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    raise DbtFailed("dbt is not installed in this environment: run `make setup`.")


def profiles_dir(project_dir: Path) -> Path:
    """Where profiles.yml is: DBT_PROFILES_DIR, else beside dbt_project.yml. Never written here:
    `make setup` (or `ytempire demo`, which says so) copies it from profiles.yml.example."""
    configured = os.environ.get(ENV_PROFILES_DIR)
    folder = Path(configured).expanduser() if configured else project_dir
    if not (folder / "profiles.yml").is_file():
        source = "DBT_PROFILES_DIR" if configured else "the project"
        raise ConfigError(
            f"{folder / 'profiles.yml'} is missing ({source}): run `make setup`, or "
            f"`cp {project_dir / 'profiles.yml.example'} {folder / 'profiles.yml'}`."
        )
    return folder


def spark_target(environ: Mapping[str, str] | None = None) -> bool:
    """The selected dbt target (YTEMPIRE_DBT_TARGET) is Spark: a run's as_of is passed as
    `--vars as_of`, compiled in (no model is a view there), and what reads the PostgreSQL
    catalog is left out."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV_TARGET, "default") in SPARK_TARGETS


def dbt_env(
    conn: Connection, project_dir: Path, target_path: Path, as_of: str | None = None
) -> dict[str, str]:
    """The environment dbt runs in: the connection's libpq variables, the pinned instant in
    PGOPTIONS, and dbt's own flags (project, profiles, target and log paths, no tracking)."""
    env = dict(os.environ)
    env.update(conn.env())
    options = pgoptions_with_as_of(as_of, env.get("PGOPTIONS"))
    if options:
        env["PGOPTIONS"] = options
    else:
        env.pop("PGOPTIONS", None)
    env.update(
        {
            ENV_PROFILES_DIR: str(profiles_dir(project_dir)),
            "DBT_PROJECT_DIR": str(project_dir),
            "DBT_TARGET_PATH": str(target_path),
            "DBT_LOG_PATH": str(target_path / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
            "DBT_PRINTER_WIDTH": "100",
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

    `as_of` pins as_of() for this invocation only (PGOPTIONS, see macros/as_of.sql): nothing dbt
    compiles or stores keeps it. On Spark (no session settings) it is the `as_of` var instead,
    and the models that read it are tables there, not views. `capture=False` runs dbt as a
    subprocess whose output goes to the terminal (for a person)."""
    project_dir = (project_dir or paths.project_root()).resolve()
    target_path = (target_path or project_dir / "target").resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    arguments = list(args)
    if as_of and spark_target():
        dbt_vars = {"as_of": as_of, **(dbt_vars or {})}
    if dbt_vars:
        arguments += ["--vars", json.dumps(dbt_vars, default=str, sort_keys=True)]
    env = dbt_env(conn, project_dir, target_path, as_of)
    log.info("running dbt %s", " ".join(args))
    started = time.monotonic()
    if capture:
        outcome = dbt_inprocess.invoke(arguments, env, project_dir)
        invocation = DbtInvocation(
            arguments,
            outcome.returncode,
            target_path,
            0.0,
            stdout=outcome.output,
            error=outcome.error,
            parsed=outcome.parsed,
        )
    else:
        completed = subprocess.run(
            [dbt_executable(), *arguments], cwd=project_dir, env=env, check=False
        )
        invocation = DbtInvocation(arguments, completed.returncode, target_path, 0.0)
    invocation.args = list(args)
    invocation.seconds = time.monotonic() - started
    log.info(
        "dbt %s exited %s in %.1fs%s",
        args[0] if args else "",
        invocation.returncode,
        invocation.seconds,
        " (parsed)" if invocation.parsed else "",
    )
    return invocation
