"""``bmf demo``: the shipped demos listed, a configuration demo run, or a scripted scenario."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bmf_fem.cli.report import make_plots

if TYPE_CHECKING:
    from mpi4py import MPI


def command_demo(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from bmf_fem.config import load_config
    from bmf_fem.control import run_with_detection
    from bmf_fem.demo_table import demo_table
    from bmf_fem.demos import QUICK, demo_description, demo_names, demo_path, scripted_names
    from bmf_fem.errors import ConfigError
    from bmf_fem.output import check_run_directory
    from bmf_fem.parallel import print0
    from bmf_fem.runlock import run_lock

    names = demo_names()
    scripted = scripted_names()
    if not args.name:
        print0(comm, "scenarios (scripts; --quick for a short coarse run):")
        for name in scripted:
            print0(comm, f"  {name:<20} {demo_description(name)}")
        print0(comm, "configurations (TOML files run by bmf run; --quick: a coarser mesh):")
        for name in names:
            print0(comm, f"  {name:<20} {demo_description(name)}")
        print0(comm, "run one with: bmf demo NAME")
        return 0
    if args.name in scripted:
        return run_scripted_demo(args, comm)
    if args.name not in names:
        every = ", ".join([*scripted, *names])
        raise ConfigError(f"no demo {args.name!r}; the demos are: {every}")
    quick = list(QUICK[args.name]) if args.quick else []
    config = load_config(demo_path(args.name), overrides=[*quick, *(args.overrides or [])])
    out = Path(args.out or f"bmf-out/{args.name}")
    check_run_directory(out)
    if quick:
        print0(comm, f"bmf demo {args.name} --quick: --set {' '.join(quick)}")
    with run_lock(out, comm):
        summary = run_with_detection(config, out, comm, force=True, progress=not args.quiet)
    print0(comm, f"bmf demo {args.name}: {summary['mesh']}; results in {out}\n")
    print0(comm, demo_table(summary))
    make_plots(out, comm)
    return 0


def run_scripted_demo(args: argparse.Namespace, comm: MPI.Comm) -> int:
    """Run a scenario script's ``run(out, quick, comm)``; print its table."""
    from bmf_fem.demos import load_demo
    from bmf_fem.demos.common import write_result
    from bmf_fem.errors import ConfigError
    from bmf_fem.parallel import print0

    if args.overrides:
        raise ConfigError(
            f"--set does not apply to the scripted demo {args.name!r}; copy the script "
            f"(demos/{args.name}.py) and change it, or run a configuration with bmf run"
        )
    out = Path(args.out or f"bmf-out/{args.name}")
    mode = "quick" if args.quick else "full"
    print0(comm, f"bmf demo {args.name} ({mode}, {comm.size} rank(s)) -> {out}")
    result = load_demo(args.name).run(out, args.quick, comm)
    write_result(out, args.name, args.quick, result, comm)
    print0(comm, "\n" + result.table)
    print0(comm, f"\n{len(result.pictures)} pictures in {out}")
    return 0
