"""A BMF run: mesh -> model -> stepper -> outputs -> loop, in one visible pipeline."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from bmf_fem import info
from bmf_fem.buildup import build_up_report
from bmf_fem.checkpoint import (
    CheckpointState,
    config_data,
    config_hash,
    mesh_fingerprint,
    plan_resume,
    restore_checkpoint,
    write_checkpoint,
)
from bmf_fem.detect import Detection
from bmf_fem.divergence import DivergenceError, RunawayWatch
from bmf_fem.inputs import build_inputs, input_rate
from bmf_fem.linalg import SolverError
from bmf_fem.mesh_reuse import mesh_for
from bmf_fem.metrics import TRACE_COLUMNS, compute_metrics, summarise_history, trace_row
from bmf_fem.model import BmfModel
from bmf_fem.noise import NoiseSource, dof_keys
from bmf_fem.output import prepare_run_directory, write_json
from bmf_fem.parallel import print0
from bmf_fem.perturbations.schedule import PerturbationSchedule, build_perturbations
from bmf_fem.progress import Progress
from bmf_fem.regions import RegionSelector
from bmf_fem.resolution import summary_entries
from bmf_fem.signals import RunInterruptedError, stop_signals
from bmf_fem.sites import CellSites, ContinuumSites
from bmf_fem.stepper import Stepper
from bmf_fem.writers import WRITERS


class SimulationError(RuntimeError):
    """A run that cannot go on (divergence, a failed solve); the message says where."""


class Simulation:
    """Everything a run needs, built (and validated against the mesh) before any output.

    ``sources`` adds forcing to an equation ("u", "m" or "s") as a function of the UFL
    coordinates and time: ``sources={"u": lambda x, t: ufl.sin(t) * x[0]}``.
    """

    def __init__(self, config, comm: MPI.Comm, sources=None):
        started = time.perf_counter()
        self.config = config
        self.mesh_data = mesh_for(config.mesh.kind, dict(config.mesh.params), comm)
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
        if model.cells_mode:
            self.sites = CellSites(model, self.mesh_data, config.output.seed)
        else:
            self.sites = ContinuumSites(model, self.stepper.lumped, self.stepper.n_owned)
        self.watch = RunawayWatch(config, model, self.sites, model.site_stabilisation)
        self.stepper.watch = self.watch
        perturbations = build_perturbations(config.perturbations, selector, self.comm)
        self.schedule = PerturbationSchedule(perturbations, model, self.stepper, self.sites)
        self.detection = None
        if config.detect.detectors:
            self.detection = Detection(
                config.detect, self.sites, config.time.dt, config.time.t_end, self.comm
            )
        self.n_steps = max(0, math.ceil(config.time.t_end / config.time.dt - 1e-9))
        self.forcing = np.zeros_like(model.u.x.array)
        self.history: list[dict] = []
        self.trace: list[tuple[float, ...]] = []  # TRACE_COLUMNS after every step
        self.run_seconds_before = 0.0
        self.output_seconds = 0.0  # writing the field series, in this process
        self.writers: list = []  # the outputs of the current run() (bmf_fem.writers)
        self.resumed_from: list[int] = []
        self._started: float | None = None
        self.setup_seconds = time.perf_counter() - started

    @property
    def t(self) -> float:
        return self.stepper.t

    def step(self) -> None:
        """Advance one time step (perturbations, inputs, solves, expression record)."""
        t, dt = self.stepper.t, self.stepper.dt
        extra_noise = self.schedule.before_step(t, dt)
        if self.schedule.reset_sites is not None and self.detection is not None:
            self.detection.new_episode(self.schedule.reset_sites, t)
        active = input_rate(self.inputs, t, t + dt, self.forcing)
        where = f"step {self.stepper.step_index + 1} (t = {t + dt:.6g})"
        try:
            self.sites.advance(self.stepper.step_index, dt)
            self.stepper.step(self.forcing if active else None, extra_noise)
        except DivergenceError as error:
            raise SimulationError(f"{error} (before {where})") from None
        except SolverError as error:
            raise SimulationError(f"{self.watch.explain(t, str(error))} at {where}") from None
        self.sites.record(self.stepper.t)
        if self.detection is not None:
            self.detection.update(self.stepper.step_index, self.stepper.t)
        self.trace.append(self.trace_row())

    def trace_row(self) -> tuple[float, ...]:
        """This step's TRACE_COLUMNS (collective)."""
        threshold = self.config.memory.scope_threshold
        return trace_row(self.model, self.stepper, self.sites, threshold)

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
        self,
        out: str | Path | None = None,
        force: bool = False,
        progress: bool = True,
        resume: bool = False,
        on_step: Callable[[Simulation], None] | None = None,
        write_summary: bool = True,
    ) -> dict:
        """Run to ``time.t_end`` writing fields, metrics and a summary into ``out``.

        ``write_summary=False`` leaves summary.json (the mark of a finished run) to the
        caller, which adds to the summary first (bmf_fem.control).

        ``on_step(simulation)`` is called after every step (probes, distances, custom
        records in scripts); it must be called on every rank and may be collective.

        With ``resume`` a run directory holding a checkpoint continues from it (the
        configuration must be the one it was written with), a finished one is left as
        it is (its summary is returned) and anything else starts at t = 0.
        """
        config = self.config
        out = Path(out or config.output.dir)
        plan = plan_resume(out, config, self.comm) if resume else None
        if plan is not None and plan.kind == "finished":
            return plan.summary
        restoring = plan is not None and plan.kind == "checkpoint"
        fresh_over_partial = plan is not None and plan.kind == "fresh"
        out = prepare_run_directory(out, force or fresh_over_partial, self.comm, keep=restoring)
        if restoring:
            self.restore(plan.state)
        every = config.output.every
        checkpoint_every = config.output.checkpoint_every
        started = time.perf_counter() - self.run_seconds_before
        self._started = started
        first = self.stepper.step_index + 1
        self.writers = [cls(self, out) for cls in WRITERS if cls.wanted(self)]
        finished = False
        with (
            stop_signals() as stop,
            contextlib.ExitStack() as opened,
            Progress(self.comm, self.n_steps, config.time.dt, enabled=progress) as bar,
        ):
            for writer in self.writers:
                writer.open(restoring)
                opened.callback(lambda writer=writer: writer.close(finished))
            if not restoring:
                self.trace = [self.trace_row()]
                self._output(started)
            for step in range(first, self.n_steps + 1):
                self.step()
                if step % every == 0 or step == self.n_steps:
                    self._output(started)
                if on_step is not None:
                    on_step(self)
                bar.update(step, self.history[-1] if self.history else None)
                if step < self.n_steps:
                    self._checkpoint_if_due(out, step, checkpoint_every, stop)
            try:
                self.watch.before_solves(self.stepper.t)  # the final state
            except DivergenceError as error:
                raise SimulationError(f"{error} (the final state)") from None
            summary = self.summary(time.perf_counter() - started)
            finished = True
        if write_summary:
            write_json(out / "summary.json", summary, self.comm)
        return summary

    def _checkpoint_if_due(self, out: Path, step: int, every: int, stop) -> None:
        """Checkpoint every ``every`` steps; on a stop signal checkpoint and stop."""
        checkpoint = None
        if every and step % every == 0:
            checkpoint = self._checkpoint(out)
        signum = stop.requested(self.comm)
        if signum:
            checkpoint = checkpoint or self._checkpoint(out)
            raise RunInterruptedError(signum, step, self.stepper.t, checkpoint)

    def _checkpoint(self, out: Path) -> Path:
        """A checkpoint, with every output brought up to it (detection.h5)."""
        for writer in self.writers:
            writer.checkpoint()
        return self.write_checkpoint(out)

    def checkpoint_components(self) -> dict[str, object]:
        """The parts of the run whose state a checkpoint holds (bmf_fem.checkpoint)."""
        components = {
            "run": self,
            "model": self.model,
            "stepper": self.stepper,
            "perturbations": self.schedule,
        }
        for name in ("sites", "detection"):
            part = getattr(self, name, None)
            parts = part if isinstance(part, list | tuple) else [part]
            for index, item in enumerate(parts):
                if hasattr(item, "checkpoint_state"):
                    key = name if len(parts) == 1 else f"{name}.{index}"
                    components[key] = item
        return components

    def checkpoint_state(self) -> CheckpointState:
        """The run's own state: metric rows so far and the run time spent on them."""
        elapsed = time.perf_counter() - self._started if self._started is not None else 0.0
        return CheckpointState(
            values={
                "history": self.history,
                "trace": self.trace,
                "run_seconds": elapsed,
                "resumed_from": self.resumed_from,
            }
        )

    def restore_checkpoint(self, state: CheckpointState) -> None:
        self.history = [dict(row) for row in state.values["history"]]
        columns = TRACE_COLUMNS
        rows = state.values.get("trace") or [[r[c] for c in columns] for r in self.history]
        self.trace = [tuple(row) for row in rows]
        self.run_seconds_before = float(state.values["run_seconds"])
        self.resumed_from = list(state.values["resumed_from"])

    def write_checkpoint(self, out: str | Path) -> Path:
        """Write a checkpoint of the current step into ``out/checkpoint`` (collective)."""
        meta = {
            "step": self.stepper.step_index,
            "t": self.stepper.t,
            "dt": self.stepper.dt,
            "n_steps": self.n_steps,
            "mpi_size": self.comm.size,
            "config_hash": config_hash(self.config),
            "config": config_data(self.config),
            "noise": {"seed": self.config.output.seed, "step": self.stepper.step_index},
            "mesh": mesh_fingerprint(self.mesh_data.mesh),
        }
        return write_checkpoint(Path(out), self.checkpoint_components(), meta, self.mesh_data.mesh)

    def restore(self, state: dict) -> None:
        """Continue from checkpoint ``state`` (``plan_resume(...).state``; collective)."""
        restore_checkpoint(state, self.checkpoint_components(), self.mesh_data.mesh)
        self.resumed_from.append(self.stepper.step_index)
        unsaved = self._unsaved_parts()
        if unsaved:
            print0(
                self.comm,
                f"bmf run: warning: checkpoints do not hold the state of {', '.join(unsaved)} "
                "yet; its results after the resume differ from an uninterrupted run's",
                file=sys.stderr,
            )

    def _unsaved_parts(self) -> list[str]:
        """Parts with state of their own that lack the checkpoint hook (checkpoint.py)."""
        parts = {"detection": getattr(self, "detection", None)}
        if getattr(self.model, "cells_mode", False):
            parts["sites"] = self.sites
        return [
            name
            for name, part in parts.items()
            if part is not None and not hasattr(part, "checkpoint_state")
        ]

    def _output(self, started: float) -> None:
        """An output time: the metric row, then every writer."""
        row = self.metrics()
        row["wall_s"] = time.perf_counter() - started
        self.history.append(row)
        self.sites.sync_output()
        for writer in self.writers:
            writer.write()

    def summary(self, run_seconds: float) -> dict:
        """Provenance, timings and results of a finished run (summary.json)."""
        steps = max(self.stepper.step_index, 1)
        return {
            "bmf_fem": info.versions(),
            "git_commit": info.git_commit(),
            "config_hash": config_hash(self.config),
            "mpi_size": self.comm.size,
            "resumed_from": self.resumed_from,
            "seed": self.config.output.seed,
            "mesh": self.mesh_data.description,
            "regions": dict(self.mesh_data.cell_regions),
            "dofs": self.model.V.dofmap.index_map.size_global,
            "timings": {
                "setup_s": self.setup_seconds,
                "run_s": run_seconds,
                "steps": self.stepper.step_index,
                "ms_per_step": 1e3 * run_seconds / steps,
                "fields_s": self.output_seconds,
            },
            "final_metrics": self.history[-1] if self.history else {},
            "detection": self.detection.summary() if self.detection else {},
            "results": self.results(),
            **summary_entries(self.config, self.mesh_data.mesh),
            "config": self.config.to_dict(),
        }

    def results(self) -> dict:
        """Peaks, onsets, pulse counts and ratios, from every step (the trace)."""
        rows = [dict(zip(TRACE_COLUMNS, row, strict=True)) for row in self.trace]
        rows = rows or self.history
        return {
            **summarise_history(rows),
            **build_up_report(rows, [i.train for i in self.inputs]),
        }

    def close(self) -> None:
        """Destroy the PETSc objects collectively (not at garbage-collection time)."""
        self.stepper.destroy()
        self.sites.destroy()
        if self.detection is not None:
            self.detection.destroy()
