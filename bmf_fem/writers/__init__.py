"""The outputs of a run, registered here once: `Simulation.run` opens, writes,
checkpoints and closes every writer here that the run wants, in this order.

A writer is a module with a `bmf_fem.writers.base.RunWriter` subclass; add one by
writing the module and a line here (docs/python.md). summary.json, the mark of a
finished run, is written once by whoever finishes the run (the run, or bmf_fem.control
after its control and null runs).
"""

from __future__ import annotations

from bmf_fem.writers.base import RunWriter
from bmf_fem.writers.config_file import ConfigFile
from bmf_fem.writers.detection import DetectionRecords
from bmf_fem.writers.fields import Fields
from bmf_fem.writers.metrics import Metrics
from bmf_fem.writers.sites import SitesTable

WRITERS: tuple[type[RunWriter], ...] = (ConfigFile, Fields, Metrics, DetectionRecords, SitesTable)
"""Every output writer, in the order they are opened, written and closed."""

__all__ = ["WRITERS", "RunWriter"]
