"""Where each alert lands on the escalation matrix (`escalation_matrix.Matrix`).

Category, alert type and the first responder come from the dbt node's meta (an
`alert_meta.AlertMeta`, checked when the manifest is read); the level from the result (warn -> 1,
fail/error -> 2, system-wide conditions -> 3); condition, owner, action and SLA of a level from
the matrix. `place` turns a `Placement` (what is wrong, how badly, at which level) into an Alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from orchestrator.alert import Alert, Member, Severity
from orchestrator.alert_meta import AlertMeta
from orchestrator.artifacts import NodeResult, ResultKind
from orchestrator.escalation_matrix import Matrix

log = logging.getLogger(__name__)

DEFAULT_CATEGORY = "data_issues"
DEFAULT_ALERT_TYPE = "DBT_RESULT"
DEDUP_PREFIX = "ytempire:"


@dataclass(frozen=True)
class Placement:
    """What `place` puts on the matrix: the condition (its dedup key, alert type and category),
    how bad it is and the level it opens at, what to say, and the dbt node behind it if any."""

    dedup_key: str
    alert_type: str
    category: str  # a category of the matrix; an unknown one lands in data_issues
    severity: Severity
    level: int
    message: str
    figure: str | None = None
    node_owner: str | None = None  # the node's meta owner: the first responder at level 1
    node_id: str | None = None
    node_name: str | None = None
    docs_url: str | None = None


def dedup_key_for(unique_id: str) -> str:
    """The key of a condition that is one node (the wrapper's own checks)."""
    return f"{DEDUP_PREFIX}{unique_id}"


def condition_of(matrix: Matrix, meta: AlertMeta) -> tuple[str, str]:
    """(category, alert type) of a node's meta; no or unknown category -> data_issues."""
    category = meta.escalation or DEFAULT_CATEGORY
    if category not in matrix.categories:
        category = DEFAULT_CATEGORY
    return category, meta.alert_type or DEFAULT_ALERT_TYPE


def condition_key(matrix: Matrix, meta: AlertMeta) -> str:
    """One condition per alert type and category, like the playbook's one alert per check:
    a stale source and the freshness mart's test on it are the same DATA_FRESHNESS alert."""
    category, alert_type = condition_of(matrix, meta)
    return f"{DEDUP_PREFIX}{category}:{alert_type}"


def severity_for(result: NodeResult) -> Severity:
    if result.kind in (ResultKind.FAIL, ResultKind.ERROR):
        return Severity.CRITICAL
    return Severity.WARNING


def level_for(severity: Severity) -> int:
    return 2 if severity is Severity.CRITICAL else 1


def owner_at(matrix: Matrix, category: str, level: int, node_owner: str | None) -> str:
    """The node's owner is the first responder (level 1); higher levels belong to the matrix."""
    if level == 1 and node_owner in matrix.contacts:
        return str(node_owner)
    return matrix.level(category, level).owner


def place(matrix: Matrix, placement: Placement) -> Alert:
    """An Alert at the placement's level of its category, with that level's owner, action, SLA
    and condition.

    An unknown category lands in data_issues and an owner that is no role of the matrix leaves
    level 1 to the matrix; both are kept on the alert (`unknown_escalation`, `unknown_owner`).
    """
    category, unknown_escalation = placement.category, None
    if category not in matrix.categories:
        log.warning(
            "unknown escalation category %r on %s: using %s",
            category,
            placement.node_id,
            DEFAULT_CATEGORY,
        )
        unknown_escalation, category = category, DEFAULT_CATEGORY
    step = matrix.level(category, placement.level)
    node_owner = placement.node_owner
    owner = owner_at(matrix, category, step.number, node_owner)
    return Alert(
        dedup_key=placement.dedup_key,
        alert_type=placement.alert_type,
        escalation=category,
        severity=placement.severity,
        level=step.number,
        owner=owner,
        action=step.action,
        sla_minutes=step.sla_minutes,
        message=placement.message,
        figure=placement.figure,
        node_id=placement.node_id,
        node_name=placement.node_name,
        docs_url=placement.docs_url,
        condition=step.condition,
        owner_contact=matrix.contacts[owner],
        node_owner=node_owner,
        unknown_escalation=unknown_escalation,
        unknown_owner=node_owner if node_owner and node_owner not in matrix.contacts else None,
    )


def alert_for_result(
    matrix: Matrix, result: NodeResult, figure: str | None = None, docs_base: str | None = None
) -> Alert:
    """The alert a non-passing dbt result raises; a node without meta lands in data_issues."""
    meta = result.meta
    severity = severity_for(result)
    level = level_for(severity)
    if severity is Severity.CRITICAL and meta.escalation_level is not None:
        level = meta.escalation_level  # the node says its failure is e.g. system-wide (level 3)
    placement = Placement(
        dedup_key=condition_key(matrix, meta),
        alert_type=meta.alert_type or DEFAULT_ALERT_TYPE,
        category=meta.escalation or DEFAULT_CATEGORY,
        severity=severity,
        level=level,
        message=describe(result, figure),
        figure=figure,
        node_owner=meta.owner,
        node_id=result.unique_id,
        node_name=result.name,
        docs_url=docs_link(docs_base, result),
    )
    alert = place(matrix, placement)
    member = Member(
        node_id=result.unique_id,
        node_name=result.name,
        status=result.status,
        figure=figure,
        level=alert.level,
    )
    return replace(
        alert,
        dbt_status=result.status,
        failures=result.failures,
        minutes_stale=None if result.minutes_stale is None else round(result.minutes_stale, 1),
        members=(member,),
    )


def _worst_first(alert: Alert) -> tuple[int, int, float]:
    severity = 1 if alert.severity is Severity.CRITICAL else 0
    return (-alert.level, -severity, -(alert.minutes_stale or 0.0))


def merge_conditions(alerts: list[Alert]) -> list[Alert]:
    """One alert per dedup key: the worst member speaks for the condition, the others are
    listed in its message and in `members` (order of first appearance kept among equals)."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.dedup_key, []).append(alert)
    return [_merged(group) for group in groups.values()]


def _merged(group: list[Alert]) -> Alert:
    if len(group) == 1:
        return group[0]
    ranked = sorted(group, key=_worst_first)
    worst = ranked[0]
    also = ", ".join(str(alert.node_name) for alert in ranked[1:])
    return replace(
        worst,
        message=f"{worst.message} (also: {also})",
        members=tuple(member for alert in ranked for member in alert.members),
    )


def escalated(matrix: Matrix, alert: Alert) -> Alert:
    """The same alert one level up (owner, action and SLA of the next level; CRITICAL from 2)."""
    step = matrix.level(alert.escalation, alert.level + 1)
    return replace(
        alert,
        level=step.number,
        owner=step.owner,
        action=step.action,
        sla_minutes=step.sla_minutes,
        severity=Severity.CRITICAL if step.number >= 2 else alert.severity,
        condition=step.condition,
        owner_contact=matrix.contacts[step.owner],
        previous_level=alert.level,
    )


def describe(result: NodeResult, figure: str | None) -> str:
    """One readable sentence for a non-passing result."""
    if result.kind is ResultKind.UNKNOWN:
        return (
            f"{result.resource_type} {result.name}: dbt reported status {result.status!r}, "
            "which ytempire does not know"
        )
    first_line = (result.message or "").strip().splitlines()[0] if result.message else ""
    if result.origin == "freshness":
        if result.minutes_stale is None:
            return f"source {result.name}: {first_line or result.status}"
        limits = ", ".join(
            f"{label} after {value:.0f} min"
            for label, value in (
                ("warn", result.warn_after_minutes),
                ("error", result.error_after_minutes),
            )
            if value is not None
        )
        return f"source {result.name} last loaded {result.minutes_stale:.0f} minutes ago ({limits})"
    if result.resource_type in ("test", "unit_test"):
        rows = f"{result.failures} failing row" + ("" if result.failures == 1 else "s")
        quoted = figure or (rows if result.failures else None)
        detail = f"{quoted}; {first_line}" if quoted and first_line else quoted or first_line
        return f"{result.resource_type.replace('_', ' ')} {result.name} {result.status}: {detail}"
    return f"{result.resource_type} {result.name} {result.status}: {first_line}"


def docs_link(base: str | None, result: NodeResult) -> str | None:
    """The node's page on the dbt docs site (`#!/<type>/<unique_id>`)."""
    if not base or result.origin == "quality":
        return None  # a GX expectation has no page on the dbt docs site
    kind = "unit_test" if result.resource_type == "unit_test" else result.resource_type
    return f"{base.rstrip('/')}/#!/{kind}/{result.unique_id}"
