"""Shipped demo configurations (TOML files next to this module)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT = "tickling"


def demo_path(name: str = DEFAULT) -> Path:
    """The configuration file of a shipped demo."""
    return Path(str(resources.files(__name__) / f"{name}.toml"))


def demo_description(name: str) -> str:
    """The first line of the demo's opening comment."""
    for line in demo_path(name).read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def demo_names() -> list[str]:
    """Names of the shipped demos."""
    return sorted(
        p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".toml")
    )
