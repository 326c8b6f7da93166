"""A BMF run: mesh -> model -> stepper -> outputs -> loop, in one visible pipeline."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from bmf_fem import info
from bmf_fem.buildup import build_up_report
from bmf_fem.errors import ConfigError
from bmf_fem.inputs import build_inputs, input_rate
from bmf_fem.linalg import SolverError
from bmf_fem.meshes import build_mesh
from bmf_fem.metrics import compute_metrics, summarise_history
from bmf_fem.model import BmfModel
from bmf_fem.noise import NoiseSource, dof_keys
from bmf_fem.output import (
    FieldWriter,
    MetricsWriter,
    prepare_run_directory,
    write_json,
    write_text,
)
from bmf_fem.perturbations import PerturbationSchedule, build_perturbations
from bmf_fem.progress import Progress
from bmf_fem.regions import RegionSelector
from bmf_fem.sites import ContinuumSites
from bmf_fem.stepper import Stepper


class SimulationError(RuntimeError):
    """A run that cannot go on (divergence, a failed solve); the message says where."""


class Simulation:
    """Everything a run needs, built (and validated against the mesh) before any output.

    ``sources`` adds forcing to an equation ("u", "m" or "s") as a function of the UFL
    coordinates and time: ``sources={"u": lambda x, t: ufl.sin(t) * x[0]}``.
    """

    def __init__(self, config, comm: MPI.Comm = MPI.COMM_WORLD, sources=None):
        started = time.perf_counter()
        self.config = config
        if config.output.checkpoint_every:
            raise ConfigError(
                "output.checkpoint_every: checkpoints are not available in this version; "
                "set it to 0"
            )
        self.mesh_data = build_mesh(config.mesh.kind, dict(config.mesh.params), comm)
        self.comm = self.mesh_data.mesh.comm
        self.model = model = BmfModel(config, self.mesh_data)
        self.time = fem.Constant(self.mesh_data.mesh, 0.0)
        ufl_sources = None
        if sources:
            import ufl

            x = ufl.SpatialCoordinate(self.mesh_data.mesh)
            ufl_sources = {name: build(x, self.time) for name, build in sources.items()}
        noise = NoiseSource(config.output.seed, dof_keys(model.V))
        self.stepper = Stepper(
            model, config.time.scheme, config.solver, noise, ufl_sources, self.time
        )
        selector = RegionSelector(self.mesh_data, model.V)
        self.inputs = build_inputs(config.inputs, selector, self.comm)
        perturbations = build_perturbations(config.perturbations, selector, self.comm)
        self.schedule = PerturbationSchedule(perturbations, model, self.stepper)
        self.sites = ContinuumSites(model, self.stepper.lumped, self.stepper.n_owned)
        self.n_steps = max(0, math.ceil(config.time.t_end / config.time.dt - 1e-9))
        self.forcing = np.zeros_like(model.u.x.array)
        self.history: list[dict] = []
        self.setup_seconds = time.perf_counter() - started

    @property
    def t(self) -> float:
        return self.stepper.t

    def step(self) -> None:
        """Advance one time step (perturbations, inputs, solves, expression record)."""
        t, dt = self.stepper.t, self.stepper.dt
        extra_noise = self.schedule.before_step(t, dt)
        active = input_rate(self.inputs, t, t + dt, self.forcing)
        where = f"step {self.stepper.step_index + 1} (t = {t + dt:.6g})"
        try:
            self.stepper.step(self.forcing if active else None, extra_noise)
        except SolverError as error:
            raise SimulationError(f"{error} at {where}") from None
        broken = [f.name for f in self.model.unknowns if not np.isfinite(f.x.array.sum())]
        broken = self.comm.allreduce(broken, op=MPI.SUM)
        if broken:
            raise SimulationError(
                f"field {broken[0]} is not finite at {where}; the run diverged: reduce "
                "time.dt, or check reaction, feedback and source for runaway growth"
            )
        self.sites.record(self.stepper.t)

    def metrics(self) -> dict[str, float]:
        row = {"step": self.stepper.step_index, "t": self.stepper.t}
        row.update(
            compute_metrics(
                self.model, self.stepper, self.sites, self.config.memory.scope_threshold
            )
        )
        return row

    def output_functions(self) -> list[fem.Function]:
        model = self.model
        named = {
            "u": [model.u],
            "M": [model.M],
            "phi": [model.phi],
            "s": [model.s],
            "expression_time": [model.expression_time],
            "m": model.memory_modes,
        }
        return [f for name in self.config.output.fields for f in named[name]]

    def run(
        self, out: str | Path | None = None, force: bool = False, progress: bool = True
    ) -> dict:
        """Run to ``time.t_end`` writing fields, metrics and a summary into ``out``."""
        config = self.config
        out = prepare_run_directory(Path(out or config.output.dir), force, self.comm)
        from bmf_fem.config import dump_toml

        write_text(out / "config.toml", dump_toml(config.to_dict()), self.comm)
        every = config.output.every
        started = time.perf_counter()
        with (
            FieldWriter(out / "fields.xdmf", self.mesh_data, self.output_functions()) as fields,
            MetricsWriter(out / "metrics.csv", self.comm) as metrics,
            Progress(self.comm, self.n_steps, config.time.dt, enabled=progress) as bar,
        ):
            self._output(fields, metrics, started)
            for step in range(1, self.n_steps + 1):
                self.step()
                if step % every == 0 or step == self.n_steps:
                    self._output(fields, metrics, started)
                bar.update(step, self.history[-1] if self.history else None)
        run_seconds = time.perf_counter() - started
        summary = self.summary(run_seconds)
        write_json(out / "summary.json", summary, self.comm)
        return summary

    def _output(self, fields: FieldWriter, metrics: MetricsWriter, started: float) -> None:
        row = self.metrics()
        row["wall_s"] = time.perf_counter() - started
        self.history.append(row)
        fields.write(self.stepper.t)
        metrics.write(row)

    def summary(self, run_seconds: float) -> dict:
        """Provenance, timings and results of a finished run (summary.json)."""
        steps = max(self.stepper.step_index, 1)
        return {
            "bmf_fem": info.versions(),
            "git_commit": info.git_commit(),
            "mpi_size": self.comm.size,
            "seed": self.config.output.seed,
            "mesh": self.mesh_data.description,
            "dofs": self.model.V.dofmap.index_map.size_global,
            "timings": {
                "setup_s": self.setup_seconds,
                "run_s": run_seconds,
                "steps": self.stepper.step_index,
                "ms_per_step": 1e3 * run_seconds / steps,
            },
            "final_metrics": self.history[-1] if self.history else {},
            "results": {
                **summarise_history(self.history),
                **build_up_report(self.history, [i.train for i in self.inputs]),
            },
            "config": self.config.to_dict(),
        }

    def close(self) -> None:
        self.stepper.destroy()
