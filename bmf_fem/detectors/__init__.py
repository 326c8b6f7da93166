"""The early-warning detectors, registered here once: config, control, sweep, the docs
and the tests read this table.

A detector is a class in its own module following `bmf_fem.detectors.base.Detector`;
add it to ``DETECTORS`` and it is a valid entry of ``detect.detectors``.
"""

from __future__ import annotations

from bmf_fem.detectors.base import Detector, Timing
from bmf_fem.detectors.field import FieldDetector
from bmf_fem.detectors.neighbour import NeighbourDetector
from bmf_fem.detectors.spatial import SPATIAL_INDICATORS, SpatialDetector
from bmf_fem.detectors.statistical import StatisticalDetector

DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (FieldDetector, StatisticalDetector, SpatialDetector, NeighbourDetector)
}
"""Every detector by name, in the order tables list them."""

OBSERVABLE = tuple(name for name, cls in DETECTORS.items() if cls.observable)
"""Detectors that read s alone (what an experimenter can observe)."""

__all__ = ["DETECTORS", "OBSERVABLE", "SPATIAL_INDICATORS", "Detector", "Timing"]


def available(mode: str) -> tuple[str, ...]:
    """The detectors that work with ``sites.mode = mode`` ("all" expands to these)."""
    return tuple(name for name, cls in DETECTORS.items() if mode in cls.modes)
