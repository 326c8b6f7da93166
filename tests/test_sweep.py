"""``bmf sweep``: cases from a grid and a list, per-case directories, sweep.csv, reruns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import bmf

from bmf_fem.errors import ConfigError
from bmf_fem.sweep import load_sweep

# A first pulse train, an opt-out and a restart train: every build-up number exists.
BASE = """
[mesh]
kind = "box"
dim = 2
h = 0.125
[time]
dt = 0.05
t_end = 2.5
[field]
noise = 0.02
[[input]]
centre = [0.5, 0.5]
radius = 0.2
amplitude = 0.8
start = 0.1
period = 0.3
count = 3
width = 0.1
[[input]]
centre = [0.5, 0.5]
radius = 0.2
amplitude = 0.8
start = 1.6
period = 0.3
count = 3
width = 0.1
[output]
every = 2
checkpoint_every = 20
"""


def write_sweep(directory: Path, text: str) -> Path:
    (directory / "base.toml").write_text(BASE)
    path = directory / "sweep.toml"
    path.write_text(text)
    return path


def read_table(path: Path) -> list[dict]:
    with open(path / "sweep.csv") as handle:
        return list(csv.DictReader(handle))


def test_cases_come_from_the_grid_the_list_and_the_seeds(tmp_path):
    path = write_sweep(
        tmp_path,
        """
base = "base.toml"
seeds = [1, 2]
set = ["time.t_end=1.0"]
[grid]
field.D = [0.01, 0.02]
"memory.tau" = [[5.0], [20.0, 200.0]]
[[case]]
"sites.coupling" = 0.5
[[case]]
"sites.coupling" = 1.0
"memory.D" = 0.001
""",
    )
    sweep = load_sweep(path)
    assert sweep.out == tmp_path / "sweep"
    assert sweep.parameter_keys == ("sites.coupling", "memory.D", "field.D", "memory.tau")
    assert len(sweep.cases) == 2 * 4 * 2
    names = [case.name for case in sweep.cases]
    assert len(set(names)) == len(names)
    # "D" names two keys, so both keep their section.
    assert names[0] == "coupling=0.5_field.D=0.01_tau=5.0_seed=1"
    last = sweep.cases[-1]
    assert last.name == "coupling=1.0_memory.D=0.001_field.D=0.02_tau=20.0-200.0_seed=2"
    assert last.overrides == (
        "time.t_end=1.0",
        "sites.coupling=1.0",
        "memory.D=0.001",
        "field.D=0.02",
        "memory.tau=[20.0, 200.0]",
        "output.seed=2",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gird = 1\n", "unknown key 'gird'"),
        ('base = "nothere.toml"\n', "does not exist"),
        ("[grid]\n'field.D' = 0.1\n", "non-empty array"),
        ("seeds = [1]\nreplicates = 2\n", "not both"),
        ("replicates = 0\n", "replicates = 0"),
    ],
)
def test_bad_sweep_files_are_refused(tmp_path, text, message):
    path = write_sweep(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        load_sweep(path)
    result = bmf("sweep", str(path))
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.mpi
def test_four_cases_on_two_ranks_then_reruns(tmp_path):
    path = write_sweep(
        tmp_path,
        'base = "base.toml"\nout = "results"\nseeds = [1, 2]\n[grid]\n"field.D" = [0.01, 0.02]\n',
    )
    out = tmp_path / "results"
    first = bmf("sweep", str(path), "--ranks-per-case", "1", n=2)
    assert first.returncode == 0, first.stdout + first.stderr
    names = ["D=0.01_seed=1", "D=0.01_seed=2", "D=0.02_seed=1", "D=0.02_seed=2"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == names
    rows = read_table(out)
    assert [row["case"] for row in rows] == names
    for row in rows:
        assert row["status"] == "done" and row["ranks"] == "1", row
        assert float(row["wall_s"]) > 0
        for column in ("peak_intensity", "wane_percent", "scope_retained_percent"):
            assert float(row[column]) > 0, (column, row)
        assert float(row["restart_ratio"]) > 0
        assert 0 <= float(row["expressed_fraction"]) <= 1
        assert len(row["config_hash"]) == 64 and row["git_commit"]
        summary = json.loads((out / row["case"] / "summary.json").read_text())
        assert summary["config_hash"] == row["config_hash"]
        assert summary["seed"] == int(row["seed"])
        assert summary["config"]["field"]["D"] == float(row["field.D"])
    # Both groups ran cases (replicates differ: the seeds reached the runs).
    assert rows[0]["peak_intensity"] != rows[1]["peak_intensity"]
    # The cases ran concurrently: two groups of one rank each.
    assert "group 0" in first.stdout and "group 1" in first.stdout

    stamps = {name: (out / name / "summary.json").stat().st_mtime_ns for name in names}
    again = bmf("sweep", str(path), "--ranks-per-case", "1", n=2)
    assert again.returncode == 0, again.stderr
    assert "4 case(s), 0 to run" in again.stdout
    assert {n: (out / n / "summary.json").stat().st_mtime_ns for n in names} == stamps

    (out / names[2] / "summary.json").unlink()
    third = bmf("sweep", str(path), "--ranks-per-case", "1", n=2)
    assert third.returncode == 0, third.stderr
    assert "4 case(s), 1 to run" in third.stdout
    assert f"{names[2]}: done" in third.stdout
    for name in (names[0], names[1], names[3]):
        assert (out / name / "summary.json").stat().st_mtime_ns == stamps[name]
    assert [row["status"] for row in read_table(out)] == ["done"] * 4
    # The re-run case resumed from its last checkpoint (step 40 of 50).
    assert json.loads((out / names[2] / "summary.json").read_text())["resumed_from"] == [40]


@pytest.mark.mpi
def test_a_failing_case_is_recorded_and_the_others_run(tmp_path):
    # The third case's reaction makes u blow up: the run diverges.
    path = write_sweep(
        tmp_path,
        """
base = "base.toml"
[[case]]
"field.decay" = 1.0
[[case]]
"field.decay" = 0.5
[[case]]
"field.decay" = 0.2
"field.reaction" = "5*u**3"
"field.initial" = "1"
[[case]]
"field.decay" = 2.0
""",
    )
    out = tmp_path / "sweep"
    result = bmf("sweep", str(path), "--ranks-per-case", "1", n=2)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {row["case"]: row for row in read_table(out)}
    assert [row["status"] for row in rows.values()] == ["done", "done", "failed", "done"]
    failed = rows["decay=0.2_reaction=5_u__3_initial=1"]
    assert "u ran away at t = " in failed["reason"] and '"5*u**3"' in failed["reason"]
    assert "3/4 done, 1 failed" in result.stdout
    # Failed cases are left alone on the next run unless asked.
    again = bmf("sweep", str(path), "--ranks-per-case", "1", n=2)
    assert again.returncode == 1 and "0 to run" in again.stdout
    retry = bmf("sweep", str(path), "--ranks-per-case", "1", "--retry-failed", n=2)
    assert retry.returncode == 1 and "1 to run" in retry.stdout


def test_a_bad_override_fails_its_case_only(tmp_path):
    path = write_sweep(tmp_path, 'base = "base.toml"\n[grid]\n"field.D" = [-1.0, 0.01]\n')
    result = bmf("sweep", str(path), "--quiet")
    assert result.returncode == 1
    rows = read_table(tmp_path / "sweep")
    assert [row["status"] for row in rows] == ["failed", "done"]
    assert "field.D" in rows[0]["reason"]
    assert json.loads((tmp_path / "sweep" / "D=-1.0" / "failure.json").read_text())["reason"]


def test_ranks_per_case_must_divide_the_ranks(tmp_path):
    path = write_sweep(tmp_path, 'base = "base.toml"\n')
    result = bmf("sweep", str(path), "--ranks-per-case", "2")
    assert result.returncode == 2 and "does not divide" in result.stderr


def test_list_and_part_select_cases(tmp_path):
    path = write_sweep(tmp_path, 'base = "base.toml"\nreplicates = 2\nset = ["time.t_end=0.5"]\n')
    listed = bmf("sweep", str(path), "--list")
    assert listed.returncode == 0
    assert "pending  seed=1" in listed.stdout and "pending  seed=2" in listed.stdout
    assert [row["status"] for row in read_table(tmp_path / "sweep")] == ["pending"] * 2
    second = bmf("sweep", str(path), "--part", "1/2")
    assert second.returncode == 0, second.stderr
    assert "1 to run (part 1/2)" in second.stdout
    assert [row["status"] for row in read_table(tmp_path / "sweep")] == ["pending", "done"]
    assert bmf("sweep", str(path), "--part", "2/2").returncode == 2
