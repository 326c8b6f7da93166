"""One TOML table under validation: typed getters that name the key path in every error."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from bmf_fem.config.keys import REQUIRED, Key, default_of, keys_of
from bmf_fem.config.toml import toml_value
from bmf_fem.errors import ConfigError
from bmf_fem.expressions import Expression, parse_expression
from bmf_fem.suggest import did_you_mean


class Table:
    """One TOML table under validation: typed getters that know key paths and defaults.

    Keys the section does not declare are the loader's to refuse (it knows every section,
    so it can say where a misplaced key belongs).
    """

    def __init__(self, data: Any, path: str, section: type, *, heading: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path} = {show(data)} has the wrong type: expected a table ({heading}),"
                f" got {type_name(data)}"
            )
        self.data = data
        self.path = path
        self.defaults = {name: default_of(section, name) for name in keys_of(section)}

    def read(self, key: str, rule: Key) -> Any:
        """The value of `key`, checked by its declared rule."""
        if rule.type == "custom":
            assert rule.reader is not None, f"custom key {key} declares no reader"
            return rule.reader(self, key)
        if rule.type == "real" and rule.word is not None:
            return self.real_or_word(key, rule.word, above=rule.above, at_least=rule.at_least)
        if rule.type == "real":
            return self.real(
                key, above=rule.above, at_least=rule.at_least, below=rule.below, finite=rule.finite
            )
        if rule.type == "integer":
            return self.integer(
                key, at_least=rule.at_least, at_most=rule.at_most, choices=rule.choices
            )
        if rule.type == "string":
            return self.string(key, required=rule.required)
        if rule.type == "choice":
            return self.choice(key, rule.choices or ())
        if rule.type == "boolean":
            return self.boolean(key)
        if rule.type == "expression":
            return self.expression(key, rule.names)
        return self.real_list(
            key,
            min_length=rule.min_length,
            max_length=rule.max_length,
            scalar_ok=rule.scalar_ok,
            above=rule.above,
        )

    def where(self, key: str) -> str:
        return f"{self.path}.{key}"

    def given(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        value = self.data.get(key, self.defaults[key])
        if value is REQUIRED:
            raise ConfigError(f"{self.where(key)} is required")
        return value

    def invalid(self, key: str, rule: str) -> ConfigError:
        return ConfigError(f"{self.where(key)} = {show(self.raw(key))} is not valid: {rule}")

    def real(
        self,
        key: str,
        *,
        above: float | None = None,
        at_least: float | None = None,
        below: float | None = None,
        finite: bool = True,
    ) -> float:
        value = as_real(self.raw(key), self.where(key))
        return self._check_range(key, value, above, at_least, below, finite)

    def real_or_word(
        self, key: str, word: str, *, above: float | None = None, at_least: float | None = None
    ) -> float | str:
        """A number, or the string ``word`` (such as "auto")."""
        value = self.raw(key)
        if value == word:
            return word
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(
                f'{self.where(key)} = {show(value)} is not valid: give a number or "{word}",'
                f" got {type_name(value)}"
            )
        number = self.real(key, at_least=at_least)
        if above is not None and not number > above:
            raise self.invalid(key, f'give a number > {above:g} or "{word}"')
        return number

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise ConfigError(
                f"{self.where(key)} = {show(value)} has the wrong type: expected true or false"
            )
        return value

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
                f"{self.where(key)} = {show(value)} has the wrong type: expected an integer,"
                f" got {type_name(value)}{hint}"
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
                f"{self.where(key)} = {show(value)} has the wrong type: expected a string,"
                f" got {type_name(value)}"
            )
        if required and not value.strip():
            raise self.invalid(key, "it must not be empty")
        return value

    def choice(self, key: str, choices: Sequence[str]) -> str:
        value = self.string(key)
        if value not in choices:
            hint = did_you_mean(value, choices, "", quote=True)
            valid = ", ".join(f'"{choice}"' for choice in choices)
            raise ConfigError(
                f"{self.where(key)} = {show(value)} is not valid{hint}; valid values: {valid}"
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
                f"{self.where(key)} = {show(value)} has the wrong type: expected a string"
                f' holding an expression (such as "0.5*exp(-x**2)"), got {type_name(value)}'
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
        return as_reals(
            value, self.where(key), min_length=min_length, max_length=max_length, above=above
        )


def as_real(value: Any, where: str) -> float:
    """`value` as a float: TOML floats and integers are numbers, booleans are not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"{where} = {show(value)} has the wrong type: expected a number, got {type_name(value)}"
        )
    return float(value)


def as_reals(
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
            f"{where} = {show(value)} has the wrong type: expected an array of numbers,"
            f" got {type_name(value)}"
        )
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        wanted = (
            f"{min_length} to {max_length}" if max_length is not None else f"at least {min_length}"
        )
        raise ConfigError(
            f"{where} = {show(value)} is not valid: it must have {wanted} entries, not {len(value)}"
        )
    numbers_ = tuple(as_real(item, f"{where}[{index}]") for index, item in enumerate(value))
    for item in numbers_:
        if not math.isfinite(item):
            raise ConfigError(f"{where} = {show(value)} is not valid: entries must be finite")
        if above is not None and not item > above:
            raise ConfigError(
                f"{where} = {show(value)} is not valid: every entry must be > {above:g}"
            )
    return numbers_


def type_name(value: Any) -> str:
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


def show(value: Any, limit: int = 60) -> str:
    """A value as it would look in TOML, shortened for messages."""
    try:
        text = toml_value(value)
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
