"""Profile "region": 1 on a named region of the mesh (a gmsh physical group), 0 elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.config.table import Table
from bmf_fem.errors import ConfigError
from bmf_fem.profiles.base import Profile


@dataclass(frozen=True)
class RegionKeys(Section):
    """The keys of profile "region"."""

    HEADING = "[[input]]"

    region: str = key("", "string", "region: the name of a region of the mesh")

    @classmethod
    def check(cls, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        if not values["region"].strip():
            raise ConfigError(
                f'{table.path}.region is required when profile = "region": the name of a'
                " region of the mesh (a gmsh physical group)"
            )
        return values


def values(entry, selector, where: str) -> np.ndarray:
    """1 on the named region's dofs, 0 elsewhere."""
    return selector.dof_mask({"region": entry.region}, where).astype(np.float64)


PROFILE = Profile("region", RegionKeys, values, "region")
