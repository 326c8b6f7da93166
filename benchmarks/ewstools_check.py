"""bmf-fem's early-warning indicators against ewstools on the same windows.

ewstools (the common Python tool; benchmark-only, installed by benchmarks/peer-env)
detrends with a Gaussian kernel whose bandwidth puts the kernel's quartiles at +-0.25
bandwidth (sigma = 0.25 / 0.675 bandwidth), mirrors the series at its ends ("reflect"),
and takes the sample variance (ddof 1) and the lag-1 Pearson autocorrelation. bmf-fem's
statistical detector detrends each window with a kernel of standard deviation
``detect.bandwidth``, with ``detect.edges`` at the ends, and takes the mean square and
the lag-1 autocovariance over the variance (both about the window mean). With the
conventions matched (the same sigma, "reflect", ddof 1 for the variance) the table shows
how far the two agree on windows of an AR(1) series whose memory grows towards a fold
(the lag-1 estimators still differ by O(1/n): autocovariance over variance about one
mean, against the Pearson correlation of the lagged pairs); with "nearest" edges it
shows what the edge rule alone changes.

    containers/run benchmarks/peer-env python3 benchmarks/ewstools_check.py
"""

from __future__ import annotations

import numpy as np

from bmf_fem.detectors.ews import indicators


def series(n: int = 3000, seed: int = 1) -> np.ndarray:
    """AR(1) with its coefficient rising from 0.2 to 0.95 on a slow drift."""
    rng = np.random.default_rng(seed)
    phi = np.linspace(0.2, 0.95, n)
    x = np.zeros(n)
    for k in range(1, n):
        x[k] = phi[k] * x[k - 1] + rng.standard_normal()
    return x + np.linspace(0.0, 5.0, n)


def main() -> None:
    import pandas as pd
    from ewstools import TimeSeries

    data = series()
    window, sigma = 200, 20.0
    bandwidth = sigma * 0.675 / 0.25  # ewstools' quartile convention
    starts = np.arange(0, data.size - window, 140)
    rows = {"reflect": [], "nearest": []}
    for start in starts:
        chunk = data[start : start + window]
        ts = TimeSeries(pd.Series(chunk, index=np.arange(window, dtype=float)))
        ts.detrend(method="Gaussian", bandwidth=bandwidth)
        ts.compute_var(rolling_window=1.0)
        ts.compute_auto(lag=1, rolling_window=1.0)
        ews = ts.ews.iloc[-1]
        reference = (float(ews["variance"]), float(ews["ac1"]))
        for edges in rows:
            variance, ac1 = indicators(chunk[None, :], "gaussian", sigma, edges)
            variance = variance[0] * window / (window - 1)  # ddof 1, as pandas
            rows[edges].append(
                (variance / reference[0] - 1.0, ac1[0] - reference[1], ac1[0] / reference[1] - 1)
            )
    print(f"{len(starts)} windows of {window} samples, Gaussian sigma {sigma:g} samples")
    print(f"{'edges':<10} {'variance: max rel. diff':>24} {'ac1: max abs. diff':>19} {'rel.':>9}")
    for edges, values in rows.items():
        values = np.abs(np.asarray(values))
        print(
            f"{edges:<10} {values[:, 0].max():>24.2e} {values[:, 1].max():>19.2e}"
            f" {values[:, 2].max():>9.2e}"
        )


if __name__ == "__main__":
    main()
