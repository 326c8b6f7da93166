"""Output writers are registered modules with one lifecycle the run drives."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from model_setup import make
from test_divergence import runaway

from bmf_fem import simulation as simulation_module
from bmf_fem.writers import WRITERS, RunWriter

SMALL = {
    "mesh": {"kind": "box", "dim": 1, "size": 1.0, "h": 0.1},
    "time": {"dt": 0.1, "t_end": 1.0},
    "output": {"every": 3, "checkpoint_every": 4},
}


class Peaks(RunWriter):
    """peaks.csv: max u at every output time, a writer of the kind docs/python.md shows."""

    name = "peaks"
    files = ("peaks.csv",)
    calls: ClassVar[list[tuple]] = []

    def open(self, resuming: bool) -> None:
        self.calls.append(("open", resuming))
        self.rows = []

    def write(self) -> None:
        u = self.run.model.u.x.array
        peak = self.run.comm.allreduce(float(np.max(u)) if u.size else -np.inf, op=max)
        self.rows.append((self.run.stepper.t, peak))
        self.calls.append(("write", round(self.run.stepper.t, 9)))

    def checkpoint(self) -> None:
        self.calls.append(("checkpoint", round(self.run.stepper.t, 9)))

    def close(self, finished: bool) -> None:
        self.calls.append(("close", finished))
        if finished and self.run.comm.rank == 0:
            lines = [f"{t!r},{peak!r}" for t, peak in self.rows]
            (self.out / "peaks.csv").write_text("t,u_max\n" + "\n".join(lines) + "\n")


@pytest.fixture
def with_peaks(monkeypatch):
    Peaks.calls = []
    monkeypatch.setattr(simulation_module, "WRITERS", (*WRITERS, Peaks))
    return Peaks.calls


def test_a_registered_writer_is_driven_through_its_lifecycle(tmp_path, with_peaks):
    data = {**SMALL, "input": [{"profile": "everywhere", "width": 0.5}]}
    simulation = make(data)
    simulation.run(tmp_path / "run", progress=False)
    simulation.close()
    outputs = [0.0, 0.3, 0.6, 0.9, 1.0]  # t = 0, every 3 steps and the last step
    assert with_peaks == [
        ("open", False),
        *[("write", t) for t in outputs[:2]],
        ("checkpoint", 0.4),
        ("write", 0.6),
        ("checkpoint", 0.8),
        *[("write", t) for t in outputs[3:]],
        ("close", True),
    ]
    metrics = np.loadtxt(tmp_path / "run" / "metrics.csv", delimiter=",", skiprows=1, ndmin=2)
    peaks = np.loadtxt(tmp_path / "run" / "peaks.csv", delimiter=",", skiprows=1, ndmin=2)
    assert peaks[:, 0] == pytest.approx(metrics[:, 1])
    assert peaks[:, 1] == pytest.approx(metrics[:, 2], rel=1e-12)  # u_max
    assert peaks[0, 1] == 0.0 and peaks[-1, 1] > 0.1  # the input arrived


def test_a_failing_run_closes_its_writers_unfinished(tmp_path, with_peaks):
    simulation = make(runaway(time={"dt": 5.0}))  # u runs away within a few steps
    with pytest.raises(simulation_module.SimulationError):
        simulation.run(tmp_path / "run", progress=False)
    simulation.close()
    assert with_peaks[0] == ("open", False)
    assert with_peaks[-1] == ("close", False)
    assert not (tmp_path / "run" / "peaks.csv").exists()
    assert not (tmp_path / "run" / "summary.json").exists()


def test_every_registered_writer_names_its_files():
    names = [name for writer in WRITERS for name in writer.files]
    assert len(names) == len(set(names))
    assert {"config.toml", "metrics.csv", "fields.xdmf", "detection.h5", "sites.csv"} <= set(names)
