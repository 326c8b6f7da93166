"""Tissue expression wave: expression travels out from a tickled spot, and is warned ahead.

A spot near the left edge of an epithelium (a disc of Voronoi cells, one bistable site
per cell) is tickled steadily. The field has a bistable reaction (``field.reaction``),
so once the tickles (and the memory they build) lift u past its threshold under the
spot, a front of high u invades the tissue at a constant speed, and cells express as
it reaches them: a wave of expression. Every detector watches every cell: the field
detector (its hidden tilt nearing the fold) and the observable ones, from s alone
(critical slowing down, the spatial statistics of a cell's neighbourhood, the neighbour
rule), their thresholds calibrated on null runs. A paired control without input counts
their false alarms.

The demo reports hits, misses and lead times (t_expressed - t_alarm) per detector, and
the wave: expression time against the distance of each cell from the input centre,
with a front speed fitted by least squares. The field detector warns every cell a few
time units ahead of the front; from s alone the neighbour rule warns every cell earlier
still (its neighbours express first), while critical slowing down needs a slow approach
to the fold and sees the sharp front late or not at all. Behaviour of the model, not evidence
about tissues.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from bmf_fem.control import run_with_detection
from bmf_fem.demos.common import (
    DemoResult,
    configure,
    demo_main,
    draw_report,
    format_table,
    save_figure,
)
from bmf_fem.detect import detector_results
from bmf_fem.parallel import print0

BASE = {
    "mesh": {"kind": "tissue", "shape": "disc", "size": 2.0, "h": 0.03, "cells": 160, "seed": 0},
    "time": {"dt": 0.05, "t_end": 90.0},
    # A bistable reaction: u = 0 and u ~ 0.8 are stable, so a large enough patch of high
    # u invades its surroundings at a constant speed (a front).
    "field": {"D": 0.004, "decay": 1.0, "feedback": 0.1, "reaction": "6*u*u*(1 - u)"},
    # A light memory: behind the front u stays high and keeps feeding it.
    "memory": {"tau": [60.0], "weight": [0.1], "scope_threshold": 0.05},
    "sites": {"mode": "cells", "regions": "cell_*", "coupling": 1.0, "noise": 0.02, "D": 0.01},
    "input": [
        {
            "profile": "gaussian",
            "centre": [-0.85, 0.0],
            "radius": 0.2,
            "amplitude": 0.05,
            "start": 0.5,
            "period": 0.5,
            "count": 180,
            "width": 0.25,
        }
    ],
    "detect": {
        "detectors": ["all"],
        "margin": 0.15,
        "window": 10.0,
        "bandwidth": 3.0,
        "sample_every": 2,
        "trend_window": 40.0,
        "indicator": "variance",
        "sustain": 2.0,
        "calibration_runs": 3,
        "calibration_quantile": 0.98,
        "control": True,
    },
    "output": {"every": 20},
}

QUICK = {
    "mesh": {"size": 1.0, "h": 0.06, "cells": 30},
    "time": {"dt": 0.1, "t_end": 60.0},
    "input": [{**BASE["input"][0], "centre": [-0.4, 0.0], "count": 120}],
    "detect": {"calibration_runs": 1, "sample_every": 1},
    "output": {"every": 10},
}


def site_centres(run: Path) -> dict[str, np.ndarray]:
    """The centroid of every cell region, from the mesh and tags the run wrote."""
    from bmf_fem.results import read_series

    series = read_series(run)
    regions = json.loads((run / "summary.json").read_text())["regions"]
    corners = series.points[series.cells][:, :3, :2]
    first, second = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    areas = 0.5 * np.abs(first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0])
    midpoints = corners.mean(axis=1)
    centres = {}
    for name, tag in regions.items():
        inside = series.cell_tags == tag
        if inside.any():
            centres[name] = areas[inside] @ midpoints[inside] / areas[inside].sum()
    return centres


def read_sites(run: Path) -> list[dict]:
    with open(run / "sites.csv") as handle:
        return list(csv.DictReader(handle))


def as_time(text: str) -> float:
    """A time from sites.csv (empty: never) as a float (NaN: never)."""
    return float(text) if text else np.nan


def wave_fit(distance: np.ndarray, expressed: np.ndarray) -> dict:
    """Least-squares front ``t = t0 + r / speed`` over the expressed sites."""
    known = np.isfinite(expressed)
    if known.sum() < 3:
        return {"fitted_sites": int(known.sum()), "speed": None, "t0": None, "r2": None}
    slope, t0 = np.polyfit(distance[known], expressed[known], 1)
    predicted = t0 + slope * distance[known]
    residual = np.sum((expressed[known] - predicted) ** 2)
    total = np.sum((expressed[known] - expressed[known].mean()) ** 2)
    return {
        "fitted_sites": int(known.sum()),
        "speed": float(1.0 / slope) if slope > 0 else None,
        "slope": float(slope),
        "t0": float(t0),
        "r2": float(1.0 - residual / total) if total > 0 else None,
    }


def plot_lead(path: Path, distance: np.ndarray, times: dict, fit: dict) -> Path:
    """Expression and alarm times of every site against distance from the input."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for r, t_expr, t_alarm in zip(distance, times["expressed"], times["field"], strict=True):
        if np.isfinite(t_expr) and np.isfinite(t_alarm):
            ax.plot([r, r], [t_alarm, t_expr], color="0.75", lw=1.0, zorder=1)
    marks = (
        ("expressed", "o", "tab:red", "expression"),
        ("field", "x", "tab:blue", "alarm: field detector"),
        ("observable", "+", "tab:green", "alarm: observable detectors (s alone)"),
    )
    for key, marker, colour, label in marks:
        count = int(np.isfinite(times[key]).sum())
        ax.scatter(
            distance,
            times[key],
            s=28,
            marker=marker,
            color=colour,
            zorder=3,
            label=f"{label} ({count} of {distance.size} cells)",
        )
    if fit["speed"]:
        r = np.linspace(0.0, distance.max(), 50)
        ax.plot(
            r,
            fit["t0"] + fit["slope"] * r,
            "k--",
            lw=1.2,
            label=f"fitted front: speed {fit['speed']:.3g}, R$^2$ {fit['r2']:.2f}",
        )
    ax.set_xlabel("distance of the cell centre from the input centre (non-dimensional)")
    ax.set_ylabel("time (non-dimensional)")
    ax.set_title("expression wave and its warning (grey: lead of the field detector)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def analyse(out: Path, origin: np.ndarray) -> tuple[dict, list[Path]]:
    """The front fitted to the sites' expression times, and the lead picture (rank 0)."""
    centres = site_centres(out)
    rows = read_sites(out)
    distance = np.array([np.linalg.norm(centres[row["tag"]] - origin) for row in rows])
    times = {
        "expressed": np.array([as_time(row["t_expressed"]) for row in rows]),
        "field": np.array([as_time(row["t_alarm_field"]) for row in rows]),
        "observable": np.array([as_time(row["t_alarm_observable"]) for row in rows]),
    }
    fit = wave_fit(distance, times["expressed"])
    picture = plot_lead(out / "plots" / "wave_lead.png", distance, times, fit)
    return fit, [picture]


def detector_rows(detection: dict) -> list[list]:
    rows = []
    for name, result in detector_results(detection).items():
        control = detection.get("control", {}).get(name, {})
        rows.append(
            [
                name,
                result["expressed"],
                result["hits"],
                result["late"],
                result["misses"],
                result["false_alarms"],
                control.get("false_alarms"),
                result["lead_q1"],
                result["lead_median"],
                result["lead_q3"],
            ]
        )
    return rows


def run(out: Path, quick: bool, comm: MPI.Comm) -> DemoResult:
    config = configure(BASE, **(QUICK if quick else {}))
    started = time.perf_counter()
    summary = run_with_detection(config, out, comm, force=True, progress=False)
    wall = time.perf_counter() - started
    pictures = draw_report(out, comm)
    print0(comm, f"  runs (calibration, tissue, control): {wall:.1f} s -> {out}")
    origin = np.array(config.inputs[0].centre[:2])
    fit, extra = analyse(out, origin) if comm.rank == 0 else (None, [])
    fit, extra = comm.bcast((fit, extra), root=0)
    detection = summary["detection"]
    headers = [
        "detector",
        "expressed",
        "hits",
        "late",
        "misses",
        "false alarms",
        "control false alarms",
        "lead q1",
        "lead median",
        "lead q3",
    ]
    wave = [
        ["cells", detection["field"]["sites"]],
        ["expressed", detection["field"]["expressed"]],
        ["front speed (least squares)", fit["speed"]],
        ["fit R^2", fit["r2"]],
        ["front start t0", fit["t0"]],
        *(
            [f"calibrated {key}", value]
            for key, value in detection.get("calibration", {}).items()
            if key.endswith("threshold")
        ),
        ["wall time of all runs (s)", wall],
    ]
    table = (
        format_table(headers, detector_rows(detection))
        + "\n\n"
        + format_table(["wave", "value"], wave)
    )
    numbers = {
        "detection": detection,
        "wave": fit,
        "sites": detection["field"]["sites"],
        "wall_s": wall,
        "mesh": summary["mesh"],
    }
    return DemoResult(table=table, numbers=numbers, pictures=[*pictures, *extra])


if __name__ == "__main__":
    sys.exit(demo_main("tissue_wave", run, MPI.COMM_WORLD))
