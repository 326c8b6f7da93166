"""A movie of a finished run: u, M, phi and s side by side, the metrics with a cursor.

    bmf report DIR --movie      DIR/plots/fields.mp4 (H.264)
    bmf report DIR --gif        DIR/plots/fields.gif
    bmf run ... --movie         the mp4 at the end of the run

One frame per output time (or every ``stride``-th: by default at most
:data:`MAX_FRAMES`), each field on a colour range fixed over the whole run, one time
stamp, and below them max u, max phi and the expressed share over the run with the
input pulses marked and a cursor at the frame's time. 2D meshes and 1D networks are
drawn with matplotlib (the artists are made once and only their values change), 3D
meshes with pyvista off screen (bmf_fem.render3d). Frames are streamed to ffmpeg as raw
pixels, so memory does not grow with the length of the run; the GIF is made from the
H.264 movie with a palette of its own (two more ffmpeg passes).
"""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bmf_fem.report import draw_field, pulse_times
from bmf_fem.results import FIELD_COLOURS, Series, read_csv, read_series, read_values

MAX_FRAMES = 300
FRAMES_PER_SECOND = 20
GIF_WIDTH = 800  # pixels; the GIF is scaled down to this
DPI = 100
FIELDS = ("u", "M", "phi", "s")


class MovieError(RuntimeError):
    """A movie cannot be made (no ffmpeg, no fields, ffmpeg failed): the message says why."""


def write_movie(
    run: Path,
    kind: str = "mp4",
    stride: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``run/plots/fields.mp4`` (or ``.gif``); returns its path (call on one rank)."""
    import matplotlib

    matplotlib.use("Agg")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise MovieError("ffmpeg is not installed (containers/run's environment has it)")
    run = Path(run)
    series = read_series(run)
    names = [name for name in FIELDS if name in series.functions]
    if not names:
        raise MovieError(f"{run / 'fields.xdmf'} holds none of the fields u, M, phi, s")
    entries = series.functions[names[0]]
    if stride is None:
        stride = max(1, math.ceil(len(entries) / MAX_FRAMES))
    frames = list(range(0, len(entries), stride))
    if frames[-1] != len(entries) - 1:
        frames.append(len(entries) - 1)
    out = run / "plots"
    out.mkdir(exist_ok=True)
    movie = out / "fields.mp4"
    target = movie if kind == "mp4" else out / ".fields-for-gif.mp4"
    canvas = _Canvas(run, series, names, frames)
    try:
        _encode(ffmpeg, canvas, frames, target, progress)
    finally:
        canvas.close()
    if kind == "mp4":
        return movie
    gif = out / "fields.gif"
    try:
        _to_gif(ffmpeg, target, gif)
    finally:
        target.unlink(missing_ok=True)
    return gif


def _encode(ffmpeg: str, canvas, frames: list[int], path: Path, progress) -> None:
    """Stream the frames as raw RGBA to ffmpeg, which writes H.264 (written to a temporary
    name and renamed, so a stopped movie never looks finished)."""
    width, height = canvas.size
    partial = path.with_name(f".{path.name}.partial.mp4")
    command = [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgba",
        "-s",
        f"{width}x{height}",
        "-r",
        str(FRAMES_PER_SECOND),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-vf",
        "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white",
        "-movflags",
        "+faststart",
        str(partial),
    ]
    encoder = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for count, frame in enumerate(frames, start=1):
            encoder.stdin.write(canvas.frame(frame))
            if progress is not None:
                progress(count, len(frames))
    except BrokenPipeError:  # ffmpeg stopped: its message says why
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            encoder.stdin.close()
        errors = encoder.stderr.read()
        encoder.wait()
    if encoder.returncode != 0:
        partial.unlink(missing_ok=True)
        message = errors.decode(errors="replace").strip() or f"exit code {encoder.returncode}"
        raise MovieError(f"ffmpeg could not write {path}: {message}")
    partial.replace(path)


def _to_gif(ffmpeg: str, movie: Path, gif: Path) -> None:
    """A GIF from the movie with its own palette, scaled to GIF_WIDTH."""
    palette = gif.with_name(".fields-palette.png")
    scale = f"scale='min({GIF_WIDTH},iw)':-1:flags=lanczos"
    partial = gif.with_name(f".{gif.name}.partial.gif")
    steps = (
        ["-i", str(movie), "-vf", f"{scale},palettegen"],
        ["-i", str(movie), "-i", str(palette), "-lavfi", f"{scale}[v];[v][1:v]paletteuse"],
    )
    try:
        for step, output in zip(steps, (palette, partial), strict=True):
            result = subprocess.run(
                [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *step, str(output)],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise MovieError(f"ffmpeg could not write {gif}: {result.stderr.strip()}")
        partial.replace(gif)
    finally:
        palette.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)


class _Canvas:
    """The figure of a frame: one panel per field, the metrics below, a time stamp.

    Everything that does not change (axes, colour bars, the metrics, titles) is drawn
    once; a frame redraws only the field images, the cursor and the time stamp onto a
    copy of that background (matplotlib blitting), so a frame costs a few milliseconds
    per panel. 2D fields are sampled on a pixel grid through precomputed barycentric
    weights (one indexing operation per frame), networks recoloured segment by segment,
    3D fields rendered by pyvista.
    """

    def __init__(self, run: Path, series: Series, names: list[str], frames: list[int]):
        import matplotlib.pyplot as plt

        self.run, self.series, self.names = run, series, names
        cells = series.cells
        self.network = cells.shape[1] == 2
        flat = np.allclose(series.points[:, 2:], 0.0) if series.points.shape[1] > 2 else True
        self.solid = not self.network and not (flat and cells.shape[1] in (3, 4))
        self.limits = {name: self._limits(name, frames) for name in names}
        self.figure = plt.figure(figsize=(3.4 * len(names), 6.2), dpi=DPI, layout="constrained")
        grid = self.figure.add_gridspec(2, len(names), height_ratios=(3.0, 1.4))
        self.axes = [self.figure.add_subplot(grid[0, column]) for column in range(len(names))]
        self.view = _solid_views(series) if self.solid else None
        self.raster = None if (self.network or self.solid) else _Raster(series)
        self.artists = {}
        for ax, name in zip(self.axes, names, strict=True):
            self._first_panel(ax, name, frames[0])
        self._metrics(run, self.figure.add_subplot(grid[1, :]))
        self.title = self.figure.suptitle(" ", fontsize=12)
        self.dynamic = [*self.artists.values(), self.cursor, self.title]
        for artist in self.dynamic:
            artist.set_animated(True)
        canvas = self.figure.canvas
        canvas.draw()
        self.figure.set_layout_engine("none")  # the layout is fixed from here on
        self.background = canvas.copy_from_bbox(self.figure.bbox)
        self.size = canvas.get_width_height()

    def _values(self, name: str, frame: int) -> np.ndarray:
        return read_values(self.run, self.series.functions[name][frame][1]).astype(float)

    def _limits(self, name: str, frames: list[int]) -> tuple[float, float]:
        low, high = np.inf, -np.inf
        for frame in frames:
            values = self._values(name, frame)
            finite = values[np.isfinite(values)]
            if finite.size:
                low, high = min(low, finite.min()), max(high, finite.max())
        if not np.isfinite(low):
            low, high = 0.0, 1.0
        return float(low), float(max(high, low + 1e-12))

    def center(self, name: str) -> str:
        return self.series.centers.get(name, "Node")

    def _first_panel(self, ax, name: str, frame: int) -> None:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        cmap, clim = FIELD_COLOURS[name], self.limits[name]
        values = self._values(name, frame)
        if self.network:
            artist = draw_field(ax, self.series, values, cmap, self.center(name))
            artist.set_clim(*clim)
        else:
            image = self._image(name, values)
            extent = self.raster.extent if self.raster is not None else None
            artist = ax.imshow(
                image,
                cmap=cmap,
                extent=extent,
                origin="lower" if extent else None,
                interpolation="nearest",
            )
            artist.set_clim(*clim)
            artist.cmap.set_bad("white")
        self.artists[name] = artist
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"{name} (non-dimensional)", fontsize=10)
        self.figure.colorbar(
            ScalarMappable(Normalize(*clim), cmap), ax=ax, orientation="horizontal", shrink=0.8
        )

    def _image(self, name: str, values: np.ndarray) -> np.ndarray:
        if self.raster is not None:
            return self.raster.sample(values, self.center(name))
        center, cmap, clim = self.center(name), FIELD_COLOURS[name], self.limits[name]
        return self.view.image(values, center, cmap, clim, False)

    def _metrics(self, run: Path, ax) -> None:
        import json

        rows = read_csv(run / "metrics.csv")
        summary = json.loads((run / "summary.json").read_text())
        t = np.array([float(row["t"]) for row in rows])
        for column, label in (("u_max", "max u"), ("phi_max", "max phi")):
            ax.plot(t, [float(row[column]) for row in rows], label=label)
        share = ax.twinx()
        share.plot(
            t, [float(row["expressed_fraction"]) for row in rows], "k--", label="expressed share"
        )
        share.set_ylim(-0.02, 1.02)
        share.set_ylabel("expressed share", fontsize=9)
        for start, end in pulse_times(summary.get("config", {})):
            if start <= t[-1]:
                ax.axvspan(start, end, color="C1", alpha=0.25, linewidth=0)
        ax.set_xlim(min(t[0], 0.0), t[-1])
        ax.set_xlabel("t (non-dimensional; orange bands: input pulses)")
        ax.legend(loc="upper left", fontsize=8)
        share.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
        self.cursor = ax.axvline(t[0], color="k", linewidth=1.0)

    def frame(self, frame: int) -> bytes:
        """The RGBA pixels of the figure at output ``frame``."""
        time = self.series.functions[self.names[0]][frame][0]
        for name in self.names:
            values = self._values(name, frame)
            if self.network:
                colours = _segment_values(values, self.series, self.center(name))
                self.artists[name].set_array(colours)
            else:
                self.artists[name].set_data(self._image(name, values))
        self.cursor.set_xdata([time, time])
        self.title.set_text(f"t = {time:.4g}")
        canvas = self.figure.canvas
        canvas.restore_region(self.background)
        for artist in self.dynamic:
            self.figure.draw_artist(artist)
        return bytes(canvas.buffer_rgba())

    def close(self) -> None:
        import matplotlib.pyplot as plt

        if self.view is not None:
            self.view.close()
        plt.close(self.figure)


def _segment_values(values: np.ndarray, series: Series, center: str) -> np.ndarray:
    """A network's colours as draw_field gives them: each segment the mean of its nodes."""
    return values if center == "Cell" else values[series.cells].mean(axis=1)


class _Raster:
    """A pixel grid over a 2D mesh: for every pixel its triangle, the triangle's cell and
    its barycentric weights (computed once), so a field is sampled by indexing."""

    def __init__(self, series: Series, pixels: int = 280):
        import matplotlib.tri as mtri

        points, cells = series.points[:, :2], series.cells
        if cells.shape[1] == 4:  # quadrilaterals: two triangles each
            triangles = np.vstack([cells[:, [0, 1, 2]], cells[:, [0, 2, 3]]])
            owner = np.concatenate([np.arange(cells.shape[0])] * 2)
        else:
            triangles, owner = cells[:, :3], np.arange(cells.shape[0])
        low, high = points.min(axis=0), points.max(axis=0)
        span = np.maximum(high - low, 1e-12)
        shape = np.maximum(np.round(pixels * span / span.max()).astype(int), 2)
        x = np.linspace(low[0], high[0], shape[0])
        y = np.linspace(low[1], high[1], shape[1])
        grid_x, grid_y = np.meshgrid(x, y)
        finder = mtri.Triangulation(points[:, 0], points[:, 1], triangles).get_trifinder()
        triangle = finder(grid_x, grid_y)
        self.inside = triangle >= 0
        chosen = triangle[self.inside]
        corners = points[triangles[chosen]]  # (pixels, 3, 2)
        target = np.stack([grid_x[self.inside], grid_y[self.inside]], axis=1)
        a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
        matrix = np.stack([b - a, c - a], axis=2)  # (pixels, 2, 2)
        second, third = np.linalg.solve(matrix, (target - a)[:, :, None])[:, :, 0].T
        self.weights = np.stack([1.0 - second - third, second, third], axis=1)
        self.nodes = triangles[chosen]
        self.cells = owner[chosen]
        self.shape = (shape[1], shape[0])
        self.extent = (low[0], high[0], low[1], high[1])

    def sample(self, values: np.ndarray, center: str) -> np.ndarray:
        image = np.full(self.shape, np.nan)
        if center == "Cell":
            image[self.inside] = values[self.cells]
        else:
            image[self.inside] = np.einsum("pk,pk->p", self.weights, values[self.nodes])
        return image


def _solid_views(series: Series):
    """pyvista surface views of a 3D mesh, or sections where VTK cannot render."""
    from bmf_fem.render3d import solid_views

    return solid_views(series)


def print_progress(count: int, total: int) -> None:
    """Frame counts on stderr, every tenth of the movie."""
    if count == total or count % max(1, total // 10) == 0:
        print(f"bmf: movie frame {count}/{total}", file=sys.stderr, flush=True)
