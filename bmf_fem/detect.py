"""Seeing the build-up before expression: two online detectors and their evaluation.

Field detector: a site is alarmed at the first time its tilt ``g <phi>`` passes
``(1 - margin) h_c`` (h_c = 2 / (3 sqrt 3), the fold), or, with ``rate > 0``, when the
tilt grows faster than ``rate`` per unit time.

Statistical detector (cells mode), from s alone, as an experimenter would see it: s is
sampled every ``sample_every`` steps into a ring buffer of ``window`` time units per site;
at every stride (a twentieth of the window) the buffer is detrended (Gaussian kernel of
``bandwidth`` time units, or the window mean) and the variance and lag-1
autocorrelation of the residuals are computed; Kendall's tau of the chosen indicator
over the last ``trend_window`` time units measures its trend. The alarm is raised when
tau stays above ``tau_threshold`` for ``sustain`` time units. Memory is O(window) per
site; nothing is post-processed.

Lead time = expression time - alarm time (positive: warned in advance).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from bmf_fem.sites import H_C

STRIDES_PER_WINDOW = 20


class FieldDetector:
    """Alarm when the tilt approaches the fold (or rises fast)."""

    name = "field"

    def __init__(self, n_sites: int, margin: float, rate: float):
        self.level = (1.0 - margin) * H_C
        self.rate = rate
        self.alarm_time = np.full(n_sites, -1.0)
        self.previous: np.ndarray | None = None
        self.previous_t = 0.0

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Per-site arrays a checkpoint must keep (see Detection.checkpoint_state)."""
        previous = (
            self.previous if self.previous is not None else np.full_like(self.alarm_time, np.nan)
        )
        return {"alarm_time": self.alarm_time, "previous": previous}

    def state_values(self) -> dict:
        return {"previous_t": self.previous_t, "has_previous": self.previous is not None}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        self.alarm_time[:] = arrays["alarm_time"]
        self.previous = arrays["previous"].copy() if values["has_previous"] else None
        self.previous_t = values["previous_t"]

    def update(self, t: float, tilt: np.ndarray) -> None:
        alarmed = tilt > self.level
        if self.rate > 0.0 and self.previous is not None:
            alarmed |= (tilt - self.previous) / (t - self.previous_t) > self.rate
        self.previous, self.previous_t = tilt.copy(), t
        self.alarm_time[alarmed & (self.alarm_time < 0.0)] = t


def kendall_tau(series: np.ndarray) -> np.ndarray:
    """Kendall's tau-a of each row against time (rows: sites, columns: samples)."""
    n = series.shape[1]
    if n < 2:
        return np.zeros(series.shape[0])
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    signs = np.sign(series[:, None, :] - series[:, :, None])
    return signs[:, upper].sum(axis=1) / (n * (n - 1) / 2)


def indicators(window: np.ndarray, detrend: str, bandwidth_samples: float):
    """Variance and lag-1 autocorrelation of the detrended rows of ``window``."""
    if detrend == "gaussian":
        trend = gaussian_filter1d(window, bandwidth_samples, axis=1, mode="nearest")
    else:
        trend = window.mean(axis=1, keepdims=True)
    residual = window - trend
    residual = residual - residual.mean(axis=1, keepdims=True)
    variance = (residual**2).mean(axis=1)
    lagged = (residual[:, 1:] * residual[:, :-1]).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ac1 = np.where(variance > 0.0, lagged / variance, 0.0)
    return variance, ac1


class StatisticalDetector:
    """Online early-warning indicators of critical slowing down, per site."""

    name = "statistical"

    def __init__(self, n_sites: int, config, dt: float):
        self.sample_dt = config.sample_every * dt
        self.sample_every = config.sample_every
        self.samples = max(4, round(config.window / self.sample_dt))
        self.stride = max(1, self.samples // STRIDES_PER_WINDOW)
        self.trend_length = max(3, round(config.trend_window / (self.stride * self.sample_dt)))
        self.detrend = config.detrend
        self.bandwidth = config.bandwidth / self.sample_dt
        self.indicator = config.indicator
        self.threshold = config.tau_threshold
        self.sustain = config.sustain
        self.buffer = np.zeros((n_sites, self.samples))
        self.count = 0
        self.history = {
            name: np.zeros((n_sites, self.trend_length)) for name in ("ac1", "variance")
        }
        self.history_count = 0
        self.above_since = np.full(n_sites, np.nan)
        self.max_tau = np.full(n_sites, -1.0)
        self.alarm_time = np.full(n_sites, -1.0)
        self.last = {
            "variance": np.zeros(n_sites),
            "ac1": np.zeros(n_sites),
            "tau": np.zeros(n_sites),
        }

    def state_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "buffer": self.buffer,
            "above_since": self.above_since,
            "max_tau": self.max_tau,
            "alarm_time": self.alarm_time,
        }
        arrays.update({f"history_{name}": value for name, value in self.history.items()})
        arrays.update({f"last_{name}": value for name, value in self.last.items()})
        return arrays

    def state_values(self) -> dict:
        return {"count": self.count, "history_count": self.history_count}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        self.buffer = arrays["buffer"].copy()
        self.above_since = arrays["above_since"].copy()
        self.max_tau = arrays["max_tau"].copy()
        self.alarm_time = arrays["alarm_time"].copy()
        self.history = {name: arrays[f"history_{name}"].copy() for name in self.history}
        self.last = {name: arrays[f"last_{name}"].copy() for name in self.last}
        self.count = values["count"]
        self.history_count = values["history_count"]

    def update(self, step: int, t: float, values: np.ndarray) -> None:
        if step % self.sample_every:
            return
        self.buffer[:, self.count % self.samples] = values
        self.count += 1
        if self.count < self.samples or (self.count - self.samples) % self.stride:
            return
        order = (np.arange(self.samples) + self.count) % self.samples
        variance, ac1 = indicators(self.buffer[:, order], self.detrend, self.bandwidth)
        slot = self.history_count % self.trend_length
        self.history["variance"][:, slot] = variance
        self.history["ac1"][:, slot] = ac1
        self.history_count += 1
        self.last.update(variance=variance, ac1=ac1)
        if self.history_count < self.trend_length:
            return
        order = (np.arange(self.trend_length) + self.history_count) % self.trend_length
        names = ("ac1", "variance") if self.indicator == "both" else (self.indicator,)
        taus = [kendall_tau(self.history[name][:, order]) for name in names]
        tau = np.minimum.reduce(taus)
        self.last["tau"] = tau
        np.maximum(self.max_tau, tau, out=self.max_tau)
        above = tau > self.threshold
        self.above_since[~above] = np.nan
        self.above_since[above & np.isnan(self.above_since)] = t
        sustained = above & (t - self.above_since >= self.sustain - 1e-12)
        self.alarm_time[sustained & (self.alarm_time < 0.0)] = t


class Detection:
    """The detectors of a run, fed after every step, and their evaluation."""

    def __init__(self, config, sites, dt: float):
        self.sites = sites
        self.detectors = []
        n = sites.values().size
        if "field" in config.detectors:
            self.detectors.append(FieldDetector(n, config.margin, config.rate))
        if "statistical" in config.detectors:
            self.detectors.append(StatisticalDetector(n, config, dt))

    def checkpoint_state(self):
        """Detector state: global lists in cells mode, P1 functions per dof in continuum."""
        from bmf_fem.checkpoint import CheckpointState

        state = CheckpointState()
        for detector in self.detectors:
            state.values[detector.name] = detector.state_values()
            for name, array in detector.state_arrays().items():
                key = f"{detector.name}.{name}"
                if self.sites.mode == "cells":
                    state.values[key] = np.asarray(array).tolist()
                else:
                    state.functions[key] = self._as_function(array)
        return state

    def restore_checkpoint(self, state) -> None:
        for detector in self.detectors:
            arrays = {}
            for name in detector.state_arrays():
                key = f"{detector.name}.{name}"
                if self.sites.mode == "cells":
                    arrays[name] = np.asarray(state.values[key], dtype=np.float64)
                else:
                    arrays[name] = state.functions[key].x.array[: self.sites.n_owned].copy()
            detector.restore(arrays, state.values[detector.name])

    def _as_function(self, array: np.ndarray):
        """An owned-dof array as a P1 function (movable to another rank count)."""
        from dolfinx import fem

        function = fem.Function(self.sites.model.V)
        function.x.array[: self.sites.n_owned] = array
        function.x.scatter_forward()
        return function

    def update(self, step: int, t: float) -> None:
        for detector in self.detectors:
            if detector.name == "field":
                detector.update(t, self.sites.tilts())
            else:
                detector.update(step, t, self.sites.values())

    def alarm_times(self) -> dict[str, np.ndarray]:
        times = {detector.name: detector.alarm_time for detector in self.detectors}
        if times:
            stacked = np.stack(list(times.values()))
            stacked = np.where(stacked < 0.0, np.inf, stacked)
            first = stacked.min(axis=0)
            times["any"] = np.where(np.isfinite(first), first, -1.0)
        return times

    def site_rows(self) -> list[dict]:
        """Per-site expression, alarm and lead times (cells mode: sites.csv)."""
        rows = self.sites.table()
        alarms = self.alarm_times()
        expressed = self.sites.expression_times()
        for index, row in enumerate(rows):
            for name, times in alarms.items():
                suffix = "" if name == "any" else f"_{name}"
                alarm = float(times[index])
                row[f"t_alarm{suffix}"] = alarm if alarm >= 0 else ""
                lead = expressed[index] - alarm if alarm >= 0 and expressed[index] >= 0 else ""
                row[f"lead_time{suffix}"] = lead
            if row["t_expressed"] < 0:
                row["t_expressed"] = ""
        return rows

    def summary(self, comm) -> dict:
        """Hits, misses, false alarms and lead-time quartiles per detector (global)."""
        expressed = self.sites.expression_times()
        result = {}
        for name, times in self.alarm_times().items():
            result[name] = evaluate(expressed, times, comm, self.sites.mode)
        return result


def evaluate(expressed: np.ndarray, alarm: np.ndarray, comm, mode: str) -> dict:
    """Confusion counts and lead times; cells mode sites are global arrays on every rank.

    hit: expressed after (or at) its alarm; late: expressed before any alarm;
    miss: expressed, never alarmed; false alarm: alarmed, never expressed.
    """
    is_expressed = expressed >= 0.0
    is_alarmed = alarm >= 0.0
    warned = is_expressed & is_alarmed & (alarm <= expressed)
    lead = expressed[is_expressed & is_alarmed] - alarm[is_expressed & is_alarmed]
    counts = {
        "sites": int(expressed.size),
        "expressed": int(is_expressed.sum()),
        "hits": int(warned.sum()),
        "late": int((is_expressed & is_alarmed & ~warned).sum()),
        "misses": int((is_expressed & ~is_alarmed).sum()),
        "false_alarms": int((is_alarmed & ~is_expressed).sum()),
    }
    if mode == "continuum":
        counts = {key: comm.allreduce(value) for key, value in counts.items()}
        lead = np.concatenate(comm.allgather(lead))
    quartiles = np.percentile(lead, [25, 50, 75]).tolist() if lead.size else [None] * 3
    counts.update(lead_q1=quartiles[0], lead_median=quartiles[1], lead_q3=quartiles[2])
    return counts
