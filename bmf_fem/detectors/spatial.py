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

from bmf_fem.detectors.base import ScoredDetector, Timing
from bmf_fem.detectors.ews import SustainedAlarm, TrendRing
from bmf_fem.neighbourhood import spatial_indicators

TREND_POINTS = 20
"""Spatial indicator values in a trend window (one evaluation every twentieth of it)."""

SPATIAL_INDICATORS = ("spatial_variance", "spatial_skewness", "moran")


class SpatialDetector(ScoredDetector):
    """Trends of the spatial variance, skewness and Moran's I of s around each site."""

    name = "spatial"
    observable = True
    threshold_key = "spatial_threshold"
    needs_neighbourhood = True
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

    @classmethod
    def warm_up(cls, timing: Timing) -> tuple[float, str]:
        return timing.trend_window, "detect.trend_window"

    def rings(self) -> dict:
        return {"history": self.history}

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
