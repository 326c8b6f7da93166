"""detection.h5: the detectors' indicators and trends over time (docs/detection.md)."""

from __future__ import annotations

from bmf_fem.writers.base import RunWriter


class DetectionRecords(RunWriter):
    name = "detection"
    files = ("detection.h5",)

    @classmethod
    def wanted(cls, run) -> bool:
        return run.detection is not None

    def open(self, resuming: bool) -> None:
        if resuming:
            self.run.detection.recorder.load(self.out, self.run.stepper.t)

    def checkpoint(self) -> None:
        self.run.detection.write_records(self.out)

    def close(self, finished: bool) -> None:
        if finished:
            self.run.detection.write_records(self.out)
