"""An exclusive lock on a run directory for the life of a run (``D/.lock``).

Rank 0 takes ``fcntl.flock`` on ``D/.lock`` and writes its pid, host and start time
into it; the other ranks learn the outcome by broadcast, so all ranks go on or all
refuse. The kernel releases a flock when its process ends in any way (``kill -9``
included), so a lock file left by a dead process is never mistaken for a live one.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from mpi4py import MPI

from bmf_fem.errors import ConfigError

LOCK_FILE = ".lock"


class DirectoryInUseError(ConfigError):
    """Another live process holds the lock of a run directory."""


def _holder(handle) -> str:
    handle.seek(0)
    try:
        owner = json.loads(handle.read() or "{}")
    except ValueError:
        owner = {}
    if not owner:
        return "another process"
    return f"pid {owner.get('pid')} on {owner.get('host')} since {owner.get('since')}"


def _acquire(directory: Path):
    """The open, locked lock file, or the description of its holder (rank 0)."""
    directory.mkdir(parents=True, exist_ok=True)  # the only write before the lock
    descriptor = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    handle = os.fdopen(descriptor, "r+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(handle)
        handle.close()
        return holder
    since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(owner) + "\n")
    handle.flush()
    return handle


@contextlib.contextmanager
def run_lock(directory: str | Path, comm: MPI.Comm) -> Iterator[None]:
    """Hold the lock of ``directory`` for the duration (collective).

    Raises DirectoryInUseError on every rank when another process holds it.
    """
    directory = Path(directory)
    created = comm.rank == 0 and not directory.exists()
    held = None
    outcome: str | None = None
    if comm.rank == 0:
        try:
            result = _acquire(directory)
        except OSError as error:
            result = OSError(f"cannot lock {directory / LOCK_FILE}: {error.strerror}")
        if isinstance(result, OSError):
            outcome = str(result)
        elif isinstance(result, str):
            outcome = f"{directory} is in use by {result}; wait for that run to end"
        else:
            held = result
    outcome = comm.bcast(outcome, root=0)
    if outcome is not None:
        raise DirectoryInUseError(outcome)
    try:
        yield
    finally:
        if held is not None:
            if created and [p.name for p in directory.iterdir()] == [LOCK_FILE]:
                # Nothing was written (a refused configuration): leave no directory.
                with contextlib.suppress(OSError):
                    (directory / LOCK_FILE).unlink()
                    directory.rmdir()
            fcntl.flock(held, fcntl.LOCK_UN)
            held.close()
