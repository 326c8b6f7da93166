"""What an input profile is: its own ``[[input]]`` keys (a small dataclass declared with
`bmf_fem.config.keys.key`) and a function giving its nodal values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bmf_fem.config.section import Section

Values = np.ndarray | Callable[[float], np.ndarray]
"""Nodal values (one per local dof), or a function of time giving them (a moving profile)."""


@dataclass(frozen=True)
class Profile:
    """One ``input.profile``: the keys only it reads and its nodal values.

    ``values(entry, selector, where)`` gets the validated ``[[input]]`` entry (its keys
    and the profile's, as attributes), a `bmf_fem.regions.RegionSelector` and the entry's
    path for messages. ``length`` names the key of the length the mesh must resolve.
    """

    name: str
    keys: type
    values: Callable[[Any, Any, str], Values]
    doc: str  # an adjective for messages: "the Gaussian input.0.radius"
    length: str | None = None


@dataclass(frozen=True)
class NoKeys(Section):
    """The keys of a profile that has none of its own."""

    HEADING = "[[input]]"
