"""What this process runs on: versions, the BLAS actually loaded, MPI and threads."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

from bmf_fem.version import __version__

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_THREADING_LAYER",
)


def loaded_blas() -> str:
    """The BLAS/LAPACK shared libraries mapped into this process, resolved to real files.

    PETSc links ``libblas.so.3``; which library that is depends on the Debian
    alternatives, so the answer is read from ``/proc/self/maps`` after PETSc is loaded.
    """
    import sys

    import petsc4py

    if "petsc4py.PETSc" not in sys.modules:
        # Not again once PETSc is loaded: a second init() on some ranks only (a sweep
        # group) makes PETSc's finalisation collective-mismatched and mpirun hangs.
        petsc4py.init()
    from petsc4py import PETSc  # noqa: F401  (loads libpetsc and its BLAS)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown (no /proc/self/maps)"
    paths = {line.split()[-1] for line in maps.splitlines() if line.count("/") and ".so" in line}
    found = []
    for path in sorted(paths):
        name = Path(path).name
        if "scalapack" in name:
            continue
        if any(key in name for key in ("blas", "lapack", "mkl_rt", "openblas", "blis")):
            found.append(path)
    if not found:
        return "none found"
    families = sorted({blas_family(p) for p in found})
    return f"{' + '.join(families)}: " + ", ".join(found)


def blas_family(path: str) -> str:
    """A short name for the BLAS implementation a library path belongs to."""
    lowered = path.lower()
    if "mkl" in lowered:
        return "MKL"
    if "openblas" in lowered:
        return "OpenBLAS"
    if "blis" in lowered:
        return "BLIS"
    if "atlas" in lowered:
        return "ATLAS"
    return "reference"


@functools.cache
def git_commit(directory: Path | None = None) -> str:
    """The git commit of the checkout holding bmf-fem, with '+dirty' for local changes
    (asked once per process: every run of a sweep shares the answer)."""
    directory = directory or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    return tuple(_library_versions().items())


def versions() -> dict[str, str]:
    """Versions of bmf-fem and the libraries it stands on (read once per process)."""
    return dict(_versions())


def _library_versions() -> dict[str, str]:
    import basix
    import dolfinx
    import gmsh
    import mpi4py
    import petsc4py
    import ufl
    from mpi4py import MPI
    from petsc4py import PETSc

    petsc_version = ".".join(str(v) for v in PETSc.Sys.getVersion())
    return {
        "bmf-fem": __version__,
        "python": platform.python_version(),
        "dolfinx": dolfinx.__version__,
        "basix": basix.__version__,
        "ufl": ufl.__version__,
        "petsc": petsc_version,
        "petsc4py": petsc4py.__version__,
        "petsc_scalar": str(PETSc.ScalarType.__name__),
        "mpi4py": mpi4py.__version__,
        "mpi": MPI.Get_library_version().replace("\x00", "").splitlines()[0].strip(),
        "gmsh": gmsh.__version__,
        "blas": loaded_blas(),
    }


def report(comm) -> str:
    """The text `bmf info` prints: versions, BLAS, MPI size and thread settings."""
    rows = dict(versions())
    rows["mpi_size"] = comm.size
    rows["cpu_count"] = os.cpu_count()
    for name in THREAD_VARIABLES:
        rows[name] = os.environ.get(name, "(unset)")
    rows["git_commit"] = git_commit()
    width = max(len(key) for key in rows)
    return "\n".join(f"{key:<{width}} {value}" for key, value in rows.items())
