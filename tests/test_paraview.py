"""ParaView's own XDMF reader opens our output: time steps, array names, value ranges."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import SCRIPTS, bmf

FIELDS = ["M", "expression_time", "phi", "s", "u"]

MESHES = {
    "2d": ('kind = "box"\nh = 0.1', [0.5, 0.5]),
    "3d": ('kind = "box"\ndim = 3\nh = 0.25', [0.5, 0.5, 0.5]),
    "web": ('kind = "web"\nh = 0.05', [0.0, 0.0]),
}


def config(tmp_path: Path, name: str) -> Path:
    mesh, centre = MESHES[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f"[mesh]\n{mesh}\n[time]\ndt = 0.1\nt_end = 4.0\n[field]\nD = 0.01\n"
        f"[[input]]\ncentre = {centre}\nradius = 0.2\ncount = 3\nperiod = 1.0\n"
        f"[output]\nevery = 10\n"
    )
    return path


def paraview_sees(fields: Path) -> dict:
    pvpython = shutil.which("pvpython")
    assert pvpython, "pvpython (Debian's paraview) is part of the environment"
    result = subprocess.run(
        [pvpython, str(SCRIPTS / "paraview_probe.py"), str(fields)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def last_metrics(out: Path) -> dict:
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    return rows, rows[-1]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "ranks"), [("2d", 1), ("3d", 1), ("web", 1), ("2d", 2)])
def test_paraview_reads_the_series(tmp_path, name, ranks):
    out = tmp_path / name
    result = bmf("run", str(config(tmp_path, name)), "--out", str(out), "--quiet", n=ranks)
    assert result.returncode == 0, result.stderr
    seen = paraview_sees(out / "fields.xdmf")
    rows, last = last_metrics(out)
    assert len(seen["times"]) == len(rows)
    assert seen["times"][-1] == pytest.approx(float(last["t"]))
    assert seen["point_arrays"] == FIELDS
    assert "cell_tags" in seen["cell_arrays"]
    ranges = seen["ranges"]
    assert ranges["u"][1] == pytest.approx(
        float(last["u_max"]), rel=1e-6, abs=1e-12
    )  # ParaView reads float32
    assert ranges["phi"][1] == pytest.approx(
        float(last["phi_max"]), rel=1e-6, abs=1e-12
    )  # ParaView reads float32
    assert ranges["u"][1] > 0.0  # the input reached the field


PROBE = """
import json
from vtkmodules.vtkRenderingCore import vtkCoordinate
simple.SaveScreenshot({picture!r}, view, ImageResolution={size!r})
view.ViewSize = {size!r}
simple.Render(view)
coordinate = vtkCoordinate()
coordinate.SetCoordinateSystemToWorld()
bounds = reader.GetDataInformation().GetBounds()
heights = []
for x in bounds[0:2]:
    for y in bounds[2:4]:
        for z in bounds[4:6]:
            coordinate.SetValue(x, y, z)
            heights.append(coordinate.GetComputedDoubleViewportValue(view.GetRenderer())[1])
with open({report!r}, "w") as report:
    json.dump({{"lowest": min(heights) / {size!r}[1],
               "direction": list(view.GetActiveCamera().GetDirectionOfProjection()),
               "time": view.ViewTime, "last": reader.TimestepValues[-1]}}, report)
os._exit(0)  # the GUI would wait for its user
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("program", "name", "size"),
    [
        ("paraview", "2d", [800, 600]),
        ("paraview", "3d", [400, 300]),
        ("pvpython", "2d", [1600, 600]),
        ("pvbatch", "3d", [800, 600]),
    ],
)
def test_open_in_paraview_works_in_the_gui_pvpython_and_pvbatch(tmp_path, program, name, size):
    """The script, run unchanged by ParaView's GUI (which gives it no __file__ and used to
    stop with a NameError), pvpython and pvbatch, opens the series at its last time, with
    the data above the colour bar (the lower quarter of the view) at any window size and
    3D runs seen obliquely. Run in place with a screenshot and a probe appended."""
    out = tmp_path / "run"
    result = bmf("run", str(config(tmp_path, name)), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    picture, report = tmp_path / "view.png", tmp_path / "view.json"
    script = out / "probe_open_in_paraview.py"
    script.write_text(
        (out / "open_in_paraview.py").read_text()
        + PROBE.format(picture=str(picture), size=size, report=str(report))
    )
    command = [shutil.which(program), f"--script={script}" if program == "paraview" else script]
    result = subprocess.run(
        ["xvfb-run", "-a", *map(str, command)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert report.exists(), result.stderr
    seen = json.loads(report.read_text())
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 5000
    assert seen["time"] == pytest.approx(seen["last"]) and seen["last"] == pytest.approx(4.0)
    assert seen["lowest"] > 0.27, seen  # the bar takes the lower quarter
    direction = np.abs(seen["direction"])
    if name == "3d":
        assert np.all(direction > 0.2), seen  # oblique, not straight down on a face
    else:
        assert direction == pytest.approx([0.0, 0.0, 1.0])


def test_the_script_points_at_its_run_and_never_at_the_legacy_reader(tmp_path):
    """The GUI runs the script without __file__: it names the run directory it was
    written for. ParaView's legacy "XDMF Reader" crashes on dolfinx's files."""
    from bmf_fem.paraview_state import write_state_script

    path = write_state_script(tmp_path, [{"u_max": 2.0}], 2)
    text = path.read_text()
    assert f"here = {str(tmp_path.resolve())!r}" in text
    assert "Xdmf3ReaderS(" in text and "XDMFReader(" not in text
    assert "RescaleTransferFunction(0.0, 2.0)" in text
