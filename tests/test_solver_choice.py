"""Which solver and preconditioner each operator gets, and the projected initial guess."""

from __future__ import annotations

import numpy as np
import pytest
from model_setup import QUIET, advance, make
from petsc4py import PETSc

from bmf_fem import linalg

H = 0.05  # box cells 0.05 x 0.05 cut in two: the longest edge is 0.05 * sqrt(2)
DT = 0.05
THRESHOLD = linalg.AUTO_AMG_THRESHOLDS[2]  # the test meshes are 2D


def config(D: float, solver: dict | None = None, decay: float = 1.0) -> dict:
    """u diffuses with ``D``; memory and sites are pointwise; a pulsed Gaussian input.
    The Krylov path unless ``solver`` says otherwise (the mesh is small enough to be
    factorised)."""
    return {
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": H},
        "time": {"dt": DT, "t_end": 1.0, "scheme": "sbdf1"},
        "field": {"D": D, "decay": decay, "feedback": 0.1},
        "memory": {"D": 0.0, "tau": [5.0]},
        "sites": {"D": 0.0},
        "solver": {"direct_max_dofs": 0, **(solver or {})},
        "input": [
            {
                "centre": [0.3, 0.6],
                "radius": 0.2,
                "amplitude": 1.0,
                "start": 0.0,
                "period": 0.3,
                "count": 3,
                "width": 0.1,
            }
        ],
        **QUIET,
    }


def diffusivity_for(number: float, decay: float = 1.0) -> float:
    """The D that gives the measured diffusion number ``number`` on the test mesh."""
    h_min = H * np.sqrt(2)
    return number * (1 + decay * DT) * h_min**2 / DT


STRONG = diffusivity_for(4 * THRESHOLD)


def field_solver(simulation) -> linalg.ImplicitSolver:
    return simulation.stepper.unknowns[0].solver


@pytest.mark.parametrize(
    ("factor", "expected"),
    [(0.5, linalg.MASS_DOMINATED_PC), (2.0, linalg.AUTO_AMG_PC)],
)
def test_auto_follows_the_measured_diffusion_number(factor, expected):
    number = factor * THRESHOLD
    simulation = make(config(diffusivity_for(number)))
    stepper = simulation.stepper
    assert stepper.min_cell_size == pytest.approx(H * np.sqrt(2), rel=1e-6)
    assert stepper.diffusion_number(simulation.model.field) == pytest.approx(number, rel=1e-6)
    assert field_solver(simulation).pc_type == expected
    simulation.close()


def test_the_rate_enters_the_diffusion_number():
    """(1/dt + c) M + D K: a large rate c makes the same D mass-dominated."""
    D = diffusivity_for(2.0 * THRESHOLD)
    simulation = make(config(D, decay=3.0 / DT))
    assert field_solver(simulation).pc_type == linalg.MASS_DOMINATED_PC
    simulation.close()


@pytest.mark.parametrize("pc_type", ["jacobi", "sor", "hypre", "gamg", "icc"])
def test_forced_preconditioners_are_honoured(pc_type):
    simulation = make(config(STRONG, {"pc_type": pc_type}))
    advance(simulation, 0.2)
    assert field_solver(simulation).pc_type == pc_type
    simulation.close()


def test_petsc_options_override_the_tuned_ones():
    options = {"pc_type": "jacobi", "ksp_rtol": 1e-6}
    simulation = make(config(STRONG, {"petsc_options": options}))
    solver = field_solver(simulation)
    assert solver.pc_type == "jacobi"
    assert solver.ksp.getTolerances()[0] == pytest.approx(1e-6)
    simulation.close()


def test_multigrid_level_options_reach_the_levels():
    """GAMG reads its level smoothers at setup: one Chebyshev-Jacobi step per level."""
    simulation = make(config(STRONG, {"pc_type": "gamg"}))
    pc = field_solver(simulation).ksp.getPC()
    assert pc.getMGLevels() > 1
    smoother = pc.getMGSmoother(1)
    assert smoother.getType() == "chebyshev"
    assert smoother.getPC().getType() == "jacobi"
    assert smoother.getTolerances()[3] == linalg.GAMG_OPTIONS["mg_levels_ksp_max_it"]
    simulation.close()


@pytest.mark.parametrize("factor", [0.2, 20.0])
def test_projected_guess_saves_iterations_and_keeps_the_solution(factor):
    """Same run with and without the guess: equal to the solver tolerance, fewer iterations."""
    data = config(diffusivity_for(factor * THRESHOLD), {"rtol": 1e-10})
    runs = []
    for values in (1, 4):
        simulation = make(data)
        simulation.stepper.guess_values = values
        iterations = 0
        for _ in range(20):
            simulation.step()
            iterations += simulation.stepper.iterations["u"]
        runs.append((simulation.model.u.x.array.copy(), iterations))
        simulation.close()
    (plain, plain_its), (projected, projected_its) = runs
    scale = np.abs(plain).max()
    assert scale > 0.1
    assert np.abs(projected - plain).max() <= 1e-7 * scale
    assert projected_its < plain_its


@pytest.mark.parametrize(
    ("factor", "options", "norm"),
    [
        (0.2, {}, "UNPRECONDITIONED"),
        (20.0, {}, "PRECONDITIONED"),
        (0.2, {"ksp_norm_type": "preconditioned"}, "PRECONDITIONED"),
    ],
)
def test_every_solve_is_accurate_to_rtol_of_the_steps_change(factor, options, norm):
    """A state of order one changed by pulses of 1e-6 (the build-up's small signals):
    every solve agrees with an LU solve of the same system to a few rtol (the default
    1e-6) of the step's change ``x - w^n``. A test relative to b (PETSc's) stops at 1e-6 of
    the state, where the change is lost: those solves are skipped or stop after one
    iteration with errors of the change's own size. ICC tests the plain residual unless
    told otherwise, GAMG the preconditioned one."""
    data = config(diffusivity_for(factor * THRESHOLD), {"petsc_options": options}, decay=0.0)
    data["field"].update(feedback=0.0, initial="1 + 0.5*x")
    data["input"][0]["amplitude"] = 1e-6
    simulation = make(data)
    solver = field_solver(simulation)
    assert solver.ksp.getNormType() == getattr(PETSc.KSP.NormType, norm)
    direct = PETSc.KSP().create(solver.matrix.getComm())
    direct.setOperators(solver.matrix)
    direct.setType("preonly")
    direct.getPC().setType("lu")
    reference = solver.matrix.createVecRight()
    errors = []
    solve = solver.solve
    rtol = solver.ksp.getTolerances()[0]
    assert rtol == 1e-6

    def checked(rhs, solution, values=1):
        start = solution.x.petsc_vec.copy()
        direct.solve(rhs, reference)
        iterations = solve(rhs, solution, values)
        change = reference.copy()
        change.axpy(-1.0, start)
        error = reference.copy()
        error.axpy(-1.0, solution.x.petsc_vec)
        # rtol of the change, or where the change falls to 1e-12 of the state between
        # pulses, the rounding of products with A (1e-16 times a diffusion number of 2000)
        allowed = rtol * change.norm() + 1e-12 * reference.norm()
        errors.append(error.norm() / allowed)
        for vec in (start, change, error):
            vec.destroy()
        return iterations

    solver.solve = checked
    advance(simulation, 1.0)
    assert len(errors) == 20
    print(f"{norm}: largest error / allowed {max(errors):.2f}")
    assert max(errors) <= 5.0, errors
    direct.destroy()
    reference.destroy()
    simulation.close()


def test_guess_reproduces_values_cubic_in_time():
    """Values x(t) = a + t b + t^2 c + t^3 d at close times (dt = 1e-2: third differences
    are ~1e-5 of the values): from four of them the guess is x(t^{n+1}) itself, to
    rounding, and the solve is skipped. In the basis of the values themselves the Gram
    matrix has a condition number of ~1e11 and the same projection leaves a residual of
    ~1e-5 of b (1e-12 here)."""
    simulation = make(config(diffusivity_for(0.2 * THRESHOLD)))
    solver = field_solver(simulation)
    u = simulation.model.u
    rng = np.random.default_rng(5)
    coefficients = rng.standard_normal((4, u.x.array.size))
    rhs = solver.matrix.createVecLeft()
    exact = solver.matrix.createVecRight()
    owned = exact.getLocalSize()
    step = 1e-2
    for n in range(1, 9):
        u.x.array[:] = np.polynomial.polynomial.polyval((n - 1) * step, coefficients)
        exact.array[:] = np.polynomial.polynomial.polyval(n * step, coefficients)[:owned]
        solver.matrix.mult(exact, rhs)
        iterations = solver.solve(rhs, u, 4)
        if n >= 5:  # the values of four calls before: x(t^{n-1}), ..., x(t^{n-4})
            assert iterations == 0
            assert solver.guess.residual.norm() <= 1e-10 * rhs.norm()
            error = np.abs(u.x.array[:owned] - exact.array).max()
            assert error <= 1e-10 * np.abs(exact.array).max()
    simulation.close()


@pytest.mark.parametrize("factor", [0.2, 20.0])
def test_guess_residual_is_the_true_residual(factor):
    """Over a pulsed run with noise (values changed after their solves) the guess's
    residual, which decides whether a solve is skipped and where CG starts, is
    ``b - A x`` of the guess: every image is a product with A, nothing accumulates."""
    data = config(diffusivity_for(factor * THRESHOLD), {"rtol": 1e-10})
    data["field"]["noise"] = 0.05
    simulation = make(data)
    solver = field_solver(simulation)
    guess = solver.guess
    project = guess.project
    check = solver.matrix.createVecLeft()
    gaps = []

    def checked(rhs, current, *args):
        result = project(rhs, current, *args)
        solver.matrix.mult(current, check)
        check.aypx(-1.0, rhs)  # b - A x
        check.axpy(-1.0, guess.residual)
        # rounding of b - A x: relative to ||b|| + ||A|| ||x||
        scale = rhs.norm() + solver.matrix.norm(PETSc.NormType.INFINITY) * current.norm()
        gaps.append(check.norm() / scale)
        return result

    guess.project = checked
    for _ in range(60):
        simulation.step()
    simulation.close()
    assert len(gaps) == 60
    assert max(gaps) <= 1e-13


def test_differences_made_of_rounding_are_not_trusted():
    """Values equal but for rounding (a field resting at an equilibrium), then a jump of
    the right-hand side (an input switching on): the differences are rounding, their
    images rounding of other magnitudes, and a projection that used them would chase
    the large residual with huge coefficients along them and report a residual that
    is not the guess's. The guess's residual stays ``b - A x``."""
    simulation = make(config(diffusivity_for(0.2 * THRESHOLD)))
    solver = field_solver(simulation)
    u = simulation.model.u
    rng = np.random.default_rng(7)
    rest = 1.0 + 0.1 * rng.standard_normal(u.x.array.size)
    rhs = solver.matrix.createVecLeft()
    target = solver.matrix.createVecRight()
    owned = target.getLocalSize()
    check = solver.matrix.createVecLeft()
    for n in range(8):
        u.x.array[:] = rest * (1.0 + 1e-15 * rng.standard_normal(rest.size))
        jump = 0.0 if n < 6 else 0.5 * n
        target.array[:] = rest[:owned] + jump * rng.standard_normal(owned)
        solver.matrix.mult(target, rhs)
        solver.guess.project(rhs, u.x.petsc_vec, 4, 1e-8, 0.0)
        solver.matrix.mult(u.x.petsc_vec, check)
        check.aypx(-1.0, rhs)
        check.axpy(-1.0, solver.guess.residual)
        assert check.norm() <= 1e-12 * rhs.norm(), n
    simulation.close()


# -- small operators: a factorisation ---------------------------------------------------


def test_small_operators_on_one_rank_are_factorised_and_solved_exactly():
    simulation = make(config(STRONG, solver={"direct_max_dofs": -1}))
    solver = field_solver(simulation)
    assert solver.direct and solver.pc_type == "cholesky"
    assert solver.ksp.getType() == "preonly"
    advance(simulation, 4)
    # The step's equation holds to rounding: A w^{n+1} = b.
    rhs = simulation.stepper.unknowns[0].rhs
    residual = rhs.duplicate()
    solver.matrix.mult(simulation.model.u.x.petsc_vec, residual)
    residual.axpy(-1.0, rhs)
    assert residual.norm() <= 1e-12 * rhs.norm()
    assert simulation.stepper.iterations["u"] == 1


def test_factorised_and_krylov_steps_agree_to_the_krylov_tolerance():
    direct = make(config(STRONG, solver={"direct_max_dofs": -1}))
    krylov = make(config(STRONG, solver={"rtol": 1e-10}))
    assert field_solver(direct).direct and not field_solver(krylov).direct
    advance(direct, 10)
    advance(krylov, 10)
    u, reference = direct.model.u.x.array, krylov.model.u.x.array
    assert np.abs(u - reference).max() <= 1e-8 * np.abs(reference).max()
    assert np.abs(reference).max() > 1e-3


def test_the_size_limit_follows_the_mesh_dimension_and_the_key():
    choose = linalg.choose_solver
    assert choose("auto", "auto", True, 50.0, 2, 40_000, 1).direct
    assert not choose("auto", "auto", True, 50.0, 2, 40_001, 1).direct
    assert not choose("auto", "auto", True, 50.0, 3, 4_001, 1).direct
    assert choose("auto", "auto", True, 50.0, 1, 10**7, 1).direct
    assert not choose("auto", "auto", True, 50.0, 2, 1_000, 1, direct_max_dofs=0).direct
    assert choose("auto", "auto", True, 50.0, 2, 90_000, 1, direct_max_dofs=10**5).direct


def test_several_ranks_never_factorise_by_default():
    choice = linalg.choose_solver("auto", "auto", True, 50.0, 2, 1_000, 2)
    assert not choice.direct and choice == linalg.SolverChoice("cg", "icc")


def test_the_operators_symmetry_chooses_the_method():
    assert linalg.choose_solver("auto", "auto", False, 50.0, 2, 1_000, 1).pc_type == "lu"
    krylov = linalg.choose_solver("auto", "auto", False, 50.0, 2, 10**6, 1)
    assert krylov == linalg.SolverChoice("gmres", "ilu")
    strong = linalg.choose_solver("auto", "auto", False, 1e4, 2, 10**6, 1)
    assert strong == linalg.SolverChoice("gmres", "gamg")
    assert linalg.choose_solver("auto", "auto", True, 50.0, 2, 10**6, 1).ksp_type == "cg"
    # What the user names is kept.
    assert linalg.choose_solver("bcgs", "jacobi", False, 1.0, 2, 10, 1) == linalg.SolverChoice(
        "bcgs", "jacobi"
    )
    assert linalg.choose_solver("auto", "lu", True, 1.0, 2, 10**6, 2).direct
