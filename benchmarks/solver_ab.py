"""This checkout's solvers against another revision's, steps alternated in one process.

On a shared machine timings move by 30-50 % from one minute to the next, so two runs taken
one after the other compare the machine's moments as much as the code. This script builds
the peers.py problem (shared/PERF_NOTES.md: diffusion-decay with a Gaussian source on the
unit square, backward Euler, rtol 1e-8) as --pairs pairs of bmf-fem simulations, one of
each pair with this checkout's solver modules (bmf_fem/linalg/) and one with REV's (read
with `git show`, with the modules of REV it needs that this checkout lacks), and advances
them in turn, one step each, so both versions see the same moments and share the caches
alike. After --warmup steps it
prints for each version the u equation's field-step (right-hand side and solve, as
`bmf-fem/u` in peers.py): mean iterations, median, 25th percentile and minimum in ms over
the --steps timed steps; and the largest difference of the final u between the versions.
Four simulations in one process compete for the caches, so the times are above those of
a peers.py run; the comparison is what counts.

    containers/run python3 benchmarks/solver_ab.py REV [--case weak|strong] [--n 256]
        [--warmup 20] [--steps 40] [--pairs 2] [--revision-rtol 1e-8]

``--revision-rtol`` gives REV's solvers their own rtol: up to 7f52dd7 the test was relative
to b, and its 1e-8 of b costs what 1e-6 of the step's change costs now.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402

import bmf_fem.stepper  # noqa: E402
from bmf_fem import Simulation, config_from_dict  # noqa: E402


def module_at(revision: str, name: str, workdir: Path):
    """bmf_fem/``name``.py (``name`` dotted, e.g. ``linalg.krylov``) as it is at
    ``revision``, imported under a name of its own; the solver modules it imports
    (bmf_fem.linalg...) and those this checkout no longer has are taken from there too."""
    alias = f"{name.replace('.', '_')}_at_revision"
    if alias in sys.modules:
        return sys.modules[alias]
    source = subprocess.run(
        ["git", "show", f"{revision}:bmf_fem/{name.replace('.', '/')}.py"],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for imported in sorted(set(re.findall(r"^from bmf_fem\.([\w.]+) import", source, re.M))):
        own = imported.startswith("linalg.")
        if own or importlib.util.find_spec(f"bmf_fem.{imported}") is None:
            other = module_at(revision, imported, workdir).__name__
            line = rf"^from bmf_fem\.{re.escape(imported)} import"
            source = re.sub(line, f"from {other} import", source, flags=re.M)
    path = workdir / f"{alias}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(alias, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def solver_module(revision: str) -> str:
    """Where ImplicitSolver lives at ``revision``: bmf_fem/linalg.py, later linalg/krylov.py."""
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{revision}:bmf_fem/linalg/krylov.py"],
        cwd=HERE.parent,
        capture_output=True,
    )
    return "linalg.krylov" if found.returncode == 0 else "linalg"


def solver_class(revision: str, workdir: Path):
    """ImplicitSolver of bmf_fem/linalg at ``revision``, called as this checkout's
    stepper calls it. Solvers from before the guess kept its own values took them as
    ``history`` (the stepper's arrays, newest first) and no diffusion number: this keeps
    those arrays for them, copying each start value as the stepper then did."""
    solver = module_at(revision, solver_module(revision), workdir).ImplicitSolver
    parameters = inspect.signature(solver.__init__).parameters
    if "history" not in inspect.signature(solver.solve).parameters:
        return solver

    class WithHistory(solver):
        def __init__(self, *args):
            super().__init__(*args[: len(parameters) - 1])
            self.history: list[np.ndarray] = []

        def solve(self, rhs, solution, values: int = 1) -> int:
            start = solution.x.array.copy()
            iterations = super().solve(rhs, solution, self.history[: values - 1])
            self.history = [start, *self.history][: max(values - 1, 0)]
            return iterations

    return WithHistory


def timed_simulation(
    n: int, D: float, solver, rtol: float | None = None
) -> tuple[Simulation, list[float], list[int]]:
    """A peers.py bmf-fem simulation built with ``solver``; its u field-steps are timed."""
    bmf_fem.stepper.ImplicitSolver = solver
    data = peers.bmf_config(n, D)
    if rtol is not None:
        data["solver"]["rtol"] = rtol
    simulation = Simulation(config_from_dict(data), MPI.COMM_SELF)
    field = next(u for u in simulation.stepper.unknowns if u.equation.name == "u")
    seconds: list[float] = []
    advance = field.advance

    def timed_advance(*args, **kwargs):
        started = time.perf_counter()
        advance(*args, **kwargs)
        seconds.append(time.perf_counter() - started)

    field.advance = timed_advance
    return simulation, seconds, []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the git revision to compare with (e.g. HEAD~1)")
    parser.add_argument("--case", choices=tuple(peers.CASES), default="weak")
    parser.add_argument("--n", type=int, default=256, help="cells per side")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--revision-rtol", type=float, help="REV's rtol (default: peers.py's)")
    args = parser.parse_args()

    current = bmf_fem.stepper.ImplicitSolver
    with tempfile.TemporaryDirectory() as workdir:
        other = solver_class(args.revision, Path(workdir))
        runs = []
        for _ in range(args.pairs):
            for name, solver, rtol in (
                (args.revision, other, args.revision_rtol),
                ("this checkout", current, None),
            ):
                case = peers.CASES[args.case]
                runs.append((name, *timed_simulation(args.n, case, solver, rtol)))
        bmf_fem.stepper.ImplicitSolver = current
        for _ in range(args.warmup + args.steps):
            for _, simulation, _, iterations in runs:
                simulation.step()
                iterations.append(simulation.stepper.iterations["u"])

    dofs = runs[0][1].model.V.dofmap.index_map.size_global
    print(
        f"{args.case} diffusion, {dofs} dofs, steps {args.warmup + 1}-"
        f"{args.warmup + args.steps} alternated, {args.pairs} pair(s); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'solver':>16} {'its':>5} {'median ms':>10} {'p25 ms':>8} {'min ms':>8}")
    for name, _, seconds, iterations in runs:
        ms = 1e3 * np.array(seconds[args.warmup :])
        print(
            f"{name:>16} {np.mean(iterations[args.warmup :]):5.2f} {np.median(ms):10.2f} "
            f"{np.percentile(ms, 25):8.2f} {ms.min():8.2f}"
        )
    first, second = runs[0][1].model.u.x.array, runs[1][1].model.u.x.array
    difference = np.abs(first - second).max() / np.abs(first).max()
    print(f"largest difference of u between the versions: {difference:.1e} (relative)")
    for _, simulation, _, _ in runs:
        simulation.close()


if __name__ == "__main__":
    main()
