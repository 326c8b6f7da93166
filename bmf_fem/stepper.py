"""Semi-implicit (IMEX SBDF1/SBDF2) time stepping of the BMF model.

All explicit terms of a step are evaluated from the state at t^n, then every unknown is
advanced on its own: a pointwise update when its equation has no diffusion, otherwise a
right-hand side ``b = M q`` (one SpMV, no form assembly) and a solve with
the equation's reusable KSP. SBDF2 starts with one SBDF1 step (and again after a reset).
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from bmf_fem.forms import bmf as forms
from bmf_fem.linalg import (
    ImplicitSolver,
    choose_preconditioner,
    diffusion_number,
    lumped_mass,
    min_cell_size,
)
from bmf_fem.model import JIT_OPTIONS

# Noise streams: u uses 0, sites 1 (memory modes carry no noise).
FIELD_NOISE_STREAM = 0
SITE_NOISE_STREAM = 1


class ImexUnknown:
    """One unknown with its equation, SBDF history and (when it diffuses) its solver.

    A solved unknown starts its Krylov iteration from the best combination of w^n and the
    values before it (:class:`ProjectedGuess`). PETSc's test stops at
    ``||r|| < rtol ||b||`` whatever the initial residual, so a better guess saves
    iterations and leaves the accuracy as it was.
    """

    def __init__(self, equation: forms.Equation, function: fem.Function, stepper: Stepper):
        self.equation = equation
        self.function = function
        self.stepper = stepper
        self.previous = function.x.array.copy()  # w^{n-1}
        self.previous_explicit: np.ndarray | None = None  # N^{n-1}
        self.rhs_nodal = fem.Function(function.function_space)
        self.solver: ImplicitSolver | None = None
        if equation.diffuses:
            config = stepper.solver_config
            number = stepper.diffusion_number(equation)
            pc_type = choose_preconditioner(
                config.pc_type, number, function.function_space.mesh.topology.dim
            )
            self.solver = ImplicitSolver(
                fem.form(equation.operator, jit_options=JIT_OPTIONS),
                f"bmf_{equation.name}_",
                config.ksp_type,
                pc_type,
                config.rtol,
                config.atol,
                config.max_it,
                config.petsc_options,
                number,
            )
            self.rhs = self.solver.matrix.createVecLeft()
            if stepper.scheme == "sbdf2":  # w^n while w^{n+1} is solved for
                self.start = np.zeros_like(function.x.array)
        self.iterations = 0

    def advance(
        self,
        explicit: np.ndarray | float,
        order: int,
        forcing: np.ndarray | None,
        noise: np.ndarray | None,
        load: PETSc.Vec | None,
    ) -> None:
        """Advance from t^n to t^{n+1} given the explicit terms N(w^n)."""
        stepper = self.stepper
        dt = stepper.dt
        current = self.function.x.array
        q = self.rhs_nodal.x.array
        if order == 2:
            # q = (2 w^n - w^{n-1} / 2) / dt + 2 N^n - N^{n-1}
            np.multiply(self.previous, -0.25, out=q)
            q += current
            q *= 2.0 / dt
            q += explicit
            q += explicit
            q -= self.previous_explicit
            beta = 1.5
        else:
            np.multiply(current, 1.0 / dt, out=q)
            if not isinstance(explicit, float) or explicit != 0.0:
                q += explicit
            beta = 1.0
        if forcing is not None:
            q += forcing
        if stepper.scheme == "sbdf2":
            if self.previous_explicit is None:
                self.previous_explicit = np.empty_like(current)
            self.previous_explicit[:] = explicit

        if self.solver is None:
            if stepper.scheme == "sbdf2":
                self.previous[:] = current
            if load is not None:
                q += stepper.array_of(load) / stepper.lumped
            np.multiply(q, 1.0 / (beta / dt + float(self.equation.rate.value)), out=current)
            self.iterations = 0
        else:
            stepper.mass.mult(self.rhs_nodal.x.petsc_vec, self.rhs)
            if load is not None:
                self.rhs.axpy(1.0, load)
            if stepper.scheme == "sbdf2":
                self.start[:] = current
            self.iterations = self.solver.solve(self.rhs, self.function, stepper.guess_values)
            if stepper.scheme == "sbdf2":
                # w^n becomes w^{n-1}; the old w^{n-1} array is the next start buffer.
                self.previous, self.start = self.start, self.previous
        if noise is not None:
            # Euler-Maruyama increment after the deterministic step, so neither the
            # implicit rates nor the stabilisation damp the noise.
            current += noise


class Stepper:
    """Owns the operators, solvers and histories; ``step()`` advances t by dt."""

    def __init__(
        self,
        model,
        scheme: str,
        solver_config,
        noise_source=None,
        sources: dict[str, ufl.core.expr.Expr] | None = None,
        time: fem.Constant | None = None,
        guess_values: int = 4,
    ):
        """``sources`` maps "u", "m" or "s" to UFL expressions of x and ``time``, added
        to that equation as assembled loads (verification and scripted forcing).
        ``guess_values`` is how many of the latest values (w^n, w^{n-1}, ...) the initial
        guess of a solve combines; 1 starts from w^n. Results are the same to the solver
        tolerance, iterations are not."""
        self.model = model
        self.scheme = scheme
        self.solver_config = solver_config
        self.time = time
        self.noise_source = noise_source
        self.guess_values = guess_values
        V = model.V
        self.dt = float(model.dt.value)
        index_map = V.dofmap.index_map
        self.n_owned = index_map.size_local
        self.mass = fem_petsc.assemble_matrix(fem.form(forms.mass_form(V), jit_options=JIT_OPTIONS))
        self.mass.assemble()
        rowsum, hrz = lumped_mass(self.mass)
        self.lumped = self._ghosted(hrz)
        self.rowsum = self._ghosted(rowsum)
        for vec in (rowsum, hrz):  # destroyed collectively, not by the garbage collector
            vec.destroy()
        self.noise_scale = np.sqrt(self.dt / self.lumped)
        self.min_cell_size = min_cell_size(V.mesh)
        self.unknowns = [
            ImexUnknown(equation, function, self)
            for equation, function in zip(model.equations, model.unknowns, strict=True)
        ]
        test = ufl.TestFunction(V)
        self.load_vectors = {}
        for name, expression in (sources or {}).items():
            form = fem.form(expression * test * ufl.dx, jit_options=JIT_OPTIONS)
            self.load_vectors[name] = (form, fem_petsc.create_vector(form))
        self.step_index = 0
        self.history_start = 0
        self.t = 0.0
        self.assemble()

    def _ghosted(self, vec: PETSc.Vec) -> np.ndarray:
        scratch = fem.Function(self.model.V)
        scratch.x.array[: self.n_owned] = vec.array_r
        scratch.x.scatter_forward()
        return scratch.x.array.copy()

    def array_of(self, vec: PETSc.Vec) -> np.ndarray:
        """Local values (incl. ghosts) of an assembled load vector."""
        vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        with vec.localForm() as local:
            return local.array_r.copy()

    def diffusion_number(self, equation: forms.Equation) -> float:
        """How much diffusion dominates the mass term of ``equation``'s operator."""
        return diffusion_number(
            float(equation.diffusivity.value),
            float(equation.rate.value),
            self.dt,
            self.min_cell_size,
        )

    def assemble(self) -> None:
        """Assemble every diffusing operator (once per dt, scheme start and damage switch)."""
        for unknown in self.unknowns:
            if unknown.solver is not None:
                unknown.solver.assemble()

    def restart_history(self) -> None:
        """Forget w^{n-1} (after a reset): the next step is SBDF1."""
        self.history_start = self.step_index

    def step(self, forcing: np.ndarray | None = None, extra_noise: np.ndarray | None = None):
        """One time step. ``forcing`` is the mean input rate of u over the step."""
        model = self.model
        order = 2 if (self.scheme == "sbdf2" and self.step_index > self.history_start) else 1
        beta = 1.5 if order == 2 else 1.0
        if float(model.beta.value) != beta:
            model.beta.value = beta
            self.assemble()
        t0, t1 = self.t, self.t + self.dt
        state = model.state(t0)
        explicit = self._explicit_terms(state)
        field_noise = self._noise(FIELD_NOISE_STREAM, model.field.noise, extra_noise)
        site_noise = None
        if model.sites is not None:
            site_noise = self._noise(SITE_NOISE_STREAM, model.sites.noise, None)
        loads = self._loads(t1)
        for unknown, terms in zip(self.unknowns, explicit, strict=True):
            name = unknown.equation.name
            unknown.advance(
                terms,
                order,
                forcing if name == "u" else None,
                field_noise if name == "u" else site_noise if name == "s" else None,
                loads.get(name if not name.startswith("m_") else "m"),
            )
        model.update_derived()
        self.step_index += 1
        self.t = self.step_index * self.dt

    def _explicit_terms(self, state: dict) -> list[np.ndarray | float]:
        """N(w^n) of every unknown, each distinct term evaluated once (memory modes
        share their source f)."""
        values: dict[int, np.ndarray | float] = {}
        terms = []
        for unknown in self.unknowns:
            function = unknown.equation.explicit
            if function is None:
                terms.append(0.0)
                continue
            if id(function) not in values:
                values[id(function)] = function(state)
            terms.append(values[id(function)])
        return terms

    def _noise(self, stream: int, sigma: float, extra: np.ndarray | None):
        """The nodal noise increment ``sigma xi sqrt(dt / m_i)``, or None without noise."""
        if sigma == 0.0 and extra is None:
            return None
        amplitude = sigma if extra is None else sigma + extra
        xi = self.noise_source.normal(self.step_index, stream)
        return amplitude * xi * self.noise_scale

    def _loads(self, t: float) -> dict[str, PETSc.Vec]:
        """Assembled source forms (scripts and verification), evaluated at t^{n+1}."""
        if not self.load_vectors:
            return {}
        self.time.value = t
        loads = {}
        for name, (form, vec) in self.load_vectors.items():
            with vec.localForm() as local:
                local.set(0.0)
            fem_petsc.assemble_vector(vec, form)
            vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            loads[name] = vec
        return loads

    @property
    def iterations(self) -> dict[str, int]:
        """KSP iterations of the last step per unknown group (u, m, s)."""
        its = {"u": 0, "m": 0, "s": 0}
        for unknown in self.unknowns:
            key = "m" if unknown.equation.name.startswith("m_") else unknown.equation.name
            its[key] += unknown.iterations
        return its

    def destroy(self) -> None:
        for unknown in self.unknowns:
            if unknown.solver is not None:
                unknown.rhs.destroy()
                unknown.solver.destroy()
        self.mass.destroy()
