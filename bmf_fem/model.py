"""The BMF model on a mesh: function spaces, unknowns, coefficients and equations."""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import ufl
from dolfinx import fem
from petsc4py import PETSc

from bmf_fem.checkpoint import CheckpointState
from bmf_fem.expressions import Expression, as_interpolant
from bmf_fem.forms import bmf as forms
from bmf_fem.meshes import MeshData
from bmf_fem.noise import FIELD_NOISE_STREAM, SITE_NOISE_STREAM
from bmf_fem.potential import SITE_POTENTIAL


def host_cpu_key() -> str:
    """A short key of this CPU's model and instruction-set flags.

    ``-march=native`` compiles for the CPU it runs on, but the flag's text is the same on
    every CPU; the key in the flags makes dolfinx's JIT cache (keyed by the flags) keep
    one binary per CPU, so a cache shared between machines never loads code built for
    another instruction set.
    """
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine() or "unknown"
    wanted = ("model name", "flags", "Features", "CPU part")
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        key = key.strip()
        if key in wanted and key not in fields:
            fields[key] = value.strip()
    text = f"{platform.machine()} {sorted(fields.items())}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# Compiler flags of the forms in the time loop: optimised for the host CPU.
JIT_OPTIONS = {
    "cffi_extra_compile_args": ["-O3", "-march=native", "-g0", f"-DBMF_HOST_CPU={host_cpu_key()}"]
}

# Names the explicit user expressions may use, and the NumPy state they see.
STATE_NAMES = ("u", "M", "phi", "s", "x", "y", "z", "t")


class BmfModel:
    """Unknowns u, m_1..m_K, s and the derived M and phi, with one Equation each.

    Every coefficient the operators depend on is a ``fem.Constant``; ``dt`` and the
    SBDF factor ``beta`` are shared by all operators.
    """

    def __init__(self, config, mesh_data: MeshData):
        self.config = config
        self.mesh_data = mesh_data
        mesh = mesh_data.mesh
        self.comm = mesh.comm
        self.V = fem.functionspace(mesh, ("Lagrange", config.space.degree))
        self.dt = fem.Constant(mesh, PETSc.ScalarType(config.time.dt))
        self.beta = fem.Constant(mesh, PETSc.ScalarType(1.0))
        self.diffusivity_scale = fem.Function(
            fem.functionspace(mesh, ("DG", 0)), name="diffusivity_scale"
        )
        self.diffusivity_scale.x.array[:] = 1.0

        self.u = self._function("u")
        weights = config.memory.weight
        self.memory_modes = [self._function(f"m_{k}") for k in range(len(config.memory.tau))]
        self.memory_weights = np.asarray(weights, dtype=np.float64)
        self.cells_mode = config.sites.mode == "cells"
        if self.cells_mode:
            # Sites live on regions; s and expression_time are shown per mesh cell.
            sites_space = fem.functionspace(mesh, ("DG", 0))
            self.s = fem.Function(sites_space, name="s")
            self.expression_time = fem.Function(sites_space, name="expression_time")
        else:
            self.s = self._function("s")
            self.expression_time = self._function("expression_time")
        self.M = self._function("M")
        self.phi = self._function("phi")

        self.field = self._equation(
            "u",
            "u",
            config.field.D,
            config.field.decay,
            forms.field_terms(config.field.feedback, _nodal(config.field.reaction)),
            config.field.noise,
            FIELD_NOISE_STREAM,
            takes_inputs=True,
        )
        source = _nodal(config.memory.source)
        self.memory = [
            self._equation(f"m_{k}", "m", config.memory.D, 1.0 / tau, forms.memory_terms(source))
            for k, tau in enumerate(config.memory.tau)
        ]
        sites = config.sites
        self.sites = None
        # Cells-mode sites take first-order steps of their own (bmf_fem.sites).
        scheme = "sbdf1" if self.cells_mode else config.time.scheme
        self.site_stabilisation = SITE_POTENTIAL.stabilisation(
            sites.stabilisation, sites.rate, config.time.dt, scheme
        )
        if not self.cells_mode:
            damping = sites.rate * self.site_stabilisation
            self.sites = self._equation(
                "s",
                "s",
                sites.D,
                damping,
                forms.site_terms(sites.rate, sites.coupling, self.site_stabilisation),
                sites.noise,
                SITE_NOISE_STREAM,
                damping,
            )
        self.coordinates = self.V.tabulate_dof_coordinates()
        self.set_initial_conditions()

    @property
    def equations(self) -> list[forms.Equation]:
        """The equations the stepper advances (s only in continuum mode)."""
        sites = [] if self.cells_mode else [self.sites]
        return [self.field, *self.memory, *sites]

    @property
    def unknowns(self) -> list[fem.Function]:
        sites = [] if self.cells_mode else [self.s]
        return [self.u, *self.memory_modes, *sites]

    def _function(self, name: str) -> fem.Function:
        return fem.Function(self.V, name=name)

    def _equation(
        self,
        name,
        group,
        diffusivity,
        rate,
        explicit,
        noise=0.0,
        stream=None,
        stabilisation_rate=0.0,
        takes_inputs=False,
    ) -> forms.Equation:
        mesh = self.V.mesh
        D = fem.Constant(mesh, PETSc.ScalarType(diffusivity))
        c = fem.Constant(mesh, PETSc.ScalarType(rate))
        operator = forms.implicit_operator(self.V, self.beta, self.dt, c, D, self.diffusivity_scale)
        return forms.Equation(
            name, group, operator, D, c, explicit, noise, stream, stabilisation_rate, takes_inputs
        )

    def initial_values(self) -> dict[str, np.ndarray]:
        """Nodal initial values of u, every memory mode and s."""
        values = {}
        for name, expression in (
            ("u", self.config.field.initial),
            ("m", self.config.memory.initial),
            ("s", self.config.sites.initial),
        ):
            scratch = fem.Function(self.V)
            scratch.interpolate(as_interpolant(expression))
            values[name] = scratch.x.array.copy()
        return values

    def set_initial_conditions(
        self, mask: np.ndarray | None = None, fields: tuple[str, ...] = ("u", "m", "s")
    ) -> None:
        """Set ``fields`` (u, m: every mode, s) to their initial values where ``mask``."""
        values = self.initial_values()
        where = slice(None) if mask is None else mask
        if "u" in fields:
            self.u.x.array[where] = values["u"][where]
        if "m" in fields:
            for mode in self.memory_modes:
                mode.x.array[where] = values["m"][where]
        if not self.cells_mode and "s" in fields:
            self.s.x.array[where] = values["s"][where]
            if mask is None:
                self.expression_time.x.array[:] = -1.0
        self.update_derived()

    def update_derived(self) -> None:
        """M = sum_k w_k m_k and phi = u + M (nodal, local incl. ghosts)."""
        memory = self.M.x.array
        memory[:] = 0.0
        for weight, mode in zip(self.memory_weights, self.memory_modes, strict=True):
            memory += weight * mode.x.array
        self.phi.x.array[:] = self.u.x.array + memory

    def checkpoint_state(self) -> CheckpointState:
        """Every unknown (u, all memory modes, s) and the expression times."""
        functions = {f.name: f for f in self.unknowns}
        functions["expression_time"] = self.expression_time
        return CheckpointState(functions)

    def restore_checkpoint(self, state: CheckpointState) -> None:
        self.update_derived()

    def state(self, t: float) -> dict[str, np.ndarray | float]:
        """The NumPy namespace explicit terms and user expressions are evaluated in."""
        x = self.coordinates
        return {
            "u": self.u.x.array,
            "M": self.M.x.array,
            "phi": self.phi.x.array,
            "s": self.s.x.array,
            "x": x[:, 0],
            "y": x[:, 1],
            "z": x[:, 2],
            "t": t,
        }


def _nodal(expression: Expression | None):
    """A user expression as a function of the NumPy state (None when it is zero)."""
    if expression is None or (expression.is_constant and expression.to_numpy({}) == 0.0):
        return None

    def evaluate(state: Mapping[str, np.ndarray | float]) -> np.ndarray | float:
        # Values that are not finite are reported by the divergence watch, which names
        # the expression; NumPy's own warnings would only repeat it without the key.
        with np.errstate(all="ignore"):
            return expression.to_numpy(state)

    return evaluate


def ufl_state(model: BmfModel, t: fem.Constant) -> dict[str, object]:
    """The UFL namespace for user expressions in forms (MMS sources, scripts)."""
    x = ufl.SpatialCoordinate(model.V.mesh)
    names = {"u": model.u, "M": model.M, "phi": model.phi, "s": model.s, "t": t}
    for axis, name in enumerate("xyz"[: len(x)]):
        names[name] = x[axis]
    return names
