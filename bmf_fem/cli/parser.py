"""The ``bmf`` argument parser: one subcommand per handler, each handler in its command module."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any

from bmf_fem.cli.batch import command_convergence, command_sweep
from bmf_fem.cli.check import command_check
from bmf_fem.cli.demo import command_demo
from bmf_fem.cli.report import command_report
from bmf_fem.cli.run import command_run
from bmf_fem.cli.tools import command_info, command_mesh


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser whose epilog may be written only when its help is shown (the
    mesh kinds come from the geometry registry, whose import no other use of `bmf` needs)."""

    def __init__(
        self, *args: Any, epilog_on_help: Callable[[], str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_on_help = epilog_on_help

    def format_help(self) -> str:
        if self.epilog_on_help is not None:
            self.epilog = self.epilog_on_help()
        return super().format_help()


def mesh_kinds() -> str:
    """The registered mesh kinds, each with the first line of its module's docstring."""
    from bmf_fem.meshes.parameters import KINDS

    lines = ["mesh kinds (docs/geometry.md has their keys):"]
    for kind, module in KINDS.items():
        summary = (inspect.getdoc(module) or "").partition("\n")[0]
        lines.append(f"  {kind:<8} {summary.removeprefix(f'`{kind}`: ')}")
    return "\n".join(lines)


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
    """The parser of every ``bmf`` command; each subcommand names its handler."""
    parser = argparse.ArgumentParser(
        prog="bmf", description="bmf-fem: the Base Morphic Field model on FEniCSx."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)

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

    mesh = commands.add_parser(
        "mesh",
        help="build a mesh and write it (.msh or .xdmf)",
        epilog_on_help=mesh_kinds,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mesh.add_argument("kind", help="one of the mesh kinds listed below")
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
