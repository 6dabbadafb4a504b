"""The one module that runs dbt: in this process through `dbtRunner`, parsing the project once.

A process parses the project once per (project, target path, connection settings, `--vars`) and
hands the parsed manifest to every later invocation (`dbtRunner(manifest=...)`, as dbt-core's
programmatic API allows), so `ytempire build`'s freshness check, its builds and a playbook's
maintenance operations share one parse, and a test session parses once per database. The pinned
instant is not part of the parse: it reaches `as_of()` through the session setting
`ytempire.as_of` (PGOPTIONS, see macros/as_of.sql), so nothing compiled keeps it.

dbt's console output is kept (the last lines, for the error message of a run that could not
start) and echoed to stderr only with `-vv`; results are read from the artifacts dbt writes to
the target path (`orchestrator.artifacts`). `ytempire dbt -- ...` and `docs serve` run dbt as a
subprocess instead (`capture=False`), so a person sees dbt's own output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import paths
from orchestrator.connection import Connection, pgoptions_with_as_of
from orchestrator.errors import ConfigError, DbtFailed

log = logging.getLogger(__name__)

# dbt's own exit codes: 0 success, 1 some node failed/errored, 2 dbt could not run at all.
DBT_EXIT_OK = 0
DBT_EXIT_NODE_FAILURES = 1
DBT_EXIT_CANNOT_RUN = 2

ENV_PROFILES_DIR = "DBT_PROFILES_DIR"
# Commands that take a parsed manifest (everything that reads the project but does not change it).
MANIFEST_COMMANDS = {"build", "run", "test", "seed", "snapshot", "compile", "show", "list", "ls",
                     "source", "run-operation", "docs", "retry", "clone"}  # fmt: skip
OUTPUT_LINES_KEPT = 200
PROJECT_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")


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
    extra: dict[str, Any] = field(default_factory=dict)

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
    compiles or stores keeps it. `capture=False` runs dbt as a subprocess whose output goes to
    the terminal (for a person)."""
    project_dir = (project_dir or paths.project_root()).resolve()
    target_path = (target_path or project_dir / "target").resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    arguments = list(args)
    if dbt_vars:
        arguments += ["--vars", json.dumps(dbt_vars, default=str, sort_keys=True)]
    env = dbt_env(conn, project_dir, target_path, as_of)
    log.info("running dbt %s", " ".join(args))
    started = time.monotonic()
    if capture:
        invocation = _in_process(arguments, env, project_dir, target_path)
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


# --- in process --------------------------------------------------------------------------------


_manifests: dict[str, Any] = {}  # cache key -> dbt's parsed Manifest, for this process


def clear_cache() -> None:
    """Forget the parsed manifests (the next invocation parses again)."""
    _manifests.clear()


def _in_process(
    arguments: list[str], env: dict[str, str], project_dir: Path, target_path: Path
) -> DbtInvocation:
    from dbt.cli.main import dbtRunner  # dbt imports in ~1.5 s: only when a command runs dbt

    lines: deque[str] = deque(maxlen=OUTPUT_LINES_KEPT)
    errors: list[str] = []  # a run-operation's error (dbt reports it as an event only)
    callbacks = [_collector(lines, errors)]
    flags = ["--log-level", "none", "--log-level-file", "debug"]
    key = _cache_key(arguments, env, project_dir, target_path)
    with _environment(env):
        manifest = _manifests.get(key) if key else None
        parsed = False
        if key and manifest is None and _takes_manifest(arguments):
            parse = dbtRunner(callbacks=callbacks).invoke([*flags, "parse", *_vars_of(arguments)])
            if not parse.success:
                return _invocation(arguments, parse, target_path, (lines, errors), parsed=True)
            manifest = _manifests[key] = parse.result
            parsed = True
        runner = dbtRunner(manifest=manifest, callbacks=callbacks)
        result = runner.invoke([*flags, *arguments])
    return _invocation(arguments, result, target_path, (lines, errors), parsed)


def _takes_manifest(arguments: list[str]) -> bool:
    command = next((word for word in arguments if not word.startswith("-")), "")
    return command in MANIFEST_COMMANDS


def _vars_of(arguments: list[str]) -> list[str]:
    if "--vars" not in arguments:
        return []
    index = arguments.index("--vars")
    return arguments[index : index + 2]


def _cache_key(
    arguments: list[str], env: dict[str, str], project_dir: Path, target_path: Path
) -> str | None:
    """What a parse depends on: the project's files, the profile's variables, the `--vars`."""
    if not _takes_manifest(arguments):
        return None
    settings = sorted(
        (name, value)
        for name, value in env.items()
        if (name.startswith(("PG", "DBT_", "YTEMPIRE_DBT_")) and name != "PGOPTIONS")
    )
    document = json.dumps(
        [
            str(project_dir),
            str(target_path),
            settings,
            _vars_of(arguments),
            _project_stamp(project_dir),
        ]
    )
    return hashlib.sha256(document.encode()).hexdigest()


def _project_stamp(project_dir: Path) -> list[Any]:
    """Every project file's name, size and mtime: an edited model is parsed again."""
    stamp: list[Any] = []
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml"):
        path = project_dir / name
        if path.is_file():
            info = path.stat()
            stamp.append((name, info.st_size, info.st_mtime_ns))
    for folder in PROJECT_FOLDERS:
        for path in sorted((project_dir / folder).rglob("*")):
            if path.is_file():
                info = path.stat()
                stamp.append((str(path.relative_to(project_dir)), info.st_size, info.st_mtime_ns))
    return stamp


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ is `env` for the duration (dbt and libpq read the process environment)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


OPERATION_ERROR_EVENTS = ("RunningOperationCaughtError", "RunningOperationUncaughtError")


def _collector(lines: deque[str], errors: list[str]) -> Any:
    echo = logging.getLogger("dbt").isEnabledFor(logging.DEBUG) or log.isEnabledFor(logging.DEBUG)

    def collect(event: Any) -> None:
        info = event.info
        if info.name in OPERATION_ERROR_EVENTS:
            errors.append(str(event.data.exc))
        if info.level == "debug" or not info.msg:
            return
        lines.append(str(info.msg))
        if echo:
            print(info.msg, file=sys.stderr, flush=True)

    return collect


def _invocation(
    arguments: list[str],
    result: Any,
    target_path: Path,
    output: tuple[deque[str], list[str]],
    parsed: bool,
) -> DbtInvocation:
    lines, errors = output
    if result.success:
        code, error = DBT_EXIT_OK, None
    elif result.exception is not None:
        code, error = DBT_EXIT_CANNOT_RUN, _one_sentence(result.exception)
    else:
        code = DBT_EXIT_NODE_FAILURES
        error = _operation_error(errors[-1]) if errors else _first_failure(result.result)
    return DbtInvocation(
        args=arguments,
        returncode=code,
        target_path=target_path,
        seconds=0.0,
        stdout="\n".join(lines),
        error=error,
        parsed=parsed,
    )


def _operation_error(text: str) -> str:
    """dbt's reason without its "Compilation Error in macro ..." header and "> in macro" stack."""
    kept = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.strip().startswith(">")
        and not line.strip().startswith(("Compilation Error in macro", "Runtime Error in macro"))
    ]
    return " ".join(" ".join(kept).split()) or text.strip()


def _one_sentence(exception: BaseException) -> str:
    text = " ".join(str(exception).split())
    return text or type(exception).__name__


def _first_failure(result: Any) -> str | None:
    """The message of the first node that errored or failed (run-operation: its error)."""
    for node_result in getattr(result, "results", None) or []:
        status = str(getattr(node_result, "status", "")).lower()
        if status in ("error", "fail", "runtime error"):
            message = getattr(node_result, "message", None)
            return _one_sentence(Exception(message)) if message else status
    return None
