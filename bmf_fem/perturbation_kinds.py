"""The kinds of ``[[perturbation]]``, registered here once: the configuration and the
perturbations read this table (what each does to a run is in bmf_fem.perturbations)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PerturbationKind:
    """One ``perturbation.kind``: the keys only it uses and what its region selects."""

    name: str
    keys: tuple[str, ...]
    acts_on: str  # "dofs" (a mask of the field's dofs) or "cells" (the region's cells)
    doc: str


KINDS = {
    kind.name: kind
    for kind in (
        PerturbationKind("reset", ("fields",), "dofs", "set unknowns back to their initial values"),
        PerturbationKind("damage", ("factor",), "cells", "multiply the diffusivities"),
        PerturbationKind("noise", ("sigma",), "dofs", "add noise to u"),
    )
}
"""Every perturbation kind by name."""
