"""The notes' scenario, as numbers, from the shipped tickling demo."""

from __future__ import annotations

import json

import pytest
from conftest import bmf

from bmf_fem.demos import demo_path


@pytest.mark.slow
def test_tickling_builds_wanes_keeps_scope_and_restarts_faster(tmp_path):
    out = tmp_path / "tickling"
    result = bmf(
        "run", str(demo_path("tickling")), "--out", str(out), "--quiet", "--set", "mesh.h=0.05"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "summary.json").read_text())["results"]
    print(report)
    assert report["peak_intensity"] > 0.5
    assert report["wane_percent"] > 70.0
    assert report["scope_retained_percent"] > 80.0
    assert report["pulses_restart"] is not None
    assert report["pulses_restart"] < report["pulses_first"]
    final = json.loads((out / "summary.json").read_text())["final_metrics"]
    assert final["expressed_fraction"] > 0.0
