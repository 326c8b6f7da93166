"""The statistical detector: critical slowing down in each site's own time series of s.

s is sampled every ``sample_every`` steps into a ring buffer of ``window`` time units per
site; every twentieth of a window the buffer is detrended (Gaussian kernel of
``bandwidth`` time units with the ``edges`` rule, or the window mean) and the variance and
lag-1 autocorrelation of the residuals are computed. Kendall's tau of the chosen
indicator over the last ``trend_window`` time units is the score; the alarm is raised
when it stays above ``tau_threshold`` for ``sustain`` time units. Memory is O(window) per
site; nothing is post-processed.
"""

from __future__ import annotations

import numpy as np

from bmf_fem.detectors.base import Detector, Timing
from bmf_fem.detectors.ews import Ring, SustainedAlarm, TrendRing, indicators


class StatisticalDetector(Detector):
    """Online variance and lag-1 autocorrelation of s per site, and their trends."""

    name = "statistical"
    observable = True
    modes = ("cells",)
    threshold_key = "tau_threshold"
    scored = ("variance", "ac1")

    def __init__(self, n_sites: int, config, timing: Timing, neighbourhood=None):
        self.timing = timing
        self.detrend = config.detrend
        self.edges = config.edges
        self.indicator = config.indicator
        self.buffer = Ring(n_sites, timing.samples)
        self.history = {
            name: TrendRing(n_sites, timing.trend_length) for name in ("variance", "ac1")
        }
        self.alarm = SustainedAlarm(n_sites, config.tau_threshold, config.sustain)
        self.last = {name: np.full(n_sites, np.nan) for name in ("variance", "ac1", "tau")}

    @property
    def alarm_time(self) -> np.ndarray:
        return self.alarm.alarm_time

    @property
    def score_max(self) -> np.ndarray:
        return self.alarm.max_score

    def update(self, step: int, t: float, sites) -> bool:
        timing = self.timing
        if step % timing.sample_every:
            return False
        self.buffer.push(sites.values())
        if not self.buffer.full or (self.buffer.count - timing.samples) % timing.stride:
            return False
        bandwidth = timing.bandwidth / timing.sample_dt
        variance, ac1 = indicators(self.buffer.ordered(), self.detrend, bandwidth, self.edges)
        self.history["variance"].push(variance)
        self.history["ac1"].push(ac1)
        self.last.update(variance=variance, ac1=ac1)
        if self.history["ac1"].full:
            names = ("ac1", "variance") if self.indicator == "both" else (self.indicator,)
            taus = [self.history[name].tau for name in names]
            self.last["tau"] = np.minimum.reduce(taus)
            self.alarm.update(t, self.last["tau"])
        return True

    def indicators(self) -> dict[str, np.ndarray]:
        return dict(self.last)

    def new_episode(self, sites: np.ndarray, t: float) -> None:
        self.alarm.new_episode(sites, t + self.timing.warm_up)

    def state_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"buffer": self.buffer.data, **self.alarm.state_arrays()}
        arrays.update({f"history_{name}": ring.data for name, ring in self.history.items()})
        arrays.update({f"pairs_{name}": ring.pair_sum for name, ring in self.history.items()})
        arrays.update({f"last_{name}": value for name, value in self.last.items()})
        return arrays

    def state_values(self) -> dict:
        return {"count": self.buffer.count, "history_count": self.history["ac1"].count}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        self.buffer.data = arrays["buffer"].copy()
        self.buffer.count = values["count"]
        for name, ring in self.history.items():
            ring.data = arrays[f"history_{name}"].copy()
            ring.pair_sum = arrays[f"pairs_{name}"].copy()
            ring.count = values["history_count"]
        self.last = {name: arrays[f"last_{name}"].copy() for name in self.last}
        self.alarm.restore(arrays)
