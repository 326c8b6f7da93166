"""The detectors' indicators as time series: ``DIR/detection.h5``.

One group per detector with indicators (``statistical``, ``spatial``, ``neighbour``):
``time`` [n] and one dataset per indicator [n, site] at the detector's stride, NaN
before the indicator exists. ``sites/key`` names the columns (cells mode: the site
index, as in sites.csv; continuum mode: every k-th degree of freedom in the mesh's
input order, at most ``MAX_RECORDED`` of them, the same on any rank count) and
``sites/t_expressed`` their expression times in their first episode (-1: none).

Read it with h5py (docs/detection.md):

    with h5py.File("bmf-out/detection.h5") as h5:
        t, tau = h5["statistical/time"][:], h5["statistical/tau"][:]

The file is rewritten at every checkpoint and at the end (a new file renamed into
place), so a killed run keeps the series up to its last checkpoint and a resume goes on
from there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MAX_RECORDED = 2000
FILE = "detection.h5"


class Recorder:
    """Per-detector series of indicator values, kept on rank 0."""

    def __init__(self, sites, comm, names: list[str]):
        self.sites = sites
        self.comm = comm
        self.gather = None
        if sites.mode == "continuum":
            from bmf_fem.fieldseries import OrderedGather

            # Every k-th key in input order is recorded; each rank then sends only those.
            keys = sites.keys().astype(np.int64)
            every_key = OrderedGather(comm, keys)
            chosen = None
            if comm.rank == 0:
                every = -(-every_key.size // MAX_RECORDED)
                chosen = every_key.sorted_keys[::every]
            self.mine = np.isin(keys, comm.bcast(chosen, root=0))
            self.gather = OrderedGather(comm, keys[self.mine])
            if comm.rank == 0:
                self.keys = self.gather.sorted_keys
        else:
            self.keys = np.arange(sites.values().size)
        self.times: dict[str, list[float]] = {name: [] for name in names}
        self.values: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in names}

    def at_recorded(self, array: np.ndarray) -> np.ndarray | None:
        """A per-site array (this rank's sites) at the recorded sites, on rank 0
        (collective in continuum mode)."""
        if self.gather is None:
            return array if self.comm.rank == 0 else None
        return self.gather.gather(np.asarray(array, dtype=np.float64)[self.mine])

    def record(self, name: str, t: float, indicators: dict[str, np.ndarray]) -> None:
        """One evaluation of detector ``name`` (collective in continuum mode)."""
        values = {key: self.at_recorded(array) for key, array in indicators.items()}
        if self.comm.rank != 0 or not indicators:
            return
        self.times[name].append(t)
        for key, array in values.items():
            self.values[name].setdefault(key, []).append(np.array(array, dtype=np.float64))

    def series(self, name: str, indicator: str) -> tuple[np.ndarray, np.ndarray]:
        """Rank 0: times [n] and values [n, site] of one indicator."""
        times = np.asarray(self.times[name])
        rows = self.values[name].get(indicator, [])
        values = np.stack(rows) if rows else np.empty((0, self.keys.size))
        return times, values

    def indicator_names(self) -> dict[str, list[str]]:
        return {name: list(values) for name, values in self.values.items()}

    def write(self, out: Path, expressed: np.ndarray) -> None:
        """``out/detection.h5`` from rank 0, with the sites' expression times in their
        first episode (collective: they are gathered)."""
        expressed = self.at_recorded(expressed)
        if self.comm.rank != 0 or not any(self.times.values()):
            return
        import h5py

        path = Path(out) / FILE
        tmp = path.with_name(path.name + ".tmp")
        with h5py.File(tmp, "w") as h5:
            h5["sites/key"] = self.keys
            h5["sites/t_expressed"] = expressed
            for name, times in self.times.items():
                if not times:
                    continue
                h5[f"{name}/time"] = np.asarray(times)
                for indicator in self.values[name]:
                    h5[f"{name}/{indicator}"] = self.series(name, indicator)[1]
        os.replace(tmp, path)

    def load(self, out: Path, t_max: float) -> None:
        """Rank 0: take back the series a previous life wrote, up to time ``t_max``."""
        path = Path(out) / FILE
        if self.comm.rank != 0 or not path.exists():
            return
        import h5py

        with h5py.File(path, "r") as h5:
            for name in self.times:
                if f"{name}/time" not in h5:
                    continue
                times = h5[f"{name}/time"][:]
                kept = times <= t_max * (1 + 1e-12)
                self.times[name] = times[kept].tolist()
                self.values[name] = {
                    key: list(h5[f"{name}/{key}"][:][kept]) for key in h5[name] if key != "time"
                }
