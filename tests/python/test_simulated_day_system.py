"""The simulated day of operations (simulated_day.py) on the system PostgreSQL: every step
exits 0 without an alert on clean data and equals the independent oracle, hourly runs test only
what they built, late and withdrawn rows land, no view keeps a pinned instant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import system_server, warehouse_factory
from notify_fixtures import make_notify_env, receivers
from simulated_day import Day, DayChecks, simulate_day

pytestmark = [pytest.mark.slow, pytest.mark.system_pg]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Day, dict[str, Any]]]:
    server = system_server()
    state = tmp_path_factory.mktemp("day_state")
    with warehouse_factory(server, tmp_path_factory) as make, receivers() as (http, smtp):
        simulated = Day(
            make("day"),
            make_notify_env(http, smtp, state),
            {"YTEMPIRE_OUTAGE_FILE": str(state / "outage.json")},
        )
        yield simulated, simulate_day(simulated)


class TestSystemDay(DayChecks):
    """The day's checks on the system server."""
