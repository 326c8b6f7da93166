"""Faults around a run: concurrent runs on one directory, and what each leaves."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import bmf
from mpi4py import MPI
from test_cli import SMALL, write_config

from bmf_fem.runlock import LOCK_FILE, DirectoryInUseError, run_lock
from bmf_fem.signals import SecondSignal, StopSignals


def test_a_held_directory_is_refused_naming_its_holder(tmp_path):
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    with run_lock(out, MPI.COMM_SELF):
        result = bmf("run", str(config), "--out", str(out), "--quiet", "--resume")
        assert result.returncode == 2, result.stderr
        assert f"in use by pid {os.getpid()}" in result.stderr
        assert "Traceback" not in result.stderr
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
        with pytest.raises(DirectoryInUseError, match="since"), run_lock(out, MPI.COMM_SELF):
            pass
    result = bmf("run", str(config), "--out", str(out), "--quiet", "--no-plots")
    assert result.returncode == 0, result.stderr


def test_a_lock_file_of_a_dead_process_is_not_a_lock(tmp_path):
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": 999999, "host": "x", "since": "then"}))
    result = bmf("run", str(config), "--out", str(out), "--quiet", "--no-plots")
    assert result.returncode == 0, result.stderr
    assert len((out / "metrics.csv").read_text().splitlines()) == 7


@pytest.mark.slow
def test_a_held_directory_stops_every_rank_under_mpirun(tmp_path):
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    with run_lock(out, MPI.COMM_SELF):
        result = bmf("run", str(config), "--out", str(out), "--quiet", "--resume", n=2)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("in use by pid") == 1
    assert not (out / "metrics.csv").exists()


def test_a_second_signal_waits_for_a_checkpoint_being_written():
    stop = StopSignals()
    assert stop.install()
    try:
        with stop.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
        assert stop.received == signal.SIGTERM
        with pytest.raises(SecondSignal):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        stop.uninstall()


@pytest.mark.slow
def test_two_sigterms_a_millisecond_apart_stop_cleanly_and_resume(tmp_path):
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "bmf_fem", "run", str(config), "--out", str(out)]
    command += ["--quiet", "--no-plots", "--set", "time.t_end=200"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "metrics.csv").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.001)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert not list((out / "checkpoint").glob("*.partial"))
    resumed = bmf(
        "run",
        str(config),
        "--out",
        str(out),
        "--quiet",
        "--no-plots",
        "--resume",
        "--set",
        "time.t_end=200",
    )
    assert resumed.returncode == 0, resumed.stderr


def _finished_then_reopened(tmp_path):
    """A finished run with checkpoints every 3 steps, summary.json removed."""
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    extra = ("--quiet", "--no-plots", "--set", "output.checkpoint_every=3")
    result = bmf("run", str(config), "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr
    reference = (out / "metrics.csv").read_text().splitlines()
    (out / "summary.json").unlink()
    newest, older = sorted((out / "checkpoint").glob("step-*"), reverse=True)
    return config, out, extra, reference, newest, older


def _last_row(lines: list[str]) -> dict[str, float]:
    """The last metrics row without its wall time."""
    names = lines[0].split(",")
    row = dict(zip(names, lines[-1].split(","), strict=True))
    return {name: float(value) for name, value in row.items() if value and name != "wall_s"}


def test_a_damaged_newest_checkpoint_falls_back_to_the_older(tmp_path):
    config, out, extra, reference, newest, older = _finished_then_reopened(tmp_path)
    state = newest / "state.json"
    state.write_text(state.read_text()[:100])
    result = bmf("run", str(config), "--out", str(out), "--resume", *extra)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and str(state) in result.stderr
    assert f"from step {int(older.name.split('-')[1])}" in result.stdout + result.stderr
    resumed = (out / "metrics.csv").read_text().splitlines()
    assert len(resumed) == len(reference)
    assert _last_row(resumed) == pytest.approx(_last_row(reference), rel=1e-6, abs=1e-9)


def test_no_readable_checkpoint_is_refused_naming_the_files(tmp_path):
    config, out, extra, _, newest, older = _finished_then_reopened(tmp_path)
    (newest / "functions.bp" / "data.0").unlink()
    (older / "state.json").write_text("{")
    result = bmf("run", str(config), "--out", str(out), "--resume", *extra)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(newest / "functions.bp" / "data.0") in result.stderr
    assert str(older) in result.stderr


DISK_FULL = [
    OSError(errno.ENOSPC, "No space left on device", "out/metrics.csv"),
    RuntimeError(
        "[ADIOS2 EXCEPTION] <Toolkit> <transport::file::FilePOSIX> <Write> : couldn't write "
        "to file /x/out/checkpoint/step-000000004.partial/functions.bp/data.0 "
        "No space left on device, errno 28"
    ),
]


@pytest.mark.parametrize("error", DISK_FULL, ids=["oserror", "adios2"])
def test_disk_full_exits_3_naming_the_file(tmp_path, monkeypatch, capsys, error):
    """Injected: the error a full disk gives, raised where the run writes."""
    import bmf_fem.control
    from bmf_fem import cli

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(bmf_fem.control, "run_with_detection", full)
    config = write_config(tmp_path, SMALL)
    code = cli.main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet"], MPI.COMM_SELF)
    assert code == cli.EXIT_DISK_FULL == 3
    message = capsys.readouterr().err
    assert "no space left on device while writing" in message
    assert ("metrics.csv" if isinstance(error, OSError) else "data.0") in message


@pytest.mark.slow
def test_a_real_full_disk_exits_3_and_keeps_a_checkpoint(tmp_path):
    """A 400 kB tmpfs (needs root in a private mount namespace: containers/run)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "none", str(disk)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        config = write_config(tmp_path, SMALL)
        out = disk / "out"
        result = bmf(
            "run",
            str(config),
            "--out",
            str(out),
            "--quiet",
            "--no-plots",
            "--set",
            "output.checkpoint_every=2",
            "--set",
            "time.t_end=3",
        )
        assert result.returncode == 3, result.stderr
        assert "no space left on device while writing" in result.stderr
        assert "Traceback" not in result.stderr
        assert list((out / "checkpoint").glob("step-*[0-9]"))
    finally:
        subprocess.run(["umount", str(disk)])


@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_setup_ends_with_a_message(tmp_path, signum):
    """Before the time loop (imports, mesh, set-up) a stop signal ends the program with a
    message and exit 128 + N, not silently (SIGUSR1's default) or with a traceback."""
    config = write_config(tmp_path, '[mesh]\nkind = "box"\ndim = 2\nh = 0.003\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "bmf_fem", "run", str(config), "--out", str(tmp_path / "o")],
        stderr=subprocess.PIPE,
        text=True,
    )
    # Once bmf handles SIGUSR1 (its first lines), within the imports or the mesh (seconds
    # for h = 0.003): before step 1.
    deadline = time.monotonic() + 60
    while not caught(process.pid, signal.SIGUSR1) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.2)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    assert f"stopped by {signal.Signals(signum).name} outside the time loop" in stderr
    assert "Traceback" not in stderr


def caught(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (/proc/PID/status SigCgt)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except OSError:
        pass
    return False
