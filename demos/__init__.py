"""The shipped demos: scripted scenarios (modules here) and configurations (TOML files).

A scripted demo is a module with a docstring and ``run(out, quick, comm)`` (see
`bmf_fem.demos.common`); a configuration demo is a TOML file run by ``bmf run``.

This folder is installed as ``bmf_fem.demos`` (the package-dir mapping in pyproject.toml).
"""

from __future__ import annotations

import ast
from importlib import import_module, resources
from pathlib import Path

DEFAULT = "tickling"

SCRIPTED = (
    "tickle_wane_restart",
    "whirlpool",
    "crystal_hole",
    "web_spoke",
    "tissue_wave",
    "prism_3d",
)
"""The scripted demos in the order the docs tell the model's story."""

QUICK = {
    "tickling": ("mesh.h=0.05",),
    "epithelium": ("mesh.h=0.08", "detect.calibration_runs=1"),
}
"""What ``bmf demo NAME --quick`` changes in a configuration demo: a coarser mesh and
fewer null runs, the same story (its times stay, so the events happen as documented)."""


def demo_path(name: str = DEFAULT) -> Path:
    """The configuration file of a shipped configuration demo."""
    return Path(str(resources.files(__name__) / f"{name}.toml"))


def script_path(name: str) -> Path:
    """The source file of a scripted demo."""
    return Path(str(resources.files(__name__) / f"{name}.py"))


def demo_description(name: str) -> str:
    """One line: a script's docstring opening, or a TOML file's first comment."""
    if name in SCRIPTED:
        doc = ast.get_docstring(ast.parse(script_path(name).read_text())) or ""
        return doc.splitlines()[0] if doc else ""
    for line in demo_path(name).read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def scripted_names() -> list[str]:
    """Names of the scripted demos, in story order."""
    return [name for name in SCRIPTED if script_path(name).exists()]


def demo_names() -> list[str]:
    """Names of the shipped configuration demos (TOML files)."""
    return sorted(
        p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".toml")
    )


def load_demo(name: str):
    """The module of a scripted demo (it has ``run(out, quick, comm)``)."""
    return import_module(f"{__name__}.{name}")
