"""bmf-fem against its peers on one problem: time per step, accuracy and memory bandwidth.

The problem (shared/PERF_NOTES.md): du/dt = D lap(u) - delta u + f on the unit square
with no-flux boundaries, u(0) = 0, a constant Gaussian source f = exp(-|x - c|^2 / r^2)
(c the centre, r = 0.1), delta = 0.05, backward Euler with dt = 0.1, each linear solve
to a relative residual of 1e-8. N x N cells: P1 on the (N+1)^2 vertices, or (N+1)^2
finite-volume cells for FiPy, so every solver has the same number of unknowns. Cases:
weak diffusion D = 1e-3 (D dt/h^2 = 6.6 at N = 256) and strong diffusion D = 1.

Solvers (each starts its solve from the previous step's solution where it can):
  bmf-fem        a whole bmf_fem.Simulation step (u, two memory modes and the sites, which
                 have D = 0 and so are pointwise updates); bmf-fem/u is the u equation's
                 share of those same steps (its right-hand side and solve)
  dolfinx-naive  a new LinearProblem every step, as in dolfinx's introductory time loops
                 (forms, sparsity, both sides assembled, AMG set up, from a zero guess)
  dolfinx-amg    operator and mass matrix assembled once, one KSP: CG + BoomerAMG
  fipy-scipy     FiPy's finite volumes, LinearPCGSolver of the scipy suite (no preconditioner)
  fipy-petsc     the same with the PETSc suite (ICC(0), PETSc's default)
  skfem-pyamg    scikit-fem matrices assembled once, CG with pyamg's smoothed aggregation

Columns: median ms per step over --steps steps after --warmup (20: the steps of a long
run, past the start from u = 0 with the source switched on, in which every solver's
initial guesses are poor; --warmup 2 times the start), dof-steps per second over the same
steps (their mean), Krylov iterations per step, and the error: the relative RMS
difference after all steps from a reference (P1 on --reference cells per side, 2x the
largest size by default, same dt and steps, solved to 1e-12) at each solver's own points.
The time error is the same in both and cancels, so this is each solver's spatial and
solver error. "x bmf/u" and "x bmf" are a row's time over bmf-fem/u's and over
bmf-fem's: bmf-fem's speed-up.

Memory bandwidth: a STREAM-like triad a = b + s c (NumPy, best of several) measured in the
same run. A step is modelled as moving, in SpMVs of its operator (12 bytes per nonzero, 20
per row): one for the right-hand side, one more when the operator is rebuilt, and for the
initial residual and every Krylov iteration one plus the preconditioner's (Jacobi 3 vector
streams, ICC 1, SOR 2, AMG 5 x its operator complexity: a symmetric smoothing sweep or two
Chebyshev steps down and up and a residual on every level), plus 10 vector streams per
iteration. "DRAM" and "cache" are the time that traffic takes at the triad's speed on
arrays beyond any cache (3 x 256 MiB) and on arrays that stay in cache (3 x 4 MiB), over
the measured time. Run serially:

    containers/run benchmarks/peer-env python3 benchmarks/peers.py
    containers/run python3 benchmarks/peers.py --solvers bmf-fem dolfinx-amg --sizes 64
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem, geometry, mesh
from dolfinx.fem import petsc as fem_petsc
from dolfinx.fem.petsc import LinearProblem
from mpi4py import MPI
from petsc4py import PETSc

from bmf_fem import Simulation, config_from_dict
from bmf_fem.info import git_commit, loaded_blas

DT, DECAY, RADIUS, RTOL = 0.1, 0.05, 0.1, 1e-8
# bmf-fem's default: 1e-6 of the step's change, not of b (docs/performance.md); on these
# steps it is as strict as the peers' 1e-8 of b (the error column shows it).
BMF_RTOL = 1e-6
CASES = {"weak": 1e-3, "strong": 1.0}  # D
HOLD = 1e6  # one input pulse this long and this large: a source of rate 1 throughout
STATISTICS = "pc_hypre_boomeramg_print_statistics"  # hypre prints its complexities
CG_VECTOR_STREAMS = 10  # two dot products and three axpys per CG iteration


def source(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) / RADIUS**2)


@dataclass
class Peer:
    """What every solver reports besides its steps: size and the traffic model's inputs."""

    name: str
    rows: int
    nnz: int
    preconditioner: str
    amg_complexity: float = math.nan  # operator complexity, for AMG preconditioners
    rebuilds: bool = False  # assembles its operator every step


class DolfinxAssembled(Peer):
    """P1 in dolfinx, the efficient way: both matrices assembled once, one KSP set up once."""

    def __init__(self, n: int, D: float, rtol: float = RTOL):
        domain = mesh.create_unit_square(MPI.COMM_SELF, n, n)
        self.V = V = fem.functionspace(domain, ("Lagrange", 1))
        self.mass = assembled(mass_form(V))
        self.matrix = assembled(operator_form(V, D))
        self.ksp = PETSc.KSP().create(domain.comm)
        self.ksp.setOperators(self.matrix)
        self.ksp.setInitialGuessNonzero(True)
        complexity = cg_boomeramg(self.ksp, rtol)
        self.u, self.f, self.q = fem.Function(V), nodal_source(V), fem.Function(V)
        self.rhs = self.mass.createVecLeft()
        super().__init__("dolfinx-amg", self.u.x.array.size, nonzeros(self.matrix), "hypre")
        self.amg_complexity = complexity

    def step(self) -> int:
        self.q.x.array[:] = self.u.x.array / DT + self.f.x.array
        self.mass.mult(self.q.x.petsc_vec, self.rhs)
        self.ksp.solve(self.rhs, self.u.x.petsc_vec)
        return converged(self.ksp)

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        return self.V.tabulate_dof_coordinates()[:, :2], self.u.x.array.copy()

    def destroy(self) -> None:
        for petsc_object in (self.ksp, self.matrix, self.mass, self.rhs):
            petsc_object.destroy()


class DolfinxNaive(Peer):
    """P1 in dolfinx as a first script writes it: a new LinearProblem in the time loop."""

    def __init__(self, n: int, D: float):
        domain = mesh.create_unit_square(MPI.COMM_SELF, n, n)
        self.V = V = fem.functionspace(domain, ("Lagrange", 1))
        self.u, self.f = fem.Function(V), nodal_source(V)
        self.D = D
        self.problem = self._problem()
        self.problem.solve()  # assembles A; u^n stays 0
        matrix = self.problem.A
        probe = PETSc.KSP().create(domain.comm)  # the same AMG, to read its complexity
        probe.setOperators(matrix)
        complexity = cg_boomeramg(probe, RTOL)
        probe.destroy()
        super().__init__("dolfinx-naive", self.u.x.array.size, nonzeros(matrix), "hypre")
        self.amg_complexity, self.rebuilds = complexity, True

    def _problem(self) -> LinearProblem:
        v = ufl.TestFunction(self.V)
        return LinearProblem(
            operator_form(self.V, self.D),
            (self.u / DT + self.f) * v * ufl.dx,
            petsc_options={"ksp_type": "cg", "pc_type": "hypre", "ksp_rtol": RTOL},
        )

    def step(self) -> int:
        self._destroy()
        self.problem = self._problem()
        solution = self.problem.solve()
        self.u.x.array[:] = solution.x.array
        return converged(self.problem.solver)

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        return self.V.tabulate_dof_coordinates()[:, :2], self.u.x.array.copy()

    def destroy(self) -> None:
        self._destroy()

    def _destroy(self) -> None:
        """Free the last step's PETSc objects now (the script would leave them to the
        garbage collector)."""
        self.problem.solver.destroy()
        self.problem.A.destroy()
        self.problem.b.destroy()


class BmfFem(Peer):
    """bmf-fem through its public API; the u equation's share of each step is timed too."""

    def __init__(self, n: int, D: float):
        config = config_from_dict(bmf_config(n, D))
        self.simulation, printed = c_stdout(lambda: Simulation(config, MPI.COMM_SELF))
        stepper = self.simulation.stepper
        field = next(unknown for unknown in stepper.unknowns if unknown.equation.name == "u")
        self.field_seconds: list[float] = []
        advance = field.advance

        def timed_advance(*args, **kwargs):
            started = time.perf_counter()
            advance(*args, **kwargs)
            self.field_seconds.append(time.perf_counter() - started)

        field.advance = timed_advance
        matrix, pc = field.solver.matrix, field.solver.ksp.getPC()
        printed += c_stdout(pc.view)[1]  # where GAMG reports its complexity
        super().__init__("bmf-fem", matrix.getSize()[0], nonzeros(matrix), pc.getType())
        self.amg_complexity = operator_complexity(printed)

    def step(self) -> int:
        self.simulation.step()
        return self.simulation.stepper.iterations["u"]

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        model = self.simulation.model
        return model.V.tabulate_dof_coordinates()[:, :2], model.u.x.array.copy()

    def destroy(self) -> None:
        self.simulation.close()


class FiPy(Peer):
    """FiPy's cell-centred finite volumes on (N+1)^2 cells; FiPy builds its matrix per solve."""

    def __init__(self, n: int, D: float, suite: str):
        import fipy
        from fipy.solvers import petsc, scipy

        cells = n + 1
        self.grid = fipy.Grid2D(nx=cells, ny=cells, dx=1.0 / cells, dy=1.0 / cells)
        self.u = fipy.CellVariable(mesh=self.grid, value=0.0)
        f = fipy.CellVariable(mesh=self.grid, value=source(*self.grid.cellCenters.value))
        self.equation = fipy.TransientTerm() == (
            fipy.DiffusionTerm(coeff=D) - fipy.ImplicitSourceTerm(coeff=DECAY) + f
        )
        module, preconditioner = {"scipy": (scipy, "none"), "petsc": (petsc, "icc")}[suite]
        self.solver = module.LinearPCGSolver(tolerance=RTOL, criterion="RHS")
        five_point = 5 * cells**2 - 4 * cells  # boundary cells miss a neighbour
        super().__init__(f"fipy-{suite}", cells**2, five_point, preconditioner, rebuilds=True)

    def step(self) -> int:
        self.equation.solve(var=self.u, dt=DT, solver=self.solver)
        return int(self.solver.convergence.iterations)

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        return self.grid.cellCenters.value.T.copy(), np.array(self.u.value)

    def destroy(self) -> None:
        pass


class SkfemPyamg(Peer):
    """scikit-fem P1 matrices assembled once, CG with a smoothed-aggregation AMG set up once."""

    def __init__(self, n: int, D: float):
        import pyamg
        import skfem
        from skfem.models.poisson import laplace, mass

        axis = np.linspace(0.0, 1.0, n + 1)
        self.basis = skfem.Basis(skfem.MeshTri.init_tensor(axis, axis), skfem.ElementTriP1())
        self.mass = mass.assemble(self.basis).tocsr()
        self.matrix = ((1 / DT + DECAY) * self.mass + D * laplace.assemble(self.basis)).tocsr()
        self.amg = pyamg.smoothed_aggregation_solver(self.matrix)
        self.v_cycle = self.amg.aspreconditioner(cycle="V")
        self.cg = pyamg.krylov.cg
        self.f = source(*self.basis.doflocs)
        self.u = np.zeros(self.matrix.shape[0])
        super().__init__("skfem-pyamg", self.u.size, self.matrix.nnz, "sa-amg")
        self.amg_complexity = self.amg.operator_complexity()

    def step(self) -> int:
        rhs = self.mass @ (self.u / DT + self.f)
        residuals: list[float] = []
        self.u, info = self.cg(
            self.matrix, rhs, x0=self.u, tol=RTOL, M=self.v_cycle, residuals=residuals
        )
        if info != 0:
            raise RuntimeError(f"skfem-pyamg: CG did not converge (info {info})")
        return len(residuals) - 1

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        return self.basis.doflocs.T.copy(), self.u.copy()

    def destroy(self) -> None:
        pass


SOLVERS = {
    "bmf-fem": BmfFem,
    "dolfinx-naive": DolfinxNaive,
    "dolfinx-amg": DolfinxAssembled,
    "fipy-scipy": lambda n, D: FiPy(n, D, "scipy"),
    "fipy-petsc": lambda n, D: FiPy(n, D, "petsc"),
    "skfem-pyamg": SkfemPyamg,
}
NEEDS = {"fipy-scipy": "fipy", "fipy-petsc": "fipy", "skfem-pyamg": "skfem"}


def bmf_config(n: int, D: float) -> dict:
    """The problem as a bmf-fem run: u sees only D, the decay and the input (no feedback).

    The sites are updated every step but not tilted: with the source held, phi keeps
    growing, and a tilted site would leave the range its stabilised step covers (after
    about 90 steps of the weak case)."""
    return {
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": 1.0 / n},
        "time": {"dt": DT, "t_end": HOLD, "scheme": "sbdf1"},
        "solver": {"rtol": BMF_RTOL, "petsc_options": {STATISTICS: 1}},
        "field": {"D": D, "decay": DECAY, "feedback": 0.0},
        "memory": {"D": 0.0, "tau": [5.0, 50.0]},
        "sites": {"D": 0.0, "coupling": 0.0},
        "input": [
            {
                "profile": "gaussian",
                "centre": [0.5, 0.5],
                "radius": RADIUS,
                "amplitude": HOLD,
                "start": 0.0,
                "width": HOLD,
            }
        ],
    }


def mass_form(V: fem.FunctionSpace) -> ufl.Form:
    w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    return w * v * ufl.dx


def operator_form(V: fem.FunctionSpace, D: float) -> ufl.Form:
    """Backward Euler's ``(1/dt + delta) (w, v) + D (grad w, grad v)``."""
    w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    return (1 / DT + DECAY) * w * v * ufl.dx + D * ufl.inner(ufl.grad(w), ufl.grad(v)) * ufl.dx


def assembled(form: ufl.Form) -> PETSc.Mat:
    matrix = fem_petsc.assemble_matrix(fem.form(form))
    matrix.assemble()
    return matrix


def nodal_source(V: fem.FunctionSpace) -> fem.Function:
    """The source at the nodes, as bmf-fem applies its inputs (``M f_h`` on the right)."""
    f = fem.Function(V)
    f.interpolate(lambda x: source(x[0], x[1]))
    return f


def cg_boomeramg(ksp: PETSc.KSP, rtol: float) -> float:
    """Make ``ksp`` CG + BoomerAMG as PETSc sets it up; returns hypre's operator complexity."""
    options = {
        "ksp_type": "cg",
        "ksp_rtol": rtol,
        "ksp_max_it": 1000,
        "pc_type": "hypre",
        "pc_hypre_type": "boomeramg",
        STATISTICS: 1,
    }
    database = PETSc.Options()
    ksp.setOptionsPrefix("peer_")
    for key, value in options.items():
        database[f"peer_{key}"] = value
    ksp.setFromOptions()
    for key in options:
        del database[f"peer_{key}"]
    return operator_complexity(c_stdout(ksp.setUp)[1])


def c_stdout(action):
    """Run ``action``; its result, and what C code (hypre, PETSc) printed to stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            result = action()
        finally:
            sys.stdout.flush()
            ctypes.CDLL(None).fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
        capture.seek(0)
        return result, capture.read().decode(errors="replace")


def operator_complexity(printed: str) -> float:
    """The AMG operator complexity (nonzeros on all levels over the finest's) in ``printed``:
    hypre's statistics or PETSc's view of a GAMG preconditioner."""
    found = re.search(r"operator\s*=\s*([0-9.]+)", printed)
    return float(found.group(1)) if found else math.nan


def nonzeros(matrix: PETSc.Mat) -> int:
    return int(matrix.getInfo()["nz_used"])


def converged(ksp: PETSc.KSP) -> int:
    if ksp.getConvergedReason() < 0:
        raise RuntimeError(f"the KSP diverged (PETSc reason {ksp.getConvergedReason()})")
    return ksp.getIterationNumber()


class Reference:
    """P1 on a finer mesh, same dt and steps, solved to 1e-12; evaluated at any points."""

    def __init__(self, n: int, D: float, steps: int):
        solver = DolfinxAssembled(n, D, rtol=1e-12)
        for _ in range(steps):
            solver.step()
        self.u = solver.u
        solver.destroy()
        domain = self.u.function_space.mesh
        self.tree = geometry.bb_tree(domain, domain.topology.dim)

    def at(self, points: np.ndarray) -> np.ndarray:
        domain = self.u.function_space.mesh
        xyz = np.zeros((len(points), 3))
        xyz[:, :2] = np.clip(points, 0.0, 1.0)  # gmsh's boundary nodes may be 1 + 2e-16
        candidates = geometry.compute_collisions_points(self.tree, xyz)
        cells = geometry.compute_colliding_cells(domain, candidates, xyz)
        if np.any(np.diff(cells.offsets) == 0):
            raise RuntimeError("a solver's point lies outside the unit square")
        return self.u.eval(xyz, cells.array[cells.offsets[:-1]]).ravel()


def triad_bandwidth(size: int, repeats: int) -> float:
    """Bytes per second of ``a = b + s c`` on arrays of ``size`` doubles, best of ``repeats``.

    NumPy runs it as two passes (a = s c, then a += b): five array streams per element,
    counted as STREAM counts them (no write-allocate traffic).
    """
    b, c, a = np.full(size, 1.0), np.full(size, 2.0), np.empty(size)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)
        best = min(best, time.perf_counter() - started)
    return 5 * 8 * size / best


def bytes_per_step(peer: Peer, iterations: float) -> float:
    """The traffic model of the module docstring (NaN for a preconditioner it lacks)."""
    spmv = 12 * peer.nnz + 20 * peer.rows
    preconditioner = {
        "none": 0.0,
        "jacobi": 24.0 * peer.rows,  # the diagonal and r read, z written
        "icc": spmv,  # a triangular factor, forward and back: about one matrix
        "sor": 2 * spmv,  # a symmetric sweep
    }.get(peer.preconditioner, math.nan)
    if not math.isnan(peer.amg_complexity):
        preconditioner = 5 * peer.amg_complexity * spmv
    vectors = CG_VECTOR_STREAMS * 8 * peer.rows
    solve = (iterations + 1) * (spmv + preconditioner) + iterations * vectors
    return (1 + peer.rebuilds) * spmv + solve


@dataclass
class Row:
    name: str
    peer: Peer
    ms: float  # median
    mean_ms: float
    its: float
    error: float


def measure(peer: Peer, warmup: int, steps: int) -> tuple[list[float], float]:
    """Seconds of each step after ``warmup`` untimed ones, and the mean iterations."""
    for _ in range(warmup):
        peer.step()
    seconds, its = [], []
    for _ in range(steps):
        started = time.perf_counter()
        its.append(peer.step())
        seconds.append(time.perf_counter() - started)
    return seconds, float(np.mean(its))


def milliseconds(seconds: list[float]) -> tuple[float, float]:
    """Median and mean, in ms."""
    return 1e3 * float(np.median(seconds)), 1e3 * float(np.mean(seconds))


def run_solver(name: str, n: int, D: float, args, reference: Reference) -> list[Row]:
    """One solver at one size: its row (and bmf-fem/u's, from the same steps)."""
    peer = SOLVERS[name](n, D)
    seconds, its = measure(peer, args.warmup, args.steps)
    points, values = peer.values()
    exact = reference.at(points)
    error = float(np.linalg.norm(values - exact) / np.linalg.norm(exact))
    rows = [Row(name, peer, *milliseconds(seconds), its, error)]
    if isinstance(peer, BmfFem):
        field = milliseconds(peer.field_seconds[-args.steps :])
        rows.append(Row("bmf-fem/u", peer, *field, its, error))
    peer.destroy()
    return rows


def print_table(results: dict, bandwidths: tuple[float, float]) -> None:
    print(
        f"{'dofs':>7} {'case':>6} {'D dt/h^2':>8} {'solver':>13} {'pc':>6} {'opc':>4} "
        f"{'ms/step':>8} {'Mdof-st/s':>9} {'its':>5} {'error':>8} {'x bmf/u':>7} "
        f"{'x bmf':>6} {'MB/step':>7} {'DRAM':>5} {'cache':>5}"
    )
    for (n, case), rows in results.items():
        number = CASES[case] * DT * n**2
        times = {row.name: row.ms for row in rows}
        for row in rows:
            peer = row.peer
            speedups = [
                f"{row.ms / times[base]:>{width}.1f}" if base in times else f"{'-':>{width}}"
                for base, width in (("bmf-fem/u", 7), ("bmf-fem", 6))
            ]
            megabytes = bytes_per_step(peer, row.its) / 1e6
            bounds = [f"{megabytes * 1e11 / speed / row.ms:>4.0f}%" for speed in bandwidths]
            complexity = "-" if math.isnan(peer.amg_complexity) else f"{peer.amg_complexity:.2f}"
            print(
                f"{peer.rows:>7} {case:>6} {number:>8.3g} {row.name:>13} "
                f"{peer.preconditioner:>6} {complexity:>4} {row.ms:>8.2f} "
                f"{peer.rows / row.mean_ms / 1e3:>9.2f} {row.its:>5.1f} {row.error:>8.2e} "
                f"{speedups[0]} {speedups[1]} {megabytes:>7.1f} {bounds[0]} {bounds[1]}"
            )


def available(name: str) -> bool:
    try:
        __import__(NEEDS.get(name, "bmf_fem"))
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="N cells")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--solvers", nargs="+", choices=list(SOLVERS), default=list(SOLVERS))
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before them")
    parser.add_argument("--reference", type=int, help="N of the reference (2x the largest)")
    args = parser.parse_args()
    if MPI.COMM_WORLD.size > 1:
        raise SystemExit("peers.py compares serial solvers; run it on one rank")
    reference_n = args.reference or 2 * max(args.sizes)
    missing = [name for name in args.solvers if not available(name)]
    load = os.getloadavg()
    bandwidth = triad_bandwidth(2**25, repeats=8)  # 3 x 256 MiB, beyond any cache
    in_cache = triad_bandwidth(2**19, repeats=50)  # 3 x 4 MiB, like a 263k-dof matrix
    results: dict[tuple[int, str], list[Row]] = {}
    for case in args.cases:
        print(f"{case}: reference, N = {reference_n}", file=sys.stderr, flush=True)
        reference = Reference(reference_n, CASES[case], args.warmup + args.steps)
        for n in args.sizes:
            rows = results.setdefault((n, case), [])
            for name in (name for name in args.solvers if name not in missing):
                print(f"{case}: {name}, N = {n}", file=sys.stderr, flush=True)
                rows += run_solver(name, n, CASES[case], args, reference)
    print(
        f"diffusion-decay, Gaussian source, backward Euler dt = {DT}, rtol {RTOL:g}; median "
        f"of {args.steps} steps after {args.warmup}; error vs P1 on {reference_n}^2 cells"
    )
    print(
        f"triad {bandwidth / 1e9:.1f} GB/s (3 x 4 MiB arrays: {in_cache / 1e9:.1f}); load "
        f"average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
        f"BLAS {loaded_blas().split(':')[0]}; bmf-fem {git_commit()}"
    )
    print_table(results, (bandwidth, in_cache))
    if missing:
        print(f"not run (not installed here; use benchmarks/peer-env): {' '.join(missing)}")


if __name__ == "__main__":
    main()
