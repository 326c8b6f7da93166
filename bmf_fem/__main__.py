"""The ``bmf`` program (``bmf ...`` or ``python3 -m bmf_fem ...``): the command line run
on the job's own communicator, every rank started by mpirun."""

from __future__ import annotations

import sys


def main() -> int:
    from mpi4py import MPI

    from bmf_fem.cli import main as run_command

    return run_command(sys.argv[1:], MPI.COMM_WORLD)


if __name__ == "__main__":
    sys.exit(main())
