"""Seeing the build-up before expression: the run's detectors, episodes and evaluation.

The detectors themselves are in bmf_fem.detectors (one module each, registered there).
This module feeds them after every step, keeps the expression and alarm times of every
site per *episode* (a ``reset`` perturbation of s starts a new one for the sites it
resets), records their indicators (``detection.h5``) and scores them.

Lead time = expression time - alarm time (positive: warned in advance), per episode.
``observable`` is the earliest alarm among the detectors that read s alone, ``any`` the
earliest of all.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from bmf_fem.detect_record import Recorder
from bmf_fem.detectors import DETECTORS, OBSERVABLE, Timing
from bmf_fem.neighbourhood import GraphNeighbourhood, MeshNeighbourhood

COMBINED = ("observable", "any")


def detector_results(detection: dict) -> dict[str, dict]:
    """The per-detector entries of ``summary.json`` → ``detection`` (with ``observable``
    and ``any``), without its other entries (control, calibration, roc, episodes, ...)."""
    return {name: row for name, row in detection.items() if isinstance(row, dict) and "hits" in row}


class Detection:
    """The detectors of a run, fed after every step, their episodes and evaluation."""

    def __init__(self, config, sites, dt: float, t_end: float, comm):
        self.config = config
        self.sites = sites
        self.comm = comm
        self.timing = Timing.of(config, dt, t_end)
        n = sites.values().size
        self.neighbourhood = None
        if any(DETECTORS[name].needs_neighbourhood for name in config.detectors):
            if sites.mode == "cells":
                self.neighbourhood = GraphNeighbourhood(n, *sites.neighbours, config.hops)
            else:
                self.neighbourhood = MeshNeighbourhood(sites.model.V, config.hops)
        self.detectors = [
            DETECTORS[name](n, config, self.timing, self.neighbourhood)
            for name in DETECTORS
            if name in config.detectors
        ]
        self.episode = np.ones(n, dtype=np.int64)
        self.episode_start = np.zeros(n)
        self.expressed_at = np.full(n, -1.0)
        self.archive: list[list[float]] = []  # finished episodes: ARCHIVE_COLUMNS rows
        self.recorder = Recorder(sites, comm, [d.name for d in self.detectors])

    @property
    def archive_columns(self) -> list[str]:
        return ["site", "episode", "t_start", "t_expressed", *self.alarm_names]

    @property
    def alarm_names(self) -> list[str]:
        names = [detector.name for detector in self.detectors]
        if any(DETECTORS[name].observable for name in names):
            names.append("observable")
        return [*names, "any"] if names else names

    def update(self, step: int, t: float) -> None:
        """After every step: expression of the current episode, then every detector."""
        newly = (self.sites.values() > self.sites.on) & (self.expressed_at < 0.0)
        self.expressed_at[newly] = t
        for detector in self.detectors:
            if detector.update(step, t, self.sites):
                self.recorder.record(detector.name, t, detector.indicators())

    def new_episode(self, sites: np.ndarray, t: float) -> None:
        """``sites`` (a mask) were reset at time t: archive their episode, start another."""
        if not np.any(sites) and self.sites.mode == "cells":
            return
        alarms = self.alarm_times()
        columns = [
            self.site_keys()[sites],
            self.episode[sites].astype(np.float64),
            self.episode_start[sites],
            self.expressed_at[sites],
            *(alarms[name][sites] for name in self.alarm_names),
        ]
        rows = np.stack(columns, axis=1) if columns else np.empty((0, 0))
        if self.sites.mode == "continuum":  # every rank keeps every finished episode
            rows = np.concatenate(self.comm.allgather(rows))
        self.archive.extend(rows.tolist())
        self.episode[sites] += 1
        self.episode_start[sites] = t
        self.expressed_at[sites] = -1.0
        for detector in self.detectors:
            detector.new_episode(sites, t)

    def site_keys(self) -> np.ndarray:
        """The sites' keys as the archive holds them (float64 of the int64 keys)."""
        return self.sites.keys().astype(np.int64).astype(np.float64)

    def episode_units(self) -> np.ndarray | None:
        """Rank 0: every episode of the recorded sites as rows (column of detection.h5,
        episode start, expression time or -1); collective."""
        start = self.recorder.at_recorded(self.episode_start)
        expressed = self.recorder.at_recorded(self.expressed_at)
        if self.comm.rank != 0:
            return None
        units = [np.stack([np.arange(start.size), start, expressed], axis=1)]
        rows = np.asarray(self.archive, dtype=np.float64).reshape(-1, len(self.archive_columns))
        if rows.size:
            keys = self.recorder.keys.astype(np.int64).astype(np.float64)
            place = np.minimum(np.searchsorted(keys, rows[:, 0]), keys.size - 1)
            recorded = keys[place] == rows[:, 0]
            units.append(np.stack([place, rows[:, 2], rows[:, 3]], axis=1)[recorded])
        return np.concatenate(units)

    def first_episode_expression(self) -> np.ndarray:
        """Each site's expression time in its first episode (-1: none)."""
        times = np.where(self.episode == 1, self.expressed_at, -1.0)
        rows = np.asarray(self.archive, dtype=np.float64).reshape(-1, len(self.archive_columns))
        first = rows[rows[:, 1] == 1]
        if first.size:
            keys = self.site_keys()
            order = np.argsort(keys)
            place = np.searchsorted(keys[order], first[:, 0])
            mine = place < keys.size
            mine[mine] = keys[order][place[mine]] == first[mine, 0]
            times[order[place[mine]]] = first[mine, 3]
        return times

    def write_records(self, out) -> None:
        """``out/detection.h5`` (bmf_fem.detect_record; collective)."""
        self.recorder.write(out, self.first_episode_expression())

    def alarm_times(self) -> dict[str, np.ndarray]:
        """Current episode's alarm time per detector and combined (-1: none)."""
        times = {detector.name: detector.alarm_time for detector in self.detectors}
        groups = {
            "observable": [name for name in times if name in OBSERVABLE],
            "any": list(times),
        }
        for combined, names in groups.items():
            if names:
                stacked = np.stack([times[name] for name in names])
                first = np.where(stacked < 0.0, np.inf, stacked).min(axis=0)
                times[combined] = np.where(np.isfinite(first), first, -1.0)
        return times

    def site_rows(self) -> list[dict]:
        """Per site and episode: expression, alarm and lead times (cells mode: sites.csv)."""
        names = self.sites.table()
        alarms = self.alarm_times()
        current = [
            [i, self.episode[i], self.episode_start[i], self.expressed_at[i]]
            + [alarms[name][i] for name in self.alarm_names]
            for i in range(self.expressed_at.size)
        ]
        rows = []
        for values in sorted([*self.archive, *current], key=lambda r: (r[0], r[1])):
            record = dict(zip(self.archive_columns, values, strict=True))
            site = int(record["site"])
            expressed = record["t_expressed"]
            row = {
                "site": site,
                "tag": names[site]["tag"],
                "episode": int(record["episode"]),
                "t_start": record["t_start"],
                "t_expressed": expressed if expressed >= 0 else "",
            }
            for name in self.alarm_names:
                suffix = "" if name == "any" else f"_{name}"
                alarm = record[name]
                row[f"t_alarm{suffix}"] = alarm if alarm >= 0 else ""
                lead = expressed - alarm if alarm >= 0 and expressed >= 0 else ""
                row[f"lead_time{suffix}"] = lead
            rows.append(row)
        return rows

    def summary(self) -> dict:
        """Hits, misses, false alarms and lead-time quartiles per detector (global)."""
        archive = np.asarray(self.archive, dtype=np.float64).reshape(-1, len(self.archive_columns))
        expressed_archive = archive[:, 3]
        result = {}
        for index, (name, times) in enumerate(self.alarm_times().items()):
            result[name] = evaluate(
                self.expressed_at,
                times,
                self.comm,
                self.sites.mode,
                archived=(expressed_archive, archive[:, 4 + index]),
            )
        result["episodes"] = int(self.episode.max(initial=1))
        if self.sites.mode == "continuum":
            result["episodes"] = self.comm.allreduce(result["episodes"], op=MPI.MAX)
        result["windows"] = self.timing.as_dict()
        return result

    def checkpoint_state(self):
        """Detector and episode state: global lists in cells mode, P1 functions per dof in
        continuum."""
        from bmf_fem.checkpoint import CheckpointState

        state = CheckpointState()
        state.values["archive"] = self.archive
        arrays = {
            "episode.number": self.episode.astype(np.float64),
            "episode.start": self.episode_start,
            "episode.expressed_at": self.expressed_at,
        }
        for detector in self.detectors:
            state.values[detector.name] = detector.state_values()
            for name, array in detector.state_arrays().items():
                arrays[f"{detector.name}.{name}"] = array
        for key, array in arrays.items():
            if self.sites.mode == "cells":
                state.values[key] = np.asarray(array).tolist()
            else:
                state.functions[key] = self._as_function(array)
        return state

    def restore_checkpoint(self, state) -> None:
        def read(key: str) -> np.ndarray:
            if self.sites.mode == "cells":
                return np.asarray(state.values[key], dtype=np.float64)
            return state.functions[key].x.array[: self.sites.n_owned].copy()

        self.archive = [list(row) for row in state.values["archive"]]
        self.episode = read("episode.number").astype(np.int64)
        self.episode_start = read("episode.start")
        self.expressed_at = read("episode.expressed_at")
        for detector in self.detectors:
            arrays = {name: read(f"{detector.name}.{name}") for name in detector.state_arrays()}
            detector.restore(arrays, state.values[detector.name])

    def _as_function(self, array: np.ndarray):
        """An owned-dof array as a P1 function (movable to another rank count)."""
        from dolfinx import fem

        function = fem.Function(self.sites.model.V)
        function.x.array[: self.sites.n_owned] = array
        function.x.scatter_forward()
        return function

    def destroy(self) -> None:
        """Release the neighbourhood's PETSc objects (collectively)."""
        if self.neighbourhood is not None:
            self.neighbourhood.destroy()


def evaluate(
    expressed: np.ndarray,
    alarm: np.ndarray,
    comm,
    mode: str,
    archived: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Confusion counts and lead times over sites and episodes.

    hit: expressed after (or at) its alarm; late: expressed before any alarm;
    miss: expressed, never alarmed; false alarm: alarmed, never expressed. In continuum
    mode the current episode's arrays are per rank and summed; ``archived`` (finished
    episodes' expression and alarm times) is global on every rank.
    """
    counts, lead = _confusion(expressed, alarm)
    if mode == "continuum":
        counts = {key: comm.allreduce(value) for key, value in counts.items()}
        lead = np.concatenate(comm.allgather(lead))
    if archived is not None and archived[0].size:
        more, more_lead = _confusion(*archived)
        counts = {key: value + more[key] for key, value in counts.items()}
        lead = np.concatenate([lead, more_lead])
    quartiles = np.percentile(lead, [25, 50, 75]).tolist() if lead.size else [None] * 3
    counts.update(lead_q1=quartiles[0], lead_median=quartiles[1], lead_q3=quartiles[2])
    return counts


def _confusion(expressed: np.ndarray, alarm: np.ndarray) -> tuple[dict, np.ndarray]:
    is_expressed = expressed >= 0.0
    is_alarmed = alarm >= 0.0
    both = is_expressed & is_alarmed
    warned = both & (alarm <= expressed)
    counts = {
        "sites": int(expressed.size),
        "expressed": int(is_expressed.sum()),
        "hits": int(warned.sum()),
        "late": int((both & ~warned).sum()),
        "misses": int((is_expressed & ~is_alarmed).sum()),
        "false_alarms": int((is_alarmed & ~is_expressed).sum()),
    }
    return counts, expressed[both] - alarm[both]
