"""The one output path of the commands: a JSON document or text on stdout, problems on stderr,
then the exit code. Errors that stop a command early are printed by `cli.YtempireGroup` (a JSON
document too when the command was given --json)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import click


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str)


def finish(
    document: Callable[[], dict[str, Any]],
    text: Callable[[], str],
    *,
    as_json: bool,
    exit_code: int,
    notes: Iterable[str] = (),
    problems: Iterable[str | None] = (),
) -> NoReturn:
    """Print the result (`document` with --json, else `text`), the notes and problems on
    stderr (a problem as `ytempire: ...`), and exit with `exit_code`."""
    for line in notes:
        click.echo(line, err=True)
    click.echo(to_json(document()) if as_json else text())
    for problem in problems:
        if problem:
            click.echo(f"ytempire: {problem}", err=True)
    raise SystemExit(exit_code)


def error_document(command: str | None, exit_code: int, error: str) -> str:
    return to_json({"command": command, "exit_code": exit_code, "error": error})
