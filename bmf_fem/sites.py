"""The bistable site field and its expression record, in two modes.

``continuum``: s is a finite-element field advanced by the stepper with u and the memory
(forms.bmf.site_terms); every degree of freedom is a site.

``cells``: one bistable unit per tagged region (tissue cells, web segments, crystal
grains), driven by the region average of phi:

    ds_i = [alpha (s_i - s_i^3 + g <phi>_i) + D_s sum_{j ~ i} (s_j - s_i)] dt + sigma_s dW_i

advanced with the same linearly stabilised semi-implicit step as the continuum field under
SBDF1, the noise entering it as a forcing (``D_noise = sigma_s^2 / 2``). Site values are
tiny global arrays, identical on every rank.

The stabilisation ``S`` (``sites.stabilisation``, "auto" by default) adds
``alpha S (s^{n+1} - s^n)`` to the step. Near a value s a step is stable while

    alpha dt (3 s^2 - 1) <= B (1 + alpha S dt),    B = 2 (SBDF1), 4/3 (SBDF2),

and it slows the sites' first-order steps by ``1 / (1 + alpha S dt)``: "auto" takes the
smallest S that keeps ``|s| <= 1.29`` (both wells up to a tilt of 0.85) stable at the
run's dt, which is none at all while ``alpha dt`` is small (docs/model.md).

A site is *expressed* from the first time its value exceeds ``sites.on``; its
``expression_time`` is that time (-1 while unexpressed).
"""

from __future__ import annotations

import fnmatch

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI

from bmf_fem.errors import ConfigError
from bmf_fem.noise import SITE_NOISE_STREAM, NoiseSource
from bmf_fem.parallel import global_sum
from bmf_fem.potential import SITE_POTENTIAL


def stabilised_site_step(s, tilt, dt, rate, stabilisation, coupling_force=0.0, noise=0.0):
    """One step of ``ds = alpha (s - s^3 + tilt) dt + coupling dt + dW`` (``noise`` = dW).

    The cubic is stabilised by ``alpha S (s^{n+1} - s^n)`` taken implicitly; the noise
    enters the implicit step with the gain ``sqrt(1 + alpha S dt)``, so the damping keeps
    the noise's intensity relative to the drift (the step keeps the model's stationary
    statistics; its clock runs ``1 / (1 + alpha S dt)`` slow, as for the drift alone).
    """
    damping = rate * stabilisation
    drift = rate * SITE_POTENTIAL.force(s, tilt) + coupling_force
    gain = np.sqrt(1.0 + dt * damping)
    return s + (dt * drift + gain * noise) / (1.0 + dt * damping)


class ContinuumSites:
    """Expression bookkeeping for a site field that lives in the field's space."""

    mode = "continuum"

    def __init__(self, model, weights: np.ndarray, n_owned: int):
        self.model = model
        self.on = model.config.sites.on
        self.coupling = model.config.sites.coupling
        self.weights = weights[:n_owned]
        self.n_owned = n_owned
        self.total = global_sum(model.comm, self.weights.sum())

    def advance(self, step: int, dt: float) -> None:
        """Nothing to do: the stepper advances s with the other fields."""

    def record(self, t: float) -> None:
        """Mark dofs whose value first exceeds ``sites.on`` at time t."""
        times = self.model.expression_time.x.array
        newly = (self.model.s.x.array > self.on) & (times < 0.0)
        times[newly] = t

    def expressed_fraction(self) -> float:
        """The expressed share of the domain's measure."""
        expressed = self.model.expression_time.x.array[: self.n_owned] >= 0.0
        return global_sum(self.model.comm, self.weights[expressed].sum()) / self.total

    def active_fraction(self) -> float:
        """The share of the domain where s is above ``sites.on`` now."""
        active = self.model.s.x.array[: self.n_owned] > self.on
        return global_sum(self.model.comm, self.weights[active].sum()) / self.total

    def mean_value(self) -> float:
        """The mean of s over the domain."""
        s = self.model.s.x.array[: self.n_owned]
        return global_sum(self.model.comm, self.weights @ s) / self.total

    def values(self) -> np.ndarray:
        """s at the owned dofs (the sites of this rank)."""
        return self.model.s.x.array[: self.n_owned]

    def tilts(self) -> np.ndarray:
        """g * phi at the owned dofs."""
        return self.coupling * self.model.phi.x.array[: self.n_owned]

    def expression_times(self) -> np.ndarray:
        return self.model.expression_time.x.array[: self.n_owned]

    def sync_output(self) -> None:
        """Nothing to do: the output functions are the fields themselves."""

    def reset(self, dof_mask: np.ndarray) -> np.ndarray:
        """The sites a reset of s touches (the model resets s with the other unknowns)."""
        return dof_mask[: self.n_owned]

    def keys(self) -> np.ndarray:
        """Partition-independent keys of the owned sites (bmf_fem.noise.dof_keys)."""
        from bmf_fem.noise import dof_keys

        return dof_keys(self.model.V)[: self.n_owned]

    def destroy(self) -> None:
        """Nothing to release."""


class CellSites:
    """One bistable unit per selected cell region, driven by its average of phi."""

    mode = "cells"

    def __init__(self, model, mesh_data, seed: int):
        config = model.config.sites
        self.model = model
        self.comm = model.comm
        self.on = config.on
        self.rate = config.rate
        self.coupling = config.coupling
        self.stabilisation = SITE_POTENTIAL.stabilisation(
            config.stabilisation, config.rate, model.config.time.dt, "sbdf1"
        )
        self.diffusivity = config.D
        self.sigma = config.noise
        mesh = mesh_data.mesh
        tdim = mesh.topology.dim
        self.names = select_regions(mesh_data, config.regions)
        self.tags = [mesh_data.cell_regions[name] for name in self.names]
        cell_map = mesh.topology.index_map(tdim)
        n_cells = cell_map.size_local + cell_map.num_ghosts
        self.site_of_cell = np.full(n_cells, -1, dtype=np.int64)
        for index, name in enumerate(self.names):
            cells = mesh_data.cells(name)
            if np.any(self.site_of_cell[cells] >= 0):
                raise ConfigError(
                    f"sites.regions = {config.regions!r} selects overlapping regions "
                    f"({name!r} shares cells with another); choose regions that do not overlap"
                )
            self.site_of_cell[cells] = index
        self.n_sites = len(self.names)

        # Cell integrals of a P1 field are one SpMV with B[c, j] = int_c phi_j dx, whose
        # rows are the DG0 dofs of the cells.
        V = model.V
        Q = model.s.function_space
        self.dof_of_cell = Q.dofmap.list[:, 0]
        self.site_of_dof = np.full(self.dof_of_cell.size, -1, dtype=np.int64)
        self.site_of_dof[self.dof_of_cell] = self.site_of_cell
        self.n_owned_dofs = Q.dofmap.index_map.size_local
        self.average_matrix = fem_petsc.assemble_matrix(
            fem.form(ufl.TrialFunction(V) * ufl.TestFunction(Q) * ufl.dx)
        )
        self.average_matrix.assemble()
        self.cell_values = self.average_matrix.createVecLeft()
        # One work vector, wrapped for PETSc once on every rank: creating (and garbage
        # collecting) PETSc wrappers of temporaries is collective and can deadlock.
        self.work = fem.Function(V)
        self.work_vec = self.work.x.petsc_vec
        ones = fem.Function(V)
        ones.x.array[:] = 1.0
        self.volumes = self._region_integrals(ones)
        if np.any(self.volumes <= 0.0):
            empty = [self.names[i] for i in np.flatnonzero(self.volumes <= 0.0)]
            raise ConfigError(f"sites: regions without cells: {', '.join(empty)}")
        self.neighbours = self._adjacency(mesh_data)

        initial = fem.Function(V)
        from bmf_fem.expressions import as_interpolant

        initial.interpolate(as_interpolant(config.initial))
        self.initial = self.region_average(initial)
        self.s = self.initial.copy()
        self.expression_time_of_site = np.full(self.n_sites, -1.0)
        self.noise_source = NoiseSource(seed, np.arange(self.n_sites, dtype=np.uint64))

    def _region_integrals(self, function: fem.Function) -> np.ndarray:
        self.work.x.array[:] = function.x.array
        self.average_matrix.mult(self.work_vec, self.cell_values)
        owned = self.site_of_dof[: self.n_owned_dofs]
        inside = owned >= 0
        local = np.bincount(
            owned[inside], weights=self.cell_values.array_r[inside], minlength=self.n_sites
        )
        self.comm.Allreduce(MPI.IN_PLACE, local, op=MPI.SUM)
        return local

    def region_average(self, function: fem.Function) -> np.ndarray:
        """The average of a field over every site's region (global, on every rank)."""
        return self._region_integrals(function) / self.volumes

    def _adjacency(self, mesh_data) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (i, j), i < j, of sites whose regions share a facet, on every rank."""
        mesh = mesh_data.mesh
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim - 1, tdim)
        facet_cells = mesh.topology.connectivity(tdim - 1, tdim)
        offsets, cells = facet_cells.offsets, facet_cells.array
        counts = np.diff(offsets)
        pairs = []
        for arity in np.unique(counts[counts > 1]):
            facets = np.flatnonzero(counts == arity)
            members = cells[offsets[facets][:, None] + np.arange(arity)]
            sites = self.site_of_cell[members]
            for a in range(arity):
                for b in range(a + 1, arity):
                    pairs.append(np.stack([sites[:, a], sites[:, b]], axis=1))
        local = np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
        local = local[(local[:, 0] >= 0) & (local[:, 1] >= 0) & (local[:, 0] != local[:, 1])]
        local = np.unique(np.sort(local, axis=1), axis=0)
        gathered = np.concatenate(self.comm.allgather(local))
        edges = np.unique(gathered, axis=0) if gathered.size else gathered.reshape(0, 2)
        return edges[:, 0], edges[:, 1]

    def coupling_force(self) -> np.ndarray:
        """``D_s sum_{j ~ i} (s_j - s_i)`` over neighbouring regions."""
        force = np.zeros(self.n_sites)
        if self.diffusivity == 0.0 or self.neighbours[0].size == 0:
            return force
        first, second = self.neighbours
        difference = self.s[second] - self.s[first]
        np.add.at(force, first, difference)
        np.add.at(force, second, -difference)
        return self.diffusivity * force

    def tilts(self) -> np.ndarray:
        """g * <phi> for every site."""
        return self.coupling * self.region_average(self.model.phi)

    def advance(self, step: int, dt: float) -> None:
        """One step from the state at t^n (call before the fields are advanced)."""
        noise = 0.0
        if self.sigma > 0.0:
            noise = self.sigma * np.sqrt(dt) * self.noise_source.normal(step, SITE_NOISE_STREAM)
        self.s = stabilised_site_step(
            self.s,
            self.tilts(),
            dt,
            self.rate,
            self.stabilisation,
            self.coupling_force(),
            noise,
        )

    def record(self, t: float) -> None:
        newly = (self.s > self.on) & (self.expression_time_of_site < 0.0)
        self.expression_time_of_site[newly] = t

    def expressed_fraction(self) -> float:
        return float(np.count_nonzero(self.expression_time_of_site >= 0.0)) / self.n_sites

    def active_fraction(self) -> float:
        """The share of sites above ``sites.on`` now."""
        return float(np.count_nonzero(self.s > self.on)) / self.n_sites

    def mean_value(self) -> float:
        """The mean of s over the sites."""
        return float(self.s.mean())

    def values(self) -> np.ndarray:
        return self.s

    def expression_times(self) -> np.ndarray:
        return self.expression_time_of_site

    def reset(self, dof_mask: np.ndarray) -> np.ndarray:
        """Reset the sites whose region holds any reset dof to their initial values;
        return their mask."""
        marker = fem.Function(self.model.V)
        marker.x.array[:] = dof_mask.astype(np.float64)
        touched = self._region_integrals(marker) > 0.0
        self.s[touched] = self.initial[touched]
        return touched

    def keys(self) -> np.ndarray:
        """The sites' numbers (sites.csv's ``site``)."""
        return np.arange(self.n_sites)

    def checkpoint_state(self):
        """Site values and expression times: small arrays, the same on every rank."""
        from bmf_fem.checkpoint import CheckpointState

        return CheckpointState(
            values={
                "s": self.s.tolist(),
                "expression_time": self.expression_time_of_site.tolist(),
            }
        )

    def restore_checkpoint(self, state) -> None:
        self.s = np.asarray(state.values["s"], dtype=np.float64)
        self.expression_time_of_site = np.asarray(state.values["expression_time"])

    def destroy(self) -> None:
        """Release the PETSc objects (collectively)."""
        self.average_matrix.destroy()
        self.cell_values.destroy()

    def sync_output(self) -> None:
        """Show every site's value and expression time on its cells (NaN outside sites)."""
        inside = self.site_of_dof >= 0
        for function, values in (
            (self.model.s, self.s),
            (self.model.expression_time, self.expression_time_of_site),
        ):
            array = function.x.array
            array[:] = np.nan
            array[inside] = values[self.site_of_dof[inside]]

    def table(self) -> list[dict]:
        """One row per site for sites.csv."""
        return [
            {"site": index, "tag": name, "t_expressed": float(time)}
            for index, (name, time) in enumerate(
                zip(self.names, self.expression_time_of_site, strict=True)
            )
        ]


def select_regions(mesh_data, pattern: str) -> list[str]:
    """Cell regions whose names match a glob pattern, ordered by tag value."""
    regions = mesh_data.cell_regions
    names = [name for name in regions if fnmatch.fnmatchcase(name, pattern)]
    if not names:
        valid = ", ".join(sorted(regions)) or "(none)"
        raise ConfigError(
            f"sites.regions = {pattern!r} matches no cell region of this mesh; its regions: {valid}"
        )
    return sorted(names, key=lambda name: regions[name])
