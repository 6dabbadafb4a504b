"""The dbt stages of a run: invoke dbt (`source freshness`, then `build` over the selection), and
read what it wrote (`run_results.json`, `sources.json`, `manifest.json`) into results.

A narrow selection gets `--indirect-selection cautious` and a build of everything runs the
catalog diagnostics after the rest (orchestrator.selection); after a replacing `ytempire
generate` the run builds everything with --full-refresh (orchestrator.raw_state). The project is
parsed once for all of it (orchestrator.dbt_invoke).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import psycopg

from orchestrator import artifacts, dbt_invoke, raw_state, run_log, selection, signals
from orchestrator.artifacts import Manifest, NodeResult
from orchestrator.connection import Connection
from orchestrator.context import RunContext
from orchestrator.errors import NothingSelected

log = logging.getLogger(__name__)


@dataclass
class DbtOutcome:
    """What dbt did this run, read from its artifacts."""

    freshness: list[NodeResult] = field(default_factory=list)
    results: list[NodeResult] = field(default_factory=list)  # dbt build
    manifest: Manifest | None = None
    freshness_invocation_id: str | None = None
    invocation_ids: list[str] = field(default_factory=list)
    failure: str | None = None  # one sentence: dbt could not run
    ran: bool = True  # False when the run does not invoke dbt (`ytempire quality`)

    @property
    def all_results(self) -> list[NodeResult]:
        return self.freshness + self.results


def invoke(
    ctx: RunContext, conn: Connection, db: psycopg.Connection, run_id: int | None = None
) -> DbtOutcome:
    outcome = DbtOutcome()
    if not ctx.request.skip_freshness:
        _freshness(ctx, conn, db, outcome)
    arguments = list(ctx.request.selection)
    replaced_at = raw_state.pending_full_refresh(db)
    cut_short = run_log.cut_short_before(db, run_id) if run_id is not None else None
    if replaced_at is not None:
        arguments = ["--full-refresh"]
        say(
            "ytempire: schema raw was replaced by `ytempire generate` at "
            f"{replaced_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: this run builds every model "
            "with --full-refresh."
        )
    elif cut_short is not None and selection.is_narrow(arguments):
        arguments = [a for a in arguments if a == "--full-refresh"]
        say(
            f"ytempire: run {cut_short[0]} (`ytempire {cut_short[1]}`) ended {cut_short[2]} "
            "while dbt was replacing relations (a view or table dropped with CASCADE is rebuilt "
            "only by its own node): this run builds every model."
        )
    built = _build(ctx, conn, arguments, outcome)
    if built and selection.is_narrow(arguments) and not outcome.results:
        raise NothingSelected(
            f"the selection `{' '.join(arguments)}` matches no dbt node: nothing was built and "
            "no alert was changed (list what a selector matches with "
            "`ytempire dbt -- ls -s SELECTOR`)."
        )
    models_built = all(r.status == "success" for r in outcome.results if r.resource_type == "model")
    if built and replaced_at is not None and models_built and not ctx.request.dry_run:
        raw_state.clear_full_refresh(db)  # else the next run full-refreshes again
    return outcome


def _dbt(ctx: RunContext, conn: Connection, args: list[str]) -> dbt_invoke.DbtInvocation:
    run = dbt_invoke.run(
        args,
        conn,
        as_of=ctx.request.as_of_text,
        target_path=ctx.settings.target_path,
        project_dir=ctx.settings.project_dir,
    )
    signals.check()  # dbt returns normally after a signal (it cancelled its queries)
    return run


def _freshness(
    ctx: RunContext, conn: Connection, db: psycopg.Connection, outcome: DbtOutcome
) -> None:
    target = ctx.settings.target_path
    (target / artifacts.SOURCES).unlink(missing_ok=True)
    run = _dbt(ctx, conn, ["source", "freshness"])
    if run.could_not_run or not (target / artifacts.SOURCES).exists():
        outcome.failure = failure_sentence("dbt source freshness", run)
        return
    manifest = _manifest(ctx, target)
    outcome.freshness_invocation_id, outcome.freshness = artifacts.parse_sources(target, manifest)
    outcome.freshness += artifacts.missing_freshness_results(
        manifest, outcome.freshness, missing_reasons(db, manifest, outcome.freshness)
    )


def _build(ctx: RunContext, conn: Connection, arguments: list[str], outcome: DbtOutcome) -> bool:
    """Every build invocation of the selection; False when dbt could not run one."""
    target = ctx.settings.target_path
    diagnostics = not dbt_invoke.spark_target()
    for build_arguments in selection.build_invocations(arguments, diagnostics=diagnostics):
        (target / artifacts.RUN_RESULTS).unlink(missing_ok=True)
        run = _dbt(ctx, conn, ["build", *build_arguments])
        if run.could_not_run or not (target / artifacts.RUN_RESULTS).exists():
            outcome.failure = outcome.failure or failure_sentence("dbt build", run)
            outcome.manifest = None
            return False
        outcome.manifest = _manifest(ctx, target)
        invocation_id, results = artifacts.parse_run_results(target, outcome.manifest)
        if invocation_id:
            outcome.invocation_ids.append(invocation_id)
        outcome.results += results
    return outcome.manifest is not None


def _manifest(ctx: RunContext, target: Path) -> Manifest:
    return artifacts.load_manifest(target, ctx.settings.project.test_meta)


def failure_sentence(what: str, run: dbt_invoke.DbtInvocation) -> str:
    """One sentence for a dbt invocation that could not run; dbt's last lines go to the log."""
    tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
    if tail:
        log.error("%s exited %s; its last lines:\n%s", what, run.returncode, tail)
    reason = f": {run.error}" if run.error else ": see dbt.log (or -vv)"
    return f"{what} could not run (exit {run.returncode}){reason}"


def missing_reasons(
    db: psycopg.Connection, manifest: Manifest, freshness: list[NodeResult]
) -> dict[str, str]:
    """Why a source with an SLA has no freshness result: its relation is missing, or unknown."""
    seen = {result.unique_id for result in freshness}
    reasons = {}
    for unique_id in manifest.freshness_sources():
        if unique_id in seen:
            continue
        node = manifest.node(unique_id) or {}
        name = f"{node.get('schema')}.{node.get('identifier') or node.get('name')}"
        exists = db.execute(
            "select to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null",
            (node.get("schema"), node.get("identifier") or node.get("name")),
        ).fetchone()[0]
        reasons[unique_id] = (
            f"relation {name} does not exist"
            if not exists
            else f"the freshness query on {name} failed (see dbt.log)"
        )
    return reasons


def say(line: str) -> None:
    """One line for the person or cron log reading stderr."""
    print(line, file=sys.stderr, flush=True)
