"""What one expectation found (`CheckOutcome`), and the result the conditions stage places on the
escalation matrix like a dbt test's (`NodeResult`, origin "quality").

Statuses: `passed`; a failing expectation is `warning` or `failed` by its severity; `error` when
GX could not evaluate it (its query failed): an error alerts like a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.alert_meta import AlertMeta
from orchestrator.artifacts import NodeResult, ResultKind

Severity = Literal["warning", "critical"]
SEVERITIES: tuple[str, ...] = ("warning", "critical")
STATUSES: tuple[str, ...] = ("passed", "warning", "failed", "error")
ORIGIN = "quality"
RESOURCE_TYPE = "expectation"
UNIQUE_ID_PREFIX = "quality.ytempire."

_KINDS = {
    "passed": ResultKind.PASS,
    "warning": ResultKind.WARN,
    "failed": ResultKind.FAIL,
    "error": ResultKind.ERROR,
}


def status_for(success: bool, severity: str, error: str | None = None) -> str:
    if error is not None:
        return "error"
    if success:
        return "passed"
    return "failed" if severity == "critical" else "warning"


@dataclass(frozen=True)
class CheckOutcome:
    """One expectation of one suite, evaluated once."""

    suite: str
    check_type: str  # distribution, volume, completeness, consistency
    check: str  # the expectation's name in its suite
    expectation_type: str  # GX's: expect_column_values_to_be_between...
    asset: str  # the query asset it read
    severity: str  # warning | critical
    status: str  # passed | warning | failed | error
    observed_value: float | None  # the headline number (share unexpected, or the bad value)
    observed: str  # the same, for people: "1.00% of 13,725 rows outside [0, 1]"
    description: str
    alert_type: str
    owner: str
    escalation: str = "quality"
    details: dict[str, Any] = field(default_factory=dict)  # GX's result (counts, samples)

    @property
    def unique_id(self) -> str:
        return f"{UNIQUE_ID_PREFIX}{self.suite}.{self.check}"

    def to_result(self) -> NodeResult:
        """The result the conditions stage places on the matrix (as a dbt test's)."""
        return NodeResult(
            unique_id=self.unique_id,
            resource_type=RESOURCE_TYPE,
            name=self.check,
            status=self.status,
            kind=_KINDS[self.status],
            origin=ORIGIN,
            message=f"{self.observed} ({self.description})",
            meta=AlertMeta(
                alert_type=self.alert_type, escalation=self.escalation, owner=self.owner
            ),
            figure=None if self.status == "passed" else self.observed,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "check_type": self.check_type,
            "check": self.check,
            "expectation_type": self.expectation_type,
            "asset": self.asset,
            "severity": self.severity,
            "status": self.status,
            "observed_value": self.observed_value,
            "observed": self.observed,
            "description": self.description,
            "alert_type": self.alert_type,
            "escalation": self.escalation,
            "owner": self.owner,
        }
