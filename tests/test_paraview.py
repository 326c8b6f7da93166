"""ParaView's own XDMF reader opens our output: time steps, array names, value ranges."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

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


@pytest.mark.slow
def test_open_in_paraview_script_renders_the_run(tmp_path):
    out = tmp_path / "run"
    result = bmf("run", str(config(tmp_path, "2d")), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    script = out / "open_in_paraview.py"
    picture = tmp_path / "paraview.png"
    shot = tmp_path / "shot.py"
    shot.write_text(
        script.read_text().replace(
            "here = os.path.dirname(os.path.abspath(__file__))", f"here = {str(out)!r}"
        )
        + f"\nsimple.SaveScreenshot({str(picture)!r}, view, ImageResolution=[800, 600])\n"
    )
    result = subprocess.run(
        ["xvfb-run", "-a", shutil.which("pvbatch"), str(shot)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10000
