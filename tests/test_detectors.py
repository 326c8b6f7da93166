"""The observable detectors against answers written here: spatial statistics computed
site by site with NumPy, the neighbour rule on a front of known speed, the detrending
edge rules, the detector registry, episodes and the check-time errors."""

from __future__ import annotations

import csv
import dataclasses
import json

import h5py
import numpy as np
import pytest
from conftest import bmf
from scipy.ndimage import convolve1d

from bmf_fem.config import DetectConfig, config_from_dict
from bmf_fem.detectors import DETECTORS, OBSERVABLE, Timing, available
from bmf_fem.detectors.ews import EDGES, indicators
from bmf_fem.detectors.neighbour import NeighbourDetector
from bmf_fem.errors import ConfigError
from bmf_fem.neighbourhood import GraphNeighbourhood, spatial_indicators

# A small irregular graph: a 3 x 4 grid with one diagonal and one missing edge.
EDGES_SMALL = [(r * 4 + c, r * 4 + c + 1) for r in range(3) for c in range(3)]
EDGES_SMALL += [(r * 4 + c, (r + 1) * 4 + c) for r in range(2) for c in range(4)]
EDGES_SMALL = [e for e in EDGES_SMALL if e != (5, 9)] + [(0, 5)]


def graph(hops: int) -> GraphNeighbourhood:
    first, second = np.array(EDGES_SMALL).T
    return GraphNeighbourhood(12, first, second, hops)


def brute_force(s: np.ndarray, hops: int):
    """The same statistics by explicit sums over walks and pairs."""
    n = s.size
    A = np.zeros((n, n))
    for i, j in EDGES_SMALL:
        A[i, j] = A[j, i] = 1.0
    W = np.linalg.matrix_power(np.eye(n) + A, hops)
    variance, skewness, moran = [], [], []
    for i in range(n):
        w = W[i]
        m = (w * s).sum() / w.sum()
        z = s - m
        var = (w * z**2).sum() / w.sum()
        variance.append(var)
        skewness.append((w * z**3).sum() / w.sum() / var**1.5)
        pairs = sum(w[j] * A[j, k] * z[j] * z[k] for j in range(n) for k in range(n))
        moran.append(pairs / ((w * A.sum(axis=1)).sum() * var))
    return np.array(variance), np.array(skewness), np.array(moran)


@pytest.mark.parametrize("hops", [1, 2])
def test_spatial_indicators_equal_explicit_sums_on_a_small_graph(hops):
    rng = np.random.default_rng(4)
    s = -1.0 + 1e-3 * rng.standard_normal(12)  # small fluctuations about the well
    s[[2, 3, 7]] += 5e-3  # a patch
    got = spatial_indicators(s, graph(hops))
    expected = brute_force(s, hops)
    for name, value, exact in zip(("var", "skew", "moran"), got, expected, strict=True):
        np.testing.assert_allclose(value, exact, rtol=1e-8, err_msg=name)


def test_spatial_indicators_of_a_flat_field_and_a_checkerboard():
    neighbourhood = graph(1)
    variance, skewness, moran = spatial_indicators(np.full(12, 0.3), neighbourhood)
    assert np.all(variance == 0.0) and np.all(skewness == 0.0) and np.all(moran == 0.0)
    # On a bipartite grid a checkerboard is perfectly anticorrelated (Moran's I < 0) and
    # a smooth ramp positively correlated.
    rows, cols = np.divmod(np.arange(12), 4)
    plain = GraphNeighbourhood(
        12, *np.array([e for e in EDGES_SMALL if e != (0, 5)] + [(5, 9)]).T, hops=1
    )
    assert np.all(spatial_indicators((-1.0) ** (rows + cols), plain)[2] < 0.0)
    assert np.mean(spatial_indicators(0.1 * cols, plain)[2]) > 0.2


def test_neighbour_rule_warns_each_site_of_a_front_one_hop_ahead():
    """A front moving one site per time unit along a path: site i expresses at t = i (i >=
    1); its neighbour i - 1 expressed one time unit before, so the rule warns it then."""
    n, dt = 30, 0.05
    path = GraphNeighbourhood(n, np.arange(n - 1), np.arange(1, n), hops=1)
    config = DetectConfig(detectors=("neighbour",), window=2.0, neighbour_threshold=1e9)
    detector = NeighbourDetector(n, config, Timing.of(config, dt, 100.0), path)

    class Front:
        on = 0.0

        def __init__(self):
            self.s = np.full(n, -1.0)

        def values(self):
            return self.s

    front = Front()
    expressed = np.full(n, -1.0)
    for step in range(1, round(n / dt) + 1):
        t = step * dt
        front.s = np.where(np.arange(n) < t - 1e-9, 1.0, -1.0)
        expressed[(front.s > 0) & (expressed < 0)] = t
        detector.update(step, t, front)
    lead = expressed - detector.alarm_time
    assert detector.alarm_time[0] == -1.0  # the first site has no warning neighbour
    np.testing.assert_allclose(lead[1:], 1.0, atol=dt + 1e-9)


def test_neighbour_rise_of_a_linear_ramp_is_its_slope():
    n, dt = 5, 0.1
    path = GraphNeighbourhood(n, np.arange(n - 1), np.arange(1, n), hops=1)
    config = DetectConfig(window=4.0, neighbour_threshold=0.02, sustain=0.0)
    detector = NeighbourDetector(n, config, Timing.of(config, dt, 100.0), path)

    class Ramp:
        on = 0.0
        s = np.full(n, -1.0)

        def values(self):
            return self.s

    ramp = Ramp()
    for step in range(1, 200):
        ramp.s = np.full(n, -1.0 + 0.03 * step * dt)
        detector.update(step, step * dt, ramp)
    np.testing.assert_allclose(detector.last["rise"], 0.03, rtol=1e-9)
    assert np.all(detector.alarm_time > 0.0)


def test_reflect_edges_are_ewstools_convention_and_differ_from_nearest():
    """Gaussian detrending with "reflect" equals a convolution of the series mirrored
    about its ends (the edge sample repeated), written out here."""
    rng = np.random.default_rng(2)
    window = np.cumsum(rng.standard_normal((3, 200)), axis=1)
    sigma = 8.0
    radius = int(4 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    mirrored = np.concatenate(
        [window[:, radius - 1 :: -1], window, window[:, : -radius - 1 : -1]], 1
    )
    trend = convolve1d(mirrored, taps, axis=1, mode="constant")[:, radius:-radius]
    residual = window - trend
    residual -= residual.mean(axis=1, keepdims=True)
    variance, ac1 = indicators(window, "gaussian", sigma, "reflect")
    np.testing.assert_allclose(variance, (residual**2).mean(axis=1), rtol=1e-10)
    lagged = (residual[:, 1:] * residual[:, :-1]).mean(axis=1)
    np.testing.assert_allclose(ac1, lagged / (residual**2).mean(axis=1), rtol=1e-10)
    nearest = indicators(window, "gaussian", sigma, "nearest")[0]
    assert np.max(np.abs(nearest / variance - 1.0)) > 1e-3
    assert EDGES == ("nearest", "reflect")


def test_the_registry_is_what_the_configuration_accepts():
    assert list(DETECTORS) == ["field", "statistical", "spatial", "neighbour"]
    assert OBSERVABLE == ("statistical", "spatial", "neighbour")
    assert available("continuum") == ("field", "spatial", "neighbour")
    cells = {"sites": {"mode": "cells", "regions": "cell_*"}}
    every = config_from_dict({**cells, "detect": {"detectors": ["all"]}})
    assert every.detect.detectors == tuple(DETECTORS)
    continuum = config_from_dict({"detect": {"detectors": ["field", "all"]}})
    assert continuum.detect.detectors == ("field", "spatial", "neighbour")
    with pytest.raises(ConfigError, match=r'"statistical" detector needs sites\.mode = "cells"'):
        config_from_dict({"detect": {"detectors": ["statistical"]}})


@pytest.mark.parametrize(
    ("detect", "keys"),
    [
        ({"detectors": ["statistical"], "window": 30.0, "trend_window": 60.0}, "window"),
        ({"detectors": ["spatial"], "trend_window": 100.0}, "detect.trend_window"),
        ({"detectors": ["neighbour"], "window": 80.0}, "detect.window"),
    ],
)
def test_windows_longer_than_the_run_are_refused_at_check_time(tmp_path, detect, keys):
    config = tmp_path / "short.toml"
    config.write_text(
        '[mesh]\nkind = "tissue"\nh = 0.1\n[time]\nt_end = 80.0\ndt = 0.5\n'
        '[sites]\nmode = "cells"\nregions = "cell_*"\n[detect]\n'
        + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in detect.items())
    )
    result = bmf("check", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert keys in result.stderr and "time.t_end = 80" in result.stderr


def test_auto_windows_fit_a_short_run():
    config = DetectConfig(detectors=("statistical",))
    long, short = Timing.of(config, 0.05, 1000.0), Timing.of(config, 0.05, 60.0)
    assert (long.window, long.trend_window, long.bandwidth) == (50.0, 100.0, 10.0)
    assert (short.window, short.trend_window) == (10.0, 20.0)
    assert short.warm_up < 60.0 / 2 + 1.0
    explicit = dataclasses.replace(config, window=5.0, bandwidth=2.0)
    assert Timing.of(explicit, 0.05, 60.0).bandwidth == 2.0


SHORT_TISSUE = """
[mesh]
kind = "tissue"
h = 0.08
[time]
dt = 0.1
t_end = 80.0
[sites]
mode = "cells"
regions = "cell_*"
noise = 0.05
[[input]]
centre = [-0.5, 0.0]
radius = 0.4
amplitude = 0.15
start = 1.0
period = 0.5
width = 0.25
count = 140
[[perturbation]]
kind = "reset"
fields = ["s"]
centre = [0.0, 0.0]
radius = 0.3
start = 40.0
[detect]
detectors = ["all"]
calibration_runs = 2
window = 6.0
trend_window = 12.0
"""


@pytest.mark.slow
def test_episodes_indicators_file_and_roc_of_a_short_tissue_run(tmp_path):
    """A cells-mode run with a reset and null runs: per-episode rows in sites.csv,
    detection.h5 with [time, site] series whose tau is the trend of the recorded
    indicator, and a ROC entry per scored indicator."""
    config, out = tmp_path / "short.toml", tmp_path / "run"
    config.write_text(SHORT_TISSUE)
    result = bmf("run", str(config), "--out", str(out), "--quiet", "--no-plots")
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    detection = summary["detection"]
    with open(out / "sites.csv") as handle:
        rows = list(csv.DictReader(handle))
    sites = {row["site"] for row in rows}
    reset = {row["site"] for row in rows if row["episode"] == "2"}
    assert reset and len(reset) < len(sites)
    assert len(rows) == detection["any"]["sites"] == len(sites) + len(reset)
    for row in rows:
        if row["episode"] == "2":
            assert float(row["t_start"]) == pytest.approx(40.0, abs=0.1)
            if row["t_alarm"]:
                assert float(row["t_alarm"]) >= 40.0
    with h5py.File(out / "detection.h5") as h5:
        times = h5["statistical/time"][:]
        variance = h5["statistical/variance"][:]
        tau = h5["statistical/tau"][:]
        assert variance.shape == tau.shape == (times.size, len(sites))
        assert np.allclose(np.diff(times), times[1] - times[0])
        assert np.isnan(tau[0]).all() and np.isfinite(tau[-1]).all()
        # the last tau is Kendall's tau of ac1 (detect.indicator) over the last trend window
        timing = Timing.of(DetectConfig(window=6.0, trend_window=12.0), 0.1, 80.0)
        recent = h5["statistical/ac1"][-timing.trend_length :]
        n = recent.shape[0]
        signs = np.sign(recent[None, :, :] - recent[:, None, :])
        upper = np.triu(np.ones((n, n), dtype=bool), k=1)
        np.testing.assert_allclose(tau[-1], signs[upper].sum(axis=0) / (n * (n - 1) / 2))
        assert h5["spatial/moran"].shape[1] == len(sites) and "neighbour/rise" in h5
        expressed = h5["sites/t_expressed"][:]
        assert np.array_equal(expressed >= 0, [bool(r["t_expressed"]) for r in rows
                                                if r["episode"] == "1"])  # fmt: skip
    for name in ("variance", "ac1", "spatial_variance", "spatial_skewness", "moran"):
        roc = detection["roc"][name]
        assert roc["null"] == 2 * roc["forced"] > 0


@pytest.mark.mpi
def test_continuum_detectors_are_the_same_on_one_and_two_ranks(tmp_path):
    """The default crystal at a coarse h with every continuum detector: the same alarms,
    and the same recorded neighbourhood statistics (the sampled dofs are chosen in the
    mesh's input order, so the columns of detection.h5 are the same sites)."""
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        result = bmf(
            "run", "--out", str(out), "--quiet", "--no-plots",
            "--set", "mesh.h=0.05", "--set", "time.t_end=20", "--set", "solver.rtol=1e-10",
            "--set", 'detect.detectors=["all"]', "--set", "detect.neighbour_threshold=0.01",
            "--set", "detect.spatial_threshold=0.5", n=n,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[n] = json.loads((out / "summary.json").read_text())["detection"]
        with h5py.File(out / "detection.h5") as h5:
            runs[n]["h5"] = {
                name: h5[name][:]
                for name in ("sites/key", "spatial/spatial_variance", "neighbour/neighbour_mean")
            }
    one, two = runs[1], runs[2]
    assert one["observable"]["expressed"] > 10
    for name in ("field", "spatial", "neighbour", "observable", "any"):
        for key in ("sites", "expressed", "hits", "late", "misses", "false_alarms"):
            assert one[name][key] == two[name][key], (name, key)
    np.testing.assert_array_equal(one["h5"]["sites/key"], two["h5"]["sites/key"])
    for name in ("spatial/spatial_variance", "neighbour/neighbour_mean"):
        np.testing.assert_allclose(one["h5"][name], two["h5"][name], rtol=1e-6, atol=1e-12)


def test_the_running_kendall_tau_equals_the_direct_one():
    """Updated pair by pair as values arrive and leave, exactly the O(n^2) sum."""
    from bmf_fem.detectors.ews import TrendRing, kendall_tau

    rng = np.random.default_rng(6)
    ring = TrendRing(7, 9)
    for count in range(1, 40):
        ring.push(rng.integers(0, 4, 7).astype(float))  # small integers: many ties
        n = min(count, 9)
        np.testing.assert_array_equal(ring.tau, kendall_tau(ring.ordered()[:, -n:]))
