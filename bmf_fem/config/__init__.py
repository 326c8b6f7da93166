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

from bmf_fem.config.detect import DetectConfig
from bmf_fem.config.entries import InputConfig, PerturbationConfig
from bmf_fem.config.load import SECTIONS, Config, config_from_dict, load_config
from bmf_fem.config.mesh import MeshConfig
from bmf_fem.config.model import FieldConfig, MemoryConfig, SitesConfig, SpaceConfig, TimeConfig
from bmf_fem.config.overrides import apply_overrides
from bmf_fem.config.run import OutputConfig, SolverConfig
from bmf_fem.config.toml import dump_toml, parse_value
from bmf_fem.errors import ConfigError

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
