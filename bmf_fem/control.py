"""Runs with detection: null runs that calibrate the detectors, and a paired control.

summary.json, the mark of a finished run, is written once, when the run and its control
are done and the summary holds everything below.

The run's resolution warnings (bmf_fem.resolution) are printed before it starts and
written into its summary.json ("warnings", "resolution").

``detect.calibration_runs = N``: before the run, N runs without inputs (seeds seed+1 ..
seed+N) record each site's largest score for every calibrated detector; its threshold
(``tau_threshold``, ``spatial_threshold``, ``neighbour_threshold``) becomes a quantile of
those maxima such that a null run alarms at most ``1 - calibration_quantile`` of its sites
through any of them (each of k calibrated detectors gets ``(1 - q) / k``).
The same null runs score every indicator by ROC against the run (bmf_fem.roc).
``detect.control = true``: after the run, the same configuration without inputs and with
the same noise seed runs in ``control/``; its alarms are false alarms.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from bmf_fem.detect import detector_results
from bmf_fem.detectors import DETECTORS
from bmf_fem.errors import ConfigError
from bmf_fem.parallel import print0
from bmf_fem.resolution import summary_entries
from bmf_fem.simulation import Simulation


def without_inputs(config, seed: int | None = None):
    """The same configuration with no inputs (and optionally another noise seed)."""
    output = config.output if seed is None else dataclasses.replace(config.output, seed=seed)
    return dataclasses.replace(config, inputs=(), output=output)


def calibrate(config, comm) -> tuple[dict[str, float], list]:
    """Thresholds from null runs: per calibrated detector, a quantile of every site's
    largest score; and the null runs' indicator recorders (rank 0 holds their series)."""
    calibrated = [DETECTORS[name] for name in config.detect.detectors]
    calibrated = {cls.name: cls for cls in calibrated if cls.threshold_key}
    maxima: dict[str, list[np.ndarray]] = {name: [] for name in calibrated}
    recorders = []
    for run in range(config.detect.calibration_runs):
        null = without_inputs(config, seed=config.output.seed + 1 + run)
        null = dataclasses.replace(null, detect=dataclasses.replace(null.detect, control=False))
        simulation = Simulation(null, comm)
        for _ in range(simulation.n_steps):
            simulation.step()
        for detector in simulation.detection.detectors:
            if detector.name in maxima:
                maxima[detector.name].append(detector.score_max.copy())
        recorders.append((simulation.detection.recorder, simulation.t))
        simulation.close()
    # The observable alarm is the earliest of the calibrated detectors: each takes an equal
    # share of the false alarms the quantile allows (Bonferroni).
    share = (1.0 - config.detect.calibration_quantile) / max(len(calibrated), 1)
    quantile = 1.0 - share
    thresholds = {}
    for name, cls in calibrated.items():
        key = cls.threshold_key
        values = np.concatenate(maxima[name])
        if config.sites.mode == "continuum":
            values = np.concatenate(comm.allgather(values))
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise ConfigError(
                f'detect.calibration_runs: the "{name}" detector scored no site in'
                f" {config.detect.calibration_runs} null run(s) of t_end ="
                f" {config.time.t_end:g}; shorten detect.window / detect.trend_window or run"
                f" longer, or set detect.{key} and calibration_runs = 0"
            )
        threshold = float(np.quantile(values, quantile))
        if values.min() == values.max():
            print0(
                comm,
                f"bmf run: warning: every site of the null runs scores {values[0]:.3g} on the"
                f' "{name}" detector (no noise?): with {key} = {values[0]:.3g} any change'
                " alarms; give sites.noise or field.noise to calibrate against",
                file=sys.stderr,
            )
        low, high = cls.threshold_range
        thresholds[key] = min(max(threshold, low), high)
    return thresholds, recorders


def roc_series(config, detection, nulls, comm) -> dict | None:
    """Rank 0: per scored indicator, the series the ROC compares (bmf_fem.roc.evaluate's
    arguments): each episode of a recorded site that expressed, from its start to its
    expression, and the same site and span in every null run. After a reset the first
    window's indicators are left out (they still hold the previous episode). Collective.
    """
    units = detection.episode_units()
    if comm.rank != 0:
        return None
    forced_units = units[units[:, 2] >= 0.0]
    columns = forced_units[:, 0].astype(np.int64)
    starts, t1 = forced_units[:, 1], forced_units[:, 2]
    settle = np.where(starts > 0.0, starts + detection.timing.window, -np.inf)
    series = {}
    for name in config.detect.detectors:
        for indicator in DETECTORS[name].scored:
            times, values = detection.recorder.series(name, indicator)
            if times.size < 3 or not columns.size:
                continue
            outside = times[:, None] < settle[None, :]
            null = [
                np.where(outside, np.nan, recorder.series(name, indicator)[1][:, columns])
                for recorder, _ in nulls
            ]
            series[indicator] = (
                times,
                np.where(outside, np.nan, values[:, columns]),
                t1,
                np.concatenate(null, axis=1),
                np.tile(t1, len(null)),
            )
    return series


def roc_scores(config, detection, nulls, comm) -> dict:
    """Every scored indicator's ROC (Bury et al. 2021, bmf_fem.roc) against the null runs:
    ``{indicator: {auc_early, auc_late, forced, null, curve_early, curve_late}}``."""
    from bmf_fem.roc import evaluate

    series = roc_series(config, detection, nulls, comm)
    result = {}
    if comm.rank == 0:
        for indicator, arguments in series.items():
            scores = evaluate(*arguments)
            for part in ("early", "late"):
                scores[f"curve_{part}"] = _thin(scores[f"curve_{part}"])
            result[indicator] = scores
    return comm.bcast(result, root=0)


def _thin(curve: list[list[float]], most: int = 101) -> list[list[float]]:
    """At most ``most`` points of a ROC curve (its ends kept)."""
    fpr, tpr = (np.asarray(c) for c in curve)
    if fpr.size <= most:
        return [fpr.tolist(), tpr.tolist()]
    keep = np.unique(np.linspace(0, fpr.size - 1, most).round().astype(int))
    return [fpr[keep].tolist(), tpr[keep].tolist()]


def run_with_detection(
    config,
    out: Path,
    comm,
    force: bool = False,
    progress: bool = True,
    resume: bool = False,
    on_start=None,
):
    """Calibrate (if asked), run, and run the paired control (if asked); the summary.

    ``on_start(simulation)`` is called once the run is set up, before its first step.
    """
    calibration, nulls = None, []
    if config.detect.detectors and config.detect.calibration_runs > 0:
        thresholds, nulls = calibrate(config, comm)
        if thresholds:
            shown = ", ".join(f"{key} {value:.3g}" for key, value in thresholds.items())
            print0(
                comm,
                f"bmf run: calibrated on {config.detect.calibration_runs} null run(s): {shown}",
            )
        config = dataclasses.replace(
            config, detect=dataclasses.replace(config.detect, **thresholds)
        )
        calibration = {
            "runs": config.detect.calibration_runs,
            "quantile": config.detect.calibration_quantile,
            **thresholds,
        }
    simulation = Simulation(config, comm)
    try:
        resolution = summary_entries(config, simulation.mesh_data.mesh)
        for message in resolution["warnings"]:
            print0(comm, f"bmf: warning: {message}", file=sys.stderr)
        if on_start is not None:
            on_start(simulation)
        summary = simulation.run(
            out, force=force, progress=progress, resume=resume, write_summary=False
        )
        if nulls and simulation.detection is not None:
            roc = roc_scores(config, simulation.detection, nulls, comm)
            if roc:
                summary["detection"]["roc"] = roc
    finally:
        simulation.close()
    summary.update(resolution)
    if calibration:
        summary["detection"]["calibration"] = calibration
    if config.detect.control and config.detect.detectors:
        control = Simulation(without_inputs(config), comm)
        try:
            control_summary = control.run(
                Path(out) / "control", force=force, progress=False, resume=resume
            )
        finally:
            control.close()
        summary["detection"]["control"] = {
            name: {
                "sites": result["sites"],
                "false_alarms": result["false_alarms"],
                "false_alarm_rate": result["false_alarms"] / max(result["sites"], 1),
            }
            for name, result in detector_results(control_summary["detection"]).items()
        }
    from bmf_fem.output import write_json

    write_json(Path(out) / "summary.json", summary, comm)
    return summary
