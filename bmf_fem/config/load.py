"""A whole run's configuration: the `Config` of all sections, the registry of sections,
and loading (file, built-in base, ``--set`` overrides) with the rules across sections."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bmf_fem.config.detect import DetectConfig
from bmf_fem.config.entries import InputConfig, PerturbationConfig
from bmf_fem.config.mesh import MeshConfig
from bmf_fem.config.model import FieldConfig, MemoryConfig, SitesConfig, SpaceConfig, TimeConfig
from bmf_fem.config.overrides import ARRAY_SECTIONS, apply_overrides, merge
from bmf_fem.config.run import OutputConfig, SolverConfig
from bmf_fem.config.table import show, type_name
from bmf_fem.config.toml import read_toml
from bmf_fem.detectors import DETECTORS, Timing, available
from bmf_fem.errors import ConfigError
from bmf_fem.suggest import closest, did_you_mean


@dataclass(frozen=True)
class Config:
    """A whole run, validated. `source` (file or description) is not part of equality."""

    mesh: MeshConfig = dataclasses.field(default_factory=MeshConfig)
    space: SpaceConfig = dataclasses.field(default_factory=SpaceConfig)
    time: TimeConfig = dataclasses.field(default_factory=TimeConfig)
    field: FieldConfig = dataclasses.field(default_factory=FieldConfig)
    memory: MemoryConfig = dataclasses.field(default_factory=MemoryConfig)
    sites: SitesConfig = dataclasses.field(default_factory=SitesConfig)
    inputs: tuple[InputConfig, ...] = ()
    perturbations: tuple[PerturbationConfig, ...] = ()
    solver: SolverConfig = dataclasses.field(default_factory=SolverConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)
    detect: DetectConfig = dataclasses.field(default_factory=DetectConfig)
    source: str = dataclasses.field(default="<defaults>", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML data that `config_from_dict` turns back into an equal Config."""
        data: dict[str, Any] = {}
        for section, attribute in ATTRIBUTES.items():
            value = getattr(self, attribute)
            if section in ARRAY_SECTIONS:
                if value:
                    data[section] = [entry.to_dict() for entry in value]
            else:
                data[section] = value.to_dict()
        return data


SECTIONS: dict[str, type] = {
    "mesh": MeshConfig,
    "space": SpaceConfig,
    "time": TimeConfig,
    "field": FieldConfig,
    "memory": MemoryConfig,
    "sites": SitesConfig,
    "input": InputConfig,
    "perturbation": PerturbationConfig,
    "detect": DetectConfig,
    "solver": SolverConfig,
    "output": OutputConfig,
}
"""Every section by its TOML name, in the order a written configuration lists them."""

ATTRIBUTES = {name: name for name in SECTIONS} | {
    "input": "inputs",
    "perturbation": "perturbations",
}
"""The `Config` attribute of each section."""


def section_keys(section: Any) -> list[str]:
    """The TOML keys of a section dataclass."""
    return section.toml_keys()


def load_config(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    base: dict | None = None,
) -> Config:
    """Read, override and validate a run configuration.

    `path` is a TOML file (None: no file). `base` is a dict of settings under the file,
    used for built-in demos; the file's tables are merged over it. `overrides` are
    ``section.key=value`` strings applied last (``bmf run --set``). A relative
    ``mesh.file`` is taken relative to the file's directory.
    """
    data: dict[str, Any] = copy.deepcopy(base) if base is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"the base configuration must be a dict, got {type_name(data)}")
    source = "<built-in>" if base is not None else "<defaults>"
    base_dir = None
    if path is not None:
        path = Path(path)
        data = merge(data, read_toml(path))
        base_dir = path.absolute().parent
        source = str(path)
    data = apply_overrides(data, overrides)
    return build_config(data, source, base_dir)


def config_from_dict(data: dict, source: str = "<dict>") -> Config:
    """Validate plain data (as TOML would give it) into a Config; for scripts."""
    return build_config(copy.deepcopy(data), source, None)


def build_config(data: Any, source: str, base_dir: Path | None) -> Config:
    """The validated Config for plain data, or the first problem as a ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"a configuration must be a table (dict), got {type_name(data)}")
    for name, value in data.items():
        if name not in SECTIONS:
            raise ConfigError(_unknown_section_message(name, value))
    sections: dict[str, Any] = {}
    for name, section in SECTIONS.items():
        if name == "mesh":
            sections["mesh"] = MeshConfig.read(data.get("mesh", {}), "mesh", base_dir)
        elif name in ARRAY_SECTIONS:
            sections[ATTRIBUTES[name]] = tuple(
                _read_section(section, entry, f"{name}.{index}")
                for index, entry in enumerate(_array_of_tables(data, name))
            )
        else:
            sections[name] = _read_section(section, data.get(name, {}), name)
    return _check_across_sections(Config(**sections, source=source))


def _read_section(section: Any, data: Any, path: str) -> Any:
    """One section (or array entry) read by its declared keys; unknown keys refused."""
    if isinstance(data, dict):
        valid = section_keys(section)
        for name in data:
            if name not in valid:
                hint = _other_sections_hint(name) or did_you_mean(name, valid, f"{path}.")
                raise ConfigError(
                    f"unknown key {path}.{name}{hint}; valid keys in {section.HEADING}:"
                    f" {', '.join(valid)}"
                )
    return section.read(data, path)


def _check_across_sections(config: Config) -> Config:
    """Rules that involve more than one section; "all" detectors resolved."""
    if config.sites.mode == "cells":
        for where, expression in (
            ("field.reaction", config.field.reaction),
            ("memory.source", config.memory.source),
        ):
            if "s" in expression.names:
                raise ConfigError(
                    f'{where} = "{expression.text}" uses s, but with sites.mode = "cells" s'
                    " lives on regions, not at the nodes; use phi or M instead"
                )
    detect = config.detect
    if "all" in detect.detectors:
        named = [name for name in detect.detectors if name != "all"]
        detect = dataclasses.replace(
            detect, detectors=tuple(dict.fromkeys([*named, *available(config.sites.mode)]))
        )
        config = dataclasses.replace(config, detect=detect)
    for name in detect.detectors:
        modes = DETECTORS[name].modes
        if config.sites.mode not in modes:
            usable = ", ".join(f'"{n}"' for n in available(config.sites.mode))
            raise ConfigError(
                f'detect.detectors: the "{name}" detector needs sites.mode = "{modes[0]}" (one'
                f' time series per site); in {config.sites.mode} mode use {usable} (or "all")'
            )
    _check_detector_windows(config)
    return config


def _check_detector_windows(config: Config) -> None:
    """A detector whose windows need more time than the run has is refused, by name."""
    detect, t_end = config.detect, config.time.t_end
    timing = Timing.of(detect, config.time.dt, t_end)
    for name in detect.detectors:
        needs = DETECTORS[name].warm_up(timing)
        if needs is None:
            continue
        need, keys = needs
        if need + detect.sustain >= t_end:
            raise ConfigError(
                f'detect.detectors: the "{name}" detector needs {keys} + detect.sustain ='
                f" {need + detect.sustain:g} time units before its first alarm, but"
                f" time.t_end = {t_end:g}; shorten them (or leave window and trend_window"
                ' "auto", which fits them to the run) or run longer'
            )


def _unknown_section_message(name: str, value: Any) -> str:
    headings = [section.HEADING for section in SECTIONS.values()]
    hint = _other_sections_hint(name)
    if hint:
        hint = hint.replace("?)", "? keys go in their section)")
    else:
        close = closest(name, list(SECTIONS))
        hint = f" (did you mean [{close[0]}]?)" if close else ""
    what = f"section [{name}]" if isinstance(value, dict) else f"top-level key {name}"
    return f"unknown {what}{hint}; valid sections: {', '.join(headings)}"


def _other_sections_hint(key: str) -> str:
    """' (did you mean time.dt?)' when `key` is a key of other sections, or ''."""
    owners = [f"{name}.{key}" for name, section in SECTIONS.items() if key in section_keys(section)]
    if not owners:
        return ""
    listed = owners[0] if len(owners) == 1 else ", ".join(owners[:-1]) + " or " + owners[-1]
    return f" (did you mean {listed}?)"


def _array_of_tables(data: dict[str, Any], name: str) -> list[Any]:
    entries = data.get(name, [])
    if isinstance(entries, dict):
        raise ConfigError(
            f"{name} must be an array of tables: write [[{name}]] (double brackets) above"
            f" each entry, not [{name}]"
        )
    if not isinstance(entries, list | tuple):
        raise ConfigError(
            f"{name} = {show(entries)} has the wrong type: expected an array of tables"
            f" ([[{name}]] entries), got {type_name(entries)}"
        )
    return list(entries)
