"""Which preconditioner each operator gets, and the projected initial guess."""

from __future__ import annotations

import numpy as np
import pytest
from model_setup import QUIET, advance, make
from petsc4py import PETSc

from bmf_fem import linalg

H = 0.05  # box cells 0.05 x 0.05 cut in two: the longest edge is 0.05 * sqrt(2)
DT = 0.05


def config(D: float, solver: dict | None = None, decay: float = 1.0) -> dict:
    """u diffuses with ``D``; memory and sites are pointwise; a pulsed Gaussian input."""
    return {
        "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": H},
        "time": {"dt": DT, "t_end": 1.0, "scheme": "sbdf1"},
        "field": {"D": D, "decay": decay, "feedback": 0.1},
        "memory": {"D": 0.0, "tau": [5.0]},
        "sites": {"D": 0.0},
        "solver": solver or {},
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


STRONG = diffusivity_for(4 * linalg.AUTO_AMG_THRESHOLD)


def field_solver(simulation) -> linalg.ImplicitSolver:
    return simulation.stepper.unknowns[0].solver


@pytest.mark.parametrize(
    ("factor", "expected"),
    [(0.5, linalg.MASS_DOMINATED_PC), (2.0, linalg.AUTO_AMG_PC)],
)
def test_auto_follows_the_measured_diffusion_number(factor, expected):
    number = factor * linalg.AUTO_AMG_THRESHOLD
    simulation = make(config(diffusivity_for(number)))
    stepper = simulation.stepper
    assert stepper.min_cell_size == pytest.approx(H * np.sqrt(2), rel=1e-6)
    assert stepper.diffusion_number(simulation.model.field) == pytest.approx(number, rel=1e-6)
    assert field_solver(simulation).pc_type == expected
    simulation.close()


def test_the_rate_enters_the_diffusion_number():
    """(1/dt + c) M + D K: a large rate c makes the same D mass-dominated."""
    D = diffusivity_for(2.0 * linalg.AUTO_AMG_THRESHOLD)
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
    data = config(diffusivity_for(factor * linalg.AUTO_AMG_THRESHOLD), {"rtol": 1e-10})
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
def test_correction_test_takes_petscs_iterations(factor, options, norm):
    """bmf-fem's CG (krylov.ConjugateGradients), correction solve and test (against the
    equation's b, not the correction's; ``||B b||`` estimated between measurements) stop
    every solve where PETSc's KSPCG with its own test stops when it starts from the guess,
    with the same solution. ICC
    tests the plain residual unless told otherwise, GAMG the preconditioned one; with ICC
    the ratio ``||B b|| / ||x||`` is far from 1, so a wrong estimate changes iterations."""
    data = config(diffusivity_for(factor * linalg.AUTO_AMG_THRESHOLD))
    data["solver"] = {"petsc_options": options}
    runs = []
    for petsc_test in (True, False):
        simulation = make(data)
        solver = field_solver(simulation)
        assert solver.ksp.getNormType() == getattr(PETSc.KSP.NormType, norm)
        assert solver.test is not None
        assert solver.ksp.getType() == PETSc.KSP.Type.PYTHON
        if petsc_test:
            solver.test = solver.cg = None
            solver.ksp.setType(PETSc.KSP.Type.CG)
            solver.ksp.setNormType(getattr(PETSc.KSP.NormType, norm))
            solver.ksp.setConvergenceTest(None)  # KSPConvergedDefault
            solver.ksp.setInitialGuessNonzero(True)
            solver.ksp.setUp()
        iterations = []
        for _ in range(20):
            simulation.step()
            iterations.append(simulation.stepper.iterations["u"])
        ratio = None if petsc_test else solver.test.ratio
        runs.append((simulation.model.u.x.array.copy(), iterations, ratio))
        simulation.close()
    (petsc, petsc_its, _), (ours, our_its, ratio) = runs
    assert sum(our_its) >= 20
    assert our_its == petsc_its
    # Equal to the solver tolerance (rtol 1e-8): the two solves take the same iterations
    # from different starts (guess vs zero correction), and GAMG's setup draws random
    # vectors, so the digits below that differ.
    assert np.abs(ours - petsc).max() <= 1e-7 * np.abs(petsc).max()
    if options:
        assert ratio < 0.9  # ICC: ||B b|| is not ||x||, the ratio must be measured


@pytest.mark.parametrize("factor", [0.2, 20.0])
def test_a_value_changed_after_its_solve_gets_its_own_image(factor):
    """The guess takes A w^n from the last solve's residual only while w^n is that
    solution: a value changed in between (a script, noise) gets its product with A, so
    the step is the one of a solver that remembers nothing."""
    data = config(diffusivity_for(factor * linalg.AUTO_AMG_THRESHOLD), {"rtol": 1e-10})
    results = []
    for remembers in (True, False):
        simulation = make(data)
        for _ in range(6):
            simulation.step()
        solver = field_solver(simulation)
        assert solver.guess.solved
        u = simulation.model.u
        u.x.array[:] += 0.2 * np.sin(7.0 * u.function_space.tabulate_dof_coordinates()[:, 0])
        if not remembers:
            solver.guess.forget_images()
        simulation.step()
        results.append(u.x.array.copy())
        simulation.close()
    remembered, fresh = results
    assert np.abs(remembered - fresh).max() <= 1e-7 * np.abs(fresh).max()
