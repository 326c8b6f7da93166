"""The resolution guard and ``bmf convergence``: what a mesh must resolve, and how to check."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT, bmf
from mpi4py import MPI

from bmf_fem.cli import main
from bmf_fem.config import config_from_dict, load_config
from bmf_fem.convergence import compare
from bmf_fem.demos import demo_path
from bmf_fem.linalg import min_cell_size
from bmf_fem.meshes import build_mesh
from bmf_fem.resolution import (
    CELLS_PER_FRONT,
    CELLS_PER_RADIUS,
    configured_cell_size,
    resolution_report,
    resolution_warnings,
    typical_cell_size,
)
from bmf_fem.simulation import Simulation

OLD_DEFAULT = ["mesh.h=0.03", "sites.D=0.0005"]  # the demo before it was resolved

SMALL = """
[mesh]
kind = "box"
dim = 1
h = 0.05
[time]
dt = 0.1
t_end = 6.0
[field]
D = 0.005
[memory]
tau = [10.0]
[sites]
rate = 4.0
D = 0.001
[[input]]
centre = [0.5]
radius = 0.1
amplitude = 1.0
start = 0.5
period = 1.0
count = 3
width = 0.2
[output]
every = 2
"""


def warnings_for(config) -> list[str]:
    return resolution_warnings(config, configured_cell_size(config))


def box(h: float = 0.01, degree: int = 1, **sections) -> object:
    """A 1D box run with the given sections (plain TOML data)."""
    return config_from_dict(
        {"mesh": {"kind": "box", "dim": 1, "h": h}, "space": {"degree": degree}, **sections}
    )


def recommended(warning: str, key: str) -> float:
    """The value a warning recommends for ``key`` (``key <= x`` or ``key >= x``)."""
    return float(re.search(re.escape(key) + r" [<>]= ([0-9.e-]+)", warning).group(1))


def test_the_old_default_demo_warns_about_its_site_fronts():
    config = load_config(demo_path(), overrides=OLD_DEFAULT)
    (warning,) = warnings_for(config)
    # fronts sqrt(0.0005/4) = 0.0112 wide are 0.37 cells of 0.03; 1.25 cells need
    # h <= 0.0112/1.25 = 0.00894, or sites.D >= 4 (1.25 * 0.03)^2 = 0.005625
    assert "sites.D = 0.0005" in warning and "(mesh.h = 0.03)" in warning
    assert "0.37 cells" in warning
    assert recommended(warning, "mesh.h") == 0.0089
    assert recommended(warning, "sites.D") == 0.0057


def test_the_default_demo_is_resolved_on_its_own_mesh():
    config = load_config(demo_path())
    assert warnings_for(config) == []
    mesh = build_mesh(config.mesh.kind, dict(config.mesh.params), MPI.COMM_WORLD).mesh
    report = resolution_report(config, typical_cell_size(mesh), measured=True)
    assert report["warnings"] == []
    cells = {scale["name"]: scale["cells"] for scale in report["scales"]}
    assert cells["site front"] == pytest.approx(0.0224 / 0.015, rel=0.03)
    assert cells["input 0"] == pytest.approx(0.12 / 0.015, rel=0.03)


@pytest.mark.parametrize("degree", [1, 2])
def test_fronts_warn_below_their_cells_and_the_recommended_values_silence_them(degree):
    spacing = 0.01 / degree
    exact = 4.0 * (CELLS_PER_FRONT * spacing) ** 2  # sites.D for fronts 1.25 cells wide
    assert CELLS_PER_FRONT == 1.25
    assert warnings_for(box(degree=degree, sites={"rate": 4.0, "D": exact * 1.01})) == []
    (warning,) = warnings_for(box(degree=degree, sites={"rate": 4.0, "D": exact * 0.5}))
    # the width scales as sqrt(D); values are rounded to two digits, towards safety
    h = recommended(warning, "mesh.h")
    assert 0.9 * 0.01 * 0.5**0.5 < h <= 0.01 * 0.5**0.5
    assert warnings_for(box(h, degree, sites={"rate": 4.0, "D": exact * 0.5})) == []
    wider = recommended(warning, "sites.D")
    assert exact <= wider < 1.1 * exact
    assert warnings_for(box(degree=degree, sites={"rate": 4.0, "D": wider})) == []


def test_gaussian_inputs_warn_below_three_cells():
    assert CELLS_PER_RADIUS == 3.0
    gaussian = {"centre": [0.5], "radius": 0.029}
    (warning,) = warnings_for(box(input=[gaussian], sites={"D": 0.0}))
    assert "input.0.radius = 0.029" in warning and "2.9 cells" in warning
    assert recommended(warning, "mesh.h") == 0.0096
    assert recommended(warning, "input.0.radius") == 0.03
    assert warnings_for(box(input=[{**gaussian, "radius": 0.03}], sites={"D": 0.0})) == []
    region = {"profile": "everywhere"}
    assert warnings_for(box(input=[region], sites={"D": 0.0})) == []


def test_diffusion_lengths_and_cell_sites_are_listed_but_never_warn():
    config = box(
        field={"D": 1e-8, "decay": 1.0},
        memory={"D": 1e-8, "tau": [10.0, 100.0]},
        sites={"mode": "cells", "D": 1e-8},
    )
    report = resolution_report(config, 0.01, measured=False)
    assert report["warnings"] == []
    names = [scale["name"] for scale in report["scales"]]
    assert names == ["field decay", "memory mode 0", "memory mode 1", "field step", "memory step"]
    assert report["scales"][0]["cells"] == pytest.approx(1e-4 / 0.01)
    assert all(scale["needed_cells"] is None for scale in report["scales"])


def test_the_typical_cell_is_the_bulk_not_the_refined_patches():
    interval = build_mesh("box", {"dim": 1, "h": 0.01}, MPI.COMM_WORLD).mesh
    assert typical_cell_size(interval) == pytest.approx(0.01, rel=1e-5)
    # crystal inclusions are meshed at h/3: the smallest cell hides the bulk at h
    crystal = build_mesh("crystal", {"h": 0.03, "inclusions": 2}, MPI.COMM_WORLD).mesh
    assert min_cell_size(crystal) < 0.03 / 3
    assert typical_cell_size(crystal) == pytest.approx(0.03, rel=0.03)


def load_benchmark():
    path = ROOT / "benchmarks" / "resolution.py"
    spec = importlib.util.spec_from_file_location("resolution_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("cells", "tilt", "low", "high"),
    [(2.0, 0.1, 0.5, 1.6), (1.0, 0.1, 3.0, 5.5), (0.4, 0.05, -101.0, -99.0)],
)
def test_front_speed_behind_the_threshold(cells, tilt, low, high):
    """benchmarks/resolution.py's 1D fronts: within 1.6 % at 2 cells, 3-5.5 % fast at
    1 cell, stuck at 0.4 cells under a weak tilt (the guard asks for 1.25 cells)."""
    speed, exact = load_benchmark().front_speed(tilt, 0.02 / cells, dim=1)
    assert low < 100.0 * (speed / exact - 1.0) < high


def read_times(path: Path) -> list[float]:
    with open(path) as handle:
        return [float(row["t"]) for row in csv.DictReader(handle)]


def test_convergence_table_matches_direct_runs(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    out = tmp_path / "study"
    assert main(["convergence", str(config), "--out", str(out)], MPI.COMM_WORLD) == 0
    printed = capsys.readouterr()
    assert "sites.D = 0.001" in printed.err  # the guard warns about the base run
    study = json.loads((out / "convergence.json").read_text())["results"]
    direct = {}
    for case, overrides in {
        "base": [],
        "half_h": ["mesh.h=0.025"],
        "half_dt": ["time.dt=0.05", "output.every=4"],
    }.items():
        simulation = Simulation(load_config(config, overrides=overrides), MPI.COMM_WORLD)
        try:
            direct[case] = simulation.run(tmp_path / case, progress=False)
        finally:
            simulation.close()
    changes = {}
    for name in ("peak_u_max", "peak_intensity", "peak_scope", "expressed_fraction"):
        if name == "expressed_fraction":
            values = {case: s["final_metrics"][name] for case, s in direct.items()}
        else:
            values = {case: s["results"][name] for case, s in direct.items()}
        for case in ("half_h", "half_dt"):
            change = 100.0 * (values[case] - values["base"]) / values["base"]
            assert study[name]["change_percent"][case] == pytest.approx(change, abs=1e-9), name
            changes[name, case] = change
    # the coarse front expresses 7 % less than at h/2 (flagged); halving dt moves nothing
    assert changes["expressed_fraction", "half_h"] > 3.0
    assert changes["expressed_fraction", "half_dt"] == 0.0
    row = next(line for line in printed.out.splitlines() if line.startswith("expressed_fraction"))
    assert f"{changes['expressed_fraction', 'half_h']:+.1f} %*" in row
    for case, what in (("half_h", "h halved"), ("half_dt", "dt halved")):
        flagged = [name for name, c in changes if c == case and abs(changes[name, c]) > 3]
        if flagged:
            assert f"{what}: {len(flagged)} result(s) moved by more than 3 %" in printed.out
        else:
            assert f"{what}: every result moved by less than 3 %" in printed.out
    # metrics.csv rows at the same times in both; no fields written
    times = read_times(out / "base" / "metrics.csv")
    assert read_times(out / "half_dt" / "metrics.csv") == pytest.approx(times, abs=1e-9)
    assert "fields = []" in (out / "half_dt" / "config.toml").read_text()


def test_changes_are_relative_and_times_move_in_output_intervals():
    def summary(expressed, peak, onset):
        return {
            "final_metrics": {"expressed_fraction": expressed},
            "results": {"peak_u_max": peak, "onset_delays": [onset, None]},
        }

    summaries = {
        "base": summary(0.2, 0.5, 5.6),
        "half_h": summary(0.25, 0.49, 5.8),  # +25 %, -2 %, one output interval
        "half_dt": summary(0.2, 0.5, 6.0),  # the onset two intervals later: +7.1 %
    }
    rows = {row.name: row for row in compare(summaries, interval=0.2)}
    assert list(rows) == ["expressed_fraction", "peak_u_max", "onset_delays[0]"]
    assert rows["expressed_fraction"].changes == pytest.approx((25.0, 0.0))
    assert rows["peak_u_max"].changes == pytest.approx((-2.0, 0.0))
    assert rows["onset_delays[0]"].changes == pytest.approx((100 * 0.2 / 5.6, 100 * 0.4 / 5.6))
    assert rows["expressed_fraction"].flagged(3.0) == (True, False)
    assert rows["peak_u_max"].flagged(3.0) == (False, False)
    assert rows["onset_delays[0]"].flagged(3.0) == (False, True)
    assert rows["peak_u_max"].flagged(1.5) == (True, False)


def test_convergence_refuses_a_mesh_file_without_running(tmp_path, capsys):
    (tmp_path / "part.msh").write_text("")
    config = tmp_path / "file.toml"
    config.write_text('[mesh]\nkind = "file"\nfile = "part.msh"\n')
    assert main(["convergence", str(config), "--out", str(tmp_path / "s")], MPI.COMM_WORLD) == 2
    error = capsys.readouterr().err
    assert 'mesh.kind = "file" has no mesh.h' in error and "Traceback" not in error
    assert not (tmp_path / "s").exists()
    assert main(["convergence", "--threshold", "0"], MPI.COMM_WORLD) == 2
    assert "--threshold 0 is not valid" in capsys.readouterr().err


def test_run_and_check_print_the_warnings_and_the_summary_keeps_them(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    assert main(["check", str(config)], MPI.COMM_WORLD) == 0
    checked = capsys.readouterr().err.splitlines()
    assert len(checked) == 2 and all("warning" in line for line in checked)
    out = tmp_path / "run"
    args = ["run", str(config), "--out", str(out), "--quiet", "--no-plots"]
    assert main(args, MPI.COMM_WORLD) == 0
    printed = capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["warnings"]) == 2
    assert all(warning in printed for warning in summary["warnings"])
    assert "sites.D" in summary["warnings"][0] and "input.0.radius" in summary["warnings"][1]
    assert summary["resolution"]["cell_size"] == pytest.approx(0.05, rel=1e-5)


@pytest.mark.mpi
def test_convergence_on_two_ranks_gives_the_serial_table(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text(SMALL + "[solver]\nrtol = 1e-10\n")
    studies = {}
    for n in (1, 2):
        out = tmp_path / f"study{n}"
        result = bmf("convergence", str(config), "--out", str(out), n=n)
        assert result.returncode == 0, result.stderr
        rows = [line for line in result.stdout.splitlines() if line.startswith("peak_u_max")]
        assert len(rows) == 1  # rank 0 prints
        studies[n] = json.loads((out / "convergence.json").read_text())["results"]
    for name, result in studies[1].items():
        for case, value in result["values"].items():
            if value is not None:
                assert studies[2][name]["values"][case] == pytest.approx(value, rel=1e-6), name


@pytest.mark.slow
def test_the_default_demo_moves_less_than_3_percent_under_refinement(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["convergence", "--out", str(out)], MPI.COMM_WORLD) == 0
    assert "warning" not in capsys.readouterr().err
    study = json.loads((out / "convergence.json").read_text())["results"]
    for name in ("expressed_fraction", "peak_u_max", "peak_scope"):
        for case in ("half_h", "half_dt"):
            assert abs(study[name]["change_percent"][case]) < 3.0, (name, case)
