"""metrics.csv: one row of the run's metrics per output time."""

from __future__ import annotations

from bmf_fem.output import MetricsWriter
from bmf_fem.writers.base import RunWriter


class Metrics(RunWriter):
    name = "metrics"
    files = ("metrics.csv",)

    def open(self, resuming: bool) -> None:
        # A resumed run writes the rows up to its checkpoint again, then goes on.
        previous = self.run.history
        self.table = MetricsWriter(self.out / "metrics.csv", self.run.comm, previous=previous)
        self.table.__enter__()

    def write(self) -> None:
        self.table.write(self.run.history[-1])

    def close(self, finished: bool) -> None:
        self.table.__exit__(None, None, None)
