"""The scripted demos: listing, errors, and the quick mode's numbers and pictures."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from conftest import bmf

from bmf_fem.demos import QUICK, SCRIPTED, demo_description, demo_names, demo_path, scripted_names


def run_demo(name: str, out: Path, n: int = 1) -> dict:
    result = bmf("demo", name, "--quick", "--out", str(out), n=n, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((out / "demo.json").read_text())
    assert record["mode"] == "quick" and record["mpi_size"] == n
    assert (out / "table.txt").read_text().strip() in result.stdout
    for picture in record["pictures"]:
        data = Path(picture).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, picture
    return record


def test_every_scenario_is_listed_with_its_description():
    assert scripted_names() == list(SCRIPTED)
    result = bmf("demo")
    assert result.returncode == 0
    for name in SCRIPTED:
        description = demo_description(name)
        assert len(description) > 20
        assert f"{name}" in result.stdout and description in result.stdout
    assert "epithelium" in result.stdout


def test_unknown_demo_and_overrides_are_refused(tmp_path):
    result = bmf("demo", "whirlpol", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "whirlpool" in result.stderr and not (tmp_path / "x").exists()
    result = bmf("demo", "whirlpool", "--set", "time.dt=0.1", "--out", str(tmp_path / "y"))
    assert result.returncode == 2 and "--set" in result.stderr


def test_a_configuration_demo_honours_quick_and_draws_its_pictures(tmp_path):
    out = tmp_path / "tickling"
    result = bmf("demo", "tickling", "--quick", "--quiet", "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"--set {' '.join(QUICK['tickling'])}" in result.stdout
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["mesh"]["h"] == 0.05  # the file says 0.015
    assert tomllib.loads(demo_path("tickling").read_text())["mesh"]["h"] == 0.015
    assert (out / "open_in_paraview.py").exists()
    pictures = sorted((out / "plots").glob("*.png"))
    assert len(pictures) >= 3
    for picture in pictures:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "expressed fraction (end)" in result.stdout


def test_every_configuration_demo_has_quick_overrides_that_check():
    assert set(QUICK) == set(demo_names())
    for name, overrides in QUICK.items():
        result = bmf("check", str(demo_path(name)), *(a for o in overrides for a in ("--set", o)))
        assert result.returncode == 0, (name, result.stderr)


@pytest.mark.slow
def test_tickle_wane_restart_matches_the_notes_story(tmp_path):
    numbers = run_demo("tickle_wane_restart", tmp_path / "twr")["numbers"]
    plain, fed = numbers["no_feedback"], numbers["feedback"]
    # decay 0.05 per period: a pointwise model would reach (1 - e^-1) / (1 - e^-0.05) = 12.96
    # single-tickle responses and wane 1 - e^-1.5 = 78 %; diffusion lowers and widens both.
    assert 11.0 < plain["peak_in_single_tickles"] < 12.96
    assert 77.0 < plain["wane_percent"] < 90.0
    # memory makes the restart faster than the first build-up; feedback faster still
    assert plain["pulses_to_recover"] < 20
    assert fed["pulses_to_recover"] < plain["pulses_to_recover"]
    assert fed["wane_percent"] < plain["wane_percent"]
    assert fed["expressed_fraction_end"] > plain["expressed_fraction_end"] > 0.0


@pytest.mark.slow
def test_whirlpool_pattern_returns_and_is_rank_independent(tmp_path):
    serial = run_demo("whirlpool", tmp_path / "one")["numbers"]
    assert serial["largest_distance"] > 0.3
    assert 0.0 < serial["recovery_time"] < 10.0
    assert serial["distance_before_opt_out"] < 0.01
    # decay 0.5: u falls to 5 % in about ln(20) / 0.5 = 6 time units (less where it spreads)
    assert 3.0 < serial["time_to_base"] < 7.0
    assert serial["memory_kept_percent"] > 80.0
    parallel = run_demo("whirlpool", tmp_path / "two", n=2)["numbers"]
    # distances are relative to the pattern's norm: solver tolerance is absolute on them
    for key, value in serial.items():
        assert parallel[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
