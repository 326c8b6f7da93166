"""The spatial detector: s over each site's neighbourhood, as a snapshot would show it.

Every twentieth of ``detect.trend_window`` the spatial variance, skewness and Moran's I
of s over each site's neighbourhood (bmf_fem.neighbourhood: ``detect.hops`` steps of the site
graph) are computed; Kendall's tau of ``detect.spatial_indicator`` over the last
``trend_window`` time units is the score, and the alarm is raised when it stays above
``spatial_threshold`` for ``sustain`` time units. A front or a patch of expression
approaching a site raises all three (Dakos et al. 2010 / Kefi et al. 2014 for the
whole-domain versions).
"""

from __future__ import annotations

import numpy as np

from bmf_fem.detectors.base import Detector, Timing
from bmf_fem.detectors.ews import SustainedAlarm, TrendRing
from bmf_fem.neighbourhood import spatial_indicators

TREND_POINTS = 20
"""Spatial indicator values in a trend window (one evaluation every twentieth of it)."""

SPATIAL_INDICATORS = ("spatial_variance", "spatial_skewness", "moran")


class SpatialDetector(Detector):
    """Trends of the spatial variance, skewness and Moran's I of s around each site."""

    name = "spatial"
    observable = True
    threshold_key = "spatial_threshold"
    scored = SPATIAL_INDICATORS

    def __init__(self, n_sites: int, config, timing: Timing, neighbourhood):
        self.timing = timing
        # steps between evaluations: TREND_POINTS of them span the trend window
        self.every = max(1, round(timing.trend_window / (TREND_POINTS * timing.dt)))
        self.neighbourhood = neighbourhood
        self.indicator = config.spatial_indicator
        self.history = TrendRing(n_sites, TREND_POINTS)
        self.alarm = SustainedAlarm(n_sites, config.spatial_threshold, config.sustain)
        self.last = {name: np.full(n_sites, np.nan) for name in (*SPATIAL_INDICATORS, "tau")}

    @property
    def alarm_time(self) -> np.ndarray:
        return self.alarm.alarm_time

    @property
    def score_max(self) -> np.ndarray:
        return self.alarm.max_score

    def update(self, step: int, t: float, sites) -> bool:
        if step % self.every:
            return False
        values = spatial_indicators(sites.values(), self.neighbourhood)
        self.last.update(zip(SPATIAL_INDICATORS, values, strict=True))
        self.history.push(self.last[self.indicator])
        if self.history.full:
            self.last["tau"] = self.history.tau
            self.alarm.update(t, self.last["tau"])
        return True

    def indicators(self) -> dict[str, np.ndarray]:
        return dict(self.last)

    def new_episode(self, sites: np.ndarray, t: float) -> None:
        warm_up = self.history.length * self.every * self.timing.dt
        self.alarm.new_episode(sites, t + warm_up)

    def state_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"history": self.history.data, "pairs": self.history.pair_sum}
        arrays.update(self.alarm.state_arrays())
        arrays.update({f"last_{name}": value for name, value in self.last.items()})
        return arrays

    def state_values(self) -> dict:
        return {"count": self.history.count}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        self.history.data = arrays["history"].copy()
        self.history.pair_sum = arrays["pairs"].copy()
        self.history.count = values["count"]
        self.last = {name: arrays[f"last_{name}"].copy() for name in self.last}
        self.alarm.restore(arrays)
