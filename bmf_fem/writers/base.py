"""What a run's output writer is: one file (or set of files) in the run directory, with
one lifecycle that `bmf_fem.simulation.Simulation.run` drives for every writer alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class RunWriter:
    """One output of a run, driven through its life by the run.

    ``open`` before the first step (``resuming``: continue the files of a checkpoint),
    ``write`` at every output time (after the run has appended its metric row),
    ``checkpoint`` when a checkpoint is written (the files must then match it), and
    ``close`` at the end (``finished``: the run reached t_end). All are collective.
    """

    name: ClassVar[str]
    files: ClassVar[tuple[str, ...]]  # what it owns in the run directory

    def __init__(self, run: Any, out: Path) -> None:
        self.run = run
        self.out = out

    @classmethod
    def wanted(cls, run: Any) -> bool:
        """Whether this run has anything to write here."""
        return True

    def open(self, resuming: bool) -> None:
        """Create (or, resuming, continue) the files."""

    def write(self) -> None:
        """Add the current output time."""

    def checkpoint(self) -> None:
        """Bring the files up to the state a checkpoint is being written at."""

    def close(self, finished: bool) -> None:
        """Finish the files (and release what they hold open)."""
