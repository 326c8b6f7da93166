"""Stopping a run cleanly: SIGTERM, SIGINT and SIGUSR1 end it at a step boundary.

A first signal sets a flag the run checks collectively after each step; it then writes a
checkpoint and raises RunInterruptedError (exit 128 + N, continue with ``--resume``). A
second signal stops at once (SecondSignal), except while a checkpoint is being written
(``StopSignals.deferred``, used by bmf_fem.checkpoint).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mpi4py import MPI


class SecondSignal(KeyboardInterrupt):
    """A second stop signal: the run stops at once, keeping its last complete checkpoint."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class RunInterruptedError(Exception):
    """A stop signal ended a run at a step boundary, after a final checkpoint."""

    def __init__(self, signum: int, step: int, t: float, checkpoint: Path):
        self.signum = signum
        self.step = step
        self.t = t
        self.checkpoint = checkpoint
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} at step {step} (t = {t:.6g}); checkpoint written to "
            f"{checkpoint}; continue with --resume"
        )

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopSignals:
    """SIGTERM, SIGINT and SIGUSR1 set a flag that runs check collectively at step ends.

    Open MPI's mpirun kills the ranks itself on SIGTERM/SIGINT but forwards SIGUSR1,
    so ``kill -USR1 <mpirun>`` is the graceful stop under it (docs/batch.md). A second
    signal while the first is pending raises SecondSignal at once, except while a
    checkpoint is written (``deferred``): then the checkpoint is completed first and
    the run stops at its step boundary as for the first signal.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)

    def __init__(self):
        self.received = 0
        self.deferring = 0
        self.previous: dict[int, Any] = {}

    def _handler(self, signum, frame) -> None:
        if self.received and not self.deferring:
            raise SecondSignal(signum)
        self.received = self.received or signum

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A second signal does not interrupt the block (a checkpoint being written)."""
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1

    def install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        for signum in self.SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handler)
        return True

    def uninstall(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous.clear()

    def requested(self, comm: MPI.Comm) -> int:
        """The signal any rank received (0: none); collective."""
        return comm.allreduce(self.received, op=MPI.MAX)


_active: StopSignals | None = None


@contextlib.contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Catch the stop signals for the duration (shared when nested: a sweep and its runs)."""
    global _active
    if _active is not None:
        yield _active
        return
    stop = StopSignals()
    stop.install()
    _active = stop
    try:
        yield stop
    finally:
        _active = None
        stop.uninstall()


def deferred() -> contextlib.AbstractContextManager:
    """While a checkpoint is written a second signal waits (when signals are caught)."""
    return _active.deferred() if _active is not None else contextlib.nullcontext()
