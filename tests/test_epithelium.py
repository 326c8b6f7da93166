"""Expression on a tissue: detectors warn before cells express; re-induction is faster."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import bmf

from bmf_fem.demos import demo_path
from bmf_fem.results import read_series, read_values


def read_sites(out) -> list[dict]:
    with open(out / "sites.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_epithelium_detection_and_reinduction(tmp_path):
    out = tmp_path / "epithelium"
    result = bmf("run", str(demo_path("epithelium")), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    detection, results = summary["detection"], summary["results"]
    print(json.dumps(detection, indent=1), results)
    field, observable = detection["field"], detection["observable"]
    assert field["expressed"] >= 3
    # Most expressed cells are warned in advance by the field detector ...
    assert field["hits"] >= 0.8 * field["expressed"]
    assert field["lead_median"] > 0
    # ... the observable detectors, from s alone, warn most of them too ...
    assert observable["hits"] >= 0.6 * observable["expressed"]
    assert observable["lead_median"] > 0
    # ... and the paired control without input has few false alarms.
    for name in ("field", "statistical", "spatial", "neighbour", "observable"):
        assert detection["control"][name]["false_alarm_rate"] <= 0.05, name
    # Lead times are per episode: the reset at t = 150 starts a second one for every cell,
    # so no lead time reaches back into the first induction.
    rows = read_sites(out)
    assert {row["episode"] for row in rows} == {"1", "2"}
    assert all(float(row["t_start"]) == 150.0 for row in rows if row["episode"] == "2")
    leads = [float(row["lead_time"]) for row in rows if row["lead_time"]]
    assert max(leads) < 150.0
    for row in rows:
        if row["t_alarm"]:
            assert float(row["t_alarm"]) >= float(row["t_start"])
    # Every indicator is scored by ROC against the null runs.
    for name in ("variance", "ac1", "spatial_variance", "moran", "neighbour_mean"):
        roc = detection["roc"][name]
        assert 0.0 <= roc["auc_early"] <= 1.0 and 0.0 <= roc["auc_late"] <= 1.0
        assert roc["forced"] >= 3 and roc["null"] == 3 * roc["forced"]
    assert detection["calibration"]["runs"] == 3
    # The second induction expresses sooner: the memory persisted.
    first, second = results["onset_delays"]
    assert second is not None and first is not None and second < first
    assert len(rows) == field["sites"]
    assert sum(1 for row in rows if row["t_expressed"]) == field["expressed"]


@pytest.mark.mpi
def test_cells_mode_gives_the_same_expression_times_on_one_and_two_ranks(tmp_path):
    times = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        result = bmf(
            "run",
            str(demo_path("epithelium")),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "detect.calibration_runs=0",
            "--set",
            'detect.detectors=["field"]',
            "--set",
            "detect.control=false",
            "--set",
            "time.t_end=40",
            "--set",
            "input.0.amplitude=0.15",
            "--set",
            "solver.rtol=1e-10",
            n=n,
        )
        assert result.returncode == 0, result.stderr
        rows = read_sites(out)
        times[n] = [(row["tag"], row["t_expressed"], row["t_alarm_field"]) for row in rows]
    assert any(expressed for _, expressed, _ in times[1])
    assert times[1] == times[2]
    # Every mesh cell shows its site's value (cell data): sites at rest near -1, expressed
    # ones above sites.on.
    series = read_series(tmp_path / "out2")
    last = read_values(tmp_path / "out2", series.functions["s"][-1][1])
    cells = series.cells.shape[0]
    assert last.size == cells
    assert np.nanmin(last) < -0.8 and np.nanmax(last) > 0.0
