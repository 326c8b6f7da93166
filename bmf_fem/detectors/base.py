"""What every detector is: per-site alarms from the run's sites, fed after every step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bmf_fem.detectors.ews import Ring, SustainedAlarm

STRIDES_PER_WINDOW = 20
"""Indicators are computed every twentieth of ``detect.window``."""


@dataclass(frozen=True)
class Timing:
    """A detector's clock, resolved from the configuration and the run (``dt``, ``t_end``).

    ``window`` and ``trend_window`` of "auto" become 50 and 100 time units on runs of
    300 or more, else t_end / 6 and t_end / 3 (so indicators and their trends exist for
    the second half of the run); ``bandwidth`` "auto" is window / 5.
    """

    dt: float
    sample_every: int
    window: float
    trend_window: float
    bandwidth: float

    @classmethod
    def of(cls, config, dt: float, t_end: float) -> Timing:
        window = config.window if config.window != "auto" else min(50.0, t_end / 6.0)
        trend = config.trend_window if config.trend_window != "auto" else min(100.0, t_end / 3.0)
        bandwidth = config.bandwidth if config.bandwidth != "auto" else window / 5.0
        return cls(dt, config.sample_every, float(window), float(trend), float(bandwidth))

    @property
    def sample_dt(self) -> float:
        return self.sample_every * self.dt

    @property
    def samples(self) -> int:
        """Samples in a window."""
        return max(4, round(self.window / self.sample_dt))

    @property
    def stride(self) -> int:
        """Samples between two indicator evaluations."""
        return max(1, self.samples // STRIDES_PER_WINDOW)

    @property
    def trend_length(self) -> int:
        """Indicator values in a trend window."""
        return max(3, round(self.trend_window / (self.stride * self.sample_dt)))

    @property
    def warm_up(self) -> float:
        """Time from a start (or a reset) until the first trend exists."""
        return (self.samples + self.stride * (self.trend_length - 1)) * self.sample_dt

    def as_dict(self) -> dict:
        return {
            "window": self.window,
            "trend_window": self.trend_window,
            "bandwidth": self.bandwidth,
            "sample_dt": self.sample_dt,
            "indicator_dt": self.stride * self.sample_dt,
        }


class Detector:
    """The contract of a detector (subclass it and register it in bmf_fem.detectors).

    Class attributes: ``name`` (what ``detect.detectors`` lists), ``observable`` (uses s
    alone, as an experimenter would), ``modes`` (site modes it works in) and
    ``threshold_key`` (the ``[detect]`` key null runs calibrate, or None) with the
    ``threshold_range`` a calibrated value is kept in, and ``scored`` (the indicators
    the ROC evaluation scores, bmf_fem.roc).

    ``needs_neighbourhood``: it reads the site graph (bmf_fem.neighbourhood);
    ``warm_up(timing)``: how long its windows take to fill (checked against t_end).

    ``update(step, t, sites)`` is called after every step on every rank and returns
    whether new indicator values exist (``indicators()``: name -> per-site array).
    ``alarm_time`` is -1 for sites not alarmed in their current episode. ``score_max``
    is the largest score of each site, what calibration takes a quantile of.
    """

    name: ClassVar[str]
    observable: ClassVar[bool]
    modes: ClassVar[tuple[str, ...]] = ("cells", "continuum")
    threshold_key: ClassVar[str | None] = None
    threshold_range: ClassVar[tuple[float, float]] = (-1.0, 0.999)  # a Kendall tau
    scored: ClassVar[tuple[str, ...]] = ()
    needs_neighbourhood: ClassVar[bool] = False

    alarm_time: np.ndarray

    @classmethod
    def warm_up(cls, timing: Timing) -> tuple[float, str] | None:
        """The time from a start (or a reset) until the first alarm can come, and the keys
        that set it; None when alarms can come at once."""
        return None

    def update(self, step: int, t: float, sites) -> bool:
        raise NotImplementedError

    def indicators(self) -> dict[str, np.ndarray]:
        return {}

    @property
    def score_max(self) -> np.ndarray:
        return np.full(self.alarm_time.shape, -np.inf)

    def new_episode(self, sites: np.ndarray, t: float) -> None:
        """Forget the alarms of ``sites`` (a mask): they were reset at time t."""
        self.alarm_time[sites] = -1.0

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Per-site arrays a checkpoint keeps."""
        return {"alarm_time": self.alarm_time}

    def state_values(self) -> dict:
        """Plain numbers a checkpoint keeps."""
        return {}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        self.alarm_time = arrays["alarm_time"].copy()


class ScoredDetector(Detector):
    """A detector whose score per site is alarmed by ``self.alarm`` (a SustainedAlarm),
    whose latest indicator values are ``self.last`` and whose windows are the rings of
    ``rings()``; checkpoints and episodes follow from these."""

    timing: Timing
    alarm: SustainedAlarm
    last: dict[str, np.ndarray]

    def rings(self) -> dict[str, Ring]:
        raise NotImplementedError

    @property
    def alarm_time(self) -> np.ndarray:
        return self.alarm.alarm_time

    @property
    def score_max(self) -> np.ndarray:
        return self.alarm.max_score

    def indicators(self) -> dict[str, np.ndarray]:
        return dict(self.last)

    def new_episode(self, sites: np.ndarray, t: float) -> None:
        """The reset sites stay quiet until their windows hold only the new episode."""
        self.alarm.new_episode(sites, t + self.warm_up(self.timing)[0])

    def state_arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.alarm.state_arrays())
        arrays.update({f"last_{name}": value for name, value in self.last.items()})
        for ring_name, ring in self.rings().items():
            ring_arrays, _ = ring.state()
            arrays.update({f"{ring_name}_{key}": value for key, value in ring_arrays.items()})
        return arrays

    def state_values(self) -> dict:
        return {f"{name}_count": ring.state()[1] for name, ring in self.rings().items()}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        self.alarm.restore(arrays)
        self.last = {name: arrays[f"last_{name}"].copy() for name in self.last}
        for ring_name, ring in self.rings().items():
            keys = ring.state()[0]
            ring.restore(
                {key: arrays[f"{ring_name}_{key}"] for key in keys}, values[f"{ring_name}_count"]
            )
