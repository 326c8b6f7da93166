"""``bmf check``: a configuration validated, its region names and resolution checked."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bmf_fem.cli.run import load

if TYPE_CHECKING:
    from mpi4py import MPI

    from bmf_fem.config import Config


def command_check(args: argparse.Namespace, comm: MPI.Comm) -> int:
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


def check_region_names(config: Config, comm: MPI.Comm) -> None:
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
