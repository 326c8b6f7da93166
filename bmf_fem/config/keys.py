"""How a configuration section declares its keys.

Each key of a section is a dataclass field made by `key`: its default, its type, the
values it may take, its unit and a one-line doc live in the field's metadata as a `Key`.
`bmf_fem.config.section.Section` reads and writes a section by them, and
bmf_fem.config_reference turns the same declarations into docs/configuration-keys.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bmf_fem.expressions import Expression

TYPES = ("real", "integer", "string", "choice", "boolean", "expression", "reals", "custom")
"""How a key's value is read; "custom" keys name their own reader."""

REQUIRED: Any = dataclasses.MISSING
"""The default of a key that has none: the user must give it."""


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, the values it may take, its unit and its doc.

    `word` admits one string beside the numbers of a "real" key (such as "auto").
    `derived` keys are not read one by one: the section's `check` sets them from the
    table (a location given one of three ways, a value only one variant uses).
    """

    type: str
    doc: str
    unit: str = ""
    above: float | None = None
    at_least: float | None = None
    below: float | None = None
    at_most: int | None = None
    finite: bool = True
    choices: tuple[Any, ...] | None = None
    word: str | None = None
    names: tuple[str, ...] = ()
    required: bool = False
    min_length: int = 1
    max_length: int | None = None
    scalar_ok: bool = False
    reader: Callable[[Any, str], Any] | None = None  # (table, key) -> value
    valid: str = ""
    derived: bool = False

    def describe(self) -> str:
        """The values the key takes, as the reference shows them."""
        if self.valid:
            return self.valid
        if self.choices is not None:
            return ", ".join(f"`{_shown(choice)}`" for choice in self.choices)
        limits = []
        if self.above is not None:
            limits.append(f"> {self.above:g}")
        if self.at_least is not None:
            limits.append(f">= {self.at_least:g}")
        if self.below is not None:
            limits.append(f"< {self.below:g}")
        if self.at_most is not None:
            limits.append(f"<= {self.at_most:g}")
        text = " and ".join(limits)
        if self.type == "reals":
            wanted = f"{self.min_length}-{self.max_length}" if self.max_length else "1 or more"
            text = f"{wanted} numbers" + (f", each {text}" if text else "")
        elif self.type == "expression":
            text = "expression of " + ", ".join(self.names)
        elif self.type == "boolean":
            text = "`true`, `false`"
        elif self.type == "string" and self.required:
            text = "not empty"
        if self.word:
            text = f"{text} or `{_shown(self.word)}`" if text else f"a number or `{self.word}`"
        return text


def key(default: Any, type: str, doc: str, **rules: Any) -> Any:
    """A section field holding `default`, read as `type`, documented by `doc`.

    `rules` are the other `Key` attributes (limits, choices, unit, reader...).
    """
    if type not in TYPES:
        raise ValueError(f"unknown key type {type!r}; use one of {', '.join(TYPES)}")
    metadata = {"key": Key(type=type, doc=doc, **rules)}
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata)
    if isinstance(default, dict | list):
        return dataclasses.field(default_factory=lambda: type_copy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def type_copy(value: Any) -> Any:
    """A fresh copy of a mutable default."""
    return {**value} if isinstance(value, dict) else list(value)


def keys_of(section: type) -> dict[str, Key]:
    """The declared keys of a section dataclass, in order."""
    return {
        item.name: item.metadata["key"]
        for item in dataclasses.fields(section)
        if "key" in item.metadata
    }


def default_of(section: type, name: str) -> Any:
    """The default of one key (REQUIRED when it has none)."""
    for item in dataclasses.fields(section):
        if item.name == name:
            if item.default is not dataclasses.MISSING:
                return item.default
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
    return REQUIRED


def plain(value: Any) -> Any:
    """A field value as plain TOML data."""
    if isinstance(value, Expression):
        return value.text
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {name: plain(item) for name, item in value.items()}
    return value


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return str(value)
