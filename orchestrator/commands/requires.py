"""Cross-cutting set-up of the commands that run dbt, done once before the command body (as
dbt-core's `cli/requires.py`): their options become one `RunRequest`, and the settings are read
and validated into one `RunContext` the body receives."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from orchestrator.commands.params import dbt_selection
from orchestrator.context import RunContext, RunRequest


def run_context(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turns the options of `params.dbt_run_options` into `run: RunContext` for `command`."""

    def decorator(body: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(body)
        def wrapper(
            *,
            dbt_args: tuple[str, ...],
            select: tuple[str, ...],
            exclude: tuple[str, ...],
            full_refresh: bool,
            as_of: datetime | None,
            dry_run: bool,
            now: datetime | None,
            skip_freshness: bool = False,
            **rest: Any,
        ) -> Any:
            request = RunRequest(
                command=command,
                selection=dbt_selection(select, exclude, full_refresh, dbt_args),
                as_of=as_of,
                now=now,
                dry_run=dry_run,
                skip_freshness=skip_freshness,
            )
            return body(RunContext.build(request), **rest)

        return wrapper

    return decorator
