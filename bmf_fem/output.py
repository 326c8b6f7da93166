"""Run directory, metrics.csv, summary.json and the resolved config.

Writers read the model's state and never change it. CSV and JSON are written by rank 0
(the field series, bmf_fem.fieldseries, gathers to rank 0 too). Every writer is a
context manager, so files are closed on error.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

from bmf_fem.checkpoint import CHECKPOINT_DIR
from bmf_fem.errors import ConfigError
from bmf_fem.fieldseries import SERIES_FILES

RESULT_FILES = (
    *SERIES_FILES,
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
