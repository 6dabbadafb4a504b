"""The quality stage of a run (`ytempire quality`, and `morning` after its dbt build): run the
great-expectations suites, store each expectation's outcome in `ops.data_quality_checks` (not in
a dry run), and hand the outcomes to the conditions stage, which places them on the escalation
matrix as it places dbt's results.

great_expectations is imported here, when the stage runs, and nowhere else a command loads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg

from orchestrator.connection import Connection
from orchestrator.context import RunContext
from orchestrator.quality import store
from orchestrator.quality.outcome import CheckOutcome

log = logging.getLogger(__name__)


@dataclass
class QualityOutcome:
    ran: bool = False
    outcomes: list[CheckOutcome] = field(default_factory=list)
    failure: str | None = None  # one sentence: the suites could not run at all


def run(ctx: RunContext, conn: Connection, db: psycopg.Connection, run_id: int) -> QualityOutcome:
    try:
        from orchestrator.quality import gx_run, suites

        chosen = [suites.suite_named(name) for name in ctx.request.quality_suites] or list(
            suites.SUITES
        )
        outcomes = gx_run.run_suites(conn, ctx.request.as_of_text, chosen)
    except Exception as exc:  # GX itself failed (not one expectation): a condition, not a crash
        log.exception("the great-expectations suites could not run")
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return QualityOutcome(ran=False, failure=f"the quality suites could not run: {reason}")
    if not ctx.request.dry_run:
        store.record(db, run_id, ctx.request.as_of or ctx.started_at, outcomes)
    return QualityOutcome(ran=True, outcomes=outcomes)
