"""Kind "reset": set unknowns back to their initial values in the region at ``start``
(a hole cut in a crystal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.config.table import Table, show
from bmf_fem.errors import ConfigError
from bmf_fem.perturbations.base import Perturbation, Run

UNKNOWNS = ("u", "m", "s")  # what a reset sets back; m means every memory mode


def _read_unknowns(table: Table, name: str) -> tuple[str, ...]:
    fields = table.raw(name)
    if (
        not isinstance(fields, list | tuple)
        or not fields
        or any(item not in UNKNOWNS for item in fields)
    ):
        raise ConfigError(
            f"{table.where(name)} = {show(fields)} is not valid: a non-empty array of"
            ' "u", "m", "s" (the unknowns a reset sets back; m means every memory mode)'
        )
    return tuple(dict.fromkeys(fields))


@dataclass(frozen=True)
class ResetKeys(Section):
    """The keys of kind "reset"."""

    HEADING = "[[perturbation]]"

    fields: tuple[str, ...] = key(
        UNKNOWNS,
        "custom",
        "reset: the unknowns set back to their initial values",
        reader=_read_unknowns,
        valid="non-empty array of " + ", ".join(f'`"{u}"`' for u in UNKNOWNS),
    )


class Reset(Perturbation):
    """Set the chosen unknowns back to their initial values, once, at ``start``."""

    name = "reset"
    acts_on = "dofs"
    keys = ResetKeys
    doc = "set unknowns back to their initial values"

    @classmethod
    def act(cls, items: list[Any], t: float, dt: float, run: Run) -> None:
        for item in items:
            if item.applied or not item.start < t + dt - 1e-9 * dt:
                continue
            fields = item.config.fields
            run.model.set_initial_conditions(item.dof_mask, fields)
            if "s" in fields:
                run.sites_reset(run.sites.reset(item.dof_mask))
            run.stepper.restart_history()
            item.applied = True
