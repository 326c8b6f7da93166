"""The configuration reference, generated from the configuration dataclasses.

    containers/run python3 -m bmf_fem.config_reference > docs/configuration-keys.md

tests/test_docs.py regenerates it and fails when the committed file has drifted.
"""

from __future__ import annotations

import math

from bmf_fem.config import SECTIONS, Config
from bmf_fem.config.keys import REQUIRED, default_of, keys_of
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


def _absent(value) -> bool:
    return value is REQUIRED or value is None


def reference() -> str:
    """Markdown tables: every section and key with its default, valid values, unit and doc."""
    lines = [
        "# Configuration keys (generated)",
        "",
        "Generated from the declarations of the configuration sections (bmf_fem/config) by",
        "`python3 -m bmf_fem.config_reference`; docs/configuration.md explains them, mesh keys",
        "are in docs/geometry.md.",
    ]
    defaults = Config()
    lines += _mesh_reference()
    for section, cls in SECTIONS.items():
        if section == "mesh":
            continue
        lines += ["", f"## {cls.HEADING}", *_table(cls, getattr(defaults, section, None))]
        for variant, keys in getattr(cls, "VARIANTS", {}).items():
            if keys_of(keys):
                lines += ["", f'### {cls.SELECTOR} = "{variant}"']
                lines += _table(keys, None)
    return "\n".join(lines) + "\n"


def _table(cls, instance) -> list[str]:
    """The keys of one section (or variant) as a markdown table."""
    lines = ["", "| key | default | valid | unit | meaning |", "|---|---|---|---|---|"]
    for name, key in keys_of(cls).items():
        value = getattr(instance, name) if instance is not None else default_of(cls, name)
        shown = {REQUIRED: "(required)", None: "none"}.get(value) if _absent(value) else None
        row = [name, shown or _default(value), key.describe(), key.unit, key.doc]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return lines


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
