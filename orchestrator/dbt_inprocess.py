"""dbt in this process (`dbtRunner`), with the parsed manifest kept for the process: the first
invocation for a (project files, profile variables, `--vars`) parses, every later
one gets `dbtRunner(manifest=...)` and skips parsing. dbt's console is silenced (its lines are
kept, and echoed to stderr with -vv); a run-operation's error, which dbt reports only as an
event, is kept as the invocation's error."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# dbt's exit codes (as dbt_invoke.DBT_EXIT_*)
EXIT_OK, EXIT_NODE_FAILURES, EXIT_CANNOT_RUN = 0, 1, 2
# Commands that take a parsed manifest (everything that reads the project but does not change it).
MANIFEST_COMMANDS = {"build", "run", "test", "seed", "snapshot", "compile", "show", "list", "ls",
                     "source", "run-operation", "docs", "retry", "clone"}  # fmt: skip
OUTPUT_LINES_KEPT = 200
DEFAULT_FILE_LOG_LEVEL = "info"
PROJECT_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")
# Settings a parse does not read: the session's options (the pinned instant) and where
# artifacts and logs go (two target folders of one database share the parse).
NOT_PARSED = frozenset({"PGOPTIONS", "DBT_TARGET_PATH", "DBT_LOG_PATH"})
# Settings a parse reads (profiles.yml and dbt_project.yml env_var()s): a change parses again.
PARSED_ENV = ("PG", "DBT_", "YTEMPIRE_DBT_", "YTEMPIRE_READER_ROLE", "YTEMPIRE_SPARK_")


@dataclass
class Outcome:
    returncode: int
    output: str  # dbt's console lines, the last OUTPUT_LINES_KEPT
    error: str | None  # why dbt failed: the exception, or the first failing node's message
    parsed: bool  # this invocation parsed the project


# cache key -> dbt's parsed Manifest, for this process: the last MANIFESTS_KEPT parses only (a
# long-lived process, such as a test worker going through many databases, would otherwise keep
# one manifest per database it ever ran, and every later dbt invocation pays for the garbage
# collector walking them)
MANIFESTS_KEPT = 2
_manifests: dict[str, Any] = {}


def invoke(arguments: list[str], env: dict[str, str], project_dir: Path) -> Outcome:
    """`dbt <arguments>` in this process, with `env` as its environment for the duration."""
    from dbt.cli.main import dbtRunner  # dbt imports in ~1.5 s: only when a command runs dbt

    lines: deque[str] = deque(maxlen=OUTPUT_LINES_KEPT)
    errors: list[str] = []  # a run-operation's error (dbt reports it as an event only)
    callbacks = [_collector(lines, errors)]
    flags = ["--log-level", "none", *_file_log_flags(env)]
    key = _cache_key(arguments, env, project_dir)
    with _environment(env):
        manifest = _manifests.pop(key, None) if key else None
        if manifest is not None:
            _manifests[key] = manifest  # the most recently used last
        parsed = False
        if key and manifest is None and _takes_manifest(arguments):
            parse = dbtRunner(callbacks=callbacks).invoke([*flags, "parse", *_vars_of(arguments)])
            if not parse.success:
                return _outcome(parse, lines, errors, parsed=True)
            manifest = _manifests[key] = parse.result
            for stale in list(_manifests)[:-MANIFESTS_KEPT]:
                del _manifests[stale]
            parsed = True
        runner = dbtRunner(manifest=manifest, callbacks=callbacks)
        target = Path(env.get("DBT_TARGET_PATH", project_dir / "target"))
        if key and _manifest_is_current(key, target) and _results_path(arguments, target):
            result = runner.invoke([*flags, "--no-write-json", *arguments])
            _write_results(result, _results_path(arguments, target))
        else:
            result = runner.invoke([*flags, *arguments])
            if key and result.exception is None and _takes_manifest(arguments):
                _remember_manifest(key, target)
    return _outcome(result, lines, errors, parsed)


# --- artifacts: manifest.json once per parse ------------------------------------------------
# dbt writes manifest.json (2 MB, about 0.5 s), graph.gpickle and run_results.json after every
# invocation. With the manifest reused, manifest.json would be the same file again each time:
# it is written by the first invocation of a parse, and later ones (as long as the file on disk
# is still the one written then) run with --no-write-json and write only their own results
# artifact, from the result dbt returns. Saves about a fifth of an hourly run.
RESULT_ARTIFACTS = {"build": "run_results.json", "run": "run_results.json",
                    "test": "run_results.json", "seed": "run_results.json",
                    "snapshot": "run_results.json", "source": "sources.json"}  # fmt: skip
_manifests_written: dict[str, tuple[Path, int, int]] = {}  # cache key -> manifest.json stamp


def _manifest_stamp(target: Path) -> tuple[Path, int, int] | None:
    path = target / "manifest.json"
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (path.resolve(), info.st_size, info.st_mtime_ns)


def _remember_manifest(key: str, target: Path) -> None:
    stamp = _manifest_stamp(target)
    if stamp is not None:
        _manifests_written[key] = stamp


def _manifest_is_current(key: str, target: Path) -> bool:
    """manifest.json in `target` is the one this process wrote for this parse."""
    return key in _manifests_written and _manifests_written[key] == _manifest_stamp(target)


def _results_path(arguments: list[str], target: Path) -> Path | None:
    """Where the command's own results artifact goes; None for commands not handled here
    (docs, compile, run-operation, a freshness written elsewhere with --output)."""
    command = next((word for word in arguments if not word.startswith("-")), "")
    name = RESULT_ARTIFACTS.get(command)
    if name is None or {"-o", "--output"} & set(arguments):
        return None
    return target / name


def _write_results(result: Any, path: Path | None) -> None:
    artifact = getattr(result, "result", None)
    if path is not None and hasattr(artifact, "write"):
        artifact.write(str(path))


def _file_log_flags(env: dict[str, str]) -> list[str]:
    """dbt's log file (`<target>/logs/dbt.log`) at info: each node's start, result and error.
    Debug adds every statement and connection event and costs about 9 % of an hourly run
    (4 threads writing through one locked handler); DBT_LOG_LEVEL_FILE=debug, dbt's own
    variable, brings it back for troubleshooting."""
    return [] if env.get("DBT_LOG_LEVEL_FILE") else ["--log-level-file", DEFAULT_FILE_LOG_LEVEL]


def _takes_manifest(arguments: list[str]) -> bool:
    command = next((word for word in arguments if not word.startswith("-")), "")
    return command in MANIFEST_COMMANDS


def _vars_of(arguments: list[str]) -> list[str]:
    if "--vars" not in arguments:
        return []
    index = arguments.index("--vars")
    return arguments[index : index + 2]


def _cache_key(arguments: list[str], env: dict[str, str], project_dir: Path) -> str | None:
    """What a parse depends on: the project's files, the profile's variables, the `--vars`."""
    if not _takes_manifest(arguments):
        return None
    settings = sorted(
        (name, value)
        for name, value in env.items()
        if name.startswith(PARSED_ENV) and name not in NOT_PARSED
    )
    document = json.dumps(
        [
            str(project_dir),
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


def _outcome(result: Any, lines: deque[str], errors: list[str], parsed: bool) -> Outcome:
    if result.success:
        code, error = EXIT_OK, None
    elif result.exception is not None:
        code, error = EXIT_CANNOT_RUN, _one_sentence(result.exception)
    else:
        code = EXIT_NODE_FAILURES
        error = _operation_error(errors[-1]) if errors else _first_failure(result.result)
    return Outcome(code, "\n".join(lines), error, parsed)


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
