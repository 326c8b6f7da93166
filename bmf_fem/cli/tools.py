"""``bmf mesh`` and ``bmf info``: a mesh built and written, the environment described."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mpi4py import MPI


def command_mesh(args: argparse.Namespace, comm: MPI.Comm) -> int:
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


def command_info(args: argparse.Namespace, comm: MPI.Comm) -> int:
    from bmf_fem.info import report
    from bmf_fem.parallel import print0

    text = report(comm)
    print0(comm, text)
    return 0
