"""TOML text in and out: reading a configuration file, one ``--set`` value, and writing
plain data back as TOML that `tomllib` reads to equal data."""

from __future__ import annotations

import math
import numbers
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from bmf_fem.errors import ConfigError


def read_toml(path: Path) -> dict[str, Any]:
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
        raise ConfigError(toml_error_message(str(path), text, error)) from None
    except RecursionError:
        raise ConfigError(
            f"configuration file {path} nests arrays or tables too deeply; a configuration"
            " needs at most a few levels"
        ) from None


def toml_error_message(name: str, text: str, error: tomllib.TOMLDecodeError) -> str:
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
            lines.append(f"{_toml_key(key)} = {toml_value(value)}")
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


def toml_value(value: Any) -> str:
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
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{_toml_key(key)} = {toml_value(item)}" for key, item in value.items())
        return "{ " + items + " }"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")
