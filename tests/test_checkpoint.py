"""Checkpoints and --resume: killed, stopped and moved runs end as if never interrupted."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import bmf, mpi_environment, mpirun

from bmf_fem.results import read_series, read_values

# SBDF2 (histories), two memory modes, noise on u and s, pulses, a reset before the
# checkpoint at step 20 (its flag must survive) and a damage switched on before it and
# off after it (operators reassembled on resume). rtol 1e-10: "solver tolerance" across
# rank counts is then ~1e-12.
CONFIG = """
[mesh]
kind = "box"
dim = 2
h = 0.1
[time]
dt = 0.05
t_end = 2.0
scheme = "sbdf2"
[field]
D = 0.05
noise = 0.05
[memory]
tau = [5.0, 50.0]
weight = [0.5, 0.5]
[sites]
noise = 0.02
[[input]]
centre = [0.5, 0.5]
radius = 0.2
amplitude = 1.0
start = 0.1
period = 0.3
count = 4
width = 0.1
[[perturbation]]
kind = "reset"
centre = [0.5, 0.5]
radius = 0.25
start = 0.6
[[perturbation]]
kind = "damage"
box = [[0.0, 0.0], [0.5, 1.0]]
factor = 0.2
start = 0.5
stop = 1.5
[solver]
rtol = 1e-10
[output]
every = 4
checkpoint_every = 10
"""
STEPS = 40
KILL_AT = 27  # after the checkpoint at step 20 and the output at step 24

# Runs bmf and SIGKILLs itself (on every rank) right after step KILL_AT: a kill -9
# at a known point, after a checkpoint and with outputs written after it.
KILLER = """
import os, signal, sys
from mpi4py import MPI
from bmf_fem import cli
from bmf_fem.simulation import Simulation

kill_at = int(sys.argv[1])
step = Simulation.step

def step_then_die(self):
    step(self)
    if self.stepper.step_index == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

Simulation.step = step_then_die
sys.exit(cli.main(sys.argv[2:], MPI.COMM_WORLD))
"""


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "run.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def reference(config_file, tmp_path_factory) -> Path:
    """The uninterrupted run on one rank."""
    out = tmp_path_factory.mktemp("reference") / "run"
    result = bmf("run", str(config_file), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    return out


def killed_run(config_file: Path, out: Path, n: int = 1) -> subprocess.CompletedProcess:
    script = out.parent / "killer.py"
    script.write_text(KILLER)
    args = [str(script), str(KILL_AT), "run", str(config_file), "--out", str(out), "--quiet"]
    if n > 1:
        return mpirun(n, sys.executable, *args, check=False)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)


def read_metrics(path: Path) -> list[dict]:
    with open(path / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def series(path: Path) -> dict[str, list[tuple[float, str]]]:
    """Per function in fields.xdmf: (time, data reference) in file order."""
    return read_series(path).functions


def paraview_view(path: Path) -> dict[float, np.ndarray]:
    """u at every time as VTK's XDMF3 reader (ParaView's) sees it, rows sorted by node."""
    vtk = pytest.importorskip("vtk")
    from vtk.util.numpy_support import vtk_to_numpy

    reader = vtk.vtkXdmf3Reader()
    reader.SetFileName(str(path / "fields.xdmf"))
    reader.UpdateInformation()
    times = reader.GetOutputInformation(0).Get(vtk.vtkStreamingDemandDrivenPipeline.TIME_STEPS())
    seen = {}
    for t in times:
        reader.UpdateTimeStep(t)
        output = reader.GetOutputDataObject(0)
        if output.IsA("vtkMultiBlockDataSet"):
            blocks = [output.GetBlock(i) for i in range(output.GetNumberOfBlocks())]
        else:
            blocks = [output]
        for block in blocks:
            if block is not None and block.GetPointData().GetArray("u") is not None:
                points = vtk_to_numpy(block.GetPoints().GetData())
                u = vtk_to_numpy(block.GetPointData().GetArray("u"))
                order = np.lexsort(points.T[::-1])
                seen[round(t, 9)] = np.column_stack([points, u])[order]
    return seen


def assert_same_run(reference: Path, resumed: Path, rel: float, absolute: float) -> None:
    """Metrics rows, every output time of every field, and the final summary agree."""
    expected, got = read_metrics(reference), read_metrics(resumed)
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    compared = [c for c in expected[0] if c != "wall_s" and not c.startswith("ksp_its")]
    for one, two in zip(expected, got, strict=True):
        for column in compared:
            assert float(two[column]) == pytest.approx(float(one[column]), rel=rel, abs=absolute), (
                column,
                one["step"],
            )
    times = [float(r["t"]) for r in expected]
    reference_series, resumed_series = series(reference), series(resumed)
    assert set(resumed_series) == set(reference_series) == {"u", "M", "phi", "s", "expression_time"}
    for name, entries in resumed_series.items():
        # Every output time exactly once, in order, each with its data.
        assert [t for t, _ in entries] == pytest.approx(times, abs=1e-12), name
        for (_, data), (_, data_ref) in zip(entries, reference_series[name], strict=True):
            got, expected = read_values(resumed, data), read_values(reference, data_ref)
            np.testing.assert_allclose(got, expected, rtol=rel, atol=absolute)
    # Only files the index points to are left in fields.d.
    pointed = {data.split(":")[0] for entries in resumed_series.values() for _, data in entries}
    assert {f"fields.d/{p.name}" for p in (resumed / "fields.d").iterdir()} == pointed
    summary = json.loads((resumed / "summary.json").read_text())
    summary_ref = json.loads((reference / "summary.json").read_text())
    assert summary["timings"]["steps"] == STEPS
    assert summary["config_hash"] == summary_ref["config_hash"]
    assert summary["resumed_from"]


def test_kill_9_after_a_checkpoint_then_resume_equals_the_uninterrupted_run(
    config_file, reference, tmp_path
):
    out = tmp_path / "run"
    killed = killed_run(config_file, out)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    checkpoints = out / "checkpoint"
    assert sorted(p.name for p in checkpoints.iterdir())[0] == "mesh.bp"
    assert sorted(p.name for p in checkpoints.iterdir())[-1] == "step-000000020"
    assert len(list(checkpoints.glob("step-*"))) <= 2
    assert not (out / "summary.json").exists()
    # The kill left rows and fields written after the checkpoint, and a readable h5.
    assert read_metrics(out)[-1]["step"] == "24"
    assert [t for t, _ in series(out)["u"]] == pytest.approx([0.2 * k for k in range(7)])
    # A checkpoint killed while being written is ignored.
    (checkpoints / "step-000000990.partial").mkdir()
    (checkpoints / "step-000000990.partial" / "state.json").write_text("{")

    other = bmf("run", str(config_file), "--out", str(out), "--resume", "--set", "field.D=0.1")
    assert other.returncode == 2
    assert "field.D (was 0.05, now 0.1)" in other.stderr and "Traceback" not in other.stderr
    assert read_metrics(out)[-1]["step"] == "24"
    plain = bmf("run", str(config_file), "--out", str(out))
    assert plain.returncode == 2 and "--resume" in plain.stderr

    resumed = bmf("run", str(config_file), "--out", str(out), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "from step 20" in resumed.stdout
    assert_same_run(reference, out, rel=0.0, absolute=1e-12)
    assert json.loads((out / "summary.json").read_text())["resumed_from"] == [20]

    finished = bmf("run", str(config_file), "--out", str(out), "--resume")
    assert finished.returncode == 0 and "nothing to resume" in finished.stdout
    both = bmf("run", str(config_file), "--out", str(out), "--resume", "--force")
    assert both.returncode == 2


@pytest.mark.mpi
@pytest.mark.slow
def test_a_run_killed_on_two_ranks_resumes_on_one(config_file, reference, tmp_path):
    out = tmp_path / "run"
    killed = killed_run(config_file, out, n=2)
    assert killed.returncode != 0
    state = json.loads((out / "checkpoint" / "step-000000020" / "state.json").read_text())
    assert state["mpi_size"] == 2
    resumed = bmf("run", str(config_file), "--out", str(out), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    # The fields written by two ranks were put into the one-rank node order, so they
    # compare value by value with the one-rank reference.
    assert_same_run(reference, out, rel=1e-8, absolute=1e-10)
    # ParaView's reader sees every time once, each with values on the right nodes.
    expected, seen = paraview_view(reference), paraview_view(out)
    assert sorted(seen) == sorted(expected) and len(seen) == STEPS // 4 + 1
    for t, table in expected.items():
        np.testing.assert_allclose(seen[t], table, rtol=1e-6, atol=1e-7)


def wait_for_step(out: Path, step: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            rows = read_metrics(out)
        except (OSError, KeyError):
            rows = []
        if rows and rows[-1].get("step", "").isdigit() and int(rows[-1]["step"]) >= step:
            return
        time.sleep(0.01)
    raise AssertionError("the run did not get going")


def test_sigterm_writes_a_checkpoint_the_run_resumes_from(config_file, reference, tmp_path):
    out = tmp_path / "run"
    # No scheduled checkpoints; 10x longer so the signal lands mid-run.
    args = ["--out", str(out), "--quiet", "--set", "output.checkpoint_every=0"]
    args += ["--set", "time.t_end=20"]
    command = [sys.executable, "-m", "bmf_fem", "run", str(config_file), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(out, 8, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM at step" in stderr and "--resume" in stderr
    checkpoint = max((out / "checkpoint").glob("step-*"))
    stopped_at = int(checkpoint.name.split("-")[1])
    assert 8 <= stopped_at < 400
    assert not (out / "summary.json").exists()

    resumed = bmf("run", str(config_file), *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"from step {stopped_at}" in resumed.stdout
    rows = read_metrics(out)
    assert [int(r["step"]) for r in rows] == list(range(0, 401, 4))
    # The first 2 time units are the reference run's, to round-off.
    for one, two in zip(read_metrics(reference), rows, strict=False):
        for column in ("u_max", "M_integral", "phi_max", "s_mean", "expressed_fraction"):
            assert float(two[column]) == pytest.approx(float(one[column]), abs=1e-12)


@pytest.mark.mpi
@pytest.mark.slow
def test_sigusr1_stops_mpirun_gracefully_and_the_run_resumes(config_file, tmp_path):
    out = tmp_path / "run"
    env = mpi_environment()
    args = ["--out", str(out), "--quiet", "--set", "time.t_end=4"]
    command = ["mpirun", "-n", "2", sys.executable, "-m", "bmf_fem", "run"]
    process = subprocess.Popen(
        [*command, str(config_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    wait_for_step(out, 8, process)
    process.send_signal(signal.SIGUSR1)  # mpirun forwards it to every rank
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGUSR1, stderr
    assert "stopped by SIGUSR1" in stderr
    resumed = bmf("run", str(config_file), *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [int(r["step"]) for r in read_metrics(out)] == list(range(0, 81, 4))


CELLS_CONFIG = """
[mesh]
kind = "tissue"
h = 0.08
cells = 12
[time]
dt = 0.05
t_end = 2.0
[field]
D = 0.05
[sites]
mode = "cells"
regions = "cell_*"
noise = 0.05
rate = 4.0
D = 0.1
[[input]]
centre = [-0.3, 0.0]
radius = 0.3
amplitude = 0.5
start = 0.1
period = 0.2
count = 8
width = 0.1
[[perturbation]]
kind = "reset"
fields = ["s"]
centre = [0.3, 0.0]
radius = 0.4
start = 0.6
[detect]
detectors = ["all"]
window = 0.5
bandwidth = 0.2
trend_window = 0.5
tau_threshold = 0.3
sustain = 0.1
[output]
every = 4
checkpoint_every = 10
"""


def test_cells_sites_and_detectors_resume_exactly(tmp_path):
    """Site values, expression record, episodes, every detector buffer and the recorded
    indicators survive a kill -9."""
    config = tmp_path / "cells.toml"
    config.write_text(CELLS_CONFIG)
    reference_out = tmp_path / "reference"
    result = bmf("run", str(config), "--out", str(reference_out), "--quiet")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "run"
    out.mkdir()
    killed = killed_run(config, out)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = bmf("run", str(config), "--out", str(out), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "warning" not in resumed.stderr
    expected = (reference_out / "sites.csv").read_text()
    assert (out / "sites.csv").read_text() == expected
    assert any(row.split(",")[2] for row in expected.splitlines()[1:])  # something expressed
    summary = json.loads((out / "summary.json").read_text())
    summary_ref = json.loads((reference_out / "summary.json").read_text())
    assert summary["detection"] == summary_ref["detection"]
    assert summary["detection"]["episodes"] == 2
    import h5py

    with h5py.File(out / "detection.h5") as got, h5py.File(reference_out / "detection.h5") as ref:
        names: list[str] = []
        ref.visit(lambda name: names.append(name) if isinstance(ref[name], h5py.Dataset) else None)
        assert {"statistical/tau", "spatial/moran", "neighbour/rise"} <= set(names)
        for name in names:
            np.testing.assert_array_equal(got[name][:], ref[name][:], err_msg=name)
    assert (
        summary_ref["detection"]["statistical"]["false_alarms"]
        + summary_ref["detection"]["statistical"]["hits"]
        + summary_ref["detection"]["statistical"]["late"]
        > 0
    )


def test_resume_without_the_config_uses_the_stored_one_with_its_overrides(config_file, tmp_path):
    out = tmp_path / "run"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    args = ["run", str(config_file), "--out", str(out), "--quiet", "--set", "field.D=0.06"]
    killed = subprocess.run(
        [sys.executable, str(script), str(KILL_AT), *args], capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    result = bmf("run", "--resume", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout and "from step 20" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["field"]["D"] == 0.06
    assert summary["timings"]["steps"] == STEPS and summary["resumed_from"]
