"""Placeholder."""

from __future__ import annotations

from typing import Any

from .data import MeshError
from .parameters import Key

KEYS: tuple[Key, ...] = ()


def check(p: dict[str, Any]) -> None:
    raise MeshError("mesh.kind = 'web' is not available yet")
