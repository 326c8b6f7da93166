"""The kinds of ``[[perturbation]]``, registered here once: the configuration, the
schedule that applies them (bmf_fem.perturbations.schedule) and the docs read this table.

A kind is a module: a `bmf_fem.perturbations.base.Perturbation` subclass with the
dataclass of the keys only it reads and ``act``, which applies it to the run. Add one by
writing the module and a line here.
"""

from __future__ import annotations

from bmf_fem.config.keys import keys_of
from bmf_fem.perturbations.base import Perturbation
from bmf_fem.perturbations.damage import Damage
from bmf_fem.perturbations.noise import Noise
from bmf_fem.perturbations.reset import Reset

KINDS: dict[str, type[Perturbation]] = {kind.name: kind for kind in (Reset, Damage, Noise)}
"""Every perturbation kind by name."""

KIND_KEYS = tuple(dict.fromkeys(name for kind in KINDS.values() for name in keys_of(kind.keys)))
"""The keys of ``[[perturbation]]`` that belong to some kind."""

__all__ = ["KINDS", "KIND_KEYS", "Perturbation"]
