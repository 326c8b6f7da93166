"""fields.xdmf (with fields.h5 and fields.d/): the chosen fields at every output time."""

from __future__ import annotations

import sys
import time

from bmf_fem.fieldseries import SERIES_FILES, FieldWriter
from bmf_fem.parallel import print0
from bmf_fem.writers.base import RunWriter


class Fields(RunWriter):
    name = "fields"
    files = SERIES_FILES

    def open(self, resuming: bool) -> None:
        run = self.run
        self.series = FieldWriter(
            self.out / "fields.xdmf",
            run.mesh_data,
            run.output_functions(),
            resume_time=run.stepper.t if resuming else None,
            comm=run.comm,
            compression=run.config.output.compression,
        ).__enter__()
        if self.series.warning:
            print0(run.comm, f"bmf run: warning: {self.series.warning}", file=sys.stderr)

    def write(self) -> None:
        started = time.perf_counter()
        self.series.write(self.run.stepper.t)
        self.run.output_seconds += time.perf_counter() - started

    def close(self, finished: bool) -> None:
        self.series.__exit__(None, None, None)
