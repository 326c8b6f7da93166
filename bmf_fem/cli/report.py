"""``bmf report``: the pictures, movies and summary table of a finished run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mpi4py import MPI


def make_plots(out: Path, comm: MPI.Comm) -> None:
    """The run's pictures, drawn on rank 0; a failure to draw never fails the run."""
    from bmf_fem.parallel import on_rank0, print0
    from bmf_fem.report import write_report

    def draw() -> str:
        try:
            return f"bmf: {len(write_report(out))} pictures in {out / 'plots'}"
        except Exception as error:
            return f"bmf: warning: no pictures ({error})"

    message = on_rank0(comm, draw)
    print0(comm, message, file=sys.stderr if "warning" in message else None)


def command_report(args: argparse.Namespace, comm: MPI.Comm) -> int:
    import json

    from bmf_fem.demo_table import demo_table
    from bmf_fem.errors import ConfigError
    from bmf_fem.parallel import print0

    out = Path(args.run_dir)
    if not (out / "summary.json").exists():
        raise ConfigError(f"{out} is not a finished run directory (no summary.json)")
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"{out / 'summary.json'} cannot be read ({error}); a finished run directory holds"
            " the summary.json bmf run wrote"
        ) from None
    if not isinstance(summary, dict):
        raise ConfigError(f"{out / 'summary.json'} is not a JSON object as bmf run writes it")
    if args.stride is not None and args.stride < 1:
        raise ConfigError(f"--stride {args.stride} is not valid: give an integer >= 1")
    make_plots(out, comm)
    for kind in ("mp4", "gif"):
        if getattr(args, "movie" if kind == "mp4" else kind):
            make_movie(out, kind, args.stride, comm)
    print0(comm, demo_table(summary))
    return 0


def make_movie(out: Path, kind: str, stride: int | None, comm: MPI.Comm) -> None:
    """A movie of the run's fields, on rank 0 (bmf_fem.movie); a failure is reported and
    exits 1 without touching the run's other files."""
    from bmf_fem.movie import MovieError, print_progress, write_movie
    from bmf_fem.parallel import on_rank0, print0

    def render() -> str:
        try:
            path = write_movie(out, kind, stride, print_progress)
        except MovieError as error:
            return f"error: {error}"
        return f"bmf: movie {path}"

    message = on_rank0(comm, render)
    if message.startswith("error: "):
        raise MovieError(message.removeprefix("error: "))
    print0(comm, message)
