"""Every option of the CLI, declared once (as dbt-core's `cli/params.py`), and the one parser of
their timestamps.

`--as-of` and `--now` are parsed here (`parse_timestamp`, through the `Timestamp` click type),
so a bad value is a usage error: refused before anything runs (exit 3, see `cli.YtempireGroup`).
The commands that run `dbt build` take the common selection flags as real options and anything
else for dbt only after `--` (`DbtArgsCommand`); `dbt_selection` turns them into dbt's arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from orchestrator.errors import ConfigError

# How far past the wall clock --as-of may pin 'now' (a day of slack for time zones and clocks).
AS_OF_MAX_AHEAD = timedelta(days=1)
TIMESTAMP_EXAMPLES = "2026-11-15T12:00:00Z, 2026-11-15 07:00:00-05:00 or 2026-11-15"
F = TypeVar("F", bound=Callable[..., Any])


def parse_timestamp(
    value: str, max_ahead: timedelta | None = None, now: datetime | None = None
) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; raises ValueError saying what is wrong.

    `T` or a space between date and time; `Z`, an offset, or no zone (= UTC); a bare date is
    midnight UTC. With `max_ahead`, a value more than that past `now` (the wall clock) is refused.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 timestamp such as {TIMESTAMP_EXAMPLES}"
        ) from None
    parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if max_ahead is not None:
        limit = (now or datetime.now(UTC)) + max_ahead
        if parsed > limit:
            raise ValueError(
                f"{value!r} is more than {_span(max_ahead)} ahead of the clock "
                f"(latest accepted: {limit:%Y-%m-%d %H:%M} UTC)"
            )
    return parsed


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours % 24 == 0:
        return "1 day" if hours == 24 else f"{hours / 24:g} days"
    return f"{hours:g} hours"


class Timestamp(click.ParamType):
    """A click type for `parse_timestamp`: the value arrives as an aware UTC datetime."""

    name = "timestamp"

    def __init__(self, max_ahead: timedelta | None = None) -> None:
        self.max_ahead = max_ahead

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_timestamp(str(value), self.max_ahead)
        except ValueError as exc:
            self.fail(f"{_from_env(param, ctx)}{exc}", param, ctx)


def _from_env(param: click.Parameter | None, ctx: click.Context | None) -> str:
    """'YTEMPIRE_X=' when the bad value came from the option's environment variable."""
    if param is None or ctx is None or param.name is None:
        return ""
    if ctx.get_parameter_source(param.name) is not ParameterSource.ENVIRONMENT:
        return ""
    envvar = getattr(param, "envvar", None)
    return f"{envvar}=" if isinstance(envvar, str) else ""


def parse_now(value: datetime | str | None) -> datetime | None:
    """The hidden --now clock override as an aware UTC datetime (already one from `now_option`)."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ConfigError(f"--now {exc}.") from None


def dbt_selection(
    select: Sequence[str], exclude: Sequence[str], full_refresh: bool, dbt_args: Sequence[str]
) -> list[str]:
    """The arguments for `dbt build`: `--select` and `--exclude` once each with all their values
    (dbt takes `--select a b`), `--full-refresh`, then what followed `--` as is."""
    arguments: list[str] = []
    if select:
        arguments += ["--select", *select]
    if exclude:
        arguments += ["--exclude", *exclude]
    if full_refresh:
        arguments.append("--full-refresh")
    return [*arguments, *dbt_args]


class DbtArgsCommand(click.Command):
    """A command whose DBT_ARGS are only what follows `--`: before it, every word must be one of
    the command's own options (so `build --bogus` or `build tag:hourly` is refused, not run)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cut = args.index("--") if "--" in args else len(args)
        rest = super().parse_args(ctx, args[:cut])
        stray = ctx.params.get("dbt_args") or ()
        if stray and not ctx.resilient_parsing:
            raise click.UsageError(
                f"Unexpected argument {stray[0]!r}: give each selector its own -s/--select, "
                "or pass other dbt arguments after `--`",
                ctx,
            )
        ctx.params["dbt_args"] = tuple(args[cut + 1 :])
        return rest


JSON_META_KEY = "ytempire.json"


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """Remembered on the shared context meta, so an error of this command is a JSON document
    too (cli.YtempireGroup)."""
    if value:
        ctx.meta[JSON_META_KEY] = True
    return value


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    callback=_remember_json,
    help="Print one JSON document on stdout (also on error) instead of tables.",
)

# `generate` parses its own --as-of (orchestrator/commands/generate.py `parse_as_of`); the
# commands that run dbt use `as_of_timestamp_option`, which refuses bad values before running.
as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    envvar="YTEMPIRE_AS_OF",
    help="Pin 'now' (ISO timestamp, UTC if no zone) for dbt's as_of() [env YTEMPIRE_AS_OF].",
)

as_of_timestamp_option = click.option(
    "--as-of",
    "as_of",
    type=Timestamp(max_ahead=AS_OF_MAX_AHEAD),
    default=None,
    envvar="YTEMPIRE_AS_OF",
    help="Pin 'now' for dbt's as_of(): ISO 8601 such as 2026-11-15T12:00:00Z (no zone = UTC; "
    "a date = midnight UTC), at most a day ahead [env YTEMPIRE_AS_OF].",
)

now_option = click.option(
    "--now",
    "now",
    type=Timestamp(),
    default=None,
    hidden=True,
    envvar="YTEMPIRE_NOW",
    help="Pin the SLA clock (tests).",
)

dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would happen (the checks run, the notifications it would send): change "
    "no alert state, send nothing, run no maintenance.",
)

skip_freshness_option = click.option(
    "--skip-freshness", is_flag=True, help="Do not run `dbt source freshness`."
)


def dbt_selection_options(command: F) -> F:
    """-s/--select, --exclude, --full-refresh and `-- DBT_ARGS` (use with `cls=DbtArgsCommand`)."""
    decorators = (
        click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- DBT_ARGS]..."),
        click.option(
            "-s",
            "--select",
            "select",
            multiple=True,
            metavar="SELECTOR",
            help="dbt node selection, e.g. tag:hourly (repeatable; passed as `--select`).",
        ),
        click.option(
            "--exclude",
            "exclude",
            multiple=True,
            metavar="SELECTOR",
            help="Nodes to leave out (repeatable; passed as `--exclude`).",
        ),
        click.option(
            "--full-refresh",
            is_flag=True,
            help="Rebuild incremental models from scratch (dbt `--full-refresh`).",
        ),
    )
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def dbt_run_options(command: F) -> F:
    """The options of every command that runs dbt: the selection, --as-of, --dry-run, --json and
    the hidden --now (used with `requires.run_context`)."""
    for decorator in (now_option, json_option, dry_run_option, as_of_timestamp_option):
        command = decorator(command)
    return dbt_selection_options(command)
