"""``bmf sweep`` and ``bmf convergence``: commands that run a configuration many times."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bmf_fem.cli.run import load

if TYPE_CHECKING:
    from mpi4py import MPI


def command_sweep(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from bmf_fem.errors import ConfigError
    from bmf_fem.sweep import load_sweep, run_sweep

    index, _, count = args.part.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ConfigError(f"--part {args.part} is not valid: give I/N with 0 <= I < N, e.g. 0/4")
    spec = load_sweep(args.sweep, out=args.out)
    return run_sweep(
        spec,
        comm,
        ranks_per_case=args.ranks_per_case,
        retry_failed=args.retry_failed,
        list_only=args.list,
        quiet=args.quiet,
        part=(int(index), int(count)),
    )


def command_convergence(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from bmf_fem.convergence import run_convergence
    from bmf_fem.demos import demo_path
    from bmf_fem.errors import ConfigError
    from bmf_fem.parallel import print0

    if not args.threshold > 0:
        raise ConfigError(
            f"--threshold {args.threshold:g} is not valid: give a percentage > 0, e.g. 3"
        )
    path = args.config or demo_path()
    config = load(args)
    out = Path(args.out or f"{config.output.dir}-convergence")

    def report(text: str) -> None:
        warning = text.startswith("warning")
        print0(comm, f"bmf convergence: {text}", file=sys.stderr if warning else None)

    _rows, table = run_convergence(path, args.overrides, out, comm, args.threshold, report)
    print0(comm, table)
    return 0
