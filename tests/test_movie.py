"""Movies of runs: one decodable frame per output time, the fields moving between them."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import bmf

RUN = """
[mesh]
{mesh}
[time]
dt = 0.1
t_end = 3.0
[[input]]
centre = {centre}
radius = 0.3
count = 3
amplitude = 3.0
[output]
every = 2
"""

MESHES = {
    "2d": ('kind = "crystal"\nh = 0.1', [0.0, 0.0]),
    "web": ('kind = "web"\nh = 0.05', [0.0, 0.0]),
    "3d": ('kind = "box"\ndim = 3\nh = 0.25', [0.5, 0.5, 0.5]),
}


def run(tmp_path: Path, name: str, *options: str) -> Path:
    mesh, centre = MESHES[name]
    config = tmp_path / f"{name}.toml"
    config.write_text(RUN.format(mesh=mesh, centre=centre))
    out = tmp_path / name
    result = bmf("run", str(config), "--out", str(out), "--quiet", "--no-plots", *options)
    assert result.returncode == 0, result.stderr
    return out


def output_times(out: Path) -> int:
    with open(out / "metrics.csv") as handle:
        return len(list(csv.DictReader(handle)))


def frames(movie: Path) -> np.ndarray:
    """Every frame of a movie as RGB arrays, decoded by ffmpeg (ffprobe gives the size)."""
    command = "ffprobe -v error -count_frames -select_streams v:0 -of csv=p=0 -show_entries"
    probe = subprocess.run(
        [*command.split(), "stream=width,height,nb_read_frames", str(movie)],
        capture_output=True,
        text=True,
        check=True,
    )
    width, height, count = map(int, probe.stdout.strip().split(","))
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(movie), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    decoded = np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)
    assert decoded.shape[0] == count
    return decoded


@pytest.mark.parametrize("name", ["2d", "web", pytest.param("3d", marks=pytest.mark.slow)])
def test_report_makes_a_movie_with_a_frame_per_output_time(tmp_path, name):
    out = run(tmp_path, name)
    result = bmf("report", str(out), "--movie")
    assert result.returncode == 0, result.stderr
    video = frames(out / "plots" / "fields.mp4")
    assert video.shape[0] == output_times(out) == 16
    assert video.shape[1] % 2 == 0 and video.shape[2] % 2 == 0  # H.264's 4:2:0
    change = np.abs(video[-1].astype(int) - video[0].astype(int)).mean()
    assert change > 1.0  # the fields, the cursor and the time stamp moved
    assert not list((out / "plots").glob(".*"))  # no partial or temporary files left


def test_gif_and_stride_and_run_movie(tmp_path):
    out = run(tmp_path, "2d", "--movie")
    assert frames(out / "plots" / "fields.mp4").shape[0] == 16
    result = bmf("report", str(out), "--gif", "--stride", "5")
    assert result.returncode == 0, result.stderr
    gif = out / "plots" / "fields.gif"
    assert gif.read_bytes()[:6] == b"GIF89a"
    assert frames(gif).shape[0] == 4  # output times 0, 5, 10 and 15
    result = bmf("report", str(out), "--movie", "--stride", "0")
    assert result.returncode == 2 and "--stride 0 is not valid" in result.stderr


def test_without_ffmpeg_the_movie_fails_with_a_message(tmp_path, monkeypatch):
    from mpi4py import MPI

    from bmf_fem import cli

    out = run(tmp_path, "2d")
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg on it
    code = cli.main(["report", str(out), "--movie"], MPI.COMM_SELF)
    assert code == 1
    assert not (out / "plots" / "fields.mp4").exists()
