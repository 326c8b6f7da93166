"""Is the mesh fine enough? The same run at (h, dt), (h/2, dt) and (h, dt/2), compared.

Each headline result (the final expressed share, the peaks and the build-up numbers of
summary.json, taken after every step) is shown with its relative change under each
refinement; a change above the threshold (3 %) is flagged, a time (the peak's time,
onset delays) only when it also moves by more than one time step of the base run. With
dt halved, ``output.every`` (and the other counts of steps) doubles, so metrics.csv has
rows at the same times in all three runs. The runs write no fields
(``output.fields = []``): only metrics.csv, summary.json and config.toml, which
``bmf run`` reruns with fields.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bmf_fem.errors import ConfigError

if TYPE_CHECKING:
    from mpi4py import MPI

    from bmf_fem.config import Config

THRESHOLD_PERCENT = 3.0

# the three runs (their directories), the base first
CASES = ("base", "half_h", "half_dt")

# counts of steps that double with dt halved, so that they mean the same times
STEP_COUNTS = (("output", "every"), ("output", "checkpoint_every"), ("detect", "sample_every"))


@dataclass(frozen=True)
class Change:
    """One result in the three runs and its relative change (%) under each refinement."""

    name: str
    values: tuple[float | None, ...]
    changes: tuple[float | None, ...]  # half_h, half_dt; None: a value is missing
    step: float = 0.0  # a time read from output rows moves in steps of this (%)

    def flagged(self, threshold: float) -> tuple[bool, ...]:
        """Changes above the threshold, and for times also above one output interval."""
        limit = max(threshold, self.step * (1.0 + 1e-6))  # times are rounded in the rows
        return tuple(c is not None and abs(c) > limit for c in self.changes)


def refinements(config: Config) -> dict[str, list[str]]:
    """The overrides of each case: no fields; h halved; dt halved, step counts doubled.

    Raises ConfigError for a mesh without a size key (``mesh.kind = "file"``).
    """
    from bmf_fem.meshes.parameters import resolve

    kind = config.mesh.kind
    if kind == "file":
        raise ConfigError(
            'mesh.kind = "file" has no mesh.h to halve (the file is the mesh): write the '
            "mesh at two sizes and compare the bmf run directories of both, or use a kind "
            "with mesh.h (crystal, web, tissue, box)"
        )
    params = resolve(kind, dict(config.mesh.params))
    # h and the given sizes derived from it (h_min) halve together
    sizes = ["h", *(key for key in params["_given"] if key.startswith("h_"))]
    half_h = [f"mesh.{key}={params[key] / 2!r}" for key in sizes]
    half_dt = [f"time.dt={config.time.dt / 2!r}"]
    for section, key in STEP_COUNTS:
        count = getattr(getattr(config, section), key)
        if count:
            half_dt.append(f"{section}.{key}={2 * count}")
    return {"base": [], "half_h": half_h, "half_dt": half_dt}


def headline(summary: dict) -> dict[str, float | None]:
    """The results compared: final expressed share, peaks, build-up numbers."""
    results = summary.get("results", {})
    values: dict[str, float | None] = {
        "expressed_fraction": summary.get("final_metrics", {}).get("expressed_fraction")
    }
    for name, value in results.items():
        if isinstance(value, list):
            for index, item in enumerate(value):
                values[f"{name}[{index}]"] = item
        else:
            values[name] = value
    return values


def relative_change(base: float | None, refined: float | None) -> float | None:
    """``100 (refined - base) / |base|``; None when either is missing."""
    if base is None or refined is None:
        return None
    if base == refined:
        return 0.0
    if base == 0:
        return math.copysign(math.inf, refined)
    return 100.0 * (refined - base) / abs(base)


def compare(summaries: dict[str, dict], interval: float = 0.0) -> list[Change]:
    """The headline results of every case and their changes against the base.

    ``interval`` is the resolution of the times among the results (``t_peak_u_max``,
    ``onset_delays``): the base run's time step, as results come from every step.
    """
    values = {case: headline(summaries[case]) for case in CASES}
    rows = []
    for name in values["base"]:
        row = tuple(values[case].get(name) for case in CASES)
        if all(value is None for value in row):
            continue  # e.g. an onset that never came
        changes = tuple(relative_change(row[0], refined) for refined in row[1:])
        timed = name.startswith(("t_", "onset_delays")) and row[0]
        step = 100.0 * interval / abs(row[0]) if timed else 0.0
        rows.append(Change(name, row, changes, step))
    return rows


def format_table(rows: list[Change], config: Config, threshold: float) -> str:
    """The table of values and changes, and one verdict line per refinement."""
    from bmf_fem.resolution import configured_cell_size

    h = configured_cell_size(config)
    dt = config.time.dt
    heads = [f"h={h:g} dt={dt:g}", f"h/2={h / 2:g}", "change", f"dt/2={dt / 2:g}", "change"]
    widths = [max(14, len(heads[0]) + 2), 12, 10, 12, 10]
    name_width = max(len("result"), *(len(row.name) for row in rows))

    def line(name: str, cells: list[str]) -> str:
        return f"{name:<{name_width}}" + "".join(
            f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True)
        )

    lines = [line("result", heads)]
    for row in rows:
        flags = row.flagged(threshold)
        cells = [_number(row.values[0])]
        for value, change, flag in zip(row.values[1:], row.changes, flags, strict=True):
            cells += [_number(value), _percent(change) + ("*" if flag else " ")]
        lines.append(line(row.name, cells))
    lines.append(
        f"* changed by more than {threshold:g} % (a time: and by more than the time step {dt:g})"
    )
    for index, (what, key) in enumerate((("h halved", "mesh.h"), ("dt halved", "time.dt"))):
        moved = [row.name for row in rows if row.flagged(threshold)[index]]
        if moved:
            lines.append(
                f"{what}: {len(moved)} result(s) moved by more than {threshold:g} % "
                f"({', '.join(moved)}); they are not converged: reduce {key} and check again"
            )
        else:
            lines.append(f"{what}: every result moved by less than {threshold:g} %")
    return "\n".join(lines)


def run_convergence(
    config_path: str | Path,
    overrides: list[str],
    out: Path,
    comm: MPI.Comm,
    threshold: float = THRESHOLD_PERCENT,
    report: Callable[[str], None] = print,
) -> tuple[list[Change], str]:
    """Run the three cases into ``out/CASE`` (collective); the rows and the table.

    ``report(text)`` receives progress lines and resolution warnings (rank 0 prints).
    """
    from bmf_fem.config import load_config
    from bmf_fem.output import write_json, write_text
    from bmf_fem.resolution import summary_entries
    from bmf_fem.simulation import Simulation

    config = load_config(config_path, overrides=overrides)
    cases = refinements(config)
    report(f"{config_path} at (h, dt), (h/2, dt) and (h, dt/2) -> {out}")
    summaries = {}
    for number, case in enumerate(CASES, start=1):
        settings = [*overrides, "output.fields=[]", *cases[case]]
        case_config = load_config(config_path, overrides=settings)
        started = time.perf_counter()
        simulation = Simulation(case_config, comm)
        try:
            if case == "base":
                resolution = summary_entries(case_config, simulation.mesh_data.mesh)
                for message in resolution["warnings"]:
                    report(f"warning: {message}")
            summaries[case] = simulation.run(out / case, force=True, progress=False)
        finally:
            simulation.close()
        report(
            f"run {number}/3 ({', '.join(cases[case]) or 'as configured'}) "
            f"done in {time.perf_counter() - started:.1f} s -> {out / case}"
        )
    rows = compare(summaries, config.time.dt)
    table = format_table(rows, config, threshold)
    write_text(out / "convergence.txt", table + "\n", comm)
    write_json(
        out / "convergence.json",
        {
            "threshold_percent": threshold,
            "cases": cases,
            "results": {
                row.name: {
                    "values": dict(zip(CASES, row.values, strict=True)),
                    "change_percent": {"half_h": row.changes[0], "half_dt": row.changes[1]},
                }
                for row in rows
            },
        },
        comm,
    )
    return rows, table


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.4g}"


def _percent(change: float | None) -> str:
    if change is None:
        return "-"
    if math.isinf(change):
        return "from 0"
    return f"{change:+.1f} %"
