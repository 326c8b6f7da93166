"""The neighbour rule: expression that spreads is announced by the neighbours.

Every twentieth of ``detect.window``, a site (not expressed itself) is warned when a site
within ``detect.hops`` steps of the site graph is expressed (s above ``sites.on``), or
when the mean of s over its direct neighbours rises faster than ``neighbour_threshold``
per unit time (the least-squares slope over the last ``window`` time units) for
``sustain`` time units. The rise threshold is calibrated on null runs like the
statistical detector's tau. Nothing but s is read.
"""

from __future__ import annotations

import numpy as np

from bmf_fem.detectors.base import ScoredDetector, Timing
from bmf_fem.detectors.ews import Ring, SustainedAlarm


class NeighbourDetector(ScoredDetector):
    """Alarm where neighbours have expressed or are rising."""

    name = "neighbour"
    observable = True
    threshold_key = "neighbour_threshold"
    threshold_range = (0.0, np.inf)  # a rate
    needs_neighbourhood = True
    scored = ("neighbour_mean",)

    def __init__(self, n_sites: int, config, timing: Timing, neighbourhood):
        self.timing = timing
        self.every = timing.stride * timing.sample_every
        self.neighbourhood = neighbourhood
        self.means = Ring(n_sites, max(3, round(timing.window / (self.every * timing.dt))))
        span = self.every * timing.dt * (np.arange(self.means.length) - (self.means.length - 1) / 2)
        self.slope_weights = span / (span @ span)
        self.alarm = SustainedAlarm(n_sites, config.neighbour_threshold, config.sustain)
        self.last = {name: np.full(n_sites, np.nan) for name in ("neighbour_mean", "rise")}

    @classmethod
    def warm_up(cls, timing: Timing) -> tuple[float, str]:
        return timing.window, "detect.window"

    def rings(self) -> dict:
        return {"means": self.means}

    def update(self, step: int, t: float, sites) -> bool:
        if step % self.every:
            return False
        values = sites.values()
        below = values <= sites.on
        reached = self.neighbourhood.kernel((~below).astype(np.float64)) > 0.0
        alarm = self.alarm.alarm_time
        listening = t >= self.alarm.quiet_until
        alarm[below & reached & listening & (alarm < 0.0)] = t
        degree = self.neighbourhood.degree
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(degree > 0, self.neighbourhood.adjacent(values) / degree, np.nan)
        self.means.push(mean)
        self.last["neighbour_mean"] = mean
        if self.means.full:
            # the slope weights turned to the ring's slots (no reordered copy of the ring)
            turned = (np.arange(self.means.length) - self.means.count) % self.means.length
            rise = self.means.data @ self.slope_weights[turned]
            self.last["rise"] = rise
            self.alarm.update(t, np.where(below, np.nan_to_num(rise, nan=-np.inf), -np.inf))
        return True
