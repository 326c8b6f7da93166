"""The ``bmf`` command line. Works the same under ``mpirun -n N``; rank 0 prints.

`main` runs one command and turns the errors a user can act on into exit codes; the
parser is in `bmf_fem.cli.parser` and each command's handler in its own module (run,
demo, check, report, batch: sweep and convergence, tools: mesh and info).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bmf_fem.cli.disk import disk_full_file
from bmf_fem.cli.parser import build_parser

if TYPE_CHECKING:
    from mpi4py import MPI

__all__ = [
    "EXIT_DISK_FULL",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "build_parser",
    "disk_full_file",
    "main",
]

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_DISK_FULL = 3  # no space left on device; the last complete checkpoint is kept


def main(argv: list[str] | None, comm: MPI.Comm) -> int:
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
