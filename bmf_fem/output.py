"""Run directory, XDMF fields, metrics.csv, summary.json and the resolved config.

Writers read the model's state and never change it. CSV and JSON are written by rank 0;
XDMF is collective. Every writer is a context manager, so files are closed on error.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

from dolfinx import fem, io

from bmf_fem.errors import ConfigError

RESULT_FILES = ("fields.xdmf", "fields.h5", "metrics.csv", "summary.json", "config.toml")
METRIC_COLUMNS = (
    "step",
    "t",
    "u_max",
    "u_integral",
    "M_integral",
    "phi_max",
    "scope",
    "expressed_fraction",
    "s_mean",
    "ksp_its_u",
    "ksp_its_m",
    "ksp_its_s",
    "wall_s",
)


def prepare_run_directory(path: Path, force: bool, comm) -> Path:
    """Create the run directory; refuse one holding results unless ``force``.

    With ``force`` the old result files are removed (never appended to).
    """
    existing = [name for name in RESULT_FILES if (path / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"output directory {path} already holds results ({', '.join(existing)}); "
            "pass --force to overwrite them or choose another --out"
        )
    comm.barrier()
    if comm.rank == 0:
        path.mkdir(parents=True, exist_ok=True)
        for name in existing:
            (path / name).unlink()
        if force and (path / "plots").is_dir():
            shutil.rmtree(path / "plots")
    comm.barrier()
    return path


class FieldWriter:
    """``fields.xdmf``: the mesh and its tags once, then named functions per output time.

    Fields of degree 2 are interpolated to degree 1 for output (XDMF holds the mesh's
    own degree).
    """

    def __init__(self, path: Path, mesh_data, functions: list[fem.Function]):
        self.path = path
        self.mesh_data = mesh_data
        self.functions = functions
        mesh = mesh_data.mesh
        self.output_space = fem.functionspace(mesh, ("Lagrange", 1))
        self.output_functions = []
        for function in functions:
            if function.function_space.element.basix_element.degree == 1:
                self.output_functions.append(function)
            else:
                self.output_functions.append(fem.Function(self.output_space, name=function.name))
        self.file: io.XDMFFile | None = None

    def __enter__(self) -> FieldWriter:
        mesh = self.mesh_data.mesh
        self.file = io.XDMFFile(mesh.comm, str(self.path), "w")
        self.file.write_mesh(mesh)
        mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
        for tags in (self.mesh_data.cell_tags, self.mesh_data.facet_tags):
            if tags is not None:
                self.file.write_meshtags(tags, mesh.geometry)
        return self

    def write(self, t: float) -> None:
        for source, target in zip(self.functions, self.output_functions, strict=True):
            if source is not target:
                target.interpolate(source)
            self.file.write_function(target, t)

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class MetricsWriter:
    """``metrics.csv``, one row per output time, written and flushed by rank 0."""

    def __init__(self, path: Path, comm, columns=METRIC_COLUMNS):
        self.path = path
        self.comm = comm
        self.columns = columns
        self.handle = None
        self.writer = None

    def __enter__(self) -> MetricsWriter:
        if self.comm.rank == 0:
            self.handle = open(self.path, "w", newline="")
            self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)
            self.writer.writeheader()
        return self

    def write(self, row: dict) -> None:
        if self.writer is not None:
            self.writer.writerow({key: _format(row[key]) for key in self.columns})
            self.handle.flush()

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _format(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_json(path: Path, data: dict, comm) -> None:
    """Write JSON on rank 0 atomically (a temporary file renamed into place)."""
    if comm.rank == 0:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)


def write_text(path: Path, text: str, comm) -> None:
    if comm.rank == 0:
        path.write_text(text)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value
