"""The notes' scenario in numbers: build-up, opt-out, and a restart with memory.

From the metric rows of a run and its input trains: the peak intensity (phi_max) of the
first build-up, how much u_max wanes and how much of the scope is kept by the end of
the opt-out, and how many pulses the first build-up and the restart need to reach that
peak.
"""

from __future__ import annotations

import math

import numpy as np

from bmf_fem.inputs import PulseTrain

REACHED = 0.999  # a level counts as reached at 99.9 % (output times sample the peak)


def pulses_started(train: PulseTrain, t: float) -> int:
    """How many pulses of ``train`` have started by time t."""
    if t < train.start:
        return 0
    return min(train.count, math.floor((t - train.start) / train.period + 1e-9) + 1)


def build_up_report(rows: list[dict], trains: list[PulseTrain]) -> dict[str, float | int | None]:
    """Peak, wane %, scope kept %, pulse counts and their ratio (None where undefined)."""
    if not rows or not trains:
        return {}
    onsets = onset_delays(rows, trains)
    t = np.array([row["t"] for row in rows])
    phi = np.array([row["phi_max"] for row in rows])
    u = np.array([row["u_max"] for row in rows])
    scope = np.array([row["scope"] for row in rows])
    first = trains[0]
    later = [train for train in trains[1:] if train.start >= first.end]
    restart = min(later, key=lambda train: train.start) if later else None
    window_end = restart.start if restart else t[-1] + 1.0
    during = (t >= first.start) & (t < window_end)
    if not during.any():
        return {}
    peak = float(phi[during].max())
    reached = np.flatnonzero(during & (phi >= REACHED * peak))
    report: dict[str, float | int | None] = {
        "peak_intensity": peak,
        "pulses_first": pulses_started(first, t[reached[0]]),
        "onset_delays": onsets,
    }
    if restart is None:
        return report
    before = np.flatnonzero(t < restart.start)[-1]
    u_peak = float(u[during].max())
    scope_peak = float(scope[during].max())
    report["wane_percent"] = 100.0 * (1.0 - u[before] / u_peak) if u_peak > 0 else None
    report["scope_retained_percent"] = (
        100.0 * scope[before] / scope_peak if scope_peak > 0 else None
    )
    again = np.flatnonzero((t >= restart.start) & (phi >= REACHED * peak))
    report["pulses_restart"] = pulses_started(restart, t[again[0]]) if again.size else None
    if report["pulses_restart"] is not None:
        report["restart_ratio"] = report["pulses_restart"] / report["pulses_first"]
    else:
        report["restart_ratio"] = None
    return report


def onset_delays(rows: list[dict], trains: list[PulseTrain]) -> list[float | None]:
    """For each train that starts with no site active: the time to the first active site.

    ``active_fraction`` (sites above ``sites.on`` now) rather than the expression record,
    so a re-induction after the sites were reset counts again. None: no onset before the
    next train (or the end).
    """
    if "active_fraction" not in rows[0]:
        return []
    t = np.array([row["t"] for row in rows])
    active = np.array([row["active_fraction"] for row in rows])
    starts = sorted({train.start for train in trains})
    delays: list[float | None] = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else np.inf
        window = (t >= start) & (t < end)
        if not window.any() or active[np.argmax(window)] > 0.0:
            delays.append(None)
            continue
        onset = np.flatnonzero(window & (active > 0.0))
        delays.append(float(t[onset[0]] - start) if onset.size else None)
    return delays
