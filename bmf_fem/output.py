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

import numpy as np
from dolfinx import fem, io

from bmf_fem.checkpoint import CHECKPOINT_DIR
from bmf_fem.errors import ConfigError

RESULT_FILES = (
    "fields.xdmf",
    "fields.h5",
    "metrics.csv",
    "summary.json",
    "config.toml",
    "sites.csv",
)
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
    "active_fraction",
)


VIRTUAL_FILESYSTEMS = ("/proc", "/sys", "/dev")


def check_run_directory(path: Path) -> None:
    """Refuse a run directory that cannot be made: a file, or under an unwritable parent."""
    where = f"output directory {path} (--out or output.dir)"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{where} names an existing file; give a directory")
    parent = path.absolute()
    while not parent.exists():
        parent = parent.parent
    resolved = str(parent.resolve())
    if any(resolved == top or resolved.startswith(top + "/") for top in VIRTUAL_FILESYSTEMS):
        raise ConfigError(f"{where} is on {resolved}, a virtual file system; give a real directory")
    if not parent.is_dir():
        raise ConfigError(f"{where} cannot be made: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{where} cannot be made: {parent} is not writable")


def refuse_old_results(path: Path, force: bool) -> list[str]:
    """The result files already in ``path``; an error unless ``force``."""
    check_run_directory(path)
    existing = [name for name in (*RESULT_FILES, CHECKPOINT_DIR) if (path / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"output directory {path} already holds results ({', '.join(existing)}); "
            "pass --resume to continue it, --force to overwrite it, or choose another --out"
        )
    return existing


def prepare_run_directory(path: Path, force: bool, comm, keep: bool = False) -> Path:
    """Create the run directory; refuse one holding results unless ``force`` or ``keep``.

    With ``force`` the old result files and checkpoints are removed (never appended
    to); with ``keep`` (a resumed run) everything stays for the writers to continue.
    """
    existing = [name for name in (*RESULT_FILES, CHECKPOINT_DIR) if (path / name).exists()]
    if existing and not (force or keep):
        raise ConfigError(
            f"output directory {path} already holds results ({', '.join(existing)}); "
            "pass --resume to continue it, --force to overwrite it, or choose another --out"
        )
    comm.barrier()
    if comm.rank == 0:
        path.mkdir(parents=True, exist_ok=True)
        if not keep:
            for name in existing:
                if (path / name).is_dir():
                    shutil.rmtree(path / name)
                else:
                    (path / name).unlink()
            if force and (path / "plots").is_dir():
                shutil.rmtree(path / "plots")
    comm.barrier()
    return path


class FieldWriter:
    """``fields.xdmf``: the mesh and its tags once, then named functions per output time.

    Fields of degree 2 are interpolated to degree 1 for output (XDMF holds the mesh's
    own degree). The file is closed after every output time, so a run killed between
    two outputs leaves a readable fields.h5 (HDF5 cannot promise that for a file left
    open). With ``resume_time`` the series continues: output times after it (written
    after the checkpoint of a killed run) are removed first, then times are appended.
    """

    def __init__(
        self,
        path: Path,
        mesh_data,
        functions: list[fem.Function],
        resume_time: float | None = None,
        comm=None,
    ):
        self.path = path
        self.mesh_data = mesh_data
        self.functions = functions
        self.resume_time = resume_time
        self.comm = comm if comm is not None else mesh_data.mesh.comm
        mesh = mesh_data.mesh
        self.output_space = fem.functionspace(mesh, ("Lagrange", 1))
        self.output_functions = []
        for function in functions:
            element = function.function_space.element.basix_element
            if element.degree == 1 or (element.degree == 0 and element.discontinuous):
                # P1 as nodal data, DG0 (cells-mode sites) as cell data
                self.output_functions.append(function)
            else:
                self.output_functions.append(fem.Function(self.output_space, name=function.name))
        self.file: io.XDMFFile | None = None
        self.warning: str | None = None

    def __enter__(self) -> FieldWriter:
        if self.resume_time is not None:
            geometry = self.mesh_data.mesh.geometry
            owned = geometry.x[: geometry.index_map().size_local]
            nodes = self.comm.gather(owned, root=0)
            verdict = None
            if self.comm.rank == 0:
                verdict = truncate_xdmf_series(self.path, self.resume_time)
                if verdict == "continue":
                    verdict = match_node_order(self.path.with_suffix(".h5"), np.vstack(nodes))
                if verdict != "continue":
                    for old in (self.path, self.path.with_suffix(".h5")):
                        if old.exists():
                            os.replace(old, old.with_name(old.name + ".before-resume"))
                    verdict += (
                        f"; the old files are kept as *.before-resume and the field series "
                        f"restarts at t = {self.resume_time:.6g}"
                    )
            verdict = self.comm.bcast(verdict, root=0)
            if verdict == "continue":
                return self
            self.warning = verdict
        mesh = self.mesh_data.mesh
        with io.XDMFFile(mesh.comm, str(self.path), "w") as file:
            file.write_mesh(mesh)
            mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
            for tags in (self.mesh_data.cell_tags, self.mesh_data.facet_tags):
                if tags is not None:
                    file.write_meshtags(tags, mesh.geometry)
        return self

    def write(self, t: float) -> None:
        for source, target in zip(self.functions, self.output_functions, strict=True):
            if source is not target:
                target.interpolate(source)
        self.file = io.XDMFFile(self.mesh_data.mesh.comm, str(self.path), "a")
        try:
            for target in self.output_functions:
                self.file.write_function(target, t)
        finally:
            self.file.close()
            self.file = None

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def truncate_xdmf_series(path: Path, t_last: float) -> str:
    """Drop output times after ``t_last`` from an XDMF file and its HDF5 data (rank 0).

    Returns "continue" when the series can be appended to, else why not (a file is
    missing, or the kill damaged the HDF5 file).
    """
    import xml.etree.ElementTree as ET

    import h5py

    h5_path = path.with_suffix(".h5")
    if not path.exists() or not h5_path.exists():
        return f"{path.name} or {h5_path.name} is missing"
    try:
        with h5py.File(h5_path, "r"):
            pass
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as error:
        return f"{path.name} or {h5_path.name} could not be read after the interruption ({error})"
    domain = tree.getroot().find("Domain")
    stale: list[str] = []
    tolerance = 1e-9 * max(1.0, abs(t_last))
    for collection in domain.findall("Grid[@GridType='Collection']"):
        for grid in list(collection.findall("Grid")):
            time = grid.find("Time")
            if time is not None and float(time.get("Value")) > t_last + tolerance:
                stale.extend(item.text.split(":", 1)[1] for item in grid.iter("DataItem"))
                collection.remove(grid)
    if stale:
        with h5py.File(h5_path, "a") as h5:
            for dataset in stale:
                if dataset in h5:
                    del h5[dataset]
        ET.register_namespace("xi", "https://www.w3.org/2001/XInclude")
        tmp = path.with_suffix(".xdmf.tmp")
        tree.write(tmp, xml_declaration=True, encoding="utf-8")
        os.replace(tmp, path)
    return "continue"


def match_node_order(h5_path: Path, coordinates: np.ndarray) -> str:
    """Put fields.h5 into the node order this partition writes (rank 0; resume).

    XDMF stores nodes in the order of their owning ranks, so a run resumed on another
    number of ranks appends values in another order. The mesh, its tags and every
    stored function are permuted in place to the new order (nodes matched by their
    coordinates). Returns "continue", or a warning when the nodes do not match.
    """
    import h5py

    with h5py.File(h5_path, "a") as h5:
        geometry = h5["Mesh/mesh/geometry"]
        old = geometry[...]
        new = coordinates[:, : old.shape[1]]
        if old.shape == new.shape and np.array_equal(old, new):
            return "continue"
        old_sorted = np.lexsort(old.T[::-1])
        new_sorted = np.lexsort(new.T[::-1])
        if old.shape != new.shape or not np.array_equal(old[old_sorted], new[new_sorted]):
            return f"the mesh in {h5_path.name} is not the mesh of this run"
        perm = np.empty(len(old), dtype=np.int64)
        perm[new_sorted] = old_sorted  # new[i] == old[perm[i]]
        renumber = np.empty_like(perm)
        renumber[perm] = np.arange(len(perm))  # old node j is new node renumber[j]
        geometry[...] = old[perm]
        topologies = [h5["Mesh/mesh/topology"]]
        topologies += [group["topology"] for group in h5.get("MeshTags", {}).values()]
        for topology in topologies:
            topology[...] = renumber[topology[...]]
        for function in h5.get("Function", {}).values():
            for values in function.values():
                values[...] = values[...][perm]
    return "continue"


class MetricsWriter:
    """``metrics.csv``, one row per output time, written and flushed by rank 0.

    ``previous`` rows (a resumed run's history, from its checkpoint) are written first,
    so the file never holds rows a killed run wrote after its checkpoint twice.
    """

    def __init__(
        self, path: Path, comm, columns=METRIC_COLUMNS, previous: list[dict] | None = None
    ):
        self.path = path
        self.comm = comm
        self.columns = columns
        self.previous = previous or []
        self.handle = None
        self.writer = None

    def __enter__(self) -> MetricsWriter:
        if self.comm.rank == 0:
            self.handle = open(self.path, "w", newline="")
            self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)
            self.writer.writeheader()
            for row in self.previous:
                self.write(row)
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
    if isinstance(value, float):  # also NumPy floats, whose repr is np.float64(...)
        return repr(float(value))
    return str(value)


def write_json(path: Path, data: dict, comm) -> None:
    """Write JSON on rank 0 atomically (a temporary file renamed into place)."""
    if comm.rank == 0:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)


def write_csv(path: Path, rows: list[dict], comm) -> None:
    """Write rows (dicts with the same keys) as CSV on rank 0."""
    if comm.rank == 0 and rows:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({key: _format(value) for key, value in row.items()})


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
