"""The conditions stage: every non-passing dbt result and quality check placed on the escalation
matrix, one alert per condition, plus what no query can say: dbt (or the quality suites) could
not run.

Every alert rule that reads data is a dbt test (or a source freshness SLA) with its `meta`,
including the system-wide level-3 ones (`escalation_level: 3`); this module only maps results.
`evaluated` holds the condition keys this run checked, so the alert state may resolve them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from orchestrator import escalation, figures
from orchestrator.alert import Alert, Severity
from orchestrator.context import RunContext
from orchestrator.dbt_stage import DbtOutcome
from orchestrator.escalation_matrix import Matrix
from orchestrator.quality.stage import QualityOutcome

SYSTEM = "ytempire:system:"


@dataclass(frozen=True)
class SystemCondition:
    """A condition the wrapper itself detects (no query can say it)."""

    key: str
    alert_type: str
    category: str
    level: int


DATABASE_UNREACHABLE = SystemCondition(
    f"{SYSTEM}database_unreachable", "DATABASE_UNREACHABLE", "data_issues", 3
)
DBT_COULD_NOT_RUN = SystemCondition(f"{SYSTEM}dbt_could_not_run", "DBT_ERROR", "data_issues", 2)
RAW_SCHEMA_MISMATCH = SystemCondition(
    f"{SYSTEM}raw_schema_mismatch", "RAW_SCHEMA", "data_issues", 2
)
QUALITY_COULD_NOT_RUN = SystemCondition(
    f"{SYSTEM}quality_could_not_run", "QUALITY_ERROR", "quality", 2
)
KEY_DATABASE_UNREACHABLE = DATABASE_UNREACHABLE.key
KEY_DBT_COULD_NOT_RUN = DBT_COULD_NOT_RUN.key


@dataclass
class Conditions:
    alerts: list[Alert] = field(default_factory=list)
    evaluated: set[str] = field(default_factory=set)


def evaluate(
    ctx: RunContext,
    db: psycopg.Connection,
    outcome: DbtOutcome,
    quality: QualityOutcome | None = None,
    raw_schema: str | None = None,
) -> Conditions:
    """dbt's results and the quality checks' outcomes on the matrix; `evaluated` holds only
    what this run checked (a quality-only run never resolves a dbt alert, nor the reverse).
    `raw_schema` is the sentence of a raw-table contract mismatch (the run was refused)."""
    matrix = ctx.settings.matrix
    quality = quality or QualityOutcome()
    results = outcome.all_results + [check.to_result() for check in quality.outcomes]
    alerts = escalation.merge_conditions(
        [
            escalation.alert_for_result(
                matrix, result, figures.figure_for(db, result), ctx.settings.notify.docs_url
            )
            for result in results
            if result.alerts
        ],
    )
    evaluated = {KEY_DATABASE_UNREACHABLE}  # this run reached the database
    evaluated.update(escalation.condition_key(matrix, r.meta) for r in results if r.evaluated)
    if raw_schema is not None:
        alerts.append(system_alert(matrix, RAW_SCHEMA_MISMATCH, raw_schema))
    elif outcome.ran:
        evaluated.add(RAW_SCHEMA_MISMATCH.key)  # the contract held: this run built on it
    if outcome.failure is not None:
        alerts.append(system_alert(matrix, DBT_COULD_NOT_RUN, outcome.failure))
    elif outcome.ran:
        evaluated.add(KEY_DBT_COULD_NOT_RUN)
    if quality.failure is not None:
        alerts.append(system_alert(matrix, QUALITY_COULD_NOT_RUN, quality.failure))
    elif quality.ran:
        evaluated.add(QUALITY_COULD_NOT_RUN.key)
    return Conditions(alerts, evaluated)


def system_alert(
    matrix: Matrix, condition: SystemCondition, message: str, figure: str | None = None
) -> Alert:
    return escalation.place(
        matrix,
        escalation.Placement(
            dedup_key=condition.key,
            alert_type=condition.alert_type,
            category=condition.category,
            severity=Severity.CRITICAL,
            level=condition.level,
            message=message,
            figure=figure,
            node_name=condition.key.removeprefix(SYSTEM),
        ),
    )
