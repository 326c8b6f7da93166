"""What every scripted demo shares: building configurations, running them, tables, pictures.

A demo is a module in this package with a docstring (its first line is the one-line
description ``bmf demo`` lists) and a function ``run(out, quick, comm) -> DemoResult``.
``quick`` selects a coarse mesh and short times (under two minutes on two cores, run in
CI); the full mode makes the gallery pictures. Run one with ``bmf demo NAME [--quick]``
or ``python3 demos/NAME.py [--quick] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mpi4py import MPI

from bmf_fem.config import Config, config_from_dict
from bmf_fem.parallel import on_rank0, print0
from bmf_fem.simulation import Simulation


@dataclass
class DemoResult:
    """A demo's outcome: the table it prints, its numbers (demo.json) and its pictures."""

    table: str
    numbers: dict = field(default_factory=dict)
    pictures: list[Path] = field(default_factory=list)


def configure(base: dict, **changes: dict) -> Config:
    """A validated configuration: ``base`` with whole sections or keys replaced.

    ``configure(base, time={"t_end": 5.0})`` updates keys of [time]; a list value
    (``input=[...]``) replaces the array of tables.
    """
    data = copy.deepcopy(base)
    for section, value in changes.items():
        if isinstance(value, dict):
            data.setdefault(section, {}).update(value)
        else:
            data[section] = value
    return config_from_dict(data, source="demo")


def simulate(
    config: Config,
    out: Path,
    comm: MPI.Comm,
    label: str,
    pictures: bool = True,
    setup: Callable[[Simulation], None] | None = None,
    on_step: Callable[[Simulation], None] | None = None,
) -> tuple[Simulation, dict]:
    """Run ``config`` into ``out`` (overwritten), draw its pictures, report one line.

    Returns the finished simulation (still holding its final state; close it) and the
    summary. ``setup`` may adjust the simulation (initial fields) before it runs;
    ``on_step(simulation)`` is called after every step (probes, distances).
    """
    started = time.perf_counter()
    simulation = Simulation(config, comm)
    if setup is not None:
        setup(simulation)
    summary = simulation.run(out, force=True, progress=False, on_step=on_step)
    if pictures:
        draw_report(out, comm)
    print0(
        comm,
        f"  {label}: {summary['dofs']} dofs, {summary['timings']['steps']} steps, "
        f"{time.perf_counter() - started:.1f} s -> {out}",
    )
    return simulation, summary


def draw_report(out: Path, comm: MPI.Comm) -> list[Path]:
    """The run's standard pictures (``bmf report``), drawn on rank 0."""
    from bmf_fem.report import write_report

    return on_rank0(comm, lambda: write_report(out))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with right-aligned numeric columns."""

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        aligned = [values[0].ljust(widths[0])]
        aligned += [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join(aligned)

    return "\n".join(line(row) for row in [list(headers), *cells])


def line_plot(
    path: Path,
    curves: Sequence[tuple],
    xlabel: str,
    ylabel: str,
    title: str,
    spans: Sequence[tuple[float, float, str]] = (),
    hline: tuple[float, str] | None = None,
    logy: bool = False,
) -> Path:
    """One PNG of labelled curves; ``spans`` shade time windows (pulses, perturbations).

    A curve is ``(x, y, label)`` or ``(x, y, label, style)`` with a matplotlib format
    string such as ``"C0--"``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    shaded = set()
    for start, stop, name in spans:
        colour = "tab:orange" if "tickl" in name or "pulse" in name else "tab:grey"
        ax.axvspan(
            start, stop, alpha=0.12, color=colour, lw=0, label=None if name in shaded else name
        )
        shaded.add(name)
    for x, y, name, *style in curves:
        ax.plot(x, y, *style, label=name, lw=1.6)
    if hline is not None:
        ax.axhline(hline[0], color="k", ls="--", lw=1, label=hline[1])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig, path: Path, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` (its folder made if needed, at the figure's own dpi unless
    ``dpi`` is given), close it and return ``path``."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_result(out: Path, name: str, quick: bool, result: DemoResult, comm: MPI.Comm) -> None:
    """demo.json (numbers, pictures, mode) and table.txt in the demo's directory."""
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        record = {
            "demo": name,
            "mode": "quick" if quick else "full",
            "mpi_size": comm.size,
            "numbers": result.numbers,
            "pictures": [str(p) for p in result.pictures],
        }
        (out / "demo.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
        (out / "table.txt").write_text(result.table + "\n")
    comm.barrier()


def demo_main(name: str, run: Callable[[Path, bool, MPI.Comm], DemoResult], comm: MPI.Comm) -> int:
    """Command-line entry of a demo script: ``python3 demos/NAME.py [--quick] [--out DIR]``,
    run on ``comm`` (the script passes its job's communicator)."""
    description = sys.modules[run.__module__].__doc__
    parser = argparse.ArgumentParser(prog=f"demos/{name}.py", description=description)
    parser.add_argument("--quick", action="store_true", help="coarse and short (CI)")
    parser.add_argument("--out", default=f"bmf-out/demos/{name}", help="output directory")
    args = parser.parse_args()
    out = Path(args.out)
    result = run(out, args.quick, comm)
    write_result(out, name, args.quick, result, comm)
    print0(comm, "\n" + result.table)
    print0(comm, f"\npictures: {len(result.pictures)} in {out}")
    return 0
