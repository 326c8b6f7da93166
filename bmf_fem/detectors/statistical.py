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

from bmf_fem.detectors.base import ScoredDetector, Timing
from bmf_fem.detectors.ews import Ring, SustainedAlarm, TrendRing, indicators


class StatisticalDetector(ScoredDetector):
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

    @classmethod
    def warm_up(cls, timing: Timing) -> tuple[float, str]:
        return timing.warm_up, "detect.window + detect.trend_window"

    def rings(self) -> dict:
        return {"buffer": self.buffer, **{f"history_{k}": v for k, v in self.history.items()}}

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
