"""What a finished run directory holds, read back: the field series and the CSV tables.

The one reader the report, the 3D renderer, the movie, the demos and the tests share
(``fields.xdmf`` with ``fields.h5`` and ``fields.d/``, or a series dolfinx's XDMFFile
wrote; ``metrics.csv``, ``sites.csv``).
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from bmf_fem.fieldseries import SERIES_DIR

FIELD_COLOURS = {"u": "viridis", "M": "magma", "phi": "plasma", "s": "coolwarm"}
"""The colour map each field is drawn with (pictures, 3D views, movies)."""


@dataclass
class Series:
    """What fields.xdmf points to: mesh arrays and, per function, (time, reference) pairs.

    A reference is "FILE:/DATASET" relative to the run directory (``fields.d/000012.h5:/u``;
    runs written before the field series had its own files: ``fields.h5:/Function/u/0``).
    """

    points: np.ndarray
    cells: np.ndarray
    cell_tags: np.ndarray | None = None
    functions: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    centers: dict[str, str] = field(default_factory=dict)


def read_series(run: Path) -> Series:
    """Parse fields.xdmf and load the mesh (and cell tags) from fields.h5."""
    run = Path(run)
    if not (run / SERIES_DIR).is_dir():
        return _read_dolfinx_series(run)
    root = ET.parse(run / "fields.xdmf").getroot()
    with h5py.File(run / "fields.h5", "r") as h5:
        tags = h5["mesh/cell_tags"][...] if "mesh/cell_tags" in h5 else None
        series = Series(h5["mesh/geometry"][...], h5["mesh/topology"][...], tags)
    for grid in root.iter("Grid"):
        time = grid.find("Time")
        if time is None:
            continue
        for attribute in grid.findall("Attribute"):
            reference = attribute.find("DataItem").text.strip()
            if reference.startswith(SERIES_DIR):
                name = attribute.get("Name")
                series.functions.setdefault(name, []).append((float(time.get("Value")), reference))
                series.centers[name] = attribute.get("Center")
    return series


def _read_dolfinx_series(run: Path) -> Series:
    """A series written by dolfinx's XDMFFile (one fields.h5 for mesh and data)."""
    root = ET.parse(run / "fields.xdmf").getroot()

    def dataset(item) -> str:
        return item.text.strip().split(":")[1]

    with h5py.File(run / "fields.h5", "r") as h5:
        series = None
        for grid in root.iter("Grid"):
            name = grid.get("Name")
            if grid.get("GridType") == "Collection":
                series.functions[name] = []
                for step in grid.findall("Grid"):
                    attribute = step.find("Attribute")
                    series.functions[name].append(
                        (
                            float(step.find("Time").get("Value")),
                            "fields.h5:" + dataset(attribute.find("DataItem")),
                        )
                    )
                    series.centers[name] = attribute.get("Center")
            elif name == "mesh" and series is None:
                topology = h5[dataset(grid.find("Topology/DataItem"))][...]
                geometry = h5[dataset(grid.find("Geometry/DataItem"))][...]
                series = Series(points=geometry, cells=topology)
            elif name == "cell_tags" and series is not None:
                topology = h5[dataset(grid.find("Topology/DataItem"))][...]
                values = h5[dataset(grid.find("Attribute/DataItem"))][...].reshape(-1)
                tags = np.full(series.cells.shape[0], -1, dtype=np.int64)
                index = {tuple(sorted(c)): i for i, c in enumerate(series.cells)}
                for cell, value in zip(topology, values, strict=True):
                    position = index.get(tuple(sorted(cell)))
                    if position is not None:
                        tags[position] = value
                series.cell_tags = tags
    return series


def read_values(run: Path, reference: str) -> np.ndarray:
    """The values a Series reference ("FILE:/DATASET") points to, as a flat array."""
    name, dataset = reference.split(":", 1)
    with h5py.File(Path(run) / name, "r") as h5:
        return h5[dataset][...].reshape(-1)


def values_at(run: Path, series: Series, name: str, t: float) -> np.ndarray:
    """The stored values of function ``name`` at the output time nearest to t."""
    times = np.array([time for time, _ in series.functions[name]])
    _, reference = series.functions[name][int(np.argmin(np.abs(times - t)))]
    return read_values(run, reference)


def read_csv(path: Path) -> list[dict]:
    """The rows of a CSV table the run wrote (metrics.csv, sites.csv)."""
    with open(path) as handle:
        return list(csv.DictReader(handle))
