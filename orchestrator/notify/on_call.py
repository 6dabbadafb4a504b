"""Who is on call when a notification is made: the primary and backup roles of the matrix's
`on_call` schedule at the run's clock, in the project's business time zone, with their contacts.

The run sets it on its notification settings once (`orchestrator.notify.routing.for_run`); every
channel then says who is on call, and the email also goes to the primary's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orchestrator.alert import Contact
from orchestrator.escalation_matrix import Matrix


@dataclass(frozen=True)
class OnCallNow:
    primary: Contact
    backup: Contact

    def describe(self) -> str:
        """E.g. "analytics_engineer (@analytics-eng), backup data_engineer (@data-eng)"."""
        return f"{reach(self.primary)}, backup {reach(self.backup)}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "primary": self.primary.role,
            "primary_slack": self.primary.slack,
            "backup": self.backup.role,
            "backup_slack": self.backup.slack,
        }


def reach(contact: Contact) -> str:
    """A role and its Slack handle: "data_engineer (@data-eng)" (the role alone without one)."""
    return f"{contact.role} ({contact.slack})" if contact.slack else contact.role


def on_call_at(matrix: Matrix, timezone: str, now: datetime) -> OnCallNow | None:
    """The matrix's on-call roles at `now`, or None when the matrix has no `on_call` schedule."""
    if matrix.on_call is None:
        return None
    primary, backup = matrix.on_call.roles_at(now, timezone)
    return OnCallNow(primary=matrix.contacts[primary], backup=matrix.contacts[backup])
