"""The `[mesh]` keys: their types, ranges and defaults, and the checks that name them.

Each geometry module declares its own keys with `Key` (bmf_fem.meshes.keys); this module
holds the registry of kinds and the common keys (shape, size, h, dim, seed, file) and
resolves a user's table into a complete, checked
dictionary. A value of ``None`` means "not set" (the default applies), so a configuration
layer may pass unset keys through.
"""

from __future__ import annotations

import math
from typing import Any

from bmf_fem.config.toml import parse_value
from bmf_fem.suggest import did_you_mean

from . import box, crystal, from_file, tissue, web
from .data import MeshError
from .keys import Key

COMMON_KEYS: tuple[Key, ...] = (
    Key(
        "shape",
        "str",
        None,
        "geometry within the kind (see each kind)",
        default_doc="first shape of the kind for `dim`",
    ),
    Key(
        "size",
        "float",
        1.0,
        "overall extent (see each kind for what it measures)",
        minimum=0.0,
        exclusive_minimum=True,
    ),
    Key("h", "float", 0.04, "target element size", minimum=0.0, exclusive_minimum=True),
    Key(
        "dim",
        "int",
        None,
        "topological dimension of the mesh (1, 2 or 3)",
        default_doc="from the shape; else the kind's default",
        minimum=1,
        maximum=3,
    ),
    Key(
        "seed",
        "int",
        0,
        "seed of every random choice (grains, inclusions, tissue cells)",
        minimum=0,
    ),
    Key("file", "str", None, 'mesh file to read (kind = "file" only)', default_doc="none"),
)

KINDS = {"crystal": crystal, "web": web, "tissue": tissue, "box": box, "file": from_file}
"""The mesh kinds, registered here once: each module declares its KEYS, SHAPES and
DEFAULT_DIM and builds its geometry; the configuration and `bmf mesh` read this table."""

SHAPES = {kind: module.SHAPES for kind, module in KINDS.items()}
DEFAULT_DIM = {kind: module.DEFAULT_DIM for kind, module in KINDS.items()}


def kind_module(kind: str) -> Any:
    """The module that declares and builds `kind`."""
    return KINDS[kind]


def _kind_keys(kind: str) -> tuple[Key, ...]:
    return kind_module(kind).KEYS


def keys_of(kind: str) -> tuple[Key, ...]:
    """Every key `kind` accepts: the common keys, then its own."""
    return COMMON_KEYS + _kind_keys(kind)


def check_kind(kind: Any) -> str:
    kinds = tuple(SHAPES)
    if not isinstance(kind, str) or kind not in kinds:
        hint = did_you_mean(kind, kinds)
        raise MeshError(
            f"mesh.kind = {kind!r} is not valid; use one of {', '.join(map(repr, kinds))}{hint}"
        )
    return kind


def convert(key: Key, value: Any) -> Any:
    """Check the type and range of one value; return it in canonical form."""
    where = f"mesh.{key.name} = {value!r}"
    if key.type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MeshError(f"{where} is not valid: must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise MeshError(f"{where} is not valid: must be finite")
    elif key.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise MeshError(f"{where} is not valid: must be an integer")
    elif key.type == "str":
        if not isinstance(value, str):
            raise MeshError(f"{where} is not valid: must be a string")
    elif key.type == "bool":
        if not isinstance(value, bool):
            raise MeshError(f"{where} is not valid: must be true or false")
    elif key.type == "points":
        return _convert_points(key, value)
    elif key.type == "floats":
        if not isinstance(value, list | tuple) or not all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in value
        ):
            raise MeshError(f"{where} is not valid: must be a list of numbers")
        return [float(c) for c in value]
    if key.choices is not None and value not in key.choices:
        raise MeshError(
            f"{where} is not valid: use {key.describe_range()}{did_you_mean(value, key.choices)}"
        )
    if key.type in ("float", "int"):
        low, high = key.minimum, key.maximum
        too_low = low is not None and (value <= low if key.exclusive_minimum else value < low)
        too_high = high is not None and (value >= high if key.exclusive_maximum else value > high)
        if too_low or too_high:
            raise MeshError(f"{where} is not valid: must be {key.describe_range()}")
    return value


def _convert_points(key: Key, value: Any) -> list[list[float]]:
    where = f"mesh.{key.name}"
    if not isinstance(value, list | tuple):
        raise MeshError(f"{where} = {value!r} is not valid: must be a list of points [[x, y], ...]")
    points = []
    for point in value:
        if not isinstance(point, list | tuple) or not all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in point
        ):
            raise MeshError(f"{where}: {point!r} is not a point; write [x, y] or [x, y, z]")
        points.append([float(c) for c in point])
    return points


def resolve(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The complete, checked parameters of a mesh request (defaults filled in).

    Raises MeshError naming the key for unknown keys (with a close match), wrong types,
    out-of-range values and contradictions (a 3D shape with dim = 2, ...).
    """
    kind = check_kind(kind)
    if not isinstance(params, dict):
        raise MeshError(f"the [mesh] table must be a table of keys, not {type(params).__name__}")
    keys = {key.name: key for key in keys_of(kind)}
    given = {name: value for name, value in params.items() if value is not None}
    for name in given:
        if name == "kind":
            continue
        if name not in keys:
            raise MeshError(_unknown_key_message(kind, name, keys))
    values = {name: convert(keys[name], value) for name, value in given.items() if name != "kind"}

    resolved: dict[str, Any] = {"kind": kind}
    _resolve_shape_and_dim(kind, values, resolved)
    for name in ("size", "h", "seed", "file"):
        resolved[name] = values.get(name, keys[name].default)
    if kind != "file" and resolved["file"] is not None:
        raise MeshError(
            f"mesh.file = {resolved['file']!r} is set but mesh.kind = {kind!r}; "
            'set mesh.kind = "file" to read a mesh file'
        )
    if resolved["h"] > resolved["size"] and kind not in ("file", "box"):
        raise MeshError(
            f"mesh.h = {resolved['h']:g} is larger than mesh.size = {resolved['size']:g}; "
            "use h <= size (about size/25 for a coarse mesh)"
        )
    for key in _kind_keys(kind):
        if key.shapes is not None and resolved["shape"] not in key.shapes:
            if key.name in values:
                shapes = ", ".join(repr(s) for s in key.shapes)
                raise MeshError(
                    f"mesh.{key.name} applies to {kind} shape {shapes} only, "
                    f"not to mesh.shape = {resolved['shape']!r}"
                )
            continue
        resolved[key.name] = values[key.name] if key.name in values else key.default_for(resolved)
    resolved["_given"] = frozenset(values)
    kind_module(kind).check(resolved)
    return resolved


def _unknown_key_message(kind: str, name: str, keys: dict[str, Key]) -> str:
    message = f"mesh.{name} is not a key of [mesh] for kind = {kind!r}"
    hint = did_you_mean(name, list(keys), prefix="mesh.")
    owners = [
        other for other in SHAPES if other != kind and name in {k.name for k in keys_of(other)}
    ]
    if owners:
        message += f"; it belongs to kind = {owners[0]!r}"
    message += hint or ""
    return message + "; valid keys: " + ", ".join(keys)


def _resolve_shape_and_dim(kind: str, values: dict[str, Any], resolved: dict[str, Any]) -> None:
    shapes_by_dim = SHAPES[kind]
    shape, dim = values.get("shape"), values.get("dim")
    if kind == "file":
        resolved["shape"], resolved["dim"] = shape, dim
        return
    all_shapes = [s for shapes in shapes_by_dim.values() for s in shapes]
    if shape is not None and shape not in all_shapes:
        raise MeshError(
            f"mesh.shape = {shape!r} is not a {kind} shape; use one of "
            f"{', '.join(repr(s) for s in dict.fromkeys(all_shapes))}"
            f"{did_you_mean(shape, all_shapes)}"
        )
    if dim is not None and dim not in shapes_by_dim:
        raise MeshError(
            f"mesh.dim = {dim} is not valid for kind = {kind!r}; use "
            + " or ".join(str(d) for d in shapes_by_dim)
        )
    if shape is None:
        dim = DEFAULT_DIM[kind] if dim is None else dim
        shape = shapes_by_dim[dim][0]
    elif dim is None:
        dim = next(d for d, shapes in shapes_by_dim.items() if shape in shapes)
    elif shape not in shapes_by_dim[dim]:
        raise MeshError(
            f"mesh.shape = {shape!r} does not exist in dim = {dim}; "
            f"{dim}D {kind} shapes are {', '.join(repr(s) for s in shapes_by_dim[dim])}"
        )
    resolved["shape"], resolved["dim"] = shape, dim


def parse_options(items: list[str]) -> dict[str, Any]:
    """`key=value` words of the command line (`bmf mesh crystal shape=cube h=0.1`) as params.

    Values are read as TOML values (numbers, true/false, lists, quoted strings); a value
    that is not valid TOML is taken as a plain string, so `shape=cube` works unquoted.
    """
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().removeprefix("mesh.")
        if not sep or not name:
            raise MeshError(f"{item!r} is not a mesh option; write key=value, e.g. h=0.05")
        params[name] = parse_value(text.strip())
    return params


def describe_keys(kind: str) -> str:
    """A plain-text list of the keys of `kind` with defaults, for `bmf mesh KIND --help`."""
    lines = [f"[mesh] keys for kind = {check_kind(kind)!r}:"]
    for key in keys_of(kind):
        if key.default_doc:
            default = key.default_doc
        elif key.default is None:
            default = "none"
        else:
            default = (
                repr(key.default).lower() if isinstance(key.default, bool) else repr(key.default)
            )
        shapes = f" [{', '.join(key.shapes)}]" if key.shapes else ""
        lines.append(f"  {key.name:<18} {key.doc}{shapes} (default: {default})")
    shapes = [s for by_dim in SHAPES[kind].values() for s in by_dim]
    if shapes:
        lines.append(f"  shapes: {', '.join(dict.fromkeys(shapes))}")
    return "\n".join(lines)
