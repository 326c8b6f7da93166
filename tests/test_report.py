"""bmf report: pictures of a finished run (2D, a web, cells mode) and a short summary."""

from __future__ import annotations

import pytest
from conftest import bmf

from bmf_fem.demos import demo_path

RUN = """
[mesh]
{mesh}
[time]
dt = 0.1
t_end = 3.0
[[input]]
centre = {centre}
radius = 0.2
count = 3
amplitude = 3.0
[output]
every = 5
"""


@pytest.mark.parametrize(
    ("mesh", "centre", "pictures"),
    [
        ('kind = "box"\nh = 0.1', [0.5, 0.5], {"timeseries", "mesh", "fields", "expression_time"}),
        ('kind = "web"\nh = 0.05', [0.0, 0.0], {"timeseries", "mesh", "fields", "expression_time"}),
        (
            'kind = "box"\ndim = 3\nh = 0.25',
            [0.5, 0.5, 0.5],
            {"timeseries", "fields_3d", "fields_3d_inside", "expression_time_3d"},
        ),
    ],
)
def test_run_draws_its_pictures_and_report_redraws_them(tmp_path, mesh, centre, pictures):
    config = tmp_path / "run.toml"
    config.write_text(RUN.format(mesh=mesh, centre=centre))
    out = tmp_path / "out"
    result = bmf("run", str(config), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    # The coarse meshes keep these runs fast; the resolution guard says so (tested in
    # test_resolution.py). No other warning: drawing must not complain.
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert all("inputs need 3 cells" in line for line in warnings), result.stderr
    drawn = {path.stem for path in (out / "plots").glob("*.png")}
    assert drawn == pictures
    for path in (out / "plots").glob("*.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    for path in (out / "plots").glob("*.png"):
        path.unlink()
    report = bmf("report", str(out))
    assert report.returncode == 0, report.stderr
    assert "expressed fraction (end)" in report.stdout
    assert {path.stem for path in (out / "plots").glob("*.png")} == pictures


def test_cells_mode_adds_the_site_raster_and_no_plots_skips_pictures(tmp_path):
    out = tmp_path / "cells"
    args = [
        "--set",
        "detect.calibration_runs=0",
        "--set",
        "detect.control=false",
        "--set",
        "time.t_end=20",
        "--set",
        'detect.detectors=["field"]',
    ]
    result = bmf("run", str(demo_path("epithelium")), "--out", str(out), "--quiet", *args)
    assert result.returncode == 0, result.stderr
    assert (out / "plots" / "sites.png").stat().st_size > 5000
    bare = tmp_path / "bare"
    result = bmf(
        "run", str(demo_path("epithelium")), "--out", str(bare), "--quiet", "--no-plots", *args
    )
    assert result.returncode == 0 and not (bare / "plots").exists()


def test_report_of_a_directory_without_a_run_is_an_error(tmp_path):
    result = bmf("report", str(tmp_path))
    assert result.returncode == 2 and "summary.json" in result.stderr
