"""The field detector: alarm when a site's tilt approaches the fold (or rises fast).

It reads phi, the hidden driver no experiment observes: the reference the observable
detectors are measured against.
"""

from __future__ import annotations

import numpy as np

from bmf_fem.detectors.base import Detector
from bmf_fem.potential import SITE_POTENTIAL


class FieldDetector(Detector):
    """Alarm at the first time ``g <phi>`` passes ``(1 - margin) h_c`` or grows faster
    than ``rate`` per unit time."""

    name = "field"
    observable = False

    def __init__(self, n_sites: int, config, timing, neighbourhood=None):
        self.level = (1.0 - config.margin) * SITE_POTENTIAL.fold
        self.rate = config.rate
        self.alarm_time = np.full(n_sites, -1.0)
        self.previous: np.ndarray | None = None
        self.previous_t = 0.0

    def update(self, step: int, t: float, sites) -> bool:
        tilt = sites.tilts()
        alarmed = tilt > self.level
        if self.rate > 0.0 and self.previous is not None:
            alarmed |= (tilt - self.previous) / (t - self.previous_t) > self.rate
        self.previous, self.previous_t = tilt.copy(), t
        self.alarm_time[alarmed & (self.alarm_time < 0.0)] = t
        return False

    def state_arrays(self) -> dict[str, np.ndarray]:
        previous = (
            self.previous if self.previous is not None else np.full_like(self.alarm_time, np.nan)
        )
        return {"alarm_time": self.alarm_time, "previous": previous}

    def state_values(self) -> dict:
        return {"previous_t": self.previous_t, "has_previous": self.previous is not None}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        self.alarm_time = arrays["alarm_time"].copy()
        self.previous = arrays["previous"].copy() if values["has_previous"] else None
        self.previous_t = values["previous_t"]
