"""SIGTERM and SIGINT during a run: stop dbt, record the run, keep what is pending, exit 3.

`interruptible()` (around a run) turns either signal into KeyboardInterrupt in the main thread,
which is what dbt's in-process runner handles: it cancels the queries its threads have open
(pg_cancel_backend) and waits for them, then returns. The run then raises `Interrupted`: no alert
is reconciled and nothing more is delivered (notifications already in the outbox stay pending for
the next run), the run is recorded `interrupted` with the signal, the advisory lock is released
with its connection, and the command exits 3. The wait is bounded: a second signal, or GRACE_S
seconds after the first, interrupts it too.
"""

from __future__ import annotations

import _thread
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from orchestrator.errors import YtempireError

HANDLED = (signal.SIGTERM, signal.SIGINT)
GRACE_S = 30.0  # after a signal, how long dbt may take to cancel its queries and stop
_received: list[int] = []
_depth: list[int] = [0]  # interruptible() nests (a playbook around its build)


class Interrupted(YtempireError):
    """The run was stopped by a signal."""

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(
            f"interrupted by {self.signal_name}: dbt was stopped, no alert was changed and "
            "pending notifications stay in the outbox for the next run."
        )


def _handler(signum: int, frame: FrameType | None) -> None:
    if not _received:  # bound the wait: interrupt it again if dbt has not let go by then
        watchdog = threading.Timer(GRACE_S, _thread.interrupt_main)
        watchdog.daemon = True
        watchdog.start()
    _received.append(signum)
    raise KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[None]:
    """Handle SIGTERM and SIGINT for the duration (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread() or _depth[0]:
        _depth[0] += 1
        try:
            yield
        finally:
            _depth[0] -= 1
        return
    _received.clear()
    previous = {signum: signal.signal(signum, _handler) for signum in HANDLED}
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def received() -> int | None:
    """The first signal received during the current run, if any."""
    return _received[0] if _received else None


def check() -> None:
    """Raise Interrupted if a signal arrived (dbt returns normally after one: call after it)."""
    if _received:
        raise Interrupted(_received[0])


def interrupted_by(exc: BaseException) -> Interrupted:
    """The Interrupted for a KeyboardInterrupt (SIGINT when no handler recorded a signal)."""
    if isinstance(exc, Interrupted):
        return exc
    return Interrupted(received() or signal.SIGINT)
