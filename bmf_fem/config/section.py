"""The base of every section dataclass: read a TOML table by the declared keys, check the
rules across keys, write the section back as plain data."""

from __future__ import annotations

from typing import Any, ClassVar

from bmf_fem.config.keys import keys_of, plain
from bmf_fem.config.table import Table


class Section:
    """What every section dataclass shares: reading, checking and writing back."""

    HEADING: ClassVar[str] = ""  # "[time]" or "[[input]]"

    @classmethod
    def read(cls, data: Any, path: str) -> Any:
        """The section for the TOML table `data` at `path` ("time", "input.0")."""
        table = Table(data, path, cls, heading=cls.HEADING)
        cls.check_first(table)
        values = {
            name: table.read(name, rule) for name, rule in keys_of(cls).items() if not rule.derived
        }
        return cls(**cls.check(table, values))

    @classmethod
    def toml_keys(cls) -> list[str]:
        """The keys a TOML table of this section may hold."""
        return list(keys_of(cls))

    @classmethod
    def check_first(cls, table: Table) -> None:
        """Rules to apply before the keys are read one by one (none by default)."""

    @classmethod
    def check(cls, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the section, after rules across its keys."""
        return values

    def to_dict(self) -> dict[str, Any]:
        """The section as plain TOML data (expressions as their text)."""
        return {name: plain(getattr(self, name)) for name in keys_of(type(self))}
