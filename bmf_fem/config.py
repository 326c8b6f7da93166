"""Run configuration: a TOML file into validated, typed, frozen dataclasses.

Every key has a default, so an empty file is a valid run. Unknown sections and keys,
wrong types and impossible values raise `ConfigError` naming the key path (``time.dt``,
``input.0.width``), the value, and what would be valid, before any work starts. User
expressions are parsed here (`bmf_fem.expressions`) and kept as `Expression` objects.
Nothing in a configuration is ever evaluated as Python.

Entry points: `load_config` (file, built-in base and ``--set`` overrides),
`config_from_dict` (scripts), `Config.to_dict` and `dump_toml` (write the resolved
configuration back as TOML that loads to an equal `Config`).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import numbers
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from bmf_fem.detectors import DETECTORS as REGISTERED_DETECTORS
from bmf_fem.detectors import SPATIAL_INDICATORS, Timing, available
from bmf_fem.detectors.ews import EDGES
from bmf_fem.errors import ConfigError
from bmf_fem.expressions import COORDINATES, VOCABULARY, Expression, parse_expression
from bmf_fem.perturbation_kinds import KINDS
from bmf_fem.petsc_options import check_ksp_type, check_option
from bmf_fem.profiles import PROFILE_KEYS, PROFILES

__all__ = [
    "Config",
    "ConfigError",
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
]

STATE_NAMES = VOCABULARY
"""Names usable in field.reaction and memory.source."""
INITIAL_NAMES = COORDINATES
"""Names usable in initial conditions."""

MESH_DIMENSIONS = (1, 2, 3)
DEGREES = (1, 2)
SCHEMES = ("sbdf1", "sbdf2")
SITE_MODES = ("continuum", "cells")
DETECTORS = (*REGISTERED_DETECTORS, "all")
DETRENDING = ("gaussian", "mean")
INDICATORS = ("ac1", "variance", "both")
INPUT_PROFILES = tuple(PROFILES)
PERTURBATION_KINDS = tuple(KINDS)
MAX_HOPS = 10  # detect.hops: a neighbourhood of more steps is most of a small mesh
MAX_STEPS = 10**8  # time.t_end / time.dt: beyond this a run never ends (or overflows)
MIN_DURATION = sys.float_info.min  # input period and width: positive normal floats only
MAX_SEED = 2**63 - 1  # output.seed: the largest seed numpy's generators take as an int64
PRECONDITIONERS = ("auto", "hypre", "gamg", "jacobi", "icc", "ilu", "none", "lu", "sor")
OUTPUT_FIELDS = ("u", "M", "phi", "s", "expression_time", "m")

_NOT_A_KEY = {"toml_key": False}
_REQUIRED = object()

_DEFAULT_REACTION = parse_expression("0", STATE_NAMES, "field.reaction")
_DEFAULT_FIELD_INITIAL = parse_expression("0", INITIAL_NAMES, "field.initial")
_DEFAULT_SOURCE = parse_expression("u*abs(u)", STATE_NAMES, "memory.source")
_DEFAULT_MEMORY_INITIAL = parse_expression("0", INITIAL_NAMES, "memory.initial")
_DEFAULT_SITES_INITIAL = parse_expression("-1", INITIAL_NAMES, "sites.initial")


# ---------------------------------------------------------------------------------------
# The sections


class _Section:
    """Shared behaviour of the section dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """The section as plain TOML data (expressions as their text)."""
        return {
            item.name: _plain(getattr(self, item.name))
            for item in dataclasses.fields(self)  # type: ignore[arg-type]
            if item.metadata.get("toml_key", True)
        }


@dataclass(frozen=True)
class MeshConfig:
    """[mesh]: the geometry to build (or the file to read) and its parameters.

    ``params`` holds the table's other keys as given (shape, size, h, dim, seed, file and
    the kind's own keys), checked by the geometry library, which fills in the defaults
    (docs/geometry.md).
    """

    kind: str = "crystal"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The section as plain TOML data (unset keys left out)."""
        values = {key: value for key, value in self.params.items() if value is not None}
        return {"kind": self.kind, **copy.deepcopy(values)}


@dataclass(frozen=True)
class SpaceConfig(_Section):
    """[space]: the Lagrange degree of all fields."""

    degree: int = 1


@dataclass(frozen=True)
class TimeConfig(_Section):
    """[time]: fixed step, end time and IMEX scheme."""

    dt: float = 0.05
    t_end: float = 40.0
    scheme: str = "sbdf1"


@dataclass(frozen=True)
class FieldConfig(_Section):
    """[field]: the local field u (D_u, delta, gamma, R, sigma_u, u at t = 0)."""

    D: float = 0.01
    decay: float = 1.0
    feedback: float = 0.1
    reaction: Expression = _DEFAULT_REACTION
    noise: float = 0.0
    initial: Expression = _DEFAULT_FIELD_INITIAL


@dataclass(frozen=True)
class MemoryConfig(_Section):
    """[memory]: the memory modes m_k (D_M, tau_k, w_k, f, scope threshold, m_k at t = 0).

    When ``weight`` is not given every mode has weight 1.
    """

    D: float = 0.0
    tau: tuple[float, ...] = (20.0,)
    weight: tuple[float, ...] = (1.0,)
    source: Expression = _DEFAULT_SOURCE
    scope_threshold: float = 0.05
    initial: Expression = _DEFAULT_MEMORY_INITIAL

    @property
    def modes(self) -> int:
        """The number of memory modes K."""
        return len(self.tau)


@dataclass(frozen=True)
class SitesConfig(_Section):
    """[sites]: the bistable site field s (D_s, alpha, g, sigma_s, threshold, s at t = 0, S)."""

    mode: str = "continuum"
    D: float = 0.0
    rate: float = 1.0
    coupling: float = 1.0
    noise: float = 0.0
    on: float = 0.0
    initial: Expression = _DEFAULT_SITES_INITIAL
    stabilisation: float | str = "auto"
    regions: str = "*"


@dataclass(frozen=True)
class DetectConfig(_Section):
    """[detect]: early-warning detectors of expression and their evaluation."""

    detectors: tuple[str, ...] = ("field",)
    margin: float = 0.1
    rate: float = 0.0
    window: float | str = "auto"
    detrend: str = "gaussian"
    bandwidth: float | str = "auto"
    edges: str = "reflect"
    sample_every: int = 1
    indicator: str = "ac1"
    trend_window: float | str = "auto"
    tau_threshold: float = 0.7
    hops: int = 1
    spatial_indicator: str = "spatial_variance"
    spatial_threshold: float = 0.7
    neighbour_threshold: float = 0.005
    sustain: float = 5.0
    control: bool = False
    calibration_runs: int = 0
    calibration_quantile: float = 0.95


@dataclass(frozen=True)
class InputConfig(_Section):
    """One [[input]]: a spatial profile times a train of `count` pulses.

    `centre` and `radius` belong to profile "gaussian", `region` to profile "region".
    """

    profile: str = "gaussian"
    centre: tuple[float, ...] = (0.0, 0.0)
    radius: float = 0.1
    region: str = ""
    amplitude: float = 1.0
    start: float = 0.0
    period: float = 1.0
    count: int = 1
    width: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain TOML data, without keys its profile does not use."""
        data = super().to_dict()
        for key in PROFILE_KEYS:
            if key not in PROFILES[self.profile].keys:
                del data[key]
        return data


@dataclass(frozen=True)
class PerturbationConfig(_Section):
    """One [[perturbation]]: reset, damage or extra noise in a region during [start, stop).

    The region is exactly one of a mesh tag (`region`), a ball (`centre`, `radius`) or an
    axis-aligned box (`box` = [[lo...], [hi...]]); the unused ones are empty/None.
    `factor` is used by kind "damage" only, `sigma` by kind "noise" only.
    """

    kind: str
    region: str = ""
    centre: tuple[float, ...] | None = None
    radius: float | None = None
    box: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    start: float = 0.0
    stop: float = math.inf
    factor: float = 0.1
    sigma: float = 0.0
    fields: tuple[str, ...] = ("u", "m", "s")

    @property
    def location(self) -> str:
        """How the region is given: "region", "ball" or "box"."""
        if self.region:
            return "region"
        return "box" if self.box is not None else "ball"

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain TOML data, without unused location keys and parameters."""
        data = {key: value for key, value in super().to_dict().items() if value is not None}
        if not self.region:
            del data["region"]
        for kind in KINDS.values():
            if kind.name != self.kind:
                for key in kind.keys:
                    del data[key]
        return data


@dataclass(frozen=True)
class SolverConfig(_Section):
    """[solver]: Krylov method, preconditioner, tolerances and raw PETSc options."""

    ksp_type: str = "cg"
    pc_type: str = "auto"
    rtol: float = 1e-6
    atol: float = 0.0
    max_it: int = 1000
    petsc_options: dict[str, str | int | float | bool] = dataclasses.field(default_factory=dict)


COMPRESSION_ON = 1  # gzip level of output.compression = "on"


@dataclass(frozen=True)
class OutputConfig(_Section):
    """[output]: run directory, what to write and how often, and the noise seed."""

    dir: str = "bmf-out"
    every: int = 10
    fields: tuple[str, ...] = ("u", "M", "phi", "s", "expression_time")
    checkpoint_every: int = 0
    seed: int = 12345
    compression: int = 0


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
        data: dict[str, Any] = {
            name: getattr(self, name).to_dict()
            for name in ("mesh", "space", "time", "field", "memory", "sites")
        }
        if self.inputs:
            data["input"] = [entry.to_dict() for entry in self.inputs]
        if self.perturbations:
            data["perturbation"] = [entry.to_dict() for entry in self.perturbations]
        data["detect"] = self.detect.to_dict()
        data["solver"] = self.solver.to_dict()
        data["output"] = self.output.to_dict()
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
ARRAY_SECTIONS = ("input", "perturbation")


def _section_keys(section: type) -> list[str]:
    """The TOML keys of a section dataclass."""
    fields = dataclasses.fields(section)
    return [item.name for item in fields if item.metadata.get("toml_key", True)]


# ---------------------------------------------------------------------------------------
# Loading


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
        raise ConfigError(f"the base configuration must be a dict, got {_type_name(data)}")
    source = "<built-in>" if base is not None else "<defaults>"
    base_dir = None
    if path is not None:
        path = Path(path)
        data = _merge(data, _read_toml(path))
        base_dir = path.absolute().parent
        source = str(path)
    data = apply_overrides(data, overrides)
    return _build_config(data, source, base_dir)


def config_from_dict(data: dict, source: str = "<dict>") -> Config:
    """Validate plain data (as TOML would give it) into a Config; for scripts."""
    return _build_config(copy.deepcopy(data), source, None)


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed file, or a ConfigError naming the file (and line for syntax errors)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"cannot read configuration file {path}: {reason}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"configuration file {path} is not UTF-8 text (byte {error.start})"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_error_message(str(path), text, error)) from None
    except RecursionError:
        raise ConfigError(
            f"configuration file {path} nests arrays or tables too deeply; a configuration"
            " needs at most a few levels"
        ) from None


def _toml_error_message(name: str, text: str, error: tomllib.TOMLDecodeError) -> str:
    """The decoder's message with the offending line shown and marked."""
    reason = str(error)
    found = re.search(r"at line (\d+), column (\d+)", reason)
    if not found:
        return f"{name} is not valid TOML: {reason}"
    line_number, column = int(found.group(1)), int(found.group(2))
    lines = text.splitlines()
    message = f"{name}:{line_number}: not valid TOML: {reason}"
    if 1 <= line_number <= len(lines):
        line = lines[line_number - 1].replace("\t", " ")
        message += f"\n    {line}\n    {' ' * max(column - 1, 0)}^"
    return message


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overlay` on top: tables merged key by key, everything else replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# ---------------------------------------------------------------------------------------
# Overrides (bmf run --set section.key=value)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `data` with each ``section.key=value`` override set.

    The value is read as a TOML value and, when that fails, taken as a plain string (so
    ``mesh.kind=box`` needs no quotes). Arrays of tables take an index
    (``input.0.amplitude=2``); the index one past the end adds a new entry.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    data = copy.deepcopy(data)
    for override in overrides:
        parts, value = _parse_override(override)
        _set_path(data, parts, value, override)
    return data


def _parse_override(override: str) -> tuple[list[str], Any]:
    key, separator, value_text = override.partition("=")
    parts = [part.strip() for part in key.split(".")]
    if not separator or len(parts) < 2 or not all(parts):
        raise ConfigError(
            f'malformed override "{override}": expected section.key=value, e.g. time.dt=0.02'
            " or input.0.amplitude=2"
        )
    return parts, parse_value(value_text.strip())


def parse_value(text: str) -> Any:
    """A TOML value if `text` is one, else `text` itself as a string."""
    try:
        parsed = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ConfigError(
            f"--set value {text[:20]}... nests arrays or tables too deeply; a value needs at"
            " most a few levels"
        ) from None
    if list(parsed) != ["value"]:
        return text
    return parsed["value"]


def _set_path(data: dict[str, Any], parts: list[str], value: Any, override: str) -> None:
    """Set ``data[parts[0]][parts[1]]... = value``, adding tables and array entries."""
    container: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        key: str | int
        if isinstance(container, dict):
            key = part
            if not last and key not in container:
                container[key] = [] if depth == 0 and key in ARRAY_SECTIONS else {}
        elif isinstance(container, list):
            key = _override_index(container, parts, depth, override)
            if key == len(container):
                container.append({})
        else:
            walked = ".".join(parts[:depth])
            raise ConfigError(f'override "{override}": {walked} is not a table')
        if last:
            container[key] = value
        else:
            container = container[key]


def _override_index(entries: list[Any], parts: list[str], depth: int, override: str) -> int:
    """The array index named by ``parts[depth]``: an existing entry or one past the end."""
    walked = ".".join(parts[:depth])
    count = len(entries)
    if not parts[depth].isdigit():
        example = ".".join([*parts[:depth], "0", *parts[depth:]])
        raise ConfigError(
            f'override "{override}": {walked} is an array (like [[{walked}]]); name an entry'
            f" by its index, e.g. {example}"
        )
    index = int(parts[depth])
    if index > count:
        if not count:
            raise ConfigError(f'override "{override}": {walked} has no entries; use index 0')
        raise ConfigError(
            f'override "{override}": {walked} has {count} entries, so the index must be'
            f" 0..{count - 1} to change one, or {count} to add one"
        )
    return index


# ---------------------------------------------------------------------------------------
# Validation


def _build_config(data: Any, source: str, base_dir: Path | None) -> Config:
    """The validated Config for plain data, or the first problem as a ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"a configuration must be a table (dict), got {_type_name(data)}")
    for name, value in data.items():
        if name not in SECTIONS:
            raise ConfigError(_unknown_section_message(name, value))
    config = Config(
        mesh=_read_mesh(data.get("mesh", {}), base_dir),
        space=_read_space(data.get("space", {})),
        time=_read_time(data.get("time", {})),
        field=_read_field(data.get("field", {})),
        memory=_read_memory(data.get("memory", {})),
        sites=_read_sites(data.get("sites", {})),
        inputs=tuple(
            _read_input(entry, f"input.{index}")
            for index, entry in enumerate(_array_of_tables(data, "input"))
        ),
        perturbations=tuple(
            _read_perturbation(entry, f"perturbation.{index}")
            for index, entry in enumerate(_array_of_tables(data, "perturbation"))
        ),
        solver=_read_solver(data.get("solver", {})),
        output=_read_output(data.get("output", {})),
        detect=_read_detect(data.get("detect", {})),
        source=source,
    )
    return _check_across_sections(config)


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
        modes = REGISTERED_DETECTORS[name].modes
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
        needs = REGISTERED_DETECTORS[name].warm_up(timing)
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
    headings = [
        f"[[{section}]]" if section in ARRAY_SECTIONS else f"[{section}]" for section in SECTIONS
    ]
    hint = _other_sections_hint(name)
    if hint:
        hint = hint.replace("?)", "? keys go in their section)")
    else:
        close = _closest(name, list(SECTIONS))
        hint = f" (did you mean [{close}]?)" if close else ""
    what = f"section [{name}]" if isinstance(value, dict) else f"top-level key {name}"
    return f"unknown {what}{hint}; valid sections: {', '.join(headings)}"


def _array_of_tables(data: dict[str, Any], name: str) -> list[Any]:
    entries = data.get(name, [])
    if isinstance(entries, dict):
        raise ConfigError(
            f"{name} must be an array of tables: write [[{name}]] (double brackets) above"
            f" each entry, not [{name}]"
        )
    if not isinstance(entries, list | tuple):
        raise ConfigError(
            f"{name} = {_show(entries)} has the wrong type: expected an array of tables"
            f" ([[{name}]] entries), got {_type_name(entries)}"
        )
    return list(entries)


class _Table:
    """One TOML table under validation: typed getters that know key paths and defaults."""

    def __init__(
        self, data: Any, path: str, section: type, *, heading: str, extra_keys: bool = False
    ) -> None:
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path} = {_show(data)} has the wrong type: expected a table ({heading}),"
                f" got {_type_name(data)}"
            )
        self.data = data
        self.path = path
        self.defaults: dict[str, Any] = {}
        for item in dataclasses.fields(section):
            if not item.metadata.get("toml_key", True):
                continue
            if item.default is not dataclasses.MISSING:
                self.defaults[item.name] = item.default
            elif item.default_factory is not dataclasses.MISSING:
                self.defaults[item.name] = item.default_factory()
            else:
                self.defaults[item.name] = _REQUIRED
        if not extra_keys:
            for key in data:
                if key not in self.defaults:
                    raise ConfigError(self.unknown_key_message(key, heading))

    def unknown_key_message(self, key: str, heading: str) -> str:
        valid = list(self.defaults)
        hint = _other_sections_hint(key) or _did_you_mean(key, valid, f"{self.path}.")
        return f"unknown key {self.path}.{key}{hint}; valid keys in {heading}: {', '.join(valid)}"

    def where(self, key: str) -> str:
        return f"{self.path}.{key}"

    def given(self, key: str) -> bool:
        return key in self.data

    def extra(self) -> dict[str, Any]:
        """Keys that are not fields of the section, as given."""
        extra = {key: value for key, value in self.data.items() if key not in self.defaults}
        return copy.deepcopy(extra)

    def raw(self, key: str) -> Any:
        value = self.data.get(key, self.defaults[key])
        if value is _REQUIRED:
            raise ConfigError(f"{self.where(key)} is required")
        return value

    def invalid(self, key: str, rule: str) -> ConfigError:
        return ConfigError(f"{self.where(key)} = {_show(self.raw(key))} is not valid: {rule}")

    def real(
        self,
        key: str,
        *,
        above: float | None = None,
        at_least: float | None = None,
        below: float | None = None,
        finite: bool = True,
    ) -> float:
        value = _real(self.raw(key), self.where(key))
        return self._check_range(key, value, above, at_least, below, finite)

    def real_or_word(self, key: str, word: str, *, at_least: float | None = None) -> float | str:
        """A number, or the string ``word`` (such as "auto")."""
        value = self.raw(key)
        if value == word:
            return word
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(
                f'{self.where(key)} = {_show(value)} is not valid: give a number or "{word}",'
                f" got {_type_name(value)}"
            )
        return self.real(key, at_least=at_least)

    def _check_range(
        self,
        key: str,
        value: float,
        above: float | None,
        at_least: float | None,
        below: float | None,
        finite: bool,
    ) -> float:
        if math.isnan(value) or (finite and math.isinf(value)):
            raise self.invalid(key, "it must be a finite number")
        rules = []
        if above is not None:
            rules.append((value > above, f"> {above:g}"))
        if at_least is not None:
            rules.append((value >= at_least, f">= {at_least:g}"))
        if below is not None:
            rules.append((value < below, f"< {below:g}"))
        if not all(ok for ok, _ in rules):
            raise self.invalid(key, "it must be " + " and ".join(rule for _, rule in rules))
        return value

    def integer(
        self,
        key: str,
        *,
        at_least: int | None = None,
        at_most: int | None = None,
        choices: Sequence[int] | None = None,
    ) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            hint = ""
            if isinstance(value, float) and value.is_integer():
                hint = f" (write {int(value)}, without a decimal point)"
            raise ConfigError(
                f"{self.where(key)} = {_show(value)} has the wrong type: expected an integer,"
                f" got {_type_name(value)}{hint}"
            )
        value = int(value)
        if choices is not None and value not in choices:
            raise self.invalid(key, "valid values are " + ", ".join(map(str, choices)))
        if at_least is not None and value < at_least:
            raise self.invalid(key, f"it must be an integer >= {at_least}")
        if at_most is not None and value > at_most:
            raise self.invalid(key, f"it must be an integer <= {at_most}")
        return value

    def string(self, key: str, *, required: bool = False) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise ConfigError(
                f"{self.where(key)} = {_show(value)} has the wrong type: expected a string,"
                f" got {_type_name(value)}"
            )
        if required and not value.strip():
            raise self.invalid(key, "it must not be empty")
        return value

    def choice(self, key: str, choices: Sequence[str]) -> str:
        value = self.string(key)
        if value not in choices:
            hint = _did_you_mean(value, choices, "", quote=True)
            valid = ", ".join(f'"{choice}"' for choice in choices)
            raise ConfigError(
                f"{self.where(key)} = {_show(value)} is not valid{hint}; valid values: {valid}"
            )
        return value

    def expression(self, key: str, names: Sequence[str]) -> Expression:
        value = self.raw(key)
        if isinstance(value, Expression):
            value = value.text
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise self.invalid(key, "it must be a finite number or an expression")
            value = repr(value) if isinstance(value, float) else str(value)
        elif not isinstance(value, str):
            raise ConfigError(
                f"{self.where(key)} = {_show(value)} has the wrong type: expected a string"
                f' holding an expression (such as "0.5*exp(-x**2)"), got {_type_name(value)}'
            )
        return parse_expression(value, names, self.where(key))

    def real_list(
        self,
        key: str,
        *,
        min_length: int = 1,
        max_length: int | None = None,
        scalar_ok: bool = False,
        above: float | None = None,
    ) -> tuple[float, ...]:
        value = self.raw(key)
        if scalar_ok and isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = [value]
        return _real_tuple(
            value, self.where(key), min_length=min_length, max_length=max_length, above=above
        )


def _real(value: Any, where: str) -> float:
    """`value` as a float: TOML floats and integers are numbers, booleans are not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"{where} = {_show(value)} has the wrong type: expected a number, got"
            f" {_type_name(value)}"
        )
    return float(value)


def _real_tuple(
    value: Any,
    where: str,
    *,
    min_length: int = 1,
    max_length: int | None = None,
    above: float | None = None,
) -> tuple[float, ...]:
    """A list of finite numbers of an allowed length, as a tuple of floats."""
    if not isinstance(value, list | tuple):
        raise ConfigError(
            f"{where} = {_show(value)} has the wrong type: expected an array of numbers,"
            f" got {_type_name(value)}"
        )
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        wanted = (
            f"{min_length} to {max_length}" if max_length is not None else f"at least {min_length}"
        )
        raise ConfigError(
            f"{where} = {_show(value)} is not valid: it must have {wanted} entries,"
            f" not {len(value)}"
        )
    numbers_ = tuple(_real(item, f"{where}[{index}]") for index, item in enumerate(value))
    for item in numbers_:
        if not math.isfinite(item):
            raise ConfigError(f"{where} = {_show(value)} is not valid: entries must be finite")
        if above is not None and not item > above:
            raise ConfigError(
                f"{where} = {_show(value)} is not valid: every entry must be > {above:g}"
            )
    return numbers_


def _read_mesh(data: Any, base_dir: Path | None) -> MeshConfig:
    from bmf_fem.meshes import MeshError
    from bmf_fem.meshes.parameters import resolve

    if not isinstance(data, dict):
        raise ConfigError(f"[mesh] must be a table of keys, not {_type_name(data)}")
    params = dict(data)
    kind = params.pop("kind", "crystal")
    if not isinstance(kind, str):
        raise ConfigError(
            f"mesh.kind = {_show(kind)} has the wrong type: expected a string, "
            f"got {_type_name(kind)}"
        )
    from bmf_fem.meshes.parameters import KINDS

    if kind not in KINDS:
        hint = _did_you_mean(str(kind), list(KINDS), "", quote=True)
        raise ConfigError(
            f"mesh.kind = {_show(kind)} is not valid{hint}; use one of "
            + ", ".join(f'"{k}"' for k in KINDS)
        )
    file = params.get("file")
    if kind == "file":
        if not isinstance(file, str) or not file.strip():
            raise ConfigError(
                'mesh.file is required when mesh.kind = "file": the path of a .msh (or any'
                " meshio) file, relative to the configuration file"
            )
        path = Path(file).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        path = path.absolute()
        if not path.is_file():
            raise ConfigError(f"mesh.file = {_show(file)} is not valid: no such file {path}")
        params["file"] = str(path)
    try:
        resolve(kind, dict(params))
    except MeshError as error:
        raise ConfigError(str(error)) from None
    return MeshConfig(kind=kind, params=params)


def _read_space(data: Any) -> SpaceConfig:
    table = _Table(data, "space", SpaceConfig, heading="[space]")
    return SpaceConfig(degree=table.integer("degree", choices=DEGREES))


def _read_time(data: Any) -> TimeConfig:
    table = _Table(data, "time", TimeConfig, heading="[time]")
    dt = table.real("dt", above=0)
    t_end = table.real("t_end", at_least=0)
    steps = t_end / dt
    if not steps <= MAX_STEPS:
        raise ConfigError(
            f"time.t_end / time.dt = {t_end:g} / {dt:g} = {steps:.3g} steps is not valid: at"
            f" most {MAX_STEPS:.0e} steps are allowed (raise time.dt or lower time.t_end)"
        )
    return TimeConfig(dt=dt, t_end=t_end, scheme=table.choice("scheme", SCHEMES))


def _read_field(data: Any) -> FieldConfig:
    table = _Table(data, "field", FieldConfig, heading="[field]")
    return FieldConfig(
        D=table.real("D", at_least=0),
        decay=table.real("decay", at_least=0),
        feedback=table.real("feedback"),
        reaction=table.expression("reaction", STATE_NAMES),
        noise=table.real("noise", at_least=0),
        initial=table.expression("initial", INITIAL_NAMES),
    )


def _read_memory(data: Any) -> MemoryConfig:
    table = _Table(data, "memory", MemoryConfig, heading="[memory]")
    tau = table.real_list("tau", scalar_ok=True, above=0)
    if table.given("weight"):
        weight = table.real_list("weight", scalar_ok=True)
        if len(weight) != len(tau):
            raise ConfigError(
                f"memory.weight = {_show(table.raw('weight'))} has {len(weight)} entries but"
                f" memory.tau = {_show(table.raw('tau'))} has {len(tau)}; give one weight per"
                " memory mode"
            )
    else:
        weight = (1.0,) * len(tau)
    return MemoryConfig(
        D=table.real("D", at_least=0),
        tau=tau,
        weight=weight,
        source=table.expression("source", STATE_NAMES),
        scope_threshold=table.real("scope_threshold", at_least=0),
        initial=table.expression("initial", INITIAL_NAMES),
    )


def _read_sites(data: Any) -> SitesConfig:
    table = _Table(data, "sites", SitesConfig, heading="[sites]")
    return SitesConfig(
        mode=table.choice("mode", SITE_MODES),
        D=table.real("D", at_least=0),
        rate=table.real("rate", at_least=0),
        coupling=table.real("coupling"),
        noise=table.real("noise", at_least=0),
        on=table.real("on"),
        initial=table.expression("initial", INITIAL_NAMES),
        stabilisation=table.real_or_word("stabilisation", "auto", at_least=0),
        regions=table.string("regions", required=True),
    )


def _positive_or_auto(table: _Table, key: str) -> float | str:
    value = table.real_or_word(key, "auto")
    if value != "auto" and value <= 0:
        raise table.invalid(key, 'give a number > 0 or "auto"')
    return value


def _read_detect(data: Any) -> DetectConfig:
    table = _Table(data, "detect", DetectConfig, heading="[detect]")
    detectors = table.raw("detectors")
    where = "detect.detectors"
    valid = ", ".join(f'"{name}"' for name in DETECTORS)
    if not isinstance(detectors, list | tuple) or not all(isinstance(d, str) for d in detectors):
        raise ConfigError(
            f"{where} = {_show(detectors)} has the wrong type: expected an array of strings"
            f" from {valid}"
        )
    for name in detectors:
        if name not in DETECTORS:
            hint = _did_you_mean(name, DETECTORS, "", quote=True)
            raise ConfigError(f'{where}: unknown detector "{name}"{hint}; valid: {valid}')
    control = table.raw("control")
    if not isinstance(control, bool):
        raise ConfigError(
            f"detect.control = {_show(control)} has the wrong type: expected true or false"
        )
    return DetectConfig(
        detectors=tuple(dict.fromkeys(detectors)),
        margin=table.real("margin", at_least=0, below=1),
        rate=table.real("rate", at_least=0),
        window=_positive_or_auto(table, "window"),
        detrend=table.choice("detrend", DETRENDING),
        bandwidth=_positive_or_auto(table, "bandwidth"),
        edges=table.choice("edges", EDGES),
        sample_every=table.integer("sample_every", at_least=1),
        indicator=table.choice("indicator", INDICATORS),
        trend_window=_positive_or_auto(table, "trend_window"),
        tau_threshold=table.real("tau_threshold", above=-1, below=1),
        hops=table.integer("hops", at_least=1, at_most=MAX_HOPS),
        spatial_indicator=table.choice("spatial_indicator", SPATIAL_INDICATORS),
        spatial_threshold=table.real("spatial_threshold", above=-1, below=1),
        neighbour_threshold=table.real("neighbour_threshold", at_least=0),
        sustain=table.real("sustain", at_least=0),
        control=control,
        calibration_runs=table.integer("calibration_runs", at_least=0),
        calibration_quantile=table.real("calibration_quantile", above=0, below=1),
    )


def _read_input(data: Any, path: str) -> InputConfig:
    table = _Table(data, path, InputConfig, heading="[[input]]")
    profile = table.choice("profile", INPUT_PROFILES)
    for other in PROFILES.values():
        _reject_unused(table, other.keys, "profile", profile, other.name)
    region = table.string("region")
    if profile == "region" and not region.strip():
        raise ConfigError(
            f'{path}.region is required when profile = "region": the name of a region of the'
            " mesh (a gmsh physical group)"
        )
    period = table.real("period", at_least=MIN_DURATION)
    count = table.integer("count", at_least=1)
    width = table.real("width", at_least=MIN_DURATION)
    if count > 1 and width > period:
        raise ConfigError(
            f"{path}.width = {_show(width)} is not valid: with count = {count} pulses it must"
            f" be <= {path}.period = {_show(period)}, or the pulses overlap"
        )
    return InputConfig(
        profile=profile,
        centre=table.real_list("centre", max_length=3),
        radius=table.real("radius", above=0),
        region=region,
        amplitude=table.real("amplitude"),
        start=table.real("start", at_least=0),
        period=period,
        count=count,
        width=width,
    )


def _read_perturbation(data: Any, path: str) -> PerturbationConfig:
    table = _Table(data, path, PerturbationConfig, heading="[[perturbation]]")
    if not table.given("kind"):
        kinds = ", ".join(f'"{kind}"' for kind in PERTURBATION_KINDS)
        raise ConfigError(f"{path}.kind is required: one of {kinds}")
    kind = table.choice("kind", PERTURBATION_KINDS)
    for other in KINDS.values():
        _reject_unused(table, other.keys, "kind", kind, other.name)
    fields = table.raw("fields")
    valid = '"u", "m", "s"'
    if (
        not isinstance(fields, list | tuple)
        or not fields
        or any(name not in ("u", "m", "s") for name in fields)
    ):
        raise ConfigError(
            f"{path}.fields = {_show(fields)} is not valid: a non-empty array of {valid}"
            " (the unknowns a reset sets back; m means every memory mode)"
        )

    locations = []
    if table.given("region"):
        locations.append("region")
    if table.given("centre") or table.given("radius"):
        locations.append("centre/radius")
    if table.given("box"):
        locations.append("box")
    if len(locations) != 1:
        found = " and ".join(locations) if locations else "none"
        raise ConfigError(
            f'{path} needs exactly one location, found {found}: give region = "tag name",'
            " or centre = [x, y] with radius = r, or box = [[x0, y0], [x1, y1]]"
        )
    region, centre, radius, box = "", None, None, None
    if locations == ["region"]:
        region = table.string("region", required=True)
    elif locations == ["box"]:
        box = _read_box(table.raw("box"), f"{path}.box")
    else:
        for key in ("centre", "radius"):
            if not table.given(key):
                raise ConfigError(f"{path}.{key} is required with {path}.centre/radius")
        centre = table.real_list("centre", max_length=3)
        radius = table.real("radius", above=0)

    start = table.real("start", at_least=0)
    stop = table.real("stop", finite=False)
    if not stop > start:
        raise ConfigError(
            f"{path}.stop = {_show(stop)} is not valid: it must be > {path}.start ="
            f" {_show(start)} (leave it out, or write inf, for no end)"
        )
    sigma = 0.0
    if kind == "noise":
        if not table.given("sigma"):
            raise ConfigError(
                f'{path}.sigma is required for kind = "noise": the extra noise amplitude (> 0)'
            )
        sigma = table.real("sigma", above=0)
    return PerturbationConfig(
        kind=kind,
        region=region,
        centre=centre,
        radius=radius,
        box=box,
        start=start,
        stop=stop,
        factor=table.real("factor", at_least=0),
        sigma=sigma,
        fields=tuple(dict.fromkeys(fields)),
    )


def _reject_unused(
    table: _Table, keys: Sequence[str], selector: str, selected: str, user: str
) -> None:
    """Refuse keys that only `selector` = `user` uses; they would be silently ignored."""
    if selected == user:
        return
    for key in keys:
        if table.given(key):
            raise ConfigError(
                f'{table.where(key)} is only used with {selector} = "{user}", but'
                f' {table.where(selector)} = "{selected}"; remove it or change {selector}'
            )


def _read_box(value: Any, where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    shape_error = ConfigError(
        f"{where} = {_show(value)} is not valid: expected [[lower corner], [upper corner]]"
        " with 1 to 3 coordinates each, e.g. [[0.0, 0.0], [0.5, 0.2]]"
    )
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise shape_error
    if not all(isinstance(corner, list | tuple) for corner in value):
        raise shape_error
    lower = _real_tuple(value[0], f"{where}[0]", max_length=3)
    upper = _real_tuple(value[1], f"{where}[1]", max_length=3)
    if len(lower) != len(upper):
        raise shape_error
    if not all(lo < hi for lo, hi in zip(lower, upper, strict=True)):
        raise ConfigError(
            f"{where} = {_show(value)} is not valid: every lower coordinate must be smaller"
            " than the upper one"
        )
    return lower, upper


def _read_solver(data: Any) -> SolverConfig:
    table = _Table(data, "solver", SolverConfig, heading="[solver]")
    ksp_type = table.string("ksp_type", required=True)
    check_ksp_type("solver.ksp_type", ksp_type)
    return SolverConfig(
        ksp_type=ksp_type,
        pc_type=table.choice("pc_type", PRECONDITIONERS),
        rtol=table.real("rtol", above=0, below=1),
        atol=table.real("atol", at_least=0),
        max_it=table.integer("max_it", at_least=1),
        petsc_options=_read_petsc_options(table.raw("petsc_options")),
    )


def _read_petsc_options(value: Any) -> dict[str, str | int | float | bool]:
    """PETSc options as name -> value; a leading '-' on names is dropped."""
    where = "solver.petsc_options"
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where} = {_show(value)} has the wrong type: expected a table of option = value,"
            f" got {_type_name(value)}"
        )
    options: dict[str, str | int | float | bool] = {}
    for name, option in value.items():
        key = name.lstrip("-")
        if not key:
            raise ConfigError(f'{where} has an empty option name "{name}"')
        if not isinstance(option, str | int | float | bool):
            raise ConfigError(
                f"{where}.{name} = {_show(option)} has the wrong type: expected a string,"
                f" number or boolean, got {_type_name(option)}"
            )
        if key in options:
            raise ConfigError(f"{where} sets {key} twice")
        check_option(where, key, option)
        options[key] = option
    return options


def _read_output(data: Any) -> OutputConfig:
    table = _Table(data, "output", OutputConfig, heading="[output]")
    fields = table.raw("fields")
    where = "output.fields"
    if not isinstance(fields, list | tuple):
        raise ConfigError(
            f"{where} = {_show(fields)} has the wrong type: expected an array of strings, got"
            f" {_type_name(fields)}"
        )
    valid = ", ".join(f'"{name}"' for name in OUTPUT_FIELDS)
    for name in fields:
        if not isinstance(name, str):
            raise ConfigError(
                f"{where} = {_show(fields)} is not valid: {_show(name)} is not a string;"
                f" valid names: {valid}"
            )
        if name not in OUTPUT_FIELDS:
            hint = _did_you_mean(name, OUTPUT_FIELDS, "", quote=True)
            raise ConfigError(
                f'{where} = {_show(fields)} is not valid: unknown field "{name}"{hint}; valid'
                f' names: {valid} ("m" writes every memory mode)'
            )
        if list(fields).count(name) > 1:
            raise ConfigError(f'{where} = {_show(fields)} is not valid: "{name}" appears twice')
    return OutputConfig(
        dir=table.string("dir", required=True),
        every=table.integer("every", at_least=1),
        fields=tuple(fields),
        checkpoint_every=table.integer("checkpoint_every", at_least=0),
        seed=table.integer("seed", at_least=0, at_most=MAX_SEED),
        compression=_compression(table),
    )


def _compression(table) -> int:
    """output.compression: a gzip level 0-9 for the field series, or "off" (0) / "on"."""
    value = table.raw("compression")
    if isinstance(value, str):
        words = {"off": 0, "on": COMPRESSION_ON}
        if value not in words:
            raise table.invalid("compression", 'give "off", "on" or a gzip level 0-9')
        return words[value]
    return table.integer("compression", choices=range(10))


# ---------------------------------------------------------------------------------------
# Messages


def _other_sections_hint(key: str) -> str:
    """' (did you mean time.dt?)' when `key` is a key of other sections, or ''."""
    owners = [
        f"{name}.{key}" for name, section in SECTIONS.items() if key in _section_keys(section)
    ]
    if not owners:
        return ""
    listed = owners[0] if len(owners) == 1 else ", ".join(owners[:-1]) + " or " + owners[-1]
    return f" (did you mean {listed}?)"


def _closest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate closest to `word` (ignoring case), if any is close enough."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def _did_you_mean(word: str, candidates: Sequence[str], prefix: str, quote: bool = False) -> str:
    """' (did you mean prefix+match?)' for the closest candidate, or ''."""
    match = _closest(word, candidates)
    if match is None:
        return ""
    shown = f'"{match}"' if quote else f"{prefix}{match}"
    return f" (did you mean {shown}?)"


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, numbers.Integral):
        return "an integer"
    if isinstance(value, numbers.Real):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return f"a {type(value).__name__}"


def _show(value: Any, limit: int = 60) -> str:
    """A value as it would look in TOML, shortened for messages."""
    try:
        text = _toml_value(value)
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any) -> Any:
    """A dataclass field value as plain TOML data."""
    if isinstance(value, Expression):
        return value.text
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


# ---------------------------------------------------------------------------------------
# Writing TOML

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_STRING_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def dump_toml(data: Mapping[str, Any]) -> str:
    """`data` as TOML text: tables as [headers], lists of tables as [[headers]].

    Values may be strings, booleans, integers, floats (inf and nan included), dates and
    times, lists and tables (nested to any depth). `tomllib.loads` reads the result back
    to equal data.
    """
    lines: list[str] = []
    _dump_table(data, [], None, lines)
    return "\n".join(lines) + "\n"


def _dump_table(
    table: Mapping[str, Any], path: list[str], header: str | None, lines: list[str]
) -> None:
    if not isinstance(table, Mapping):
        raise TypeError(f"a TOML document or table must be a mapping, got {type(table).__name__}")
    if header is not None:
        if lines:
            lines.append("")
        lines.append(header)
    subtables, arrays = [], []
    for key, value in table.items():
        if _is_table(value):
            subtables.append((key, value))
        elif _is_array_of_tables(value):
            arrays.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in subtables:
        dotted = ".".join(_toml_key(part) for part in [*path, key])
        _dump_table(value, [*path, key], f"[{dotted}]", lines)
    for key, entries in arrays:
        dotted = ".".join(_toml_key(part) for part in [*path, key])
        for entry in entries:
            _dump_table(entry, [*path, key], f"[[{dotted}]]", lines)


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) > 0


def _is_array_of_tables(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(item, Mapping) for item in value)
    )


def _toml_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"TOML keys must be strings, got {key!r}")
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    escaped = []
    for character in text:
        if character in _STRING_ESCAPES:
            escaped.append(_STRING_ESCAPES[character])
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\u{ord(character):04X}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return repr(number)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{_toml_key(key)} = {_toml_value(item)}" for key, item in value.items())
        return "{ " + items + " }"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")
