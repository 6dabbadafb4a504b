"""The simulated day of operations (simulated_day.py) on the system PostgreSQL: every step
exits 0 without an alert on clean data and equals the independent oracle, hourly runs test only
what they built, late and withdrawn rows land, no view keeps a pinned instant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import system_server
from simulated_day import Day, DayChecks, fresh_day, simulate_day

pytestmark = [pytest.mark.slow, pytest.mark.system_pg]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Day, dict[str, Any]]]:
    with fresh_day(system_server(), tmp_path_factory, "day") as simulated:
        yield simulated, simulate_day(simulated)


class TestSystemDay(DayChecks):
    """The day's checks on the system server."""
