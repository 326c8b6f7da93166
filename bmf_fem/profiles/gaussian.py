"""Profile "gaussian": ``exp(-|x - centre|^2 / radius^2)``, peak 1 at the centre."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.profiles.base import Profile


@dataclass(frozen=True)
class GaussianKeys(Section):
    """The keys of profile "gaussian"."""

    HEADING = "[[input]]"

    centre: tuple[float, ...] = key(
        (0.0, 0.0),
        "reals",
        "gaussian: centre of exp(-|x - centre|^2 / radius^2)",
        unit="length",
        max_length=3,
    )
    radius: float = key(0.1, "real", "gaussian: its radius", unit="length", above=0)


def values(entry, selector, where: str) -> np.ndarray:
    """The Gaussian at the dofs."""
    centre = selector.point(entry.centre, f"{where}.centre")
    distance2 = np.sum((selector.dof_coordinates - centre) ** 2, axis=1)
    return np.exp(-distance2 / entry.radius**2)


PROFILE = Profile("gaussian", GaussianKeys, values, "Gaussian", length="radius")
