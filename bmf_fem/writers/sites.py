"""sites.csv: every site of a cells-mode run, its expression and its warnings."""

from __future__ import annotations

from bmf_fem.output import write_csv
from bmf_fem.writers.base import RunWriter


class SitesTable(RunWriter):
    name = "sites"
    files = ("sites.csv",)

    @classmethod
    def wanted(cls, run) -> bool:
        return run.sites.mode == "cells"

    def close(self, finished: bool) -> None:
        if finished:
            detection = self.run.detection
            rows = detection.site_rows() if detection else self.run.sites.table()
            write_csv(self.out / "sites.csv", rows, self.run.comm)
