"""Pictures of 3D runs: u, M, phi and s on the surface of the mesh and inside it.

pyvista (VTK) renders each view off screen; matplotlib lays the views out with titles and
colour bars. Debian's VTK draws through X (off-screen rendering without a display
aborts the process), so when no display is set this module starts a private Xvfb server
(``-displayfd`` picks a free display number), which ends with the process. Without
pyvista or Xvfb the pictures show sections through the middle of the mesh instead
(matplotlib only), with a warning. Everything is non-dimensional.
"""

from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np

from bmf_fem.results import FIELD_COLOURS, Series, values_at

VIEW = (1.0, -1.6, 0.9)  # direction from the mesh centre to the camera
PIXELS = (400, 430)
NAN_COLOUR = "lightgrey"


class RenderUnavailableError(RuntimeError):
    """No way to render with VTK here (no pyvista, or no display and no Xvfb)."""


_xvfb: subprocess.Popen | None = None


def ensure_display() -> None:
    """Make sure VTK can open a render window: start a private Xvfb when needed."""
    global _xvfb
    try:
        import pyvista  # noqa: F401
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the window class)
        from vtkmodules.vtkRenderingCore import vtkRenderWindow
    except ImportError as error:
        raise RenderUnavailableError(f"pyvista is not importable ({error})") from None
    if os.environ.get("DISPLAY") or "XOpenGL" not in vtkRenderWindow().GetClassName():
        return  # a display exists, or VTK renders off screen by itself (EGL, OSMesa)
    executable = shutil.which("Xvfb")
    if executable is None:
        raise RenderUnavailableError("VTK needs an X display: none is set and no Xvfb found")
    read_end, write_end = os.pipe()
    _xvfb = subprocess.Popen(
        [
            executable,
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            "1280x1024x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    os.close(write_end)
    number = _read_line(read_end, deadline=time.monotonic() + 10.0)
    os.close(read_end)
    if not (number.isdigit() and _accepts(f"/tmp/.X11-unix/X{number}", time.monotonic() + 10.0)):
        _stop_xvfb()
        raise RenderUnavailableError("Xvfb did not start within 10 s")
    os.environ["DISPLAY"] = f":{number}"


def _read_line(fd: int, deadline: float) -> str:
    """What Xvfb writes to its display fd: the display number and a newline."""
    text = b""
    while not text.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0.0))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            break
        text += chunk
    return text.decode().strip()


def _accepts(path: str, deadline: float) -> bool:
    """Wait until the X server accepts connections on its socket."""
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
                return True
            except OSError:
                time.sleep(0.05)
    return False


def _die_with_parent() -> None:
    """In the child: get SIGTERM when this process ends (Linux prctl PR_SET_PDEATHSIG).

    Stopping Xvfb from an exit handler instead would pull the display from under VTK,
    whose own exit handlers still talk to it (Xlib then exits with status 1).
    """
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _stop_xvfb() -> None:
    global _xvfb
    if _xvfb is not None:
        _xvfb.terminate()
        _xvfb.wait(timeout=10)
        _xvfb = None


def render_report(run: Path, series: Series, times: list[float], out: Path) -> list[Path]:
    """fields_3d.png (surface), fields_3d_inside.png (cut open) and expression_time_3d.png.

    Falls back to mid-plane sections, with a warning, when VTK cannot render here.
    """
    view = solid_views(series)
    names = [name for name in ("u", "M", "phi", "s") if name in series.functions]
    written = []
    panels = [(name, [(t, values_at(run, series, name, t)) for t in times]) for name in names]
    try:
        for inside, path in ((False, "fields_3d.png"), (True, "fields_3d_inside.png")):
            written.append(_field_grid(view, series, panels, inside, out / path))
        if "expression_time" in series.functions:
            written.append(_expression_time(run, series, view, out / "expression_time_3d.png"))
    finally:
        view.close()
    return written


def solid_views(series: Series):
    """Views of a 3D mesh with ``draw(ax, values, center, cmap, clim, inside)``: pyvista
    off screen, or mid-plane sections, with a warning, where VTK cannot render."""
    try:
        ensure_display()
        return _Renderer(series)
    except RenderUnavailableError as error:
        warnings.warn(
            f"3D views need pyvista and a display ({error}); drawing sections instead",
            stacklevel=2,
        )
        return _Section(series)


def _limits(arrays: list[np.ndarray]) -> tuple[float, float]:
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return low, max(high, low + 1e-12)


def _field_grid(view, series: Series, panels, inside: bool, path: Path) -> Path:
    """Fields (rows) at times (columns), one colour bar per field."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    columns = len(panels[0][1])
    fig, axes = plt.subplots(
        len(panels),
        columns,
        figsize=(2.6 * columns + 1.2, 3.0 * len(panels)),
        squeeze=False,
        layout="constrained",
    )
    for row, (name, entries) in enumerate(panels):
        clim = _limits([values for _, values in entries])
        cmap = FIELD_COLOURS[name]
        for column, (t, values) in enumerate(entries):
            ax = axes[row, column]
            view.draw(ax, values, series.centers[name], cmap, clim, inside)
            ax.set_title(f"{name} at t = {t:.3g}", fontsize=10)
        mappable = ScalarMappable(Normalize(*clim), cmap)
        fig.colorbar(mappable, ax=axes[row, :], label=f"{name} (non-dimensional)", shrink=0.85)
    fig.suptitle(f"u, M, phi and s: {view.describe(inside)}; all non-dimensional", fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _expression_time(run: Path, series: Series, view, path: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    name = "expression_time"
    values = values_at(run, series, name, series.functions[name][-1][0]).astype(float)
    values[values < 0] = np.nan
    clim = _limits([values])
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 4.2), layout="constrained")
    for ax, inside in zip(axes, (False, True), strict=True):
        view.draw(ax, values, series.centers[name], "viridis_r", clim, inside)
        ax.set_title(view.describe(inside), fontsize=10)
    label = "expression time (non-dimensional)\ngrey: never expressed"
    fig.colorbar(ScalarMappable(Normalize(*clim), "viridis_r"), ax=axes, label=label, shrink=0.9)
    fig.suptitle("when each point first expressed", fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


class _Renderer:
    """Off-screen pyvista views of one mesh: the whole surface, or cut open."""

    def __init__(self, series: Series):
        import pyvista

        cells = series.cells
        cell_type = {4: pyvista.CellType.TETRA, 8: pyvista.CellType.HEXAHEDRON}[cells.shape[1]]
        layout = np.hstack([np.full((cells.shape[0], 1), cells.shape[1]), cells]).ravel()
        points = np.asarray(series.points, dtype=float)
        self.grid = pyvista.UnstructuredGrid(layout, np.full(cells.shape[0], cell_type), points)
        self.edges = self.grid.extract_surface().extract_feature_edges(
            feature_angle=30, boundary_edges=False, non_manifold_edges=False, manifold_edges=False
        )
        # the cut: the vertical plane through the centre that faces the camera
        self.normal = (VIEW[0], VIEW[1], 0.0)
        self.plotter = None

    def image(self, values: np.ndarray, center: str, cmap: str, clim, inside: bool) -> np.ndarray:
        import pyvista

        grid = self.grid.copy(deep=False)
        data = grid.cell_data if center == "Cell" else grid.point_data
        data["value"] = values
        edges = self.edges
        if inside:  # keep the back half: the cut face looks at the camera
            grid = grid.clip(normal=self.normal, origin=self.grid.center)
            edges = edges.clip(normal=self.normal, origin=self.grid.center)
        if self.plotter is None:  # one window for every view: contexts are slow to make
            self.plotter = pyvista.Plotter(off_screen=True, window_size=PIXELS)
            self.plotter.set_background("white")
            self.plotter.add_axes(color="black", line_width=3, viewport=(0.0, 0.0, 0.3, 0.3))
        plotter = self.plotter
        plotter.clear_actors()
        # mostly ambient light: shading must not change the colours much (colour bar)
        plotter.add_mesh(
            grid,
            scalars="value",
            cmap=cmap,
            clim=clim,
            nan_color=NAN_COLOUR,
            show_scalar_bar=False,
            ambient=0.5,
            diffuse=0.55,
            specular=0.0,
        )
        plotter.add_mesh(edges, color="black", line_width=1.5)
        plotter.camera_position = [
            tuple(np.array(self.grid.center) + np.array(VIEW)),
            self.grid.center,
            (0.0, 0.0, 1.0),
        ]
        plotter.reset_camera()
        plotter.camera.zoom(1.15)
        return _crop(plotter.screenshot(return_img=True))

    def close(self) -> None:
        if self.plotter is not None:
            self.plotter.close()
            self.plotter = None

    def describe(self, inside: bool) -> str:
        return "cut open along a vertical plane" if inside else "surface"

    def draw(self, ax, values, center, cmap, clim, inside) -> None:
        ax.imshow(self.image(values, center, cmap, clim, inside))
        ax.set_axis_off()


def _crop(image: np.ndarray, pad: int = 6) -> np.ndarray:
    """The image without its white border (keeping ``pad`` pixels)."""
    rows, columns = np.nonzero((image < 250).any(axis=2))
    if rows.size == 0:
        return image
    top, left = max(rows.min() - pad, 0), max(columns.min() - pad, 0)
    return image[top : rows.max() + pad + 1, left : columns.max() + pad + 1]


class _Section:
    """The fallback: sections through the middle of the mesh, z = middle and x = middle."""

    def __init__(self, series: Series):
        self.points, self.cells = series.points, series.cells

    def describe(self, inside: bool) -> str:
        return "vertical section x = middle" if inside else "horizontal section z = middle"

    def close(self) -> None:
        """Nothing to release."""

    def polygons(
        self, values: np.ndarray, center: str, axis: int
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Section polygons of the cells cut by the middle plane normal to ``axis``."""
        low, high = self.points[:, axis].min(), self.points[:, axis].max()
        level = low + (0.5 + 1e-4 * np.pi) * (high - low)  # slightly off vertices on a grid
        plane = [k for k in range(3) if k != axis]
        heights = self.points[:, axis][self.cells] - level
        cut = np.flatnonzero((heights.min(axis=1) < 0) & (heights.max(axis=1) > 0))
        shapes, colours = [], []
        for cell in cut:
            nodes = self.cells[cell]
            corners, height = self.points[nodes][:, plane], heights[cell]
            value = values[nodes] if center != "Cell" else np.full(nodes.size, values[cell])
            crossings, crossing_values = [], []
            for a in range(nodes.size):
                for b in range(a + 1, nodes.size):
                    if height[a] * height[b] < 0:
                        weight = height[a] / (height[a] - height[b])
                        crossings.append(corners[a] + weight * (corners[b] - corners[a]))
                        crossing_values.append(value[a] + weight * (value[b] - value[a]))
            polygon = np.array(crossings)
            offset = polygon - polygon.mean(axis=0)
            shapes.append(polygon[np.argsort(np.arctan2(offset[:, 1], offset[:, 0]))])
            colours.append(np.mean(crossing_values))
        return shapes, np.array(colours)

    def draw(self, ax, values, center, cmap, clim, inside) -> None:
        from matplotlib.collections import PolyCollection

        axis = 0 if inside else 2
        shapes, colours = self.polygons(values, center, axis)
        collection = PolyCollection(shapes, cmap=cmap, edgecolors="face", linewidths=0.2)
        collection.set_array(colours)
        collection.set_clim(*clim)
        collection.cmap.set_bad(NAN_COLOUR)
        ax.add_collection(collection)
        ax.autoscale()
        ax.set_aspect("equal")
        first, second = "yz" if inside else "xy"
        ax.set_xlabel(f"{first} (non-dimensional)", fontsize=8)
        ax.set_ylabel(f"{second} (non-dimensional)", fontsize=8)
        ax.locator_params(nbins=4)
        ax.tick_params(labelsize=7)
