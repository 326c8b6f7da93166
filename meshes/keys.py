"""How a geometry declares its `[mesh]` keys (`Key`) and the checks its builder shares.

The mesh kinds import this module only; bmf_fem.meshes.parameters, which holds the
registry of kinds and resolves a user's table, imports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .data import MeshError

Default = Any  # a value, or a function of the keys resolved so far


@dataclass(frozen=True)
class Key:
    """One `[mesh]` key: its type, its default and the values it may take."""

    name: str
    type: str  # "float", "int", "str", "bool", "floats" (list of numbers), "points"
    default: Default
    doc: str
    default_doc: str = ""  # how the default reads in the docs when it is computed
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] | None = None
    shapes: tuple[str, ...] | None = None  # shapes the key applies to (None: all)

    def default_for(self, resolved: dict[str, Any]) -> Any:
        return self.default(resolved) if callable(self.default) else self.default

    def describe_range(self) -> str:
        parts = []
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        kind = {
            "float": "a number",
            "int": "an integer",
            "str": "a string",
            "bool": "true or false",
        }
        kind["floats"] = "a list of numbers"
        text = kind.get(self.type, "a list of points")
        return text + (" " + " and ".join(parts) if parts else "")


# Refuse absurd requests before gmsh spends an hour on them.
MAX_ESTIMATED_CELLS = 20_000_000


def check_cell_estimate(resolved: dict[str, Any], measure: float, tdim: int) -> None:
    """Refuse an h so small that the mesh would have more than MAX_ESTIMATED_CELLS cells."""
    h = resolved["h"]
    per_cell = {1: h, 2: math.sqrt(3) / 4 * h**2, 3: h**3 / (6 * math.sqrt(2))}[tdim]
    estimate = measure / per_cell
    if estimate > MAX_ESTIMATED_CELLS:
        raise MeshError(
            f"mesh.h = {h:g} would give about {estimate:.2g} cells for mesh.size = "
            f"{resolved['size']:g}; use a larger h (this check stops at {MAX_ESTIMATED_CELLS:.0e})"
        )
    available = available_memory()
    fitting = MEMORY_MARGIN * available / BYTES_PER_CELL
    if available and estimate > fitting:
        largest = h * (estimate / fitting) ** (1 / tdim)
        raise MeshError(
            f"mesh.h = {h:g} would give about {estimate:.2g} cells, about"
            f" {estimate * BYTES_PER_CELL / 2**30:.1f} GiB at {BYTES_PER_CELL} bytes a cell; this"
            f" machine has {available / 2**30:.1f} GiB available (the run may use"
            f" {MEMORY_MARGIN:.0%} of it): use mesh.h >= {largest:.3g}"
        )


BYTES_PER_CELL = 4096  # mesh, spaces, matrices, preconditioner and fields, rounded up
MEMORY_MARGIN = 0.5  # the share of MemAvailable a run may take


def available_memory() -> int:
    """MemAvailable from /proc/meminfo in bytes; 0 when it cannot be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def requirement(condition: bool, message: str) -> None:
    """Raise MeshError(message) unless `condition` holds."""
    if not condition:
        raise MeshError(message)
