"""The configuration reference, generated from the configuration dataclasses.

    containers/run python3 -m bmf_fem.config_reference > docs/configuration-keys.md

tests/test_docs.py regenerates it and fails when the committed file has drifted.
"""

from __future__ import annotations

import dataclasses
import math

from bmf_fem.config import SECTIONS, Config
from bmf_fem.expressions import Expression


def _default(value) -> str:
    if isinstance(value, Expression):
        return f'`"{value.text}"`'
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and math.isinf(value):
        return "`inf`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(_default(v).strip("`") for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return "(required)" if value is None else f"`{value}`"


def _type(field: dataclasses.Field) -> str:
    return str(field.type).replace("|", "or").replace("tuple[", "array[")


def reference() -> str:
    """Markdown tables: every section, key, type and default."""
    lines = [
        "# Configuration keys (generated)",
        "",
        "Generated from the configuration dataclasses by `python3 -m bmf_fem.config_reference`;",
        "the meaning of each key is in docs/configuration.md, mesh keys in docs/geometry.md.",
    ]
    defaults = Config()
    lines += _mesh_reference()
    for section, cls in SECTIONS.items():
        if section == "mesh":
            continue
        heading = f"[[{section}]]" if section in ("input", "perturbation") else f"[{section}]"
        lines += ["", f"## {heading}", "", "| key | type | default |", "|---|---|---|"]
        instance = (
            getattr(defaults, section, None) if section not in ("input", "perturbation") else None
        )
        for field in dataclasses.fields(cls):
            if not field.metadata.get("toml_key", True):
                continue
            if instance is not None:
                value = getattr(instance, field.name)
            elif field.default is not dataclasses.MISSING:
                value = field.default
            elif field.default_factory is not dataclasses.MISSING:
                value = field.default_factory()
            else:
                value = None
            lines.append(f"| {field.name} | {_type(field)} | {_default(value)} |")
    return "\n".join(lines) + "\n"


def _mesh_reference() -> list[str]:
    """[mesh]: `kind`, then every kind's keys as the geometry library checks them."""
    from bmf_fem.meshes import KINDS
    from bmf_fem.meshes.parameters import keys_of

    lines = [
        "",
        "## [mesh]",
        "",
        f"`kind` = {', '.join(f'`{k}`' for k in KINDS)} (default",
        "`crystal`); the other keys depend on the kind:",
    ]
    for kind in KINDS:
        lines += [
            "",
            f'### kind = "{kind}"',
            "",
            "| key | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for key in keys_of(kind):
            default = key.default_doc or (
                "(computed)" if callable(key.default) else _default(key.default)
            )
            lines.append(f"| {key.name} | {key.type} | {default} | {key.doc} |")
    return lines


if __name__ == "__main__":
    print(reference(), end="")
