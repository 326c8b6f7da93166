"""The tissue_wave and prism_3d demos: their numbers, 1 against 2 ranks, 3D pictures."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from conftest import bmf


def is_picture(path) -> bool:
    """A non-empty PNG that is not one flat colour."""
    import matplotlib.image

    if not path.exists() or path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    return float(np.var(matplotlib.image.imread(path)[..., :3])) > 1e-3


@pytest.mark.slow
def test_tissue_wave_warns_ahead_of_a_front_of_the_expected_speed(tmp_path):
    out = tmp_path / "tissue_wave"
    result = bmf("demo", "tissue_wave", "--quick", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    numbers = json.loads((out / "demo.json").read_text())["numbers"]
    detection, wave = numbers["detection"], numbers["wave"]
    field = detection["field"]
    print(result.stdout)
    # The front crosses the whole tissue and the field detector warns every cell first.
    assert field["expressed"] == field["sites"] == numbers["sites"]
    assert field["hits"] == field["expressed"]
    assert field["lead_q1"] > 0 and field["lead_median"] > 0
    # Expression times grow linearly with distance. The planar front of
    # u_t = D u_xx - u + 6 u^2 (1 - u) moves at sqrt(6 D / 2) (b - 2 a), a and b the
    # roots of 6 u (1 - u) = 1; an expanding front is slower by its curvature, D / radius.
    a, b = (1 - math.sqrt(1 / 3)) / 2, (1 + math.sqrt(1 / 3)) / 2
    planar = math.sqrt(6 * 0.004 / 2) * (b - 2 * a)
    assert 0.7 * planar < wave["speed"] < planar
    assert wave["r2"] > 0.9 and wave["fitted_sites"] == field["expressed"]
    # The control has no input: u stays 0, so the field detector never alarms there; the
    # statistical one alarms at about its calibration quantile (2 %).
    control = detection["control"]
    assert control["field"]["false_alarms"] == 0
    assert control["statistical"]["sites"] == field["sites"]
    assert control["statistical"]["false_alarms"] <= 0.15 * field["sites"]
    # From s alone (the observable detectors: the neighbour rule sees the front coming)
    # most cells are warned ahead too.
    observable = detection["observable"]
    assert observable["hits"] >= 0.8 * observable["expressed"]
    assert observable["lead_median"] > 0
    assert control["observable"]["false_alarms"] <= 0.15 * field["sites"]
    # sites.csv holds the lead times the summary's quartiles come from.
    with open(out / "sites.csv") as handle:
        leads = [float(row["lead_time_field"]) for row in csv.DictReader(handle)]
    assert np.median(leads) == pytest.approx(field["lead_median"])
    for name in ("wave_lead", "sites", "fields", "expression_time", "timeseries"):
        assert is_picture(out / "plots" / f"{name}.png"), name


@pytest.mark.slow
@pytest.mark.mpi
def test_prism_3d_on_two_ranks_matches_one_rank_and_draws_the_inside(tmp_path):
    from mpi4py import MPI

    from bmf_fem.demos import prism_3d
    from bmf_fem.demos.common import configure
    from bmf_fem.simulation import Simulation

    out = tmp_path / "prism"
    result = bmf("demo", "prism_3d", "--quick", "--out", str(out), n=2)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((out / "demo.json").read_text())
    assert record["mpi_size"] == 2 and record["numbers"]["ranks"] == 2
    parallel = record["numbers"]

    simulation = Simulation(configure(prism_3d.BASE, **prism_3d.QUICK), MPI.COMM_WORLD)
    simulation.run(tmp_path / "serial", force=True, progress=False)
    simulation.close()
    history = simulation.history
    serial = {
        "peak_phi": max(row["phi_max"] for row in history),
        "peak_scope": max(row["scope"] for row in history),
        "final_M_integral": history[-1]["M_integral"],
        "final_expressed_fraction": history[-1]["expressed_fraction"],
    }
    assert serial["final_expressed_fraction"] > 0.01  # something expressed to compare
    for key, value in serial.items():
        assert parallel[key] == pytest.approx(value, rel=1e-6), key

    for name in ("fields_3d", "fields_3d_inside", "expression_time_3d", "axis_profiles"):
        assert is_picture(out / "plots" / f"{name}.png"), name
    assert "warning" not in result.stderr


def test_3d_pictures_fall_back_to_sections_without_pyvista(tmp_path, monkeypatch):
    from bmf_fem import render3d
    from bmf_fem.report import write_report

    config = tmp_path / "box.toml"
    config.write_text(
        '[mesh]\nkind = "box"\ndim = 3\nh = 0.25\n[time]\ndt = 0.1\nt_end = 2.0\n'
        "[[input]]\ncentre = [0.5, 0.5, 0.5]\nradius = 0.3\namplitude = 3.0\n"
    )
    out = tmp_path / "box"
    result = bmf("run", str(config), "--out", str(out), "--quiet", "--no-plots")
    assert result.returncode == 0, result.stderr

    def unavailable() -> None:
        raise render3d.RenderUnavailableError("no display in this test")

    monkeypatch.setattr(render3d, "ensure_display", unavailable)
    with pytest.warns(UserWarning, match="drawing sections instead"):
        written = write_report(out)
    names = {path.stem for path in written}
    assert {"fields_3d", "fields_3d_inside", "expression_time_3d"} <= names
    for path in written:
        assert is_picture(path), path.name
