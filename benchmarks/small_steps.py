"""bmf-fem's step against the same step written plainly in NumPy/SciPy, on small meshes.

The default demo (demos/tickling.toml: a hexagonal crystal plate, P1, SBDF2, u and the
sites solved, one memory mode with D_M = 0 updated pointwise, two Gaussian pulse trains)
at element sizes chosen for about --sizes dofs per field (default 1k, 4k, 16k, 64k).
Each size builds one bmf_fem.Simulation and, on its function space, the plain step:

  matrices   the mass M and stiffness K assembled by dolfinx from (w, v) dx and
             (grad w, grad v) dx, as SciPy CSR: the discretisation is bmf-fem's
  operators  (beta/dt + c) M + D K of u and s, factorised once each by SciPy's SuperLU
             for beta = 1 (the first, SBDF1 step) and 1.5: splu with minimum degree on
             A^T + A, diagonal pivots and SuperLU's symmetric mode (the operators are
             symmetric positive definite), the fastest solves of the orderings and modes
             SciPy offers at 1k-16k dofs (COLAMD, splu's default, is 0-25 % slower)
  one step   explicit nodal terms at t^n (gamma M for u, f(u) = u|u| for the memory, the
             stabilised site force for s), the SBDF history q, b = M q and two
             triangular solves; the memory mode q / (beta/dt + 1/tau) pointwise; M and phi;
             then what bmf-fem's step also does for the run's results: the expression
             times, the trace row (max u, max phi, scope, active fraction) and a check
             that the state is finite

bmf-fem is driven through Simulation.step() with no output (no run directory), so its
per-step Python counts. Both start from the same state and take --warmup steps (the
demo's first pulse starts at t = 1, step 20), then --repeats blocks of --block steps,
bmf-fem's block and the plain block in turn; ms/step is the median over the blocks of the
block's mean; "ratio" is bmf-fem's over the plain one's. "its u/s" are bmf-fem's mean
Krylov iterations of u and s over one more block after the timed ones (counting inside
the timed blocks would add to them), "pc" its preconditioners, "setup" the seconds to
build the Simulation (mesh included) and the plain step (assembly, four factorisations).

Both then go on, untimed, to t = --until (12: sites begin to express at t = 7.5-8 and
their fronts travel until about 12), and the fields of the two are compared: bmf-fem
solves to rtol 1e-6 of each step's change (solver.rtol), the plain step exactly, so they
differ by the accumulated solver tolerance and no more. "expressed" is the number of
sites (dofs) the plain step has expressed and of those whose expression times differ (a
site within the tolerance of sites.on at the end of a step may cross it a step apart);
"trace" the largest difference of the trace rows (max u, max phi, scope, active
fraction) over all steps.

    containers/run python3 benchmarks/small_steps.py [--sizes 1000 4000 16000 64000]
        [--warmup 25] [--repeats 5] [--block 10] [--until 12]

Targets of issue 21 (bmf-fem / plain): <= 1.5 at 1k dofs, <= 1.2 at 16k.
Timings on a shared machine: check `uptime` first (the load average is printed).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import ufl
from dolfinx import fem
from mpi4py import MPI

from bmf_fem.config import load_config
from bmf_fem.demos import demo_path
from bmf_fem.inputs import PulseTrain
from bmf_fem.simulation import Simulation

DEMO = "tickling"
# dofs ~ AREA_PER_DOF / h^2 for the hexagon of size 1 (measured: 4,921 dofs at h = 0.0125,
# 19,441 at 0.00625); used only to choose h for a requested number of dofs.
AREA_PER_DOF = 0.764
# The stabilisation "auto" keeps the site step stable up to |s| = STABLE_RANGE
# (docs/model.md); B of each scheme.
STABLE_RANGE = 1.29
STABILITY_FACTOR = {"sbdf1": 2.0, "sbdf2": 4.0 / 3.0}
FIELDS = ("u", "m", "s")


def element_size(dofs: float) -> float:
    """The crystal's mesh.h for about ``dofs`` P1 dofs (3 significant digits)."""
    return float(f"{math.sqrt(AREA_PER_DOF / dofs):.3g}")


class PlainStep:
    """The demo's BMF step in NumPy/SciPy: two factorised operators, nodal terms."""

    def __init__(self, config, V: fem.FunctionSpace, initial: dict[str, np.ndarray]):
        _require_plain_features(config)
        self.dt = dt = config.time.dt
        self.scheme = config.time.scheme
        self.feedback = config.field.feedback
        self.tau = np.asarray(config.memory.tau, dtype=float)
        self.weights = np.asarray(config.memory.weight, dtype=float)
        self.threshold = config.memory.scope_threshold
        sites = config.sites
        self.alpha, self.coupling, self.on = sites.rate, sites.coupling, sites.on
        self.stabilisation = site_stabilisation(sites.stabilisation, sites.rate, dt, self.scheme)

        w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        self.mass = assembled(w * v * ufl.dx)
        stiffness = assembled(ufl.inner(ufl.grad(w), ufl.grad(v)) * ufl.dx)
        diagonal = self.mass.diagonal()
        self.lumped = diagonal * self.mass.sum() / diagonal.sum()  # HRZ, as bmf-fem's
        self.total = self.lumped.sum()
        rates = {"u": config.field.decay, "s": self.alpha * self.stabilisation}
        diffusivities = {"u": config.field.D, "s": sites.D}
        betas = (1.0, 1.5) if self.scheme == "sbdf2" else (1.0,)
        self.solvers = {
            (name, beta): factorised(
                (beta / dt + rates[name]) * self.mass + diffusivities[name] * stiffness
            )
            for name in ("u", "s")
            for beta in betas
        }
        self.rates = {"u": rates["u"], "s": rates["s"], "m": 1.0 / self.tau}

        coordinates = V.tabulate_dof_coordinates()
        self.inputs = []
        for entry in config.inputs:
            centre = np.zeros(3)
            centre[: len(entry.centre)] = entry.centre
            distance2 = np.sum((coordinates - centre) ** 2, axis=1)
            pulses = PulseTrain(
                entry.amplitude, entry.start, entry.period, entry.count, entry.width
            )
            self.inputs.append((np.exp(-distance2 / entry.radius**2), pulses))

        self.u = initial["u"].copy()
        self.m = np.array([values.copy() for values in initial["m"]])
        self.s = initial["s"].copy()
        self.expression_time = initial["expression_time"].copy()
        self.memory = self.weights @ self.m
        self.phi = self.u + self.memory
        self.previous = {"u": self.u.copy(), "m": self.m.copy(), "s": self.s.copy()}
        self.previous_explicit: dict[str, np.ndarray] = {}
        self.forcing = np.zeros_like(self.u)
        self.step_index = 0
        self.trace: list[tuple[float, ...]] = []

    def step(self) -> None:
        """Advance from t^n to t^{n+1} = (n + 1) dt."""
        dt = self.dt
        t0, t1 = self.step_index * dt, (self.step_index + 1) * dt
        forcing = self._forcing(t0, t1)
        u, s = self.u, self.s
        explicit = {
            "u": self.feedback * self.memory,
            "m": u * np.abs(u),
            "s": self.alpha * (s - s * s * s + self.coupling * self.phi + self.stabilisation * s),
        }
        order = 2 if self.scheme == "sbdf2" and self.step_index > 0 else 1
        beta = 1.5 if order == 2 else 1.0
        new = {}
        for name, current in (("u", u), ("m", self.m), ("s", s)):
            terms = explicit[name]
            force = forcing if name == "u" else None
            if order == 2:
                q = (2.0 * current - 0.5 * self.previous[name]) / dt
                q += 2.0 * terms - self.previous_explicit[name]
                if force is not None:
                    q += 1.5 * force
            else:
                q = current / dt + terms
                if force is not None:
                    q += force
            if self.scheme == "sbdf2":  # N^n + F_n / 2: the history of the next step
                self.previous_explicit[name] = terms if force is None else terms + 0.5 * force
                self.previous[name] = current
            if name == "m":  # D_M = 0: an ODE at every node
                new[name] = q / (beta / dt + self.rates["m"])[:, None]
            else:
                new[name] = self.solvers[(name, beta)](self.mass @ q)
        self.u, self.m, self.s = new["u"], new["m"], new["s"]
        self.memory = self.weights @ self.m
        self.phi = self.u + self.memory
        self.step_index += 1
        self._record(t1)

    def _forcing(self, t0: float, t1: float) -> np.ndarray | None:
        """The mean input rate over [t0, t1), or None when no pulse is on."""
        forcing, active = self.forcing, False
        forcing[:] = 0.0
        for profile, pulses in self.inputs:
            amount = pulses.deposit(t0, t1)
            if amount:
                forcing += (amount / (t1 - t0)) * profile
                active = True
        return forcing if active else None

    def _record(self, t: float) -> None:
        """Expression times, the trace row and the finiteness check of a step."""
        newly = (self.s > self.on) & (self.expression_time < 0.0)
        self.expression_time[newly] = t
        u_max, phi_max = self.u.max(), self.phi.max()
        if not math.isfinite(u_max + phi_max + self.s.sum() + self.m.sum()):
            raise FloatingPointError(f"the plain step's state is not finite at t = {t:g}")
        scope = self.lumped[self.memory > self.threshold].sum()
        active = self.lumped[self.s > self.on].sum() / self.total
        self.trace.append((t, u_max, phi_max, scope, active))

    def fields(self) -> dict[str, np.ndarray]:
        return {"u": self.u, "m": self.m, "s": self.s, "expression_time": self.expression_time}


def _require_plain_features(config) -> None:
    """The plain step covers what the demo uses; anything else would be compared wrongly."""
    problems = []
    if config.space.degree != 1:
        problems.append("space.degree != 1")
    if config.field.reaction.text.strip() != "0":
        problems.append("a field.reaction")
    if config.memory.source.text.replace(" ", "") != "u*abs(u)":
        problems.append("a memory.source other than u*abs(u)")
    if config.memory.D != 0.0:
        problems.append("memory.D > 0")
    if config.sites.mode != "continuum" or config.field.noise or config.sites.noise:
        problems.append("cells-mode sites or noise")
    if any(entry.profile != "gaussian" for entry in config.inputs) or config.perturbations:
        problems.append("inputs other than Gaussians, or perturbations")
    if problems:
        raise SystemExit(f"small_steps.py: the plain step does not cover {', '.join(problems)}")


def site_stabilisation(setting, rate: float, dt: float, scheme: str) -> float:
    """S of the site step: the setting, or for "auto" the smallest S >= 0 that keeps
    ``alpha dt (3 s^2 - 1) <= B (1 + alpha S dt)`` up to ``|s| = STABLE_RANGE``."""
    if setting != "auto":
        return float(setting)
    if rate * dt == 0.0:
        return 0.0
    stiffness = 3.0 * STABLE_RANGE**2 - 1.0
    return max(0.0, stiffness / STABILITY_FACTOR[scheme] - 1.0 / (rate * dt))


def assembled(form: ufl.Form) -> scipy.sparse.csr_matrix:
    """A bilinear form assembled by dolfinx (serial), as a SciPy CSR matrix."""
    return fem.assemble_matrix(fem.form(form)).to_scipy()


def factorised(matrix: scipy.sparse.spmatrix):
    """Solve with ``matrix`` (SuperLU, factorised once): a function of the right-hand side."""
    factor = scipy.sparse.linalg.splu(
        scipy.sparse.csc_matrix(matrix),
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    return factor.solve


def bmf_fields(simulation: Simulation) -> dict[str, np.ndarray]:
    model = simulation.model
    return {
        "u": model.u.x.array,
        "m": np.array([mode.x.array for mode in model.memory_modes]),
        "s": model.s.x.array,
        "expression_time": model.expression_time.x.array,
    }


def seconds_per_step(step, count: int) -> float:
    """The mean seconds of ``count`` calls of ``step``, timed as one block."""
    started = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - started) / count


def measure(dofs: int, args) -> dict:
    """One size: both steps timed in turn, then their fields compared."""
    h = element_size(dofs)
    config = load_config(demo_path(DEMO), overrides=[f"mesh.h={h}"])
    simulation = Simulation(config, MPI.COMM_SELF)
    initial = {name: values.copy() for name, values in bmf_fields(simulation).items()}
    started = time.perf_counter()
    plain = PlainStep(config, simulation.model.V, initial)
    plain_setup = time.perf_counter() - started
    for _ in range(args.warmup):
        simulation.step()
        plain.step()
    bmf_seconds, plain_seconds, its = [], [], {"u": 0, "s": 0}
    for _ in range(args.repeats):
        bmf_seconds.append(seconds_per_step(simulation.step, args.block))
        plain_seconds.append(seconds_per_step(plain.step, args.block))
    # Iterations of the timed steps are not kept by the stepper; one more block counts them.
    for _ in range(args.block):
        simulation.step()
        plain.step()
        for key in its:
            its[key] += simulation.stepper.iterations[key]
    while simulation.t < args.until - 1e-9:  # on, untimed, through the sites' flips
        simulation.step()
        plain.step()
    ours, theirs = bmf_fields(simulation), plain.fields()
    differences = {}
    for name in FIELDS:
        scale = max(float(np.abs(theirs[name]).max()), 1e-300)
        differences[name] = (float(np.abs(ours[name] - theirs[name]).max()), scale)
    expressed = int(np.count_nonzero(theirs["expression_time"] >= 0.0))
    expressed_differently = int(
        np.count_nonzero(ours["expression_time"] != theirs["expression_time"])
    )
    trace_ours = np.array(simulation.trace)  # a row per step (run() would add t = 0)
    trace_theirs = np.array(plain.trace)
    trace_difference = float(np.abs(trace_ours - trace_theirs).max())
    result = {
        "h": h,
        "dofs": simulation.model.V.dofmap.index_map.size_global,
        "bmf_ms": 1e3 * float(np.median(bmf_seconds)),
        "plain_ms": 1e3 * float(np.median(plain_seconds)),
        "its_u": its["u"] / args.block,
        "its_s": its["s"] / args.block,
        "pc": "/".join(
            unknown.solver.pc_type if unknown.solver else "pointwise"
            for unknown in simulation.stepper.unknowns
        ),
        "bmf_setup_s": simulation.setup_seconds,
        "plain_setup_s": plain_setup,
        "steps": simulation.stepper.step_index,
        "t": simulation.t,
        "differences": differences,
        "expressed": expressed,
        "expressed_differently": expressed_differently,
        "trace_difference": trace_difference,
    }
    simulation.close()
    return result


def print_table(rows: list[dict], args) -> None:
    load = os.getloadavg()[0]
    steps = rows[0]["steps"] if rows else 0
    print(
        f"BMF step of the {DEMO} demo (crystal, P1, SBDF2; u and s solved, memory pointwise): "
        f"bmf-fem Simulation.step() against the plain NumPy/SciPy step (splu once); median of "
        f"{args.repeats} blocks of {args.block} steps after {args.warmup}; load average {load:.2f}"
    )
    print(
        f"{'dofs':>7} {'h':>8} {'bmf-fem ms':>10} {'plain ms':>9} {'ratio':>6} "
        f"{'its u/s':>9} {'pc u/m/s':>20} {'setup s bmf/plain':>17}"
    )
    for r in rows:
        setup = f"{r['bmf_setup_s']:.2f}/{r['plain_setup_s']:.2f}"
        print(
            f"{r['dofs']:>7} {r['h']:>8g} {r['bmf_ms']:>10.3f} {r['plain_ms']:>9.3f} "
            f"{r['bmf_ms'] / r['plain_ms']:>6.2f} {r['its_u']:>4.1f}/{r['its_s']:<4.1f} "
            f"{r['pc']:>20} {setup:>17}"
        )
    print(
        f"agreement after {steps} steps (t = {rows[0]['t']:g}): max |bmf-fem - plain| / "
        "max |plain| of each field; sites expressed (plain) / expression times that differ; "
        "largest difference of the trace rows"
    )
    print(
        f"{'dofs':>7} "
        + " ".join(f"{name:>20}" for name in FIELDS)
        + f" {'expressed':>15} {'trace':>10}"
    )
    for r in rows:
        cells = [
            f"{absolute:.2e} / {scale:.3g}"
            for absolute, scale in (r["differences"][name] for name in FIELDS)
        ]
        expressed = f"{r['expressed']} / {r['expressed_differently']}"
        print(
            f"{r['dofs']:>7} "
            + " ".join(f"{cell:>20}" for cell in cells)
            + f" {expressed:>15} {r['trace_difference']:>10.2e}"
        )
    print("targets (issue 21): ratio <= 1.5 at 1k dofs, <= 1.2 at 16k")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1000, 4000, 16000, 64000],
        help="dofs per field, about (the crystal's h is chosen for them)",
    )
    parser.add_argument("--warmup", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument(
        "--until", type=float, default=12.0, help="compare the fields at this time (untimed)"
    )
    args = parser.parse_args()
    if MPI.COMM_WORLD.size != 1:
        raise SystemExit("small_steps.py runs on one rank (the plain step is serial)")
    rows = [measure(dofs, args) for dofs in args.sizes]
    print_table(rows, args)


if __name__ == "__main__":
    main()
