"""Early-warning statistics shared by the detectors: trends, detrending, sustained alarms.

Everything works on many sites at once: arrays have one row per site.
"""

from __future__ import annotations

import numpy as np

EDGES = ("nearest", "reflect")
"""Edge rules of the Gaussian detrending. "reflect" (mirror about the window's edge,
repeating the edge sample) is the convention of ewstools; "nearest" repeats the edge
sample."""


def kendall_tau(series: np.ndarray) -> np.ndarray:
    """Kendall's tau-a of each row against time (rows: sites, columns: samples)."""
    n = series.shape[1]
    if n < 2:
        return np.zeros(series.shape[0])
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    signs = np.sign(series[:, None, :] - series[:, :, None])
    return signs[:, upper].sum(axis=1) / (n * (n - 1) / 2)


def residuals(window: np.ndarray, detrend: str, bandwidth_samples: float, edges: str):
    """The rows of ``window`` minus their trend (Gaussian kernel or the row mean)."""
    if detrend == "gaussian":
        # imported here: reading a configuration (which lists the detectors) stays fast
        from scipy.ndimage import gaussian_filter1d

        trend = gaussian_filter1d(window, bandwidth_samples, axis=1, mode=edges)
    else:
        trend = window.mean(axis=1, keepdims=True)
    residual = window - trend
    return residual - residual.mean(axis=1, keepdims=True)


def indicators(
    window: np.ndarray, detrend: str, bandwidth_samples: float, edges: str = "reflect"
) -> tuple[np.ndarray, np.ndarray]:
    """Variance and lag-1 autocorrelation of the detrended rows of ``window``."""
    residual = residuals(window, detrend, bandwidth_samples, edges)
    variance = (residual**2).mean(axis=1)
    lagged = (residual[:, 1:] * residual[:, :-1]).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ac1 = np.where(variance > 0.0, lagged / variance, 0.0)
    return variance, ac1


class Ring:
    """The last ``length`` columns of per-site samples, oldest first on demand."""

    def __init__(self, n_sites: int, length: int):
        self.data = np.zeros((n_sites, length))
        self.count = 0

    @property
    def length(self) -> int:
        return self.data.shape[1]

    @property
    def full(self) -> bool:
        return self.count >= self.length

    def push(self, values: np.ndarray) -> None:
        self.data[:, self.count % self.length] = values
        self.count += 1

    def ordered(self) -> np.ndarray:
        order = (np.arange(self.length) + self.count) % self.length
        return self.data[:, order]

    def state(self) -> tuple[dict[str, np.ndarray], int]:
        """What a checkpoint keeps: the per-site arrays and the count."""
        return {"data": self.data}, self.count

    def restore(self, arrays: dict[str, np.ndarray], count: int) -> None:
        for name, array in arrays.items():
            setattr(self, name, array.copy())
        self.count = count


class TrendRing(Ring):
    """A Ring whose Kendall tau (tau-a against time) is kept up to date as values arrive.

    The sum of signs over all pairs changes by O(length) per sample (the pairs of the
    value that leaves and of the one that arrives), so the trend costs O(length) per site
    and step instead of O(length^2). The sums are integers: the tau equals
    ``kendall_tau(ordered())`` exactly.
    """

    def __init__(self, n_sites: int, length: int):
        super().__init__(n_sites, length)
        self.pair_sum = np.zeros(n_sites)

    def push(self, values: np.ndarray) -> None:
        values = np.nan_to_num(values)  # NaN (no value yet) counts as 0
        slot = self.count % self.length
        if self.full:
            leaving = self.data[:, slot]
            # the oldest value leaves with its pairs (its own column counts 0) ...
            self.pair_sum -= _sign_sum(self.data, leaving)
            # ... and the new one pairs with every other value (not with the leaving one)
            self.pair_sum -= _sign_sum(self.data, values) + np.sign(values - leaving)
        else:
            self.pair_sum -= _sign_sum(self.data[:, : self.count], values)
        super().push(values)

    def state(self) -> tuple[dict[str, np.ndarray], int]:
        arrays, count = super().state()
        return {**arrays, "pair_sum": self.pair_sum}, count

    @property
    def tau(self) -> np.ndarray:
        n = min(self.count, self.length)
        return self.pair_sum / (n * (n - 1) / 2) if n > 1 else np.zeros_like(self.pair_sum)


def _sign_sum(data: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``sum_k sign(data[:, k] - values)`` per row, by counting (6x faster than np.sign)."""
    column = values[:, None]
    above = np.count_nonzero(data > column, axis=1)
    return (above - np.count_nonzero(data < column, axis=1)).astype(np.float64)


class SustainedAlarm:
    """Alarm a site when its score stays above a threshold for ``sustain`` time units.

    ``quiet_until`` holds sites back (a new episode, until their windows refill); the
    largest score of every site (after its quiet time) is what null runs calibrate on.
    """

    def __init__(self, n_sites: int, threshold: float, sustain: float):
        self.threshold = threshold
        self.sustain = sustain
        self.above_since = np.full(n_sites, np.nan)
        self.max_score = np.full(n_sites, -np.inf)
        self.alarm_time = np.full(n_sites, -1.0)
        self.quiet_until = np.full(n_sites, -np.inf)

    def update(self, t: float, score: np.ndarray) -> None:
        listening = t >= self.quiet_until
        score = np.where(listening, score, -np.inf)
        np.maximum(self.max_score, score, out=self.max_score)
        above = score > self.threshold
        self.above_since[~above] = np.nan
        self.above_since[above & np.isnan(self.above_since)] = t
        sustained = above & (t - self.above_since >= self.sustain - 1e-12)
        self.alarm_time[sustained & (self.alarm_time < 0.0)] = t

    def new_episode(self, sites: np.ndarray, until: float) -> None:
        """Forget the alarms of ``sites`` (a mask) and keep them quiet until ``until``."""
        self.alarm_time[sites] = -1.0
        self.above_since[sites] = np.nan
        self.quiet_until[sites] = until

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "above_since": self.above_since,
            "max_score": self.max_score,
            "alarm_time": self.alarm_time,
            "quiet_until": self.quiet_until,
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        for name in self.state_arrays():
            setattr(self, name, arrays[name].copy())
