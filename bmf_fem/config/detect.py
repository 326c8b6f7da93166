"""[detect]: the early-warning detectors of expression and their evaluation
(docs/detection.md); the detectors themselves are registered in bmf_fem.detectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.config.table import Table, show
from bmf_fem.detectors import DETECTORS as REGISTERED
from bmf_fem.detectors import SPATIAL_INDICATORS
from bmf_fem.detectors.ews import EDGES
from bmf_fem.errors import ConfigError
from bmf_fem.suggest import did_you_mean

DETECTORS = (*REGISTERED, "all")
DETRENDING = ("gaussian", "mean")
INDICATORS = ("ac1", "variance", "both")
MAX_HOPS = 10  # detect.hops: a neighbourhood of more steps is most of a small mesh


def _read_detectors(table: Table, name: str) -> tuple[str, ...]:
    """An array of registered detector names (or "all"), duplicates dropped."""
    detectors = table.raw(name)
    where = table.where(name)
    valid = ", ".join(f'"{item}"' for item in DETECTORS)
    if not isinstance(detectors, list | tuple) or not all(isinstance(d, str) for d in detectors):
        raise ConfigError(
            f"{where} = {show(detectors)} has the wrong type: expected an array of strings"
            f" from {valid}"
        )
    for item in detectors:
        if item not in DETECTORS:
            hint = did_you_mean(item, DETECTORS, quote=True)
            raise ConfigError(f'{where}: unknown detector "{item}"{hint}; valid: {valid}')
    return tuple(dict.fromkeys(detectors))


def _auto(doc: str) -> Any:
    """A window length in time units, or "auto"."""
    return key("auto", "real", doc, unit="time", above=0, word="auto")


def _tau(doc: str) -> Any:
    return key(0.7, "real", doc, above=-1, below=1)


@dataclass(frozen=True)
class DetectConfig(Section):
    """[detect]: early-warning detectors of expression and their evaluation."""

    HEADING = "[detect]"

    detectors: tuple[str, ...] = key(
        ("field",),
        "custom",
        "detectors to run; all: every one the site mode allows",
        reader=_read_detectors,
        valid="array of " + ", ".join(f'`"{name}"`' for name in DETECTORS),
    )
    margin: float = key(
        0.1, "real", "field: alarm when g phi > (1 - margin) h_c", at_least=0, below=1
    )
    rate: float = key(
        0.0,
        "real",
        "field: also alarm when g phi grows faster (0: off)",
        unit="1/time",
        at_least=0,
    )
    window: float | str = _auto("rolling window of s (auto: 50, or t_end / 6 on short runs)")
    detrend: str = key("gaussian", "choice", "detrending of s in a window", choices=DETRENDING)
    bandwidth: float | str = _auto("Gaussian detrending kernel (auto: window / 5)")
    edges: str = key(
        "reflect", "choice", "the Gaussian kernel at the window's edges", choices=EDGES
    )
    sample_every: int = key(1, "integer", "steps between samples of s", at_least=1)
    indicator: str = key(
        "ac1", "choice", "statistical: the indicator whose trend alarms", choices=INDICATORS
    )
    trend_window: float | str = _auto(
        "Kendall tau of an indicator over this span (auto: 100, or t_end / 3 on short runs)"
    )
    tau_threshold: float = _tau("statistical: alarm above this Kendall tau")
    hops: int = key(
        1,
        "integer",
        "spatial, neighbour: steps of the site graph in a neighbourhood",
        at_least=1,
        at_most=MAX_HOPS,
    )
    spatial_indicator: str = key(
        "spatial_variance",
        "choice",
        "spatial: the indicator whose trend alarms",
        choices=SPATIAL_INDICATORS,
    )
    spatial_threshold: float = _tau("spatial: alarm above this Kendall tau")
    neighbour_threshold: float = key(
        0.005,
        "real",
        "neighbour: alarm when the neighbours' mean s rises faster",
        unit="1/time",
        at_least=0,
    )
    sustain: float = key(
        5.0, "real", "an alarm condition must hold this long", unit="time", at_least=0
    )
    control: bool = key(False, "boolean", "also run the paired control without inputs")
    calibration_runs: int = key(
        0, "integer", "null runs that calibrate the thresholds and score the ROC", at_least=0
    )
    calibration_quantile: float = key(
        0.95, "real", "null runs alarm at most 1 - this share of sites", above=0, below=1
    )
