"""Perturbations: reset a region, damage its diffusivities, or add noise there.

``reset`` sets u, every memory mode and s back to their initial values in the region at
``start`` (a hole cut in a crystal); ``damage`` multiplies every diffusivity by
``factor`` in the region during [start, stop) (a snapped spoke); ``noise`` adds noise of
amplitude ``sigma`` to u in the region during [start, stop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmf_fem.checkpoint import CheckpointState
from bmf_fem.perturbation_kinds import KINDS
from bmf_fem.regions import RegionSelector, require_nonempty


@dataclass
class Perturbation:
    kind: str
    start: float
    stop: float
    dof_mask: np.ndarray | None = None
    cells: np.ndarray | None = None
    factor: float = 1.0
    sigma: float = 0.0
    fields: tuple[str, ...] = ("u", "m", "s")
    applied: bool = False

    def active(self, t: float, dt: float) -> bool:
        """Whether the step starting at ``t`` lies in [start, stop)."""
        eps = 1e-9 * dt
        return self.start - eps <= t < self.stop - eps


def build_perturbations(configs, selector: RegionSelector, comm) -> list[Perturbation]:
    """Masks and cell lists of every ``[[perturbation]]``, validated against the mesh."""
    items = []
    for index, config in enumerate(configs):
        where = f"perturbation.{index}"
        spec = {
            "region": config.region,
            "centre": config.centre,
            "radius": config.radius,
            "box": config.box,
        }
        item = Perturbation(
            config.kind,
            config.start,
            config.stop,
            factor=config.factor,
            sigma=config.sigma,
            fields=config.fields,
        )
        if KINDS[config.kind].acts_on == "cells":
            item.cells = selector.cells(spec, where)
            require_nonempty(comm, item.cells.size, where)
        else:
            item.dof_mask = selector.dof_mask(spec, where)
            require_nonempty(comm, np.count_nonzero(item.dof_mask), where)
        items.append(item)
    return items


class PerturbationSchedule:
    """Applies the perturbations at the start of each step."""

    def __init__(self, perturbations: list[Perturbation], model, stepper, sites):
        self.perturbations = perturbations
        self.model = model
        self.stepper = stepper
        self.sites = sites
        self.damage_state: tuple[bool, ...] = ()
        self.noise = np.zeros_like(model.u.x.array)
        self.reset_sites: np.ndarray | None = None  # sites reset by the last before_step

    def before_step(self, t: float, dt: float) -> np.ndarray | None:
        """Apply due resets and damage switches; return extra noise on u, if any.

        ``reset_sites`` is then the mask of sites a reset of s touched (None: no reset).
        """
        self.reset_sites = None
        return self._apply(t, dt)

    def _apply(self, t: float, dt: float) -> np.ndarray | None:
        for item in self.perturbations:
            if item.kind == "reset" and not item.applied and item.start < t + dt - 1e-9 * dt:
                self.model.set_initial_conditions(item.dof_mask, item.fields)
                if "s" in item.fields:
                    touched = self.sites.reset(item.dof_mask)
                    previous = self.reset_sites
                    self.reset_sites = touched if previous is None else previous | touched
                self.stepper.restart_history()
                item.applied = True
        damages = [p for p in self.perturbations if p.kind == "damage"]
        state = tuple(p.active(t, dt) for p in damages)
        if state != self.damage_state:
            scale = self.model.diffusivity_scale.x.array
            scale[:] = 1.0
            for item, on in zip(damages, state, strict=True):
                if on:
                    scale[item.cells] *= item.factor
            self.model.diffusivity_scale.x.scatter_forward()
            self.stepper.assemble()
            self.damage_state = state
        noisy = [p for p in self.perturbations if p.kind == "noise" and p.active(t, dt)]
        if not noisy:
            return None
        self.noise[:] = 0.0
        for item in noisy:
            self.noise[item.dof_mask] += item.sigma
        return self.noise

    def checkpoint_state(self) -> CheckpointState:
        """Which resets have been applied (damage and noise follow from the time)."""
        applied = [bool(item.applied) for item in self.perturbations]
        return CheckpointState(values={"applied": applied})

    def restore_checkpoint(self, state: CheckpointState) -> None:
        for item, applied in zip(self.perturbations, state.values["applied"], strict=True):
            item.applied = bool(applied)
