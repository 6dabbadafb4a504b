"""`ytempire`: the YTEMPIRE analytics playbooks, run by dbt, from a terminal or cron.

Exit codes (for cron): 0 all passed, 1 warnings only, 2 failures, 3 could not run
(bad arguments, dbt error, no database, bad configuration).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, NoReturn

import click

from orchestrator import __version__
from orchestrator.commands.alerts import alerts_group
from orchestrator.commands.build import build_command
from orchestrator.commands.cron import cron_command
from orchestrator.commands.db import db_group
from orchestrator.commands.dbt_passthrough import dbt_command
from orchestrator.commands.demo import demo_command
from orchestrator.commands.docs import docs_command
from orchestrator.commands.generate import generate_command
from orchestrator.commands.output import error_document
from orchestrator.commands.params import JSON_META_KEY
from orchestrator.commands.playbooks import PLAYBOOK_COMMANDS
from orchestrator.commands.quality import quality_command
from orchestrator.commands.restore import restore_command
from orchestrator.commands.troubleshoot import diagnose_command, troubleshoot_command
from orchestrator.errors import EXIT_COULD_NOT_RUN, EXIT_OK, YtempireError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class YtempireGroup(click.Group):
    """Turns a YtempireError or a click usage error (unknown option, bad value, missing argument,
    anywhere in the CLI) into one sentence on stderr and its exit code, never a traceback.

    A usage error exits 3 ("could not run", as cron reads it), not click's 2 (= failures here),
    and nothing has run yet: subcommands parse their arguments before their body starts.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            refuse(ctx, exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            refuse(ctx, exc)
        except YtempireError as exc:
            if ctx.meta.get(JSON_META_KEY):  # cron parsing --json still gets one document
                click.echo(error_document(ctx.invoked_subcommand, exc.exit_code, str(exc)))
            click.echo(f"ytempire: {exc}", err=True)
            ctx.exit(exc.exit_code)


def refuse(ctx: click.Context, exc: click.UsageError) -> NoReturn:
    """Exit 3 with click's message in one line; a group called without a command shows its help
    on stdout and exits 0, like `--help`."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        click.echo(exc.ctx.get_help(), color=exc.ctx.color)
        ctx.exit(EXIT_OK)
    if exc.ctx is not None:
        where = exc.ctx.command_path
    else:  # some parser errors carry no context: name the subcommand being parsed
        where = " ".join(filter(None, [ctx.command_path, ctx.invoked_subcommand]))
    message = " ".join(exc.format_message().split()).rstrip(".")
    end = "" if message.endswith("?") else "."
    click.echo(f"ytempire: {message} (see `{where} --help`){end}", err=True)
    ctx.exit(EXIT_COULD_NOT_RUN)


@click.group(
    "ytempire",
    cls=YtempireGroup,
    context_settings=CONTEXT_SETTINGS,
    no_args_is_help=True,
    epilog="Exit codes: 0 all passed, 1 warnings only, 2 failures, 3 could not run "
    "(bad arguments included).",
)
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-v info, -vv debug).")
@click.version_option(__version__, prog_name="ytempire")
def main(verbose: int) -> None:
    """YTEMPIRE analytics: playbooks as dbt builds, alerts on the escalation matrix."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


main.add_command(db_group)
main.add_command(dbt_command)
main.add_command(generate_command)
main.add_command(cron_command)
main.add_command(docs_command)
main.add_command(demo_command)
main.add_command(build_command)
main.add_command(alerts_group)
main.add_command(quality_command)
main.add_command(restore_command)
main.add_command(troubleshoot_command)
main.add_command(diagnose_command)
for _playbook_command in PLAYBOOK_COMMANDS:
    main.add_command(_playbook_command)

__all__ = ["EXIT_COULD_NOT_RUN", "main"]
