"""The arrays of tables: [[input]] (tickling pulses) and [[perturbation]] (reset, damage,
extra noise). Their variants are registered in bmf_fem.profiles and
bmf_fem.perturbations; a key only another variant uses is refused."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bmf_fem.config.keys import REQUIRED, key, keys_of
from bmf_fem.config.section import Section
from bmf_fem.config.table import Table, as_reals, show
from bmf_fem.errors import ConfigError
from bmf_fem.perturbations import KIND_KEYS, KINDS
from bmf_fem.profiles import PROFILE_KEYS, PROFILES, users

MIN_DURATION = sys.float_info.min  # input period and width: positive normal floats only


def reject_unused(
    table: Table, own: Sequence[str], variant_keys: Sequence[str], selector: str, users
) -> None:
    """Refuse keys that only other variants use; they would be silently ignored.

    `users(name)` gives the variants that read the key `name`.
    """
    selected = table.raw(selector)
    for name in variant_keys:
        if table.given(name) and name not in own:
            named = " or ".join(f'"{user}"' for user in users(name))
            raise ConfigError(
                f"{table.where(name)} is only used with {selector} = {named}, but"
                f' {table.where(selector)} = "{selected}"; remove it or change {selector}'
            )


def users_of_kind_key(name: str) -> tuple[str, ...]:
    """The perturbation kinds that read the key `name`."""
    return tuple(kind.name for kind in KINDS.values() if name in keys_of(kind.keys))


@dataclass(frozen=True)
class InputConfig(Section):
    """One [[input]]: a spatial profile times a train of `count` pulses.

    The profile's own keys (`centre` and `radius` of "gaussian", `region` of "region")
    are declared by the profile (bmf_fem.profiles) and read as attributes of the entry.
    """

    HEADING = "[[input]]"
    SELECTOR = "profile"  # the key choosing the variant; VARIANTS: each one's own keys
    VARIANTS: ClassVar[dict[str, type]] = {name: p.keys for name, p in PROFILES.items()}

    profile: str = key(
        "gaussian",
        "choice",
        "spatial profile of the input (bmf_fem.profiles)",
        choices=tuple(PROFILES),
    )
    amplitude: float = key(1.0, "real", "deposited per pulse at the profile's peak")
    start: float = key(0.0, "real", "time of the first pulse", unit="time", at_least=0)
    period: float = key(
        1.0, "real", "time between pulses", unit="time", at_least=MIN_DURATION, valid="> 0"
    )
    count: int = key(1, "integer", "number of pulses", at_least=1)
    width: float = key(
        0.1, "real", "duration of each pulse", unit="time", at_least=MIN_DURATION, valid="> 0"
    )
    profile_keys: Any = None  # the profile's own keys (its dataclass); defaults when None

    def __post_init__(self) -> None:
        if self.profile_keys is None:
            object.__setattr__(self, "profile_keys", PROFILES[self.profile].keys())

    def __getattr__(self, name: str) -> Any:
        # Only called for names the entry lacks: the profile's keys.
        if name != "profile_keys" and not name.startswith("__"):
            keys = self.__dict__.get("profile_keys")
            if keys is not None and hasattr(keys, name):
                return getattr(keys, name)
        raise AttributeError(f"input profile {self.profile!r} has no key {name!r}")

    @classmethod
    def toml_keys(cls) -> list[str]:
        return [*keys_of(cls), *PROFILE_KEYS]

    @classmethod
    def check_first(cls, table: Table) -> None:
        profile = table.choice("profile", tuple(PROFILES))
        reject_unused(table, keys_of(PROFILES[profile].keys), PROFILE_KEYS, "profile", users)

    @classmethod
    def check(cls, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        path = table.path
        values["profile_keys"] = PROFILES[values["profile"]].keys.read(table.data, path)
        count, width, period = values["count"], values["width"], values["period"]
        if count > 1 and width > period:
            raise ConfigError(
                f"{path}.width = {show(width)} is not valid: with count = {count} pulses it"
                f" must be <= {path}.period = {show(period)}, or the pulses overlap"
            )
        return values

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain TOML data: its keys, then its profile's."""
        return {**super().to_dict(), **self.profile_keys.to_dict()}


def _read_box(value: Any, where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    shape_error = ConfigError(
        f"{where} = {show(value)} is not valid: expected [[lower corner], [upper corner]]"
        " with 1 to 3 coordinates each, e.g. [[0.0, 0.0], [0.5, 0.2]]"
    )
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise shape_error
    if not all(isinstance(corner, list | tuple) for corner in value):
        raise shape_error
    lower = as_reals(value[0], f"{where}[0]", max_length=3)
    upper = as_reals(value[1], f"{where}[1]", max_length=3)
    if len(lower) != len(upper):
        raise shape_error
    if not all(lo < hi for lo, hi in zip(lower, upper, strict=True)):
        raise ConfigError(
            f"{where} = {show(value)} is not valid: every lower coordinate must be smaller"
            " than the upper one"
        )
    return lower, upper


LOCATION = "where (exactly one of region, centre with radius, box)"


@dataclass(frozen=True)
class PerturbationConfig(Section):
    """One [[perturbation]]: reset, damage or extra noise in a region during [start, stop).

    The region is exactly one of a mesh tag (`region`), a ball (`centre`, `radius`) or an
    axis-aligned box (`box` = [[lo...], [hi...]]); the unused ones are empty/None. The
    kind's own keys (`fields` of "reset", `factor` of "damage", `sigma` of "noise") are
    declared by the kind (bmf_fem.perturbations) and read as attributes of the entry.
    """

    HEADING = "[[perturbation]]"
    SELECTOR = "kind"
    VARIANTS: ClassVar[dict[str, type]] = {name: kind.keys for name, kind in KINDS.items()}

    kind: str = key(REQUIRED, "choice", "what the perturbation does", choices=tuple(KINDS))
    region: str = key("", "string", f"{LOCATION}: a region name", derived=True)
    centre: tuple[float, ...] | None = key(
        None,
        "reals",
        f"{LOCATION}: the centre of a ball",
        unit="length",
        max_length=3,
        derived=True,
    )
    radius: float | None = key(
        None,
        "real",
        f"{LOCATION}: the radius of the ball",
        unit="length",
        above=0,
        derived=True,
    )
    box: tuple[tuple[float, ...], tuple[float, ...]] | None = key(
        None,
        "custom",
        f"{LOCATION}: [[lower corner], [upper corner]]",
        unit="length",
        derived=True,
        valid="two points of 1-3 numbers, lower < upper",
    )
    start: float = key(
        0.0, "real", "reset: when; damage, noise: from when", unit="time", at_least=0
    )
    stop: float = key(
        math.inf,
        "real",
        "damage, noise: until when (inf: no end)",
        unit="time",
        finite=False,
        valid="> start",
    )
    kind_keys: Any = None  # the kind's own keys (its dataclass); defaults when None

    def __post_init__(self) -> None:
        if self.kind_keys is None:
            object.__setattr__(self, "kind_keys", KINDS[self.kind].keys())

    def __getattr__(self, name: str) -> Any:
        # Only called for names the entry lacks: the kind's keys.
        if name != "kind_keys" and not name.startswith("__"):
            keys = self.__dict__.get("kind_keys")
            if keys is not None and hasattr(keys, name):
                return getattr(keys, name)
        raise AttributeError(f"perturbation kind {self.kind!r} has no key {name!r}")

    @classmethod
    def toml_keys(cls) -> list[str]:
        return [*keys_of(cls), *KIND_KEYS]

    @property
    def location(self) -> str:
        """How the region is given: "region", "ball" or "box"."""
        if self.region:
            return "region"
        return "box" if self.box is not None else "ball"

    @classmethod
    def check_first(cls, table: Table) -> None:
        kinds = tuple(KINDS)
        if not table.given("kind"):
            listed = ", ".join(f'"{kind}"' for kind in kinds)
            raise ConfigError(f"{table.path}.kind is required: one of {listed}")
        kind = table.choice("kind", kinds)
        reject_unused(table, keys_of(KINDS[kind].keys), KIND_KEYS, "kind", users_of_kind_key)

    @classmethod
    def check(cls, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        path = table.path
        values.update(_location(table))
        start, stop = values["start"], values["stop"]
        if not stop > start:
            raise ConfigError(
                f"{path}.stop = {show(stop)} is not valid: it must be > {path}.start ="
                f" {show(start)} (leave it out, or write inf, for no end)"
            )
        values["kind_keys"] = KINDS[values["kind"]].keys.read(table.data, path)
        return values

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain TOML data: its location as given, then its kind's keys."""
        data = {name: value for name, value in super().to_dict().items() if value is not None}
        if not self.region:
            del data["region"]
        return {**data, **self.kind_keys.to_dict()}


def _location(table: Table) -> dict[str, Any]:
    """region, centre, radius and box of a perturbation: exactly one location given."""
    path = table.path
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
    values: dict[str, Any] = {"region": "", "centre": None, "radius": None, "box": None}
    if locations == ["region"]:
        values["region"] = table.string("region", required=True)
    elif locations == ["box"]:
        values["box"] = _read_box(table.raw("box"), f"{path}.box")
    else:
        for name in ("centre", "radius"):
            if not table.given(name):
                raise ConfigError(f"{path}.{name} is required with {path}.centre/radius")
        values["centre"] = table.real_list("centre", max_length=3)
        values["radius"] = table.real("radius", above=0)
    return values
