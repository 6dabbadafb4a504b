"""`ytempire generate`: load synthetic raw data (schema `raw`) for demos, tests and benchmarks."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click

from orchestrator import connection, database
from orchestrator.commands.params import as_of_option, json_option, parse_timestamp
from orchestrator.errors import ConfigError
from orchestrator.generate import MAX_SCALE, GenerateReport, generate, make_plan
from orchestrator.generate_append import append_hours
from orchestrator.generate_injections import INJECTIONS


def parse_scale(raw: str) -> float:
    try:
        scale = float(raw)
    except ValueError:
        raise ConfigError(
            f"--scale {raw!r} is not a number: use a positive number such as 0.05 or 1."
        ) from None
    if not math.isfinite(scale) or not 0 < scale <= MAX_SCALE:
        raise ConfigError(
            f"--scale {raw} is out of range: use a number above 0 and at most {MAX_SCALE:g}."
        )
    return scale


def parse_int(option: str, raw: str, example: int) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"{option} {raw!r} is not a whole number: use e.g. {option} {example}."
        ) from None


def parse_days(raw: str) -> int:
    days = parse_int("--days", raw, 35)
    if days < 1:
        raise ConfigError(f"--days {raw} must be at least 1: use e.g. --days 35.")
    return days


def parse_as_of(raw: str | datetime | None) -> datetime:
    """An ISO timestamp (UTC when it has no zone); default now, rounded down to the minute."""
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if raw is None or not raw.strip():
        return datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise ConfigError(f"--as-of {exc}.") from None


def report_table(report: GenerateReport, where: str) -> str:
    width = max(len(table) for table in report.rows)
    lines = [f"{'table':<{width}}  {'rows':>12}"]
    lines += [f"{table:<{width}}  {count:>12,}" for table, count in report.rows.items()]
    lines.append(f"{'total':<{width}}  {report.total_rows:>12,}")
    lines.append(
        f"{report.seconds:.1f} s, {report.rows_per_second:,.0f} rows/s into {where} "
        f"(as_of {report.as_of.isoformat()}, scale {report.scale:g}, days {report.days}, "
        f"seed {report.seed}, injected: {', '.join(report.injected) or 'none'})"
    )
    return "\n".join(lines)


def report_json(report: GenerateReport) -> str:
    document = {
        "rows": report.rows,
        "total_rows": report.total_rows,
        "seconds": round(report.seconds, 3),
        "rows_per_second": round(report.rows_per_second),
        "as_of": report.as_of.isoformat(),
        "scale": report.scale,
        "days": report.days,
        "seed": report.seed,
        "injected": list(report.injected),
        "injected_details": report.injected_details,
    }
    return json.dumps(document, default=str, indent=2)


@click.command("generate")
@click.option(
    "--scale",
    default="1",
    show_default=True,
    metavar="S",
    help="Size: 1 = 100 users, 400 channels, 10,000 videos (API quota is not scaled).",
)
@click.option(
    "--days", default="35", show_default=True, metavar="D", help="Days of history before as_of."
)
@as_of_option
@click.option(
    "--seed",
    default="42",
    show_default=True,
    metavar="N",
    help="Random seed: the same arguments give identical tables.",
)
@click.option(
    "--inject",
    "inject",
    multiple=True,
    metavar="NAME",
    help=f"Plant an anomaly (repeatable): {', '.join(INJECTIONS)}.",
)
@click.option(
    "--append-hours",
    default=None,
    metavar="N",
    help="Continue the existing raw data by N hours after its latest instant, as the "
    "collectors would (instead of replacing it); --scale, --days, --seed and --as-of come from "
    "the generate it continues.",
)
@click.option(
    "--late-rows",
    default="0",
    show_default=True,
    metavar="K",
    help="With --append-hours: also land K valid cost events stamped inside the incremental "
    "lookback (late rows).",
)
@click.option(
    "--target",
    type=click.Choice(["postgres", "spark"]),
    default="postgres",
    show_default=True,
    help="Where to write: PostgreSQL's schema `raw`, or Spark's database `raw` (the `spark` "
    "output of profiles.yml, a local session; needs the `spark` extra). The same arguments give "
    "the same rows on both.",
)
@json_option
@click.pass_context
def generate_command(ctx: click.Context, **options: Any) -> None:
    """Replace schema `raw` with synthetic data (default as_of: now, to the minute).

    The next `ytempire build` (or playbook) after a replacing generate full-refreshes the
    incremental models by itself. With --append-hours the data is continued instead.
    """
    request = GenerateRequest(**options)
    if request.target == "spark":
        report, where = replace_spark_raw(request)
    elif request.append_hours is None:
        report, where = replace_raw(request)
    else:
        report, where = append_to_raw(ctx, request)
    click.echo(report_json(report) if request.as_json else report_table(report, where))


@dataclass(frozen=True)
class GenerateRequest:
    """The options of `ytempire generate` as given: text, parsed by `replace_raw` or
    `append_to_raw`."""

    scale: str
    days: str
    as_of: str | None
    seed: str
    inject: tuple[str, ...]
    append_hours: str | None
    late_rows: str
    as_json: bool
    target: str = "postgres"

    def generate_arguments(self) -> dict[str, Any]:
        """The keyword arguments of a replacing `generate`, each parsed from its option."""
        if self.late_rows != "0":
            raise ConfigError(
                "--late-rows needs --append-hours: late rows land with appended hours."
            )
        return {
            "scale": parse_scale(self.scale),
            "days": parse_days(self.days),
            "as_of": parse_as_of(self.as_of),
            "seed": parse_int("--seed", self.seed, 42),
            "inject": self.inject,
        }


def replace_raw(request: GenerateRequest) -> tuple[GenerateReport, str]:
    """Replace schema `raw`; the report and where it was loaded."""
    arguments = request.generate_arguments()
    make_plan(**arguments)  # bad input fails before any database is started
    conn = database.resolve()
    connection.ensure_database(conn)
    return generate(conn, **arguments), conn.describe()


def replace_spark_raw(request: GenerateRequest) -> tuple[GenerateReport, str]:
    """Replace Spark's database `raw` with the same rows (orchestrator/spark_raw.py)."""
    if request.append_hours is not None:
        raise ConfigError(
            "--append-hours is PostgreSQL only: on Spark, generate again with a later --as-of."
        )
    arguments = request.generate_arguments()
    make_plan(**arguments)  # bad input fails before Spark starts
    from orchestrator import spark_raw  # pyspark is an optional extra

    return spark_raw.generate(**arguments), "Spark database raw"


def append_to_raw(ctx: click.Context, request: GenerateRequest) -> tuple[GenerateReport, str]:
    """Continue the existing raw data by --append-hours (refusing the options it reuses); the
    report and where it was loaded."""
    fixed = [
        f"--{name.replace('_', '-')}"
        for name in ("scale", "days", "seed", "as_of")
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if fixed:
        raise ConfigError(
            f"{', '.join(fixed)} cannot be combined with --append-hours: appended hours "
            "continue the generate that made the data; leave them out."
        )
    report = append_hours(
        database.resolve(),
        parse_int("--append-hours", request.append_hours, 1),
        late_rows=parse_int("--late-rows", request.late_rows, 2),
        inject=request.inject,
    )
    return report, "raw (appended)"
