"""Kind "noise": add noise of amplitude ``sigma`` to u in the region during [start, stop)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bmf_fem.config.keys import REQUIRED, key
from bmf_fem.config.section import Section
from bmf_fem.config.table import Table
from bmf_fem.errors import ConfigError
from bmf_fem.perturbations.base import Perturbation, Run


@dataclass(frozen=True)
class NoiseKeys(Section):
    """The keys of kind "noise"."""

    HEADING = "[[perturbation]]"

    sigma: float = key(REQUIRED, "real", "noise: extra noise amplitude on u", above=0)

    @classmethod
    def check_first(cls, table: Table) -> None:
        if not table.given("sigma"):
            raise ConfigError(
                f'{table.path}.sigma is required for kind = "noise": the extra noise'
                " amplitude (> 0)"
            )


class Noise(Perturbation):
    """Extra noise on u in the region while active."""

    name = "noise"
    acts_on = "dofs"
    keys = NoiseKeys
    doc = "add noise to u"

    @classmethod
    def act(cls, items: list[Any], t: float, dt: float, run: Run) -> None:
        for item in items:
            if item.active(t, dt):
                run.add_noise(item.dof_mask, item.config.sigma)
