"""Scoring early-warning indicators by ROC, as Bury et al., PNAS 2021 do.

For every forced series (it reaches a transition at ``t1``) and every null series (no
transition; cut at a paired ``t1``) the indicator is taken on ``[t0, t1]``, ``t0`` being
the first time it is finite. Kendall's tau of the indicator against time is sampled at
``points`` evenly spaced prediction points in an early part (60-80 % of ``[t0, t1]``)
and a late part (80-100 %); the tau at point ``p`` uses the indicator on ``[t0, p]``.
Each (series, point) tau is one score; forced against null scores give a ROC curve and
its area (the probability that a forced score exceeds a null one, ties counting half).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import rankdata

EARLY = (0.6, 0.8)
LATE = (0.8, 1.0)
MIN_SAMPLES = 3
# A prediction point p includes samples with time <= p + PLACEMENT_TOL * (t1 - t0), so
# that rounding in t0 + f (t1 - t0) never drops the sample at t1 itself.
PLACEMENT_TOL = 1e-9
# Pair comparisons per block in series_taus: PAIR_ROWS times against all earlier ones,
# for as many series as keep a block near CHUNK_ELEMENTS bytes.
CHUNK_ELEMENTS = 2**24
PAIR_ROWS = 32


def kendall_tau_a(times: np.ndarray, values: np.ndarray) -> float:
    """Kendall tau-a of values against times; NaN values dropped, ties count 0."""
    times = np.asarray(times, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    keep = ~np.isnan(values)
    times, values = times[keep], values[keep]
    n = times.size
    if n < 2:
        return float("nan")
    upper = np.triu_indices(n, k=1)
    time_sign = np.sign(times[upper[1]] - times[upper[0]])
    value_sign = np.sign(values[upper[1]] - values[upper[0]])
    return float(np.sum(time_sign * value_sign) / (n * (n - 1) / 2))


def _first_finite_time(times: np.ndarray, values: np.ndarray) -> float:
    """Time of the earliest finite value (nan when there is none)."""
    finite = np.isfinite(values)
    return float(times[finite].min()) if finite.any() else float("nan")


def prediction_points(t0: float, t1: float, part: tuple[float, float], points: int) -> np.ndarray:
    """The prediction times of one part (fractions of ``[t0, t1]``)."""
    f0, f1 = part
    return np.linspace(t0 + f0 * (t1 - t0), t0 + f1 * (t1 - t0), points)


def prediction_taus(
    times: np.ndarray,
    values: np.ndarray,
    t1: float,
    part: tuple[float, float],
    points: int = 10,
) -> np.ndarray:
    """Kendall taus of one series at the ``points`` prediction points of ``part``.

    The tau at point p uses the finite samples with t0 <= time <= p; nan where there
    are fewer than three of them.
    """
    times = np.asarray(times, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    taus = np.full(points, np.nan)
    t0 = _first_finite_time(times, values)
    if not (np.isfinite(t0) and np.isfinite(t1)):
        return taus
    tol = PLACEMENT_TOL * abs(t1 - t0)
    finite = np.isfinite(values)
    for k, p in enumerate(prediction_points(t0, t1, part, points)):
        window = finite & (times >= t0) & (times <= p + tol)
        if window.sum() >= MIN_SAMPLES:
            taus[k] = kendall_tau_a(times[window], values[window])
    return taus


def _pair_sums(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per series, the running sum of sign(dt) sign(dv) over finite pairs.

    ``times`` is sorted ascending, ``values`` has shape [n_times, n_series]; entry
    [m, s] is the sum over pairs i < j <= m (pairs with a NaN or equal times count 0).
    """
    n_times, n_series = values.shape
    out = np.empty((n_times, n_series), dtype=np.int64)
    width = max(1, CHUNK_ELEMENTS // (PAIR_ROWS * max(1, n_times)))
    for s0 in range(0, n_series, width):
        block = values[:, s0 : s0 + width]
        for j0 in range(0, n_times, PAIR_ROWS):
            j1 = min(n_times, j0 + PAIR_ROWS)
            # Rows j in [j0, j1) against all earlier samples i < j1; NaN compares False
            # both ways, so pairs with a missing value drop out.
            later, sooner = block[j0:j1, None, :], block[None, :j1, :]
            signs = np.greater(later, sooner).view(np.int8) - np.less(later, sooner).view(np.int8)
            signs *= (times[None, :j1] < times[j0:j1, None]).view(np.int8)[:, :, None]
            out[j0:j1, s0 : s0 + width] = signs.sum(axis=1, dtype=np.int64)
    return np.cumsum(out, axis=0)


def _taus_by_part(
    times: np.ndarray,
    values: np.ndarray,
    t1: np.ndarray,
    parts: tuple[tuple[float, float], ...],
    points: int,
) -> list[np.ndarray]:
    """``series_taus`` for several parts, sharing the pair sums; one [n_series, points] each."""
    times = np.asarray(times, dtype=float).ravel()
    values = np.asarray(values, dtype=float).reshape(times.size, -1)
    n_series = values.shape[1]
    t1 = np.broadcast_to(np.asarray(t1, dtype=float), (n_series,))
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]

    finite = np.isfinite(values)
    values = np.where(finite, values, np.nan)
    has_any = finite.any(axis=0)
    t0 = np.where(has_any, times[finite.argmax(axis=0)], np.nan)
    span = t1 - t0

    lasts, placements = [], []
    for f0, f1 in parts:
        # Same arithmetic as prediction_points, one row per series.
        placed = np.linspace(t0 + f0 * span, t0 + f1 * span, points, axis=1)
        placed = placed + PLACEMENT_TOL * np.abs(span)[:, None]
        placed = np.where(np.isfinite(placed), placed, -np.inf)
        # Index of the last sample with time <= p; -1 when there is none.
        lasts.append(np.searchsorted(times, placed, side="right") - 1)
        placements.append(placed)
    needed = max(1, *(int(last.max(initial=0)) + 1 for last in lasts))
    counts = np.cumsum(finite[:needed], axis=0)
    sums = _pair_sums(times[:needed], values[:needed])

    columns = np.arange(n_series)[:, None]
    results = []
    for last, placed in zip(lasts, placements, strict=True):
        safe = np.maximum(last, 0)
        n_window = np.where(last >= 0, counts[safe, columns], 0)
        pair_total = np.where(last >= 0, sums[safe, columns], 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            taus = pair_total / (n_window * (n_window - 1) / 2)
        valid = (n_window >= MIN_SAMPLES) & np.isfinite(placed)
        results.append(np.where(valid, taus, np.nan))
    return results


def series_taus(
    times: np.ndarray,
    values: np.ndarray,
    t1: np.ndarray,
    part: tuple[float, float],
    points: int = 10,
) -> np.ndarray:
    """Kendall taus of many series, ``values`` [n_times, n_series]; returns [n_series, points].

    Same result as ``prediction_taus`` per column, with one ``t1`` per series.
    """
    return _taus_by_part(times, values, t1, (tuple(part),), points)[0]


def roc_curve(forced: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates over all thresholds, from (0, 0) to (1, 1).

    A score is called positive when it is >= the threshold; NaN scores are dropped.
    Empty arrays when either side has no scores.
    """
    forced = np.sort(_finite(forced))
    null = np.sort(_finite(null))
    if forced.size == 0 or null.size == 0:
        return np.empty(0), np.empty(0)
    thresholds = np.unique(np.concatenate([forced, null]))[::-1]
    true_pos = forced.size - np.searchsorted(forced, thresholds, side="left")
    false_pos = null.size - np.searchsorted(null, thresholds, side="left")
    fpr = np.concatenate([[0.0], false_pos / null.size])
    tpr = np.concatenate([[0.0], true_pos / forced.size])
    return fpr, tpr


def auc(forced: np.ndarray, null: np.ndarray) -> float:
    """Area under the ROC curve by ranks (Mann-Whitney U / (n_forced n_null)); ties half."""
    forced, null = _finite(forced), _finite(null)
    if forced.size == 0 or null.size == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([forced, null]))
    u_forced = ranks[: forced.size].sum() - forced.size * (forced.size + 1) / 2
    return float(u_forced / (forced.size * null.size))


def _finite(scores: np.ndarray) -> np.ndarray:
    """Scores as a flat float array without NaN."""
    scores = np.asarray(scores, dtype=float).ravel()
    return scores[~np.isnan(scores)]


def _usable(times: np.ndarray, values: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Series with at least three finite samples on [t0, t1]."""
    before_end = times[:, None] <= t1[None, :] + PLACEMENT_TOL * np.abs(t1[None, :])
    return (np.isfinite(values) & before_end).sum(axis=0) >= MIN_SAMPLES


def evaluate(
    times: np.ndarray,
    forced_values: np.ndarray,
    forced_t1: np.ndarray,
    null_values: np.ndarray,
    null_t1: np.ndarray,
    points: int = 10,
) -> dict:
    """ROC scores of one indicator: early and late AUC, series counts and curves.

    ``*_values`` have shape [n_times, n_series]; series with fewer than three finite
    samples on [t0, t1] are left out and not counted.
    """
    times = np.asarray(times, dtype=float).ravel()
    sides = {}
    for name, values, t1 in (("forced", forced_values, forced_t1), ("null", null_values, null_t1)):
        values = np.asarray(values, dtype=float).reshape(times.size, -1)
        t1 = np.broadcast_to(np.asarray(t1, dtype=float), (values.shape[1],))
        keep = _usable(times, values, t1)
        sides[name] = (values[:, keep], t1[keep])

    parts = (EARLY, LATE)
    forced_taus = _taus_by_part(times, *sides["forced"], parts, points)
    null_taus = _taus_by_part(times, *sides["null"], parts, points)
    result: dict = {}
    for label, forced, null in zip(("early", "late"), forced_taus, null_taus, strict=True):
        fpr, tpr = roc_curve(forced, null)
        result[f"auc_{label}"] = auc(forced, null)
        result[f"curve_{label}"] = [fpr.tolist(), tpr.tolist()]
    result["forced"] = int(sides["forced"][1].size)
    result["null"] = int(sides["null"][1].size)
    return result


def plot_roc(path: str | Path, results: dict[str, dict]) -> Path:
    """Early and late ROC curves of several indicators (name -> ``evaluate`` result)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), sharey=True)
    for ax, label in zip(axes, ("early", "late"), strict=True):
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        for name, result in results.items():
            fpr, tpr = result[f"curve_{label}"]
            ax.plot(fpr, tpr, label=f"{name} (AUC {result[f'auc_{label}']:.2f})")
        part = EARLY if label == "early" else LATE
        ax.set_title(f"{label}: {part[0]:.0%}-{part[1]:.0%} of [t0, t1]")
        ax.set_xlabel("false positive rate")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.legend(loc="lower right", fontsize="small")
    axes[0].set_ylabel("true positive rate")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
