"""``bmf run``: a configuration run, started afresh or resumed from its last checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bmf_fem.cli.report import make_movie, make_plots

if TYPE_CHECKING:
    from mpi4py import MPI

    from bmf_fem.config import Config


def load(args: argparse.Namespace) -> Config:
    """The configuration named on the command line (or the built-in demo)."""
    from bmf_fem.config import load_config
    from bmf_fem.demos import demo_path

    return load_config(getattr(args, "config", None) or demo_path(), overrides=args.overrides)


def command_run(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from bmf_fem.control import run_with_detection
    from bmf_fem.demo_table import demo_table
    from bmf_fem.output import check_run_directory, refuse_old_results
    from bmf_fem.parallel import print0
    from bmf_fem.runlock import run_lock

    stored = Path(args.out or ".") / "config.toml"
    if args.resume and args.config is None and args.out and stored.is_file():
        from bmf_fem.config import load_config

        # The resolved configuration the run was started with (its --set included).
        config = load_config(stored, overrides=args.overrides)
    else:
        config = load(args)
    out = Path(args.out or config.output.dir)
    check_run_directory(out)
    with run_lock(out, comm):  # before anything in the directory is written
        if args.resume:
            from bmf_fem.resume import plan_resume

            # A calibrated threshold is known only after the null runs; the run compares it.
            calibrated = calibrated_keys(config)
            plan = plan_resume(out, config, comm, ignore=calibrated)
            if plan.kind == "finished":
                print0(comm, f"bmf run: {out} is finished (summary.json); nothing to resume")
                return 0
            if plan.kind == "checkpoint":
                state = plan.state
                print0(
                    comm,
                    f"bmf run: resuming {out} from step {state['step']} (t = {state['t']:.6g}, "
                    f"written on {state['mpi_size']} rank(s))",
                )
            else:
                print0(comm, f"bmf run: no checkpoint in {out}; starting at t = 0")
        else:
            refuse_old_results(out, args.force)

        def header(simulation) -> None:
            dofs = simulation.model.V.dofmap.index_map.size_global
            print0(
                comm,
                f"bmf run: {simulation.mesh_data.description}; {dofs} dofs per field, "
                f"{simulation.n_steps} steps on {comm.size} rank(s)",
            )

        summary = run_with_detection(
            config,
            out,
            comm,
            force=args.force,
            progress=not args.quiet,
            resume=args.resume,
            on_start=header,
        )
    final = summary["final_metrics"]
    print0(
        comm,
        f"bmf run: done in {summary['timings']['run_s']:.1f} s "
        f"({summary['timings']['ms_per_step']:.1f} ms/step); t={final.get('t', 0):.4g} "
        f"u_max={final.get('u_max', 0):.4g} scope={final.get('scope', 0):.4g} "
        f"expressed={final.get('expressed_fraction', 0):.3g}; "
        f"fields in {out / 'fields.xdmf'}",
    )
    if not args.quiet:
        print0(comm, demo_table(summary))
    if not args.no_plots:
        make_plots(out, comm)
    if args.movie:
        make_movie(out, "mp4", None, comm)
    return 0


def calibrated_keys(config: Config) -> tuple[str, ...]:
    """The [detect] keys calibration sets (a resume compares the others)."""
    from bmf_fem.detectors import DETECTORS

    if not config.detect.calibration_runs:
        return ()
    keys = (DETECTORS[name].threshold_key for name in config.detect.detectors)
    return tuple(f"detect.{key}" for key in keys if key)
