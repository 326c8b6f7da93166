"""The command line: runs, outputs, refusals and errors that say what to fix."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import bmf

from bmf_fem.output import METRIC_COLUMNS
from bmf_fem.results import read_series, read_values

SMALL = """
[mesh]
kind = "box"
dim = 2
h = 0.1
[time]
dt = 0.1
t_end = 1.0
[field]
noise = 0.05
[sites]
noise = 0.02
[[input]]
centre = [0.5, 0.5]
radius = 0.2
amplitude = 1.0
start = 0.1
period = 0.3
count = 2
width = 0.1
[output]
every = 2
"""


def write_config(directory: Path, text: str, name: str = "run.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def read_metrics(path: Path) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_run_writes_every_output(tmp_path):
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    result = bmf("run", str(config), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    rows = read_metrics(out / "metrics.csv")
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert [int(r["step"]) for r in rows] == [0, 2, 4, 6, 8, 10]
    assert float(rows[-1]["t"]) == pytest.approx(1.0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mpi_size"] == 1
    assert summary["bmf_fem"]["dolfinx"].startswith("0.9")
    assert summary["config"]["time"]["dt"] == 0.1
    assert (out / "config.toml").read_text().count("[[input]]") == 1
    series = read_series(out)
    assert set(series.functions) == {"u", "M", "phi", "s", "expression_time"}
    assert [t for t, _ in series.functions["u"]] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    # The inputs deposited something: u rose, its integral matches the metrics.
    assert float(rows[2]["u_max"]) > 0.3


def test_existing_run_directory_is_refused_unless_forced(tmp_path):
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    assert bmf("run", str(config), "--out", str(out), "--quiet").returncode == 0
    before = (out / "metrics.csv").read_text()
    again = bmf("run", str(config), "--out", str(out), "--quiet")
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert (out / "metrics.csv").read_text() == before
    forced = bmf(
        "run", str(config), "--out", str(out), "--quiet", "--force", "--set", "time.t_end=0.5"
    )
    assert forced.returncode == 0, forced.stderr
    assert len(read_metrics(out / "metrics.csv")) == 4


BROKEN = [
    ("[time]\ndtt = 0.1\n", "time.dtt"),
    ("[field]\nD = -1.0\n", "field.D"),
    ("[time]\ndt = 0\n", "time.dt"),
    ('[mesh]\nkind = "box"\n[[input]]\nprofile = "region"\nregion = "nucleus"\n', "nucleus"),
    ('[field]\nreaction = "u + * 2"\n', "field.reaction"),
    ("[field]\nreaction = \"__import__('os').system('true')\"\n", "field.reaction"),
    ("[time\n", "line 1"),
]


@pytest.mark.parametrize(("text", "message"), BROKEN)
def test_broken_configs_exit_2_and_write_nothing(tmp_path, text, message):
    config = write_config(tmp_path, text)
    out = tmp_path / "out"
    result = bmf("run", str(config), "--out", str(out), "--quiet")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_check_validates_without_running(tmp_path):
    good = bmf("check", str(write_config(tmp_path, SMALL)))
    assert good.returncode == 0 and "valid" in good.stdout
    bad = bmf("check", str(write_config(tmp_path, "[sites]\nmode = 'cell'\n", "bad.toml")))
    assert bad.returncode == 2 and "sites.mode" in bad.stderr


@pytest.mark.mpi
def test_one_and_two_ranks_give_the_same_metrics_with_noise(tmp_path):
    config = write_config(tmp_path, SMALL + "\n[solver]\nrtol = 1e-10\n")
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        result = bmf("run", str(config), "--out", str(out), "--quiet", n=n)
        assert result.returncode == 0, result.stderr
        runs[n] = read_metrics(out / "metrics.csv")
    assert len(runs[1]) == len(runs[2])
    for one, two in zip(runs[1], runs[2], strict=True):
        for column in ("u_max", "u_integral", "M_integral", "phi_max", "s_mean"):
            a, b = float(one[column]), float(two[column])
            assert b == pytest.approx(a, rel=1e-6, abs=1e-12), (column, one["step"])
    # Noise really acted: s moved off its initial value -1 by more than round-off.
    assert abs(float(runs[1][-1]["s_mean"]) + 1.0) > 1e-4
    assert np.isfinite(float(runs[2][-1]["u_max"]))


def test_divergence_stops_with_the_field_step_and_time_and_keeps_the_output(tmp_path):
    runaway = SMALL.replace("[field]\n", '[field]\nreaction = "5*u**3"\ninitial = "1"\n')
    config = write_config(tmp_path, runaway)
    out = tmp_path / "out"
    result = bmf("run", str(config), "--out", str(out), "--quiet", "--set", "time.t_end=5")
    assert result.returncode == 1, result.stderr
    # The cause named (the reaction drives u away; the feedback alone would not at u = 1
    # only), with the step and time.
    assert re.search(
        r'u ran away at t = [0-9.]+: field\.reaction = "5\*u\*\*3" with the memory-feedback'
        r".* \(before step \d+ \(t = [0-9.]+\)\)",
        result.stderr,
    ), result.stderr
    assert "Traceback" not in result.stderr
    rows = read_metrics(out / "metrics.csv")
    assert rows and float(rows[0]["u_max"]) == pytest.approx(1.0)
    assert (out / "fields.xdmf").read_text().rstrip().endswith("</Xdmf>")


def test_degree_2_fields_are_written_at_the_mesh_nodes(tmp_path):
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    result = bmf("run", str(config), "--out", str(out), "--quiet", "--set", "space.degree=2")
    assert result.returncode == 0, result.stderr
    series = read_series(out)
    nodes = series.points.shape[0]
    for _, reference in series.functions["u"]:
        assert read_values(out, reference).shape[0] == nodes


def test_results_come_from_every_step_not_from_the_output_rows(tmp_path):
    """With a row every step the rows see every peak; with a row every 7th they do not,
    yet summary.json's results are the same."""
    config = write_config(tmp_path, SMALL.replace("t_end = 1.0", "t_end = 3.0"))
    results = {}
    for every in (1, 7):
        out = tmp_path / f"every{every}"
        args = ["--quiet", "--no-plots", "--set", f"output.every={every}"]
        result = bmf("run", str(config), "--out", str(out), *args)
        assert result.returncode == 0, result.stderr
        results[every] = json.loads((out / "summary.json").read_text())["results"]
        rows = read_metrics(out / "metrics.csv")
        results[every]["rows_peak"] = max(float(r["phi_max"]) for r in rows)
    assert results[1]["rows_peak"] == pytest.approx(results[1]["peak_intensity"], rel=1e-12)
    assert results[7]["rows_peak"] < results[7]["peak_intensity"]
    for key in ("peak_intensity", "peak_u_max", "t_peak_u_max", "peak_scope", "pulses_first"):
        assert results[7][key] == pytest.approx(results[1][key], rel=1e-12), key
