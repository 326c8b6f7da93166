"""The ``bmf`` command line. Works the same under ``mpirun -n N``; rank 0 prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_DISK_FULL = 3  # no space left on device; the last complete checkpoint is kept


def disk_full_file(error: BaseException) -> str | None:
    """The file a write failed on for lack of space ("" when unknown); None otherwise."""
    import errno
    import re

    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(error.filename or "")
    text = str(error)
    if isinstance(error, RuntimeError) and (
        "No space left on device" in text or "errno 28" in text.lower()
    ):
        match = re.search(r"(/[^\s'\"]+)", text)
        return match.group(1) if match else ""
    # Writers that do not pass errno on (ADIOS2: "couldn't close file F"): the file
    # system of the file they name has no space left.
    named = getattr(error, "filename", None) or next(iter(re.findall(r"(/[^\s'\",]+)", text)), None)
    if isinstance(error, OSError | RuntimeError) and named:
        return named if _full(named) else None
    return None


def _full(path: str) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing parent) is full."""
    import os

    place = Path(path)
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        stat = os.statvfs(place)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 64 * 1024


def main(argv: list[str] | None, comm) -> int:
    """Run the bmf command ``argv`` on ``comm``; the exit code (the program is
    ``bmf_fem.__main__``, which passes the job's communicator)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from bmf_fem.errors import ConfigError
    from bmf_fem.meshes import MeshError
    from bmf_fem.movie import MovieError
    from bmf_fem.signals import RunInterruptedError, SecondSignal
    from bmf_fem.simulation import SimulationError

    try:
        return args.handler(args, comm) or 0
    except (ConfigError, MeshError) as error:
        if comm.rank == 0:
            print(f"bmf {args.command}: error: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except (SimulationError, MovieError) as error:
        if comm.rank == 0:
            print(f"bmf {args.command}: failed: {error}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except (OSError, RuntimeError) as error:
        where = disk_full_file(error)
        if where is None:
            raise
        print(
            f"bmf {args.command}: error: no space left on device while writing "
            f"{where or 'the output'} (rank {comm.rank}); the last complete checkpoint is kept",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_DISK_FULL
    except RunInterruptedError as error:
        if comm.rank == 0:
            print(f"bmf {args.command}: {error}", file=sys.stderr, flush=True)
        return error.exit_code
    except SecondSignal as error:
        print(
            f"bmf {args.command}: stopped at once by a second {error} (rank {comm.rank}); "
            "the last complete checkpoint is kept, continue with --resume",
            file=sys.stderr,
            flush=True,
        )
        return 128 + error.signum


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """The repeatable ``--set section.key=value`` option."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one key (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bmf", description="bmf-fem: the Base Morphic Field model on FEniCSx."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run a configuration (no CONFIG: the crystal tickling demo)"
    )
    run.add_argument("config", nargs="?", help="TOML configuration file")
    run.add_argument("--out", help="run directory (default: output.dir)")
    add_overrides(run)
    again = run.add_mutually_exclusive_group()
    again.add_argument("--force", action="store_true", help="overwrite an old run directory")
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the directory from its last checkpoint (same config; "
        "without CONFIG, DIR/config.toml of --out DIR)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--no-plots", action="store_true", help="skip the pictures in DIR/plots")
    run.add_argument("--movie", action="store_true", help="also DIR/plots/fields.mp4 at the end")
    run.set_defaults(handler=command_run)

    sweep = commands.add_parser(
        "sweep", help="a batch of runs: a base config, a grid of overrides, seeds"
    )
    sweep.add_argument("sweep", help="sweep file (TOML, see docs/batch.md)")
    sweep.add_argument("--out", help="sweep directory (default: the file's `out`)")
    sweep.add_argument(
        "--ranks-per-case",
        type=int,
        default=0,
        metavar="K",
        help="split the MPI ranks into groups of K that run cases concurrently "
        "(default: all ranks on each case)",
    )
    sweep.add_argument("--retry-failed", action="store_true", help="run failed cases again")
    sweep.add_argument(
        "--list", action="store_true", help="list the cases and their status, run nothing"
    )
    sweep.add_argument(
        "--part",
        default="0/1",
        metavar="I/N",
        help="run only the cases whose index is I modulo N (0 <= I < N): one share per "
        "job of a job array",
    )
    sweep.add_argument("--quiet", action="store_true", help="no line per case")
    sweep.set_defaults(handler=command_sweep)

    check = commands.add_parser("check", help="validate a configuration, build nothing")
    check.add_argument("config")
    add_overrides(check)
    check.set_defaults(handler=command_check)

    convergence = commands.add_parser(
        "convergence",
        help="is the mesh fine enough? the run again at h/2 and at dt/2, results compared",
    )
    convergence.add_argument("config", nargs="?", help="TOML configuration file")
    convergence.add_argument(
        "--out", help="directory of the three runs (default: output.dir + '-convergence')"
    )
    add_overrides(convergence)
    convergence.add_argument(
        "--threshold",
        type=float,
        default=3.0,
        metavar="PERCENT",
        help="flag results that change by more than this (default: 3)",
    )
    convergence.set_defaults(handler=command_convergence)

    mesh = commands.add_parser("mesh", help="build a mesh and write it (.msh or .xdmf)")
    mesh.add_argument("kind", help="crystal, web, tissue, box or file")
    mesh.add_argument(
        "params",
        nargs="*",
        metavar="KEY=VALUE",
        help="geometry parameters, e.g. shape=snowflake h=0.02",
    )
    mesh.add_argument("--out", required=True, help="output file (.msh or .xdmf)")
    mesh.set_defaults(handler=command_mesh)

    demo = commands.add_parser("demo", help="list the shipped demos, or run one")
    demo.add_argument("name", nargs="?", help="demo to run (none: list them)")
    demo.add_argument("--out", help="output directory (default: bmf-out/NAME, overwritten)")
    demo.add_argument(
        "--quick", action="store_true", help="coarse mesh (scripts: short times too); seconds"
    )
    add_overrides(demo)
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(handler=command_demo)

    report = commands.add_parser("report", help="pictures and a short summary of a finished run")
    report.add_argument("run_dir", metavar="DIR", help="a run directory")
    report.add_argument("--movie", action="store_true", help="DIR/plots/fields.mp4 of the fields")
    report.add_argument("--gif", action="store_true", help="DIR/plots/fields.gif of the fields")
    report.add_argument(
        "--stride",
        type=int,
        help="every N-th output time in a movie (default: at most 300 frames)",
    )
    report.set_defaults(handler=command_report)

    show = commands.add_parser("info", help="versions, BLAS in use, MPI and threads")
    show.set_defaults(handler=command_info)
    return parser


def load(args) -> object:
    """The configuration named on the command line (or the built-in demo)."""
    from bmf_fem.config import load_config
    from bmf_fem.demos import demo_path

    return load_config(getattr(args, "config", None) or demo_path(), overrides=args.overrides)


def command_run(args, comm) -> int:
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
            from bmf_fem.checkpoint import plan_resume

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


def calibrated_keys(config) -> tuple[str, ...]:
    """The [detect] keys calibration sets (a resume compares the others)."""
    from bmf_fem.detectors import DETECTORS

    if not config.detect.calibration_runs:
        return ()
    keys = (DETECTORS[name].threshold_key for name in config.detect.detectors)
    return tuple(f"detect.{key}" for key in keys if key)


def command_sweep(args, comm) -> int:
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


def command_demo(args, comm) -> int:
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


def run_scripted_demo(args, comm) -> int:
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


def make_plots(out: Path, comm) -> None:
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


def command_report(args, comm) -> int:
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


def make_movie(out: Path, kind: str, stride: int | None, comm) -> None:
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


def command_check(args, comm) -> int:
    from bmf_fem.parallel import print0
    from bmf_fem.resolution import configured_cell_size, resolution_warnings

    config = load(args)
    check_region_names(config, comm)
    print0(
        comm,
        f"{args.config}: valid ({len(config.inputs)} input(s), "
        f"{len(config.perturbations)} perturbation(s), t_end={config.time.t_end})",
    )
    cell_size = configured_cell_size(config)
    if cell_size is None:
        print0(comm, 'resolution: not checked (mesh.kind = "file"); bmf run checks the mesh')
        return 0
    for message in resolution_warnings(config, cell_size):
        print0(comm, f"bmf check: warning: {message}", file=sys.stderr)
    return 0


def check_region_names(config, comm) -> None:
    """Build the mesh when the configuration names regions, and refuse names it lacks."""
    from bmf_fem.errors import ConfigError
    from bmf_fem.meshes import MeshError, build_mesh

    named = [
        (f"input.{i}.region", getattr(item, "region", "")) for i, item in enumerate(config.inputs)
    ]
    named += [(f"perturbation.{i}.region", p.region) for i, p in enumerate(config.perturbations)]
    named = [(key, name) for key, name in named if name]
    if not named:
        return
    mesh_data = build_mesh(config.mesh.kind, dict(config.mesh.params), comm)
    for key, name in named:
        try:
            mesh_data.region_values(name)
        except MeshError as error:
            raise ConfigError(f"{key}: {error}") from None


def command_convergence(args, comm) -> int:
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


def command_mesh(args, comm) -> int:
    from bmf_fem.config import parse_value
    from bmf_fem.errors import ConfigError
    from bmf_fem.meshes import write_mesh
    from bmf_fem.parallel import print0

    params = {}
    for item in args.params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"mesh parameter {item!r} is not KEY=VALUE")
        params[key.strip()] = parse_value(value.strip())
    report = write_mesh(args.kind, params, Path(args.out), comm)
    print0(comm, report)
    return 0


def command_info(args, comm) -> int:
    from bmf_fem.info import report
    from bmf_fem.parallel import print0

    text = report(comm)
    print0(comm, text)
    return 0
