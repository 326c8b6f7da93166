"""Profile "moving_gaussian": a Gaussian whose centre moves at a constant velocity,
``exp(-|x - centre - velocity (t - start)|^2 / radius^2)``: a tickle that sweeps across
the domain (a finger drawn over a surface, a stimulus carried by a flow).

Within a step the profile is taken at the step's midpoint, so the deposit follows the
centre to second order in dt; docs/python.md shows how this module was added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.profiles.base import Profile


@dataclass(frozen=True)
class MovingGaussianKeys(Section):
    """The keys of profile "moving_gaussian"."""

    HEADING = "[[input]]"

    centre: tuple[float, ...] = key(
        (0.0, 0.0),
        "reals",
        "moving_gaussian: the centre at input.start",
        unit="length",
        max_length=3,
    )
    radius: float = key(0.1, "real", "moving_gaussian: its radius", unit="length", above=0)
    velocity: tuple[float, ...] = key(
        (0.0, 0.0),
        "reals",
        "moving_gaussian: the velocity of the centre",
        unit="length/time",
        max_length=3,
    )


def values(entry, selector, where: str) -> Callable[[float], np.ndarray]:
    """The Gaussian at the dofs as a function of time."""
    centre = selector.point(entry.centre, f"{where}.centre")
    velocity = selector.point(entry.velocity, f"{where}.velocity")
    coordinates = selector.dof_coordinates
    scale = 1.0 / entry.radius**2

    def at(t: float) -> np.ndarray:
        offset = coordinates - (centre + velocity * (t - entry.start))
        return np.exp(-scale * np.einsum("ij,ij->i", offset, offset))

    return at


PROFILE = Profile("moving_gaussian", MovingGaussianKeys, values, "moving Gaussian", "radius")
