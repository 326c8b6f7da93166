"""Semi-implicit (IMEX SBDF1/SBDF2) time stepping of the BMF model.

All explicit terms of a step are evaluated from the state at t^n, then every unknown is
advanced on its own: a pointwise update when its equation has no diffusion, otherwise a
right-hand side ``b = M q`` (one SpMV, no form assembly) and a solve with
the equation's reusable KSP. SBDF2 starts with one SBDF1 step (and again after a reset).

What a step receives from outside, the inputs' deposit and the noise's Wiener increment
over ``[t^n, t^{n+1})``, enters the implicit step as a forcing with the weights that make
each scheme integrate it exactly when nothing else acts: SBDF1 adds the step's amount
``I_n``, SBDF2 ``(3 I_n - I_{n-1}) / 2``. So a pulse that switches on or off inside a
step keeps SBDF2 second order, and noise has the intensity it is given with either
scheme (docs/model.md).
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from bmf_fem.checkpoint import CheckpointState
from bmf_fem.forms import bmf as forms
from bmf_fem.linalg import (
    ImplicitSolver,
    choose_solver,
    diffusion_number,
    lumped_mass,
    min_cell_size,
)
from bmf_fem.model import JIT_OPTIONS


class ImexUnknown:
    """One unknown with its equation, SBDF history and (when it diffuses) its solver.

    A solved unknown starts its Krylov iteration from the best combination of w^n and the
    values before it (:class:`ProjectedGuess`) and stops at ``rtol`` of the step's change
    (:class:`RelativeTest`), so a better guess saves iterations and leaves the accuracy
    as it was.
    """

    def __init__(self, equation: forms.Equation, function: fem.Function, stepper: Stepper):
        self.equation = equation
        self.function = function
        self.stepper = stepper
        self.previous = function.x.array.copy()  # w^{n-1}
        # SBDF2: N(w^{n-1}) + F_{n-1} / 2, the explicit history with the forcing's share
        self.previous_explicit: np.ndarray | None = None
        self.previous_noise: np.ndarray | None = None  # SBDF2: the noise increment of n-1
        self.rhs_nodal = fem.Function(function.function_space)
        self.solver: ImplicitSolver | None = None
        if equation.diffuses:
            config = stepper.solver_config
            number = stepper.diffusion_number(equation)
            space = function.function_space
            choice = choose_solver(
                config.ksp_type,
                config.pc_type,
                equation.symmetric,
                number,
                space.mesh.topology.dim,
                space.dofmap.index_map.size_global,
                space.mesh.comm.size,
                config.direct_max_dofs,
            )
            self.solver = ImplicitSolver(
                fem.form(equation.operator, jit_options=JIT_OPTIONS),
                f"bmf_{equation.name}_",
                choice.ksp_type,
                choice.pc_type,
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
        """Advance from t^n to t^{n+1} given the explicit terms N(w^n), the mean input
        rate F_n over the step (``forcing``) and the noise increment (``noise``)."""
        stepper = self.stepper
        dt = stepper.dt
        current = self.function.x.array
        q = self.rhs_nodal.x.array
        sbdf2 = stepper.scheme == "sbdf2"
        if order == 2:
            # q = (2 w^n - w^{n-1} / 2) / dt + 2 N^n + 3/2 F_n - (N^{n-1} + F_{n-1} / 2)
            np.multiply(self.previous, -0.25, out=q)
            q += current
            q *= 2.0 / dt
            q += explicit
            q += explicit
            q -= self.previous_explicit
            if forcing is not None:
                q += 1.5 * forcing
            beta = 1.5
        else:
            np.multiply(current, 1.0 / dt, out=q)
            if not isinstance(explicit, float) or explicit != 0.0:
                q += explicit
            if forcing is not None:
                q += forcing
            beta = 1.0
        if sbdf2:
            if self.previous_explicit is None:
                self.previous_explicit = np.empty_like(current)
            self.previous_explicit[:] = explicit
            if forcing is not None:
                self.previous_explicit += 0.5 * forcing
        noise = self._noise_increment(noise, order)

        if self.solver is None:
            if sbdf2:
                self.previous[:] = current
            if load is not None:
                q += stepper.array_of(load) / stepper.lumped
            if noise is not None:
                q += noise / dt
            np.multiply(q, 1.0 / (beta / dt + float(self.equation.rate.value)), out=current)
            self.iterations = 0
        else:
            stepper.mass.mult(self.rhs_nodal.x.petsc_vec, self.rhs)
            if load is not None:
                self.rhs.axpy(1.0, load)
            if noise is not None:  # white noise loads every dof through its lumped mass
                owned = stepper.n_owned
                self.rhs.array_w[:] += stepper.lumped[:owned] * noise[:owned] / dt
                self.rhs.stateIncrease()  # PETSc caches norms: tell it the array changed
            if sbdf2:
                self.start[:] = current
            self.iterations = self.solver.solve(self.rhs, self.function, stepper.guess_values)
            if sbdf2:
                # w^n becomes w^{n-1}; the old w^{n-1} array is the next start buffer.
                self.previous, self.start = self.start, self.previous

    def _noise_increment(self, noise: np.ndarray | None, order: int) -> np.ndarray | None:
        """The noise as the step's forcing: ``gain dW_n`` (SBDF1) or
        ``(3 dW_n - dW_{n-1}) / 2`` (SBDF2); keeps dW_n for the next SBDF2 step.

        SBDF1's gain ``sqrt(1 + dt S_rate)`` undoes the damping of the noise by the
        numerical part ``S_rate`` of the implicit rate (the site stabilisation), which
        would otherwise cool the sites: the step then has the model's noise intensity.
        """
        previous = self.previous_noise
        if self.stepper.scheme == "sbdf2":
            self.previous_noise = None if noise is None else noise.copy()
        if order == 1:
            gain = np.sqrt(1.0 + self.stepper.dt * self.equation.stabilisation_rate)
            return noise if noise is None or gain == 1.0 else gain * noise
        if previous is None:
            return None if noise is None else 1.5 * noise
        return -0.5 * previous if noise is None else 1.5 * noise - 0.5 * previous


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
        self._checkpoint_functions: dict[str, fem.Function] = {}
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
        self.watch = None  # checks the state and terms before the solves (divergence)
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
        if self.watch is not None:
            self.watch.before_solves(t0, explicit, forcing)
        loads = self._loads(t1)
        for unknown, terms in zip(self.unknowns, explicit, strict=True):
            equation = unknown.equation
            inputs = equation.takes_inputs
            unknown.advance(
                terms,
                order,
                forcing if inputs else None,
                self._noise(equation, extra_noise if inputs else None),
                loads.get(equation.group),
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

    def _noise(self, equation: forms.Equation, extra: np.ndarray | None):
        """The nodal noise increment ``sigma xi sqrt(dt / m_i)`` of ``equation`` over the
        step (``extra`` adds to sigma per dof), or None without noise."""
        if equation.noise_stream is None or (equation.noise == 0.0 and extra is None):
            return None
        amplitude = equation.noise if extra is None else equation.noise + extra
        xi = self.noise_source.normal(self.step_index, equation.noise_stream)
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
            its[unknown.equation.group] += unknown.iterations
        return its

    def destroy(self) -> None:
        for unknown in self.unknowns:
            if unknown.solver is not None:
                unknown.rhs.destroy()
                unknown.solver.destroy()
        self.mass.destroy()

    def _checkpoint_function(self, name: str, like: fem.Function) -> fem.Function:
        """A scratch function a checkpoint fills from an array (made once per name)."""
        if name not in self._checkpoint_functions:
            self._checkpoint_functions[name] = fem.Function(like.function_space, name=name)
        return self._checkpoint_functions[name]

    def checkpoint_state(self) -> CheckpointState:
        """Step counter, SBDF2 start, w^{n-1}, N(w^{n-1}) + F_{n-1}/2 and the noise increment
        of step n-1 for SBDF2, and the values each solver's initial guess combines (so a
        resumed run makes the same guesses)."""
        functions = {}
        explicit_saved = []
        noise_saved = []
        guess_counts = {}
        for unknown in self.unknowns:
            name = unknown.equation.name
            if self.scheme == "sbdf2":
                previous = self._checkpoint_function(f"previous.{name}", unknown.function)
                previous.x.array[:] = unknown.previous
                functions[previous.name] = previous
            if unknown.solver is not None:
                # A factorised operator keeps no guess; its checkpoint lists the same
                # functions (zeros), so a run may resume where the operator is not
                # factorised (other ranks) and the other way round.
                guess = unknown.solver.guess
                kept = guess.values if guess is not None else []
                for index in range(self.guess_values):
                    saved = self._checkpoint_function(f"guess{index}.{name}", unknown.function)
                    saved.x.array[:] = 0.0
                    if index < len(kept):
                        value = kept[index].array_r
                        saved.x.array[: value.size] = value
                    saved.x.scatter_forward()
                    functions[saved.name] = saved
                guess_counts[name] = len(kept)
            if self.scheme == "sbdf2":
                # Always listed (zeros before the first step) so the set of functions
                # does not depend on the step.
                explicit = self._checkpoint_function(f"previous_explicit.{name}", unknown.function)
                explicit.x.array[:] = 0.0
                if unknown.previous_explicit is not None:
                    explicit.x.array[:] = unknown.previous_explicit
                    explicit_saved.append(name)
                functions[explicit.name] = explicit
                noise = self._checkpoint_function(f"previous_noise.{name}", unknown.function)
                noise.x.array[:] = 0.0
                if unknown.previous_noise is not None:
                    noise.x.array[:] = unknown.previous_noise
                    noise_saved.append(name)
                functions[noise.name] = noise
        values = {
            "step_index": self.step_index,
            "history_start": self.history_start,
            "t": self.t,
            "scheme": self.scheme,
            "previous_explicit": explicit_saved,
            "previous_noise": noise_saved,
            "guess_values": guess_counts,
        }
        return CheckpointState(functions, values)

    def restore_checkpoint(self, state: CheckpointState) -> None:
        values = state.values
        self.step_index = int(values["step_index"])
        self.history_start = int(values["history_start"])
        self.t = self.step_index * self.dt
        for unknown in self.unknowns:
            name = unknown.equation.name
            if f"previous.{name}" in state.functions:
                unknown.previous[:] = state.functions[f"previous.{name}"].x.array
            if unknown.solver is not None and unknown.solver.guess is not None:
                count = values["guess_values"][name]
                saved = [state.functions[f"guess{i}.{name}"].x.array for i in range(count)]
                unknown.solver.guess.restore(saved, self.guess_values)
            if name in values["previous_explicit"]:
                explicit = state.functions[f"previous_explicit.{name}"].x.array
                unknown.previous_explicit = explicit.copy()
            unknown.previous_noise = None
            if name in values.get("previous_noise", ()):
                noise = state.functions[f"previous_noise.{name}"].x.array
                unknown.previous_noise = noise.copy()
