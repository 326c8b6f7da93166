"""Scalar diagnostics of the state, one row of metrics.csv per output time."""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from bmf_fem.parallel import global_max, global_sum


def compute_metrics(model, stepper, sites, scope_threshold: float) -> dict[str, float]:
    """Maxima, integrals (exact, from the mass matrix's row sums), scope and expression."""
    comm = model.comm
    n = stepper.n_owned
    weights = stepper.rowsum[:n]
    u = model.u.x.array[:n]
    memory = model.M.x.array[:n]
    lumped = stepper.lumped[:n]
    its = stepper.iterations
    return {
        "u_max": global_max(comm, u),
        "u_integral": global_sum(comm, weights @ u),
        "M_integral": global_sum(comm, weights @ memory),
        "phi_max": global_max(comm, model.phi.x.array[:n]),
        "scope": global_sum(comm, lumped[memory > scope_threshold].sum()),
        "expressed_fraction": sites.expressed_fraction(),
        "s_mean": sites.mean_value(),
        "active_fraction": sites.active_fraction(),
        "ksp_its_u": its["u"],
        "ksp_its_m": its["m"],
        "ksp_its_s": its["s"],
    }


TRACE_COLUMNS = ("t", "u_max", "phi_max", "scope", "active_fraction")


def trace_row(model, stepper, sites, scope_threshold: float) -> tuple[float, ...]:
    """The scalars the run's results come from (TRACE_COLUMNS), taken after every step:
    peaks and onsets then do not depend on how often metrics.csv gets a row."""
    comm = model.comm
    n = stepper.n_owned
    memory = model.M.x.array[:n]
    local_max = np.array(
        [model.u.x.array[:n].max(initial=-np.inf), model.phi.x.array[:n].max(initial=-np.inf)]
    )
    maxima = np.empty(2)
    comm.Allreduce(local_max, maxima, op=MPI.MAX)
    scope = global_sum(comm, stepper.lumped[:n][memory > scope_threshold].sum())
    return (stepper.t, float(maxima[0]), float(maxima[1]), scope, sites.active_fraction())


def summarise_history(rows: list[dict]) -> dict[str, float]:
    """Run-level numbers from the metric rows: peak u and when it happened."""
    if not rows:
        return {}
    u_max = np.array([row["u_max"] for row in rows])
    peak = int(np.argmax(u_max))
    return {
        "peak_u_max": float(u_max[peak]),
        "t_peak_u_max": float(rows[peak]["t"]),
        "peak_scope": float(max(row["scope"] for row in rows)),
    }
