"""The perturbations of a run, built on its mesh and applied at the start of each step
by their kinds (bmf_fem.perturbations)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bmf_fem.checkpoint import CheckpointState
from bmf_fem.perturbations import KINDS
from bmf_fem.perturbations.base import Perturbation
from bmf_fem.regions import RegionSelector, require_nonempty


def build_perturbations(configs, selector: RegionSelector, comm) -> list[Perturbation]:
    """Every ``[[perturbation]]`` with its region's dofs or cells, validated on the mesh."""
    items = []
    for index, config in enumerate(configs):
        where = f"perturbation.{index}"
        spec = {
            "region": config.region,
            "centre": config.centre,
            "radius": config.radius,
            "box": config.box,
        }
        item = KINDS[config.kind](config)
        if item.acts_on == "cells":
            item.cells = selector.cells(spec, where)
            require_nonempty(comm, item.cells.size, where)
        else:
            item.dof_mask = selector.dof_mask(spec, where)
            require_nonempty(comm, np.count_nonzero(item.dof_mask), where)
        items.append(item)
    return items


class PerturbationSchedule:
    """Applies the perturbations at the start of each step, kind by kind."""

    def __init__(self, perturbations: list[Perturbation], model, stepper, sites):
        self.perturbations = perturbations
        self.model = model
        self.stepper = stepper
        self.sites = sites
        self.state: dict[str, Any] = {}
        self.noise = np.zeros_like(model.u.x.array)
        self.noisy = False
        self.reset_sites: np.ndarray | None = None  # sites reset by the last before_step
        self.groups = {
            kind: [p for p in perturbations if isinstance(p, kind)] for kind in KINDS.values()
        }

    def before_step(self, t: float, dt: float) -> np.ndarray | None:
        """Apply the perturbations due; return extra noise on u, if any.

        ``reset_sites`` is then the mask of sites a reset of s touched (None: no reset).
        """
        self.reset_sites = None
        self.noisy = False
        for kind, items in self.groups.items():
            if items:
                kind.act(items, t, dt, self)
        return self.noise if self.noisy else None

    def add_noise(self, mask: np.ndarray, sigma: float) -> None:
        """Extra noise of amplitude `sigma` on u at `mask` during this step."""
        if not self.noisy:
            self.noise[:] = 0.0
            self.noisy = True
        self.noise[mask] += sigma

    def sites_reset(self, touched: np.ndarray) -> None:
        """Record the sites a reset of s touched during this step."""
        previous = self.reset_sites
        self.reset_sites = touched if previous is None else previous | touched

    def checkpoint_state(self) -> CheckpointState:
        """Which one-off actions have been done (damage and noise follow from the time)."""
        applied = [bool(item.applied) for item in self.perturbations]
        return CheckpointState(values={"applied": applied})

    def restore_checkpoint(self, state: CheckpointState) -> None:
        for item, applied in zip(self.perturbations, state.values["applied"], strict=True):
            item.applied = bool(applied)
