"""Whether a run directory belongs to this run: the configuration's identity and the mesh's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from mpi4py import MPI

from bmf_fem.errors import ConfigError


def config_data(config) -> dict:
    """The resolved configuration as plain JSON data, as summary.json holds it."""
    return _plain_json(config.to_dict())


def _plain_json(value: Any) -> Any:
    """Tuples as lists and non-finite floats as strings ("inf"), like summary.json."""
    if isinstance(value, dict):
        return {str(key): _plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def config_hash(config) -> str:
    """sha256 of the resolved configuration (canonical JSON), in summaries and sweeps."""
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def config_differences(stored: Any, current: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two resolved configurations differ, with both values."""
    if isinstance(stored, dict) and isinstance(current, dict):
        found = []
        for key in list(stored) + [k for k in current if k not in stored]:
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in current:
                found.append(f"{where} (was {stored[key]!r}, now unset)")
            elif key not in stored:
                found.append(f"{where} (was unset, now {current[key]!r})")
            else:
                found.extend(config_differences(stored[key], current[key], where))
        return found
    if isinstance(stored, list) and isinstance(current, list) and len(stored) == len(current):
        found = []
        for index, (a, b) in enumerate(zip(stored, current, strict=True)):
            found.extend(config_differences(a, b, f"{prefix}.{index}"))
        return found
    if stored != current:
        return [f"{prefix} (was {stored!r}, now {current!r})"]
    return []


def require_same_config(
    stored: dict, config, what: str, where: Path, ignore: tuple[str, ...] = ()
) -> None:
    """Refuse (ConfigError, exit 2) to continue a run under another configuration.

    ``ignore``: dotted keys not compared (set later in the run, e.g. a calibrated one).
    """
    differences = config_differences(_plain_json(stored), config_data(config))
    differences = [d for d in differences if d.split(" ", 1)[0] not in ignore]
    if differences:
        shown = "; ".join(differences[:3])
        more = f" and {len(differences) - 3} more" if len(differences) > 3 else ""
        raise ConfigError(
            f"cannot resume {where}: the configuration differs from the one {what} was "
            f"written with, at {shown}{more}; run with the same configuration, or pass "
            "--force to start this directory over (or choose another --out)"
        )


def mesh_fingerprint(mesh) -> dict[str, Any]:
    """Global cell and node counts and a partition-independent coordinate checksum."""
    comm = mesh.comm
    tdim = mesh.topology.dim
    n_nodes = mesh.geometry.index_map().size_local
    x = mesh.geometry.x[:n_nodes]
    original = np.asarray(mesh.geometry.input_global_indices[:n_nodes], dtype=np.float64)
    weights = 1.0 + np.mod(original, 97.0) / 97.0
    checksum = comm.allreduce(float(np.sum(weights[:, None] * x)), op=MPI.SUM)
    return {
        "cells": mesh.topology.index_map(tdim).size_global,
        "nodes": mesh.geometry.index_map().size_global,
        "checksum": checksum,
    }


def same_mesh(stored: dict, current: dict) -> bool:
    """Whether two fingerprints (`mesh_fingerprint`) are of the same mesh."""
    if stored["cells"] != current["cells"] or stored["nodes"] != current["nodes"]:
        return False
    scale = max(abs(stored["checksum"]), 1.0)
    return abs(stored["checksum"] - current["checksum"]) <= 1e-9 * scale
