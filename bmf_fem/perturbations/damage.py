"""Kind "damage": multiply every diffusivity by ``factor`` in the region during
[start, stop) (a snapped spoke); the operators are reassembled when damage switches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.perturbations.base import Perturbation, Run


@dataclass(frozen=True)
class DamageKeys(Section):
    """The keys of kind "damage"."""

    HEADING = "[[perturbation]]"

    factor: float = key(0.1, "real", "damage: diffusivities are multiplied by it", at_least=0)


class Damage(Perturbation):
    """Scale the diffusivities on the region's cells while active."""

    name = "damage"
    acts_on = "cells"
    keys = DamageKeys
    doc = "multiply the diffusivities"

    @classmethod
    def act(cls, items: list[Any], t: float, dt: float, run: Run) -> None:
        state = tuple(item.active(t, dt) for item in items)
        if state == run.state.get(cls.name, ()):
            return
        scale = run.model.diffusivity_scale.x.array
        scale[:] = 1.0
        for item, on in zip(items, state, strict=True):
            if on:
                scale[item.cells] *= item.config.factor
        run.model.diffusivity_scale.x.scatter_forward()
        run.stepper.assemble()
        run.state[cls.name] = state
