"""``bmf run --set section.key=value`` and the merging of a file over a built-in base."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from bmf_fem.config.toml import parse_value
from bmf_fem.errors import ConfigError

ARRAY_SECTIONS = ("input", "perturbation")
"""Sections written as arrays of tables ([[input]]): overrides index them."""


def merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overlay` on top: tables merged key by key, everything else replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(dict(merged[key]), value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


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
