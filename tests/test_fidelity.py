"""Faithful where the build-up lives: small signals, reruns, pulses and noise-driven escapes.

Each test checks bmf-fem against an answer it did not write: the linear stability of a
Turing mode, the same program run again, an ODE solved by SciPy between the pulses'
edges, the exact mean first-passage time of a tilted double well.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import SCRIPTS
from model_setup import make
from scipy.integrate import solve_ivp
from test_detection import first_passage_time

from bmf_fem.config import SitesConfig
from bmf_fem.potential import SITE_POTENTIAL
from bmf_fem.sites import stabilised_site_step

# --- small signals ------------------------------------------------------------------

TURING = {
    "mesh": {"kind": "box", "dim": 1, "size": float(np.pi), "h": float(np.pi / 400)},
    "time": {"dt": 0.005, "t_end": 8.0, "scheme": "sbdf2"},
    "field": {"D": 0.01, "decay": 1.0, "feedback": 0.0, "reaction": "u*u/M"},
    "memory": {"D": 0.3, "tau": [0.5], "source": "u*abs(u)", "initial": "2"},
    "sites": {"rate": 0.0, "coupling": 0.0},
    "output": {"every": 1000000},
}


def turing_rate(k: float) -> float:
    """Growth rate of cos(k x) about u = M = 2 of u_t = 0.01 u_xx - u + u^2/M,
    M_t = 0.3 M_xx - 2 M + u^2 (Gierer-Meinhardt): the larger eigenvalue of the
    Jacobian of the kinetics less the diffusion of each component."""
    jacobian = np.array([[-1.0 + 2.0 - 0.01 * k**2, -1.0], [4.0, -2.0 - 0.3 * k**2]])
    return float(np.linalg.eigvals(jacobian).real.max())


@pytest.mark.parametrize("amplitude", [1e-3, 1e-8])
def test_a_turing_mode_grows_at_its_linear_rate_from_any_amplitude(amplitude):
    """cos(5x) grows at +0.3436 whether it starts at 1e-3 or at 1e-8 of a state of 2, with
    the default solver settings (a test relative to b froze the 1e-8 mode: each step's
    change, 3e-12 of b, passed before anything was solved). The rate is fitted to the
    mode's amplitude after the fast mode has decayed (t > 2); the P1 error of the mode's
    eigenvalue is (k h)^2 / 12 = 1.3e-4 of k^2."""
    data = {**TURING, "field": {**TURING["field"], "initial": f"2 + {amplitude!r}*cos(5*x)"}}
    simulation = make(data)
    n = simulation.stepper.n_owned
    weights = simulation.stepper.lumped[:n]
    mode = np.cos(5.0 * simulation.model.coordinates[:n, 0])
    times, amplitudes = [], []
    for step in range(1, simulation.n_steps + 1):
        simulation.step()
        if step % 20 == 0 and simulation.t > 2.0:
            u = simulation.model.u.x.array[:n]
            times.append(simulation.t)
            amplitudes.append((weights @ (u * mode)) / (weights @ mode**2))
    simulation.close()
    rate = np.polyfit(times, np.log(np.abs(amplitudes)), 1)[0]
    expected = turing_rate(5.0)
    assert expected == pytest.approx(0.343647, abs=1e-6)
    assert rate == pytest.approx(expected, rel=3e-4), (rate, expected)


# --- reruns -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("case", ["turing", "noisy"])
def test_reruns_give_the_same_bits(case):
    """The same configuration run five times in fresh processes gives identical fields.
    Environment variables of different lengths move where the arrays land in memory,
    which used to change the digits of PETSc's VecMDot and, through the solves whose
    tests sit near the tolerance, the fields (1e-13 to 1e-8 apart)."""
    digests = set()
    for padding in (0, 1, 100, 4097, 30000):
        env = dict(os.environ, BMF_TEST_PADDING="x" * padding)
        result = subprocess.run(
            [sys.executable, str(SCRIPTS / "rerun.py"), case],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
        digests.add(json.loads(result.stdout.splitlines()[-1])["fields"])
    assert len(digests) == 1, digests


# --- pulses -------------------------------------------------------------------------

PULSED = {
    "decay": 1.0,
    "feedback": 0.05,
    "tau": [2.0, 10.0],
    "weight": [0.6, 0.4],
    "rate": 1.0,
    "coupling": 1.0,
    "amplitude": 1.2,
    "width": 0.25,
    "period": 2.5,
    "start": 0.513,  # every edge falls inside a step, at the same fraction for each dt
    "count": 4,
}
PULSED_END = 15.0


def pulsed_kinetics(t: float, y: np.ndarray, on: bool) -> list[float]:
    """The BMF system for spatially uniform fields: u, m_1, m_2, s."""
    p = PULSED
    u, m1, m2, s = y
    memory = p["weight"][0] * m1 + p["weight"][1] * m2
    source = u * abs(u)
    return [
        -p["decay"] * u + p["feedback"] * memory + (p["amplitude"] / p["width"] if on else 0.0),
        -m1 / p["tau"][0] + source,
        -m2 / p["tau"][1] + source,
        p["rate"] * (s - s**3 + p["coupling"] * (u + memory)),
    ]


def pulsed_reference(times: np.ndarray) -> np.ndarray:
    """The uniform solution at ``times`` from SciPy's DOP853, restarted at every edge."""
    p = PULSED
    onsets = [p["start"] + k * p["period"] for k in range(p["count"])]
    edges = sorted({0.0, PULSED_END, *onsets, *(t + p["width"] for t in onsets)})
    state = np.array([0.0, 0.0, 0.0, -1.0])
    rows = []
    for a, b in itertools.pairwise(edges):
        on = any(t <= a < t + p["width"] for t in onsets)
        inside = times[(times >= a) & ((times < b) | (b == PULSED_END))]
        solution = solve_ivp(
            pulsed_kinetics,
            (a, b),
            state,
            method="DOP853",
            rtol=1e-12,
            atol=1e-13,
            dense_output=True,
            args=(on,),
        )
        rows.append(solution.sol(inside).T if inside.size else np.empty((0, 4)))
        state = solution.y[:, -1]
    return np.concatenate(rows)


def pulsed_run(dt: float, scheme: str, sample: float) -> np.ndarray:
    """u, m_1, m_2, s of a bmf-fem run with pulses everywhere, every ``sample`` in time."""
    p = PULSED
    data = {
        "mesh": {"kind": "box", "dim": 1, "size": 2.0, "h": 0.5},
        "time": {"dt": dt, "t_end": PULSED_END, "scheme": scheme},
        "field": {"D": 0.01, "decay": p["decay"], "feedback": p["feedback"]},
        "memory": {"D": 0.001, "tau": p["tau"], "weight": p["weight"]},
        "sites": {"D": 0.002, "rate": p["rate"], "coupling": p["coupling"]},
        "input": [
            {"profile": "everywhere", **{key: p[key] for key in ("amplitude", "width")}}
            | {key: p[key] for key in ("period", "start", "count")}
        ],
        "output": {"every": 1000000},
    }
    simulation = make(data)
    model = simulation.model
    every = round(sample / dt)
    rows = [[0.0, 0.0, 0.0, -1.0]]
    for step in range(1, simulation.n_steps + 1):
        simulation.step()
        if step % every == 0:
            fields = (model.u, *model.memory_modes, model.s)
            rows.append([f.x.array.mean() for f in fields])
    simulation.close()
    return np.array(rows)


@pytest.mark.slow
@pytest.mark.parametrize(("scheme", "order"), [("sbdf2", 2), ("sbdf1", 1)])
def test_pulses_that_switch_inside_a_step_keep_the_schemes_order(scheme, order):
    """Four pulses whose edges fall inside steps drive u, two memory modes and the sites
    through a flip; against SciPy's solution restarted at every edge the largest error
    over the run falls by 2^order per halving of dt (SBDF2 used to fall by 2: it
    released a forcing that switched on inside a step late)."""
    sample = 0.04
    times = sample * np.arange(round(PULSED_END / sample) + 1)
    reference = pulsed_reference(times)
    steps = [0.04, 0.02, 0.01, 0.005]
    errors = [np.abs(pulsed_run(dt, scheme, sample) - reference).max() for dt in steps]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    print(f"{scheme}: errors {errors}, ratios {ratios}")
    expected = 2.0**order
    assert np.all(ratios >= 0.875 * expected), (errors, ratios)
    assert np.all(ratios <= 1.25 * expected), (errors, ratios)


# --- noise-driven escape ------------------------------------------------------------

ESCAPE_TILT, ESCAPE_SIGMA, ESCAPE_ON, ESCAPE_DT = 0.1, 0.4, 0.5, 0.05
ESCAPE_TIME = 40.82  # exact mean first passage from s = -1 to 0.5 (D = sigma^2 / 2 = 0.08)


def assert_escape_time(first: np.ndarray, horizon: float) -> None:
    """The mean of first-passage times (sites still below at ``horizon`` counted there)
    within 3 % plus two standard errors of the exact integral."""
    exact = first_passage_time(ESCAPE_TILT, ESCAPE_SIGMA**2 / 2, -1.0, ESCAPE_ON)
    assert exact == pytest.approx(ESCAPE_TIME, abs=0.01)
    assert np.mean(first < 0) < 1e-3
    times = np.where(first < 0, horizon, first)
    mean, error = times.mean(), times.std() / np.sqrt(times.size)
    print(f"mean escape {mean:.2f} +- {error:.2f} against {exact:.2f}")
    assert abs(mean / exact - 1.0) <= 0.03 + 2 * error / exact, (mean, error, exact)


def test_cells_sites_escape_at_the_kramers_time_with_the_default_stabilisation():
    """8000 cells-mode sites at tilt 0.1 with sigma 0.4, from s = -1, stepped by the
    solver's own site step with the default stabilisation at dt = 0.05 (S = 2 with its
    noise added undamped escaped 8 % early: an effective intensity D (1 + alpha S dt))."""
    stabilisation = SITE_POTENTIAL.stabilisation(
        SitesConfig().stabilisation, 1.0, ESCAPE_DT, "sbdf1"
    )
    rng = np.random.default_rng(11)
    s = np.full(8000, -1.0)
    first = np.full(s.size, -1.0)
    horizon = 10 * ESCAPE_TIME
    for step in range(1, round(horizon / ESCAPE_DT) + 1):
        noise = ESCAPE_SIGMA * np.sqrt(ESCAPE_DT) * rng.standard_normal(s.size)
        s = stabilised_site_step(s, ESCAPE_TILT, ESCAPE_DT, 1.0, stabilisation, 0.0, noise)
        first[(s > ESCAPE_ON) & (first < 0)] = step * ESCAPE_DT
        if np.all(first >= 0):
            break
    assert_escape_time(first, horizon)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["sbdf1", "sbdf2"])
def test_continuum_sites_escape_at_the_kramers_time(scheme):
    """A continuum site field without diffusion is one site per dof: 3999 interior dofs
    of a 1D box (lumped mass h, so sigma_s = sqrt(2 D h) gives each the intensity D) at
    a held tilt, stepped by the stepper with the defaults at dt = 0.05. SBDF2 used to add
    its noise after the step, which its history amplified: escapes came 68 % early."""
    cells = 4000
    h = 1.0 / cells
    data = {
        "mesh": {"kind": "box", "dim": 1, "size": 1.0, "h": h},
        "time": {"dt": ESCAPE_DT, "t_end": 10 * ESCAPE_TIME, "scheme": scheme},
        "field": {"D": 0.0, "decay": 0.0, "feedback": 0.0, "initial": repr(ESCAPE_TILT)},
        "memory": {"source": "0"},
        "sites": {"noise": float(np.sqrt(ESCAPE_SIGMA**2 * h)), "on": ESCAPE_ON},
        "output": {"every": 1000000, "seed": 3},
    }
    simulation = make(data)
    x = simulation.model.coordinates[:, 0]
    interior = (x > h / 2) & (x < 1.0 - h / 2)
    assert np.allclose(simulation.stepper.lumped[interior], h)
    times = simulation.model.expression_time.x.array
    for _ in range(simulation.n_steps):
        simulation.step()
        if np.all(times[interior] >= 0):
            break
    assert np.allclose(simulation.model.phi.x.array, ESCAPE_TILT)
    first = times[interior].copy()
    simulation.close()
    assert_escape_time(first, 10 * ESCAPE_TIME)
