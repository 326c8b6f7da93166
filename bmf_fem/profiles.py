"""The spatial profiles of ``[[input]]``, registered here once: the configuration, the
inputs and the resolution guard read this table.

A profile is the keys of ``[[input]]`` it uses (the others are refused with it), the key
of the length the mesh must resolve (if any) and a function that gives its nodal values
on the mesh. Add one by writing the function and a line in ``PROFILES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    """One ``input.profile``: the keys it reads and its nodal values."""

    name: str
    keys: tuple[str, ...]
    values: Callable  # (config, selector, where) -> nodal values, one per local dof
    doc: str  # an adjective for messages: "the Gaussian input.0.radius"
    length: str | None = None  # the key of the length the mesh must resolve


def gaussian(config, selector, where: str) -> np.ndarray:
    """``exp(-|x - centre|^2 / radius^2)``."""
    centre = selector.point(config.centre, f"{where}.centre")
    distance2 = np.sum((selector.dof_coordinates - centre) ** 2, axis=1)
    return np.exp(-distance2 / config.radius**2)


def region(config, selector, where: str) -> np.ndarray:
    """1 on the named region's dofs, 0 elsewhere."""
    return selector.dof_mask({"region": config.region}, where).astype(np.float64)


def everywhere(config, selector, where: str) -> np.ndarray:
    """1 on every dof."""
    return np.ones(selector.dof_coordinates.shape[0])


PROFILES = {
    profile.name: profile
    for profile in (
        Profile("gaussian", ("centre", "radius"), gaussian, "Gaussian", "radius"),
        Profile("region", ("region",), region, "region"),
        Profile("everywhere", (), everywhere, "whole-domain"),
    )
}
"""Every input profile by name; the first is the default."""

PROFILE_KEYS = tuple(dict.fromkeys(key for p in PROFILES.values() for key in p.keys))
"""The keys of ``[[input]]`` that belong to some profile."""
