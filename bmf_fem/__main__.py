"""The ``bmf`` program (``bmf ...`` or ``python3 -m bmf_fem ...``): the command line run
on the job's own communicator, every rank started by mpirun."""

from __future__ import annotations

import signal
import sys

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class StoppedOutsideSteps(KeyboardInterrupt):
    """A stop signal before the time loop began (imports, mesh, set-up) or after it ended."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


_received: list[int] = []


def _stop(signum, frame) -> None:
    _received.append(signum)
    raise StoppedOutsideSteps(signum)


def main() -> int:
    # From the first line on, a stop signal ends the program with a message; the run's
    # time loop replaces these handlers by its own (checkpoint, then stop).
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)
    try:
        from mpi4py import MPI

        from bmf_fem.cli import main as run_command

        return run_command(sys.argv[1:], MPI.COMM_WORLD)
    except BaseException:
        # Some imports turn the exception into another (dolfinx's into ImportError).
        if not _received:
            raise
        name = signal.Signals(_received[0]).name
        print(
            f"bmf: stopped by {name} outside the time loop; the last complete checkpoint "
            "(if any) is kept, continue with --resume",
            file=sys.stderr,
            flush=True,
        )
        return 128 + _received[0]


if __name__ == "__main__":
    sys.exit(main())
