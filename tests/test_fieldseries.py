"""The field series (fields.xdmf, fields.h5, fields.d/): values at the right nodes and
cells, the same files on any rank count, and a series that survives kill -9 anywhere."""

from __future__ import annotations

import contextlib
import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import bmf, mpi_environment, run_script

from bmf_fem.results import read_series, read_values


def written(tmp_path_factory, n: int) -> Path:
    out = tmp_path_factory.mktemp(f"series{n}") / "run"
    assert run_script(n, "fieldseries_write.py", str(out)) == {"outputs": 4, "warning": None}
    return out


@pytest.fixture(scope="module")
def one_rank(tmp_path_factory) -> Path:
    return written(tmp_path_factory, 1)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    return written(tmp_path_factory, 2)


def check_known_functions(run: Path, times: list[float]) -> None:
    """The stored values against the formulas of tests/scripts/fieldseries_write.py."""
    series = read_series(run)
    x, y = series.points[:, 0], series.points[:, 1]
    centroid = series.points[series.cells].mean(axis=1)
    for name in ("a", "b", "c"):
        assert [t for t, _ in series.functions[name]] == times, name
    for (t, a), (_, b), (_, c) in zip(
        *(series.functions[name] for name in ("a", "b", "c")), strict=True
    ):
        np.testing.assert_allclose(read_values(run, a), (1 + t) * (x + 2 * y), atol=1e-12)
        np.testing.assert_allclose(
            read_values(run, b), t + centroid[:, 0] - centroid[:, 1], atol=1e-12
        )
        np.testing.assert_allclose(read_values(run, c), t * x * y, atol=1e-12)
    assert series.centers == {"a": "Node", "b": "Cell", "c": "Node"}
    np.testing.assert_array_equal(series.cell_tags, np.where(centroid[:, 0] < 0.5, 1, 2))


def test_values_sit_on_their_nodes_and_cells(one_rank):
    series = read_series(one_rank)
    assert series.points.shape == (42, 2) and series.cells.shape == (60, 3)
    # Every triangle is a real one of the 6 x 5 grid: positive area, cells of 1/60.
    p = series.points[series.cells]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    np.testing.assert_allclose(area, 1 / 60)
    check_known_functions(one_rank, [0.0, 1.0, 2.0, 3.0])
    with h5py.File(one_rank / "fields.h5") as h5:
        facets = h5["mesh/facet_tags/topology"][...]
        assert h5["mesh/facet_tags/values"][...].tolist() == [7] * 6
    np.testing.assert_allclose(series.points[facets][..., 1], 0.0)


def test_the_files_do_not_depend_on_the_rank_count(one_rank, two_ranks):
    check_known_functions(two_ranks, [0.0, 1.0, 2.0, 3.0])
    assert (one_rank / "fields.xdmf").read_text() == (two_ranks / "fields.xdmf").read_text()
    names = sorted(p.name for p in (one_rank / "fields.d").iterdir())
    assert names == sorted(p.name for p in (two_ranks / "fields.d").iterdir())
    for file in ["fields.h5", *(f"fields.d/{name}" for name in names)]:
        with h5py.File(one_rank / file) as first, h5py.File(two_ranks / file) as second:
            keys = []
            first.visit(keys.append)
            for key in keys:
                if not isinstance(first[key], h5py.Dataset):
                    continue
                if key.startswith("mesh"):  # the mesh: the same bits
                    np.testing.assert_array_equal(first[key][...], second[key][...], key)
                else:  # interpolated on other partitions: the same to rounding
                    np.testing.assert_allclose(first[key][...], second[key][...], atol=1e-15)


def test_paraview_reads_every_time_with_its_values(one_rank):
    vtk = pytest.importorskip("vtk")
    from vtk.util.numpy_support import vtk_to_numpy

    reader = vtk.vtkXdmf3Reader()
    reader.SetFileName(str(one_rank / "fields.xdmf"))
    reader.UpdateInformation()
    times = reader.GetOutputInformation(0).Get(vtk.vtkStreamingDemandDrivenPipeline.TIME_STEPS())
    assert list(times) == [0.0, 1.0, 2.0, 3.0]
    reader.UpdateTimeStep(2.0)
    grid = reader.GetOutputDataObject(0)
    points = vtk_to_numpy(grid.GetPoints().GetData())
    a = vtk_to_numpy(grid.GetPointData().GetArray("a"))
    np.testing.assert_allclose(a, 3 * (points[:, 0] + 2 * points[:, 1]), atol=1e-12)
    assert grid.GetCellData().GetArray("b") is not None
    assert grid.GetCellData().GetArray("cell_tags") is not None


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_resume_keeps_the_times_up_to_it_and_drops_the_rest(one_rank, tmp_path, ranks):
    run = tmp_path / "run"
    shutil.copytree(one_rank, run)
    # What a kill can leave: a temporary file and a complete file the index never got.
    (run / "fields.d" / ".000004.h5.tmp").write_bytes(b"\0" * 10)
    shutil.copy(run / "fields.d" / "000003.h5", run / "fields.d" / "000004.h5")
    result = run_script(ranks, "fieldseries_write.py", str(run), "2.0")
    assert result == {"outputs": 5, "warning": None}
    check_known_functions(run, [0.0, 1.0, 2.0, 4.0, 5.0])
    assert sorted(p.name for p in (run / "fields.d").iterdir()) == [
        f"00000{i}.h5" for i in range(5)
    ]


def test_an_index_cut_short_is_rebuilt_from_the_files(one_rank, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_rank, run)
    text = (run / "fields.xdmf").read_text()
    (run / "fields.xdmf").write_text(text[: len(text) // 2])
    assert run_script(1, "fieldseries_write.py", str(run), "3.0")["outputs"] == 6
    check_known_functions(run, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_a_different_mesh_keeps_the_old_series_aside(one_rank, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(one_rank, run)
    with h5py.File(run / "fields.h5", "a") as h5:
        h5["mesh/geometry"][0, 0] += 0.5
    result = run_script(1, "fieldseries_write.py", str(run), "2.0")
    assert "not the mesh of this run" in result["warning"]
    assert (run / "fields.h5.before-resume").exists()
    check_known_functions(run, [4.0, 5.0])


# -- kill -9 at random moments -----------------------------------------------------------

KILL_CONFIG = """
[mesh]
kind = "box"
dim = 2
h = 0.05
[time]
dt = 0.05
t_end = 15.0
[field]
D = 0.05
noise = 0.05
[memory]
tau = [5.0]
[sites]
noise = 0.02
[[input]]
centre = [0.5, 0.5]
radius = 0.2
start = 0.1
period = 1.0
count = 8
width = 0.3
[solver]
rtol = 1e-12
[output]
every = 1
checkpoint_every = 7
"""
KILL_STEPS = 300


def rows(run: Path) -> int:
    try:
        with open(run / "metrics.csv") as handle:
            return max(sum(1 for _ in handle) - 1, 0)
    except OSError:
        return 0


def assert_series_is_consistent(run: Path) -> None:
    """The index parses and every file it names exists and holds its time."""
    if not (run / "fields.xdmf").exists():
        return
    ET.parse(run / "fields.xdmf")
    series = read_series(run)
    for entries in series.functions.values():
        for t, reference in entries:
            name = reference.split(":")[0]
            with h5py.File(run / name) as h5:
                assert float(h5.attrs["t"]) == t, name
            assert read_values(run, reference).size > 0


def kill_at_random(command: list[str], run: Path, rng: random.Random, env=None) -> int:
    """Start ``command``, SIGKILL it at a random moment of stepping; its exit code."""
    target = rows(run) + rng.randint(1, 30)
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    deadline = time.monotonic() + 300
    while rows(run) < target and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(rng.uniform(0.0, 0.004))
    seen = rows(run)
    # The job and every process of its session at once (mpirun's ranks have process
    # groups of their own): a node failure, not a stop.
    for pid in session(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while session(process.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen > 0
    return process.returncode


def session(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


@pytest.mark.slow
def test_ten_random_kills_then_resumes_give_the_uninterrupted_series(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(KILL_CONFIG)
    reference = tmp_path / "reference"
    assert bmf("run", str(config), "--out", str(reference), "--quiet").returncode == 0
    run = tmp_path / "run"
    rng = random.Random(20261204)
    command = [sys.executable, "-m", "bmf_fem", "run", str(config), "--out", str(run), "--quiet"]
    two = ["mpirun", "-n", "2", *command]
    kills = 0
    for round_ in range(10):
        # Every third life runs on two ranks: resumes cross rank counts both ways.
        ranks_two = round_ % 3 == 2
        killed = kill_at_random(
            (two if ranks_two else command) + (["--resume"] if round_ else []),
            run,
            rng,
            env=mpi_environment() if ranks_two else None,
        )
        assert killed == -signal.SIGKILL, f"life {round_} ended by itself ({killed})"
        kills += 1
        assert_series_is_consistent(run)
        if (run / "summary.json").exists():
            break
    assert kills == 10, "the run finished before ten kills; make it longer"
    result = bmf("run", str(config), "--out", str(run), "--quiet", "--resume")
    assert result.returncode == 0, result.stderr
    expected, got = read_series(reference), read_series(run)
    times = [t for t, _ in expected.functions["u"]]
    assert len(times) == KILL_STEPS + 1
    assert set(got.functions) == set(expected.functions)
    for name, entries in got.functions.items():
        assert [t for t, _ in entries] == pytest.approx(times, abs=1e-12), name
        for (_, data), (_, data_ref) in zip(entries, expected.functions[name], strict=True):
            # Lives on two ranks solve to rtol 1e-12 on another partition; 300 steps of
            # that, through bistable sites that amplify small differences, stay within
            # 1e-8 (at rtol 1e-10 one value in 441 reached 1.04e-8).
            np.testing.assert_allclose(
                read_values(run, data), read_values(reference, data_ref), rtol=1e-8, atol=1e-8
            )
    with open(run / "metrics.csv") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == list(range(KILL_STEPS + 1))
    assert len(list((run / "fields.d").iterdir())) == KILL_STEPS + 1


KILL_INSIDE_WRITE = """
import os, signal, sys
from mpi4py import MPI
from bmf_fem import cli, fieldseries

where, after = sys.argv[1], int(sys.argv[2])
calls = {"replace": 0, "pwrite": 0}

def die_on(name, real):
    def call(*args, **kwargs):
        calls[name] += 1
        if name == where and calls[name] == after:
            if name == "pwrite":  # half of the index entry reaches the file
                real(args[0], args[1][: len(args[1]) // 2], args[2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return call

fieldseries.os.replace = die_on("replace", os.replace)
fieldseries.os.pwrite = die_on("pwrite", os.pwrite)
sys.exit(cli.main(sys.argv[3:], MPI.COMM_WORLD))
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["replace", "pwrite"])
def test_a_kill_inside_a_field_write_resumes_to_the_uninterrupted_series(tmp_path, where):
    """Killed before a per-time file is renamed into place, and with half an index
    entry written (a torn write): the resume still ends with the whole series."""
    config = tmp_path / "run.toml"
    config.write_text(KILL_CONFIG.replace("t_end = 15.0", "t_end = 2.0"))
    script = tmp_path / "killer.py"
    script.write_text(KILL_INSIDE_WRITE)
    run, reference = tmp_path / "run", tmp_path / "reference"
    args = ["run", str(config), "--quiet"]
    killed = subprocess.run(
        [sys.executable, str(script), where, "30", *args, "--out", str(run)],
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if where == "replace":
        assert_series_is_consistent(run)
    assert bmf(*args, "--out", str(run), "--resume").returncode == 0
    assert bmf(*args, "--out", str(reference)).returncode == 0
    expected, got = read_series(reference), read_series(run)
    assert [t for t, _ in got.functions["u"]] == [t for t, _ in expected.functions["u"]]
    for (_, data), (_, data_ref) in zip(got.functions["u"], expected.functions["u"], strict=True):
        np.testing.assert_allclose(read_values(run, data), read_values(reference, data_ref))
