"""Pictures and a short summary of a finished run: ``bmf report DIR``.

Reads what the run wrote (fields.xdmf/.h5, metrics.csv, summary.json, sites.csv) and
draws PNGs into ``DIR/plots/`` with matplotlib (no display needed): the mesh with its
region tags, u, M, phi and s at chosen times, time series with the input pulses marked,
the expression-time map and, in cells mode, a raster of the sites over time. 2D meshes
and 1D networks are drawn here; the fields of 3D runs by bmf_fem.render3d (on the
surface and cut open). Everything here is non-dimensional.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bmf_fem.render3d import render_report
from bmf_fem.results import FIELD_COLOURS, Series, read_csv, read_series, read_values, values_at


def pulse_times(config: dict) -> list[tuple[float, float]]:
    """(start, end) of every input pulse in the resolved configuration."""
    pulses = []
    for entry in config.get("input", []):
        for k in range(entry.get("count", 1)):
            start = entry.get("start", 0.0) + k * entry.get("period", 1.0)
            pulses.append((start, start + entry.get("width", 0.1)))
    return pulses


def draw_field(ax, series: Series, values: np.ndarray | None, cmap, center: str = "Node"):
    """Draw a 2D triangulation or a 1D network coloured by values; the mappable.

    Node values colour a network's segments by their mean; set a norm on the returned
    mappable for log scales.
    """
    import matplotlib.tri as mtri
    from matplotlib.collections import LineCollection

    x, y = series.points[:, 0], series.points[:, 1]
    if series.cells.shape[1] == 2:  # a network of intervals
        segments = series.points[series.cells][:, :, :2]
        colour = values if center == "Cell" else None
        if values is not None and center != "Cell":
            colour = values[series.cells].mean(axis=1)
        lines = LineCollection(segments, cmap=cmap, linewidths=2.0)
        if colour is not None:
            lines.set_array(colour)
        ax.add_collection(lines)
        ax.autoscale()
        return lines
    triangles = series.cells[:, :3]
    if series.cells.shape[1] == 4:  # quadrilaterals: two triangles each
        triangles = np.vstack([series.cells[:, [0, 1, 2]], series.cells[:, [0, 2, 3]]])
        if values is not None and center == "Cell":
            values = np.concatenate([values, values])
    mesh = mtri.Triangulation(x, y, triangles)
    if values is None:
        return ax.triplot(mesh, color="0.6", linewidth=0.3)
    if center == "Cell":
        return ax.tripcolor(mesh, facecolors=values, cmap=cmap)
    missing = ~np.isfinite(values)
    if missing.any():  # leave out triangles touching a missing (NaN) value
        mesh.set_mask(missing[triangles].any(axis=1))
        values = np.where(missing, 0.0, values)
    return ax.tripcolor(mesh, values, cmap=cmap, shading="gouraud")


def frame_axes(ax, title: str) -> None:
    """Equal aspect, a title and non-dimensional x and y labels."""
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x (non-dimensional)")
    ax.set_ylabel("y (non-dimensional)")


def plot_mesh(run: Path, series: Series, summary: dict, out: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    fig, ax = plt.subplots(figsize=(6, 5.5))
    if series.cell_tags is not None and np.any(series.cell_tags >= 0):
        values = np.unique(series.cell_tags[series.cell_tags >= 0])
        index = np.searchsorted(values, series.cell_tags).astype(float)
        index[series.cell_tags < 0] = np.nan
        colours = plt.get_cmap("tab20")(np.arange(values.size) % 20)
        artist = draw_field(ax, series, index, ListedColormap(colours), "Cell")
        artist.set_norm(BoundaryNorm(np.arange(values.size + 1) - 0.5, values.size))
        names = {tag: name for name, tag in summary.get("regions", {}).items()}
        bar = fig.colorbar(artist, ax=ax, label="region")
        if values.size <= 24:
            bar.set_ticks(np.arange(values.size))
            bar.set_ticklabels([names.get(int(tag), str(tag)) for tag in values])
        else:
            bar.set_ticks([])
            bar.set_label(f"{values.size} regions (names in summary.json)")
    else:
        draw_field(ax, series, None, "viridis")
    frame_axes(ax, summary.get("mesh", "mesh"))
    path = out / "mesh.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_fields(run: Path, series: Series, times: list[float], out: Path) -> Path:
    """u, M, phi and s (rows) at the chosen times (columns), one colour bar per field."""
    import matplotlib.pyplot as plt

    names = [name for name in ("u", "M", "phi", "s") if name in series.functions]
    fig, axes = plt.subplots(
        len(names),
        len(times),
        figsize=(3.6 * len(times) + 1.0, 3.2 * len(names)),
        squeeze=False,
        layout="constrained",
    )
    for row, name in enumerate(names):
        data = [values_at(run, series, name, t) for t in times]
        finite = np.concatenate([d[np.isfinite(d)] for d in data])
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        if high <= low:
            high = low + 1e-12
        for column, (t, values) in enumerate(zip(times, data, strict=True)):
            ax = axes[row, column]
            artist = draw_field(ax, series, values, FIELD_COLOURS[name], series.centers[name])
            artist.set_clim(low, high)
            frame_axes(ax, f"{name} at t = {t:.3g}")
        fig.colorbar(artist, ax=list(axes[row, :]), label=f"{name} (non-dimensional)")
    path = out / "fields.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_timeseries(rows: list[dict], pulses: list[tuple[float, float]], out: Path) -> Path:
    import matplotlib.pyplot as plt

    t = np.array([float(row["t"]) for row in rows])
    panels = (
        ("u_max", "max u"),
        ("phi_max", "max phi"),
        ("M_integral", "integral of M"),
        ("scope", "scope: measure of {M > threshold}"),
        ("expressed_fraction", "expressed share"),
    )
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.0 * len(panels)), sharex=True)
    for ax, (column, label) in zip(axes, panels, strict=True):
        ax.plot(t, [float(row[column]) for row in rows], color="C0")
        for start, end in pulses:
            ax.axvspan(start, end, color="C1", alpha=0.25, linewidth=0)
        ax.set_ylabel(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_title("time series (orange bands: input pulses)", fontsize=10)
    axes[-1].set_xlim(min(t[0], 0.0), t[-1])  # pulses scheduled after the end stay out
    axes[-1].set_xlabel("t (non-dimensional)")
    fig.tight_layout()
    path = out / "timeseries.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_expression_map(run: Path, series: Series, out: Path) -> Path:
    import matplotlib.pyplot as plt

    name = "expression_time"
    last_time = series.functions[name][-1][0]
    values = values_at(run, series, name, last_time).astype(float)
    values[values < 0] = np.nan
    fig, ax = plt.subplots(figsize=(6, 5.5))
    artist = draw_field(ax, series, values, "viridis_r", series.centers[name])
    fig.colorbar(artist, ax=ax, label="expression time (non-dimensional; blank: never expressed)")
    frame_axes(ax, "when each site first expressed")
    path = out / "expression_time.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_site_raster(run: Path, series: Series, sites: list[dict], out: Path) -> Path:
    """Cells mode: s of every site over time, with alarm (x) and expression (o) marks."""
    import matplotlib.pyplot as plt

    tags = {row["tag"]: index for index, row in enumerate(sites)}
    summary = json.loads((run / "summary.json").read_text())
    regions = summary.get("regions", {})
    entries = series.functions["s"]
    raster = np.full((len(sites), len(entries)), np.nan)
    for column, (_, reference) in enumerate(entries):
        values = read_values(run, reference)
        for tag, index in tags.items():
            value = regions.get(tag)
            if value is None or series.cell_tags is None:
                continue
            cells = series.cell_tags == value
            if cells.any():
                raster[index, column] = np.nanmean(values[cells])
    times = [t for t, _ in entries]
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.12 * len(sites) + 1.5)))
    image = ax.imshow(
        raster,
        aspect="auto",
        cmap="coolwarm",
        vmin=-1.5,
        vmax=1.5,
        extent=(times[0], times[-1], len(sites) - 0.5, -0.5),
        interpolation="nearest",
    )
    for index, row in enumerate(sites):
        if row.get("t_alarm"):
            ax.plot(float(row["t_alarm"]), index, "kx", markersize=4)
        if row.get("t_expressed"):
            ax.plot(float(row["t_expressed"]), index, "o", mfc="none", mec="k", markersize=4)
    fig.colorbar(image, ax=ax, label="s")
    ax.set_xlabel("t (non-dimensional)")
    ax.set_ylabel("site")
    ax.set_title("sites over time (x: first alarm, o: expression)", fontsize=10)
    fig.tight_layout()
    path = out / "sites.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def field_times(rows: list[dict]) -> list[float]:
    """Up to four output times worth a picture: the peak of phi, the end, and quarters
    of the run, none closer than a tenth of the run to another."""
    t = np.array([float(row["t"]) for row in rows])
    t_end = float(t[-1])
    peak = float(t[int(np.argmax([float(r["phi_max"]) for r in rows]))])
    chosen: list[float] = []
    for wanted in (peak, t_end, t_end / 4, t_end / 2, 3 * t_end / 4):
        nearest = float(t[np.argmin(np.abs(t - wanted))])
        if all(abs(nearest - c) > 0.1 * t_end for c in chosen) and len(chosen) < 4:
            chosen.append(nearest)
    return sorted(chosen)


def write_report(run: Path) -> list[Path]:
    """Draw every picture that fits the run into ``run/plots`` (call on one rank)."""
    import matplotlib

    matplotlib.use("Agg")
    run = Path(run)
    out = run / "plots"
    out.mkdir(exist_ok=True)
    summary = json.loads((run / "summary.json").read_text())
    rows = read_csv(run / "metrics.csv")
    written = [plot_timeseries(rows, pulse_times(summary.get("config", {})), out)]
    series = read_series(run)
    from bmf_fem.paraview_state import write_state_script

    flat = series.points.shape[1] < 3 or np.allclose(series.points[:, 2:], 0.0)
    write_state_script(run, rows, 2 if flat else 3)
    drawable = (
        series.points.shape[1] >= 2
        and series.cells.shape[1] in (2, 3, 4)
        and (series.cells.shape[1] == 2 or np.allclose(series.points[:, 2:], 0.0))
    )
    if drawable:
        written.append(plot_mesh(run, series, summary, out))
        written.append(plot_fields(run, series, field_times(rows), out))
        if "expression_time" in series.functions:
            written.append(plot_expression_map(run, series, out))
    elif not flat and series.cells.shape[1] in (4, 8):  # tetrahedra or hexahedra
        written.extend(render_report(run, series, field_times(rows), out))
    if (run / "sites.csv").exists() and "s" in series.functions:
        written.append(plot_site_raster(run, series, read_csv(run / "sites.csv"), out))
    roc = (summary.get("detection") or {}).get("roc")
    if roc:
        from bmf_fem.roc import plot_roc

        written.append(plot_roc(out / "roc.png", roc))
    return written
