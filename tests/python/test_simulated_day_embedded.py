"""The simulated day of operations (simulated_day.py) on the embedded PostgreSQL: every step
exits 0 without an alert on clean data and equals the independent oracle, hourly runs test only
what they built, late and withdrawn rows land, no view keeps a pinned instant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simulated_day import Day, DayChecks, fresh_day, simulate_day

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day(
    embedded_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Day, dict[str, Any]]]:
    with fresh_day(embedded_server, tmp_path_factory, "day") as simulated:
        yield simulated, simulate_day(simulated)


class TestEmbeddedDay(DayChecks):
    """The day's checks on the embedded server."""
