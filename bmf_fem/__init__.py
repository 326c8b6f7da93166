"""bmf-fem: finite elements for the Base Morphic Field model.

Scripts use ``load_config`` and ``Simulation``, on the communicator they choose (every
rank of the job, or one group of a split for a sweep; docs/python.md has whole scripts)::

    from bmf_fem import load_config, Simulation
    Simulation(load_config("run.toml"), comm).run("out")
"""

from __future__ import annotations

from bmf_fem.version import __version__

__all__ = ["Simulation", "__version__", "config_from_dict", "load_config"]


def __getattr__(name: str):
    # Imported on first use: `import bmf_fem` stays light (no dolfinx, no MPI).
    if name in ("load_config", "config_from_dict"):
        from bmf_fem import config

        return getattr(config, name)
    if name == "Simulation":
        from bmf_fem.simulation import Simulation

        return Simulation
    raise AttributeError(f"module 'bmf_fem' has no attribute {name!r}")
