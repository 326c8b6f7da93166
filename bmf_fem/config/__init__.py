"""Run configuration: a TOML file into validated, typed, frozen dataclasses.

Every key has a default, so an empty file is a valid run. Unknown sections and keys,
wrong types and impossible values raise `ConfigError` naming the key path (``time.dt``,
``input.0.width``), the value, and what would be valid, before any work starts. User
expressions are parsed here (`bmf_fem.expressions`) and kept as `Expression` objects.
Nothing in a configuration is ever evaluated as Python.

Each section is a dataclass whose fields declare their keys (`keys.key`: type, limits,
unit, doc); one reader and one writer serve them all (`section.Section`). The sections
live by concern: `model` (space, time, field, memory, sites), `entries` (input,
perturbation), `detect`, `run` (solver, output) and `mesh`; `load` holds `Config`, the
registry `SECTIONS` and the rules across sections; `overrides` and `toml` the text.

Entry points: `load_config` (file, built-in base and ``--set`` overrides),
`config_from_dict` (scripts), `Config.to_dict` and `dump_toml` (write the resolved
configuration back as TOML that loads to an equal `Config`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what readers and type checkers see; at run time see __getattr__
    from bmf_fem.config.detect import DetectConfig
    from bmf_fem.config.entries import InputConfig, PerturbationConfig
    from bmf_fem.config.load import SECTIONS, Config, config_from_dict, load_config
    from bmf_fem.config.mesh import MeshConfig
    from bmf_fem.config.model import (
        FieldConfig,
        MemoryConfig,
        SitesConfig,
        SpaceConfig,
        TimeConfig,
    )
    from bmf_fem.config.overrides import apply_overrides
    from bmf_fem.config.run import OutputConfig, SolverConfig
    from bmf_fem.config.toml import dump_toml, parse_value

_HOMES = {
    "SECTIONS": "load",
    "Config": "load",
    "config_from_dict": "load",
    "load_config": "load",
    "DetectConfig": "detect",
    "InputConfig": "entries",
    "PerturbationConfig": "entries",
    "MeshConfig": "mesh",
    "FieldConfig": "model",
    "MemoryConfig": "model",
    "SitesConfig": "model",
    "SpaceConfig": "model",
    "TimeConfig": "model",
    "apply_overrides": "overrides",
    "OutputConfig": "run",
    "SolverConfig": "run",
    "dump_toml": "toml",
    "parse_value": "toml",
}
__all__ = [
    "SECTIONS",
    "Config",
    "ConfigError",
    "DetectConfig",
    "FieldConfig",
    "InputConfig",
    "MemoryConfig",
    "MeshConfig",
    "OutputConfig",
    "PerturbationConfig",
    "SitesConfig",
    "SolverConfig",
    "SpaceConfig",
    "TimeConfig",
    "apply_overrides",
    "config_from_dict",
    "dump_toml",
    "load_config",
    "parse_value",
]

from bmf_fem.errors import ConfigError  # noqa: E402


def __getattr__(name: str) -> Any:
    # Each public name is imported from its module on first use, so a variant module
    # (an input profile declaring its keys) can import bmf_fem.config.keys on its own.
    if name in _HOMES:
        return getattr(importlib.import_module(f"bmf_fem.config.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'bmf_fem.config' has no attribute {name!r}")
