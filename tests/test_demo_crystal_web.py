"""Quick modes of the crystal_hole and web_spoke demos: their numbers and pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bmf

PNG = b"\x89PNG\r\n\x1a\n"


def run_demo(name: str, out: Path) -> dict:
    """``bmf demo NAME --quick``; demo.json's numbers after checking every picture."""
    result = bmf("demo", name, "--quick", "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((out / "demo.json").read_text())
    assert record["demo"] == name and record["mode"] == "quick"
    assert len(record["pictures"]) >= 5
    for picture in record["pictures"]:
        data = Path(picture).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, picture
    assert (out / "table.txt").read_text().strip()
    return record["numbers"]


@pytest.mark.slow
def test_crystal_hole_recovers_and_memory_sets_the_pace(tmp_path):
    numbers = run_demo("crystal_hole", tmp_path / "crystal_hole")
    tolerance = numbers["setup"]["tolerance"]
    after = numbers["setup"]["t_end"] - numbers["setup"]["t_cut"]
    reset = numbers["memory reset with the hole"]
    kept = numbers["memory kept"]
    none = numbers["no memory (weight 0)"]
    for variant in (reset, kept, none):
        # Until the cut each run is the uncut run step for step ...
        assert variant["distance_before_cut"] < 1e-12
        # ... the hole removes a clear share of u (one of six spots) ...
        assert variant["distance_u_after_cut"] > 0.2
        # ... and the pattern comes back within the run.
        for field in ("u", "phi"):
            assert 0 < variant[f"recovery_{field}"] < after
            assert variant[f"distance_{field}_end"] < tolerance / 10
    assert reset["distance_phi_after_cut"] > 0.25
    # Without memory phi is u, and u relaxes at the decay rate 1: ln(0.3 / 0.05) ~ 1.8.
    assert none["distance_phi_after_cut"] == pytest.approx(none["distance_u_after_cut"])
    assert none["recovery_phi"] < 3
    # Memory kept through the cut holds most of phi; memory cut with the hole must be
    # rebuilt, which takes several times longer, and so does the expression in the hole.
    assert kept["distance_phi_after_cut"] < 0.5 * reset["distance_phi_after_cut"]
    assert reset["recovery_phi"] > 3 * kept["recovery_phi"]
    assert reset["reexpression"] > 1.5 * kept["reexpression"] > 0
    assert none["reexpression"] is None and none["hole_expressed_uncut_end"] == 0


@pytest.mark.slow
def test_web_spoke_snapped_spoke_blocks_the_signal_and_repair_restores_it(tmp_path):
    numbers = run_demo("web_spoke", tmp_path / "web_spoke")
    runs = numbers["runs"]
    intact, snapped = runs["intact"], runs["snapped"]
    t_repair = numbers["t_repair"]
    repaired = runs[f"repaired at t = {t_repair:g}"]
    # The intact web carries the tickles to the far side within a few time units.
    assert 1.0 < intact["arrival_time"] < 6.0
    assert intact["peak"] > 1e-5
    # Snapped, the far side gets next to nothing: no arrival, a level 1000 times lower.
    assert snapped["arrival_time"] is None
    assert abs(snapped["final_level_relative"]) < 1e-3
    assert snapped["peak"] < 1e-3 * intact["peak"]
    # Repaired, the signal arrives soon after the repair and returns to the intact level.
    assert t_repair < repaired["arrival_time"] < t_repair + 5.0
    assert 0.8 < repaired["final_level_relative"] < 1.3
