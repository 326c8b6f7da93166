"""The PETSc options a configuration may set: an allow-list of names and value forms.

PETSc options can run Python code (``*_python_type``), write files (``*_view``,
``*_monitor``, ``log_view`` with a viewer string) and read files (``options_file``). A
configuration must not do any of that, so only the names below are accepted, each with the
form of value it takes; everything else is refused at check time with a ConfigError.
To allow another option, add one line to ``ALLOWED`` (and a test in tests/test_bad_input.py).
"""

from __future__ import annotations

from collections.abc import Callable

from bmf_fem.errors import ConfigError

KSP_TYPES = (
    "cg", "gmres", "fgmres", "lgmres", "bcgs", "bicg", "cgs", "tfqmr", "minres", "richardson",
    "chebyshev", "preonly", "gcr", "pipecg", "cr",
)  # fmt: skip
PC_TYPES = (
    "none", "jacobi", "pbjacobi", "bjacobi", "asm", "gasm", "sor", "icc", "ilu", "lu",
    "cholesky", "gamg", "hypre", "mg", "ml", "eisenstat",
)  # fmt: skip
HYPRE_TYPES = ("boomeramg", "pilut", "parasails", "euclid", "ams", "ads")
FACTOR_SOLVERS = ("petsc", "mumps", "superlu", "superlu_dist", "umfpack", "cholmod")
GAMG_TYPES = ("agg", "geo", "classical")

Check = Callable[[object], bool]


def _real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _boolean(value: object) -> bool:
    return isinstance(value, bool) or value in ("true", "false")


def _one_of(choices: tuple[str, ...]) -> Check:
    return lambda value: value in choices


# option name (without prefix or '-') -> (check, what is valid)
ALLOWED: dict[str, tuple[Check, str]] = {
    "ksp_type": (_one_of(KSP_TYPES), f"one of {', '.join(KSP_TYPES)}"),
    "pc_type": (_one_of(PC_TYPES), f"one of {', '.join(PC_TYPES)}"),
    "pc_hypre_type": (_one_of(HYPRE_TYPES), f"one of {', '.join(HYPRE_TYPES)}"),
    "pc_factor_mat_solver_type": (_one_of(FACTOR_SOLVERS), f"one of {', '.join(FACTOR_SOLVERS)}"),
    "pc_gamg_type": (_one_of(GAMG_TYPES), f"one of {', '.join(GAMG_TYPES)}"),
    "ksp_rtol": (_real, "a number"),
    "ksp_atol": (_real, "a number"),
    "ksp_divtol": (_real, "a number"),
    "ksp_max_it": (_integer, "an integer"),
    "ksp_gmres_restart": (_integer, "an integer"),
    "ksp_initial_guess_nonzero": (_boolean, "true or false"),
    "ksp_monitor": (_boolean, "true or false (printed, never to a file)"),
    "ksp_converged_reason": (_boolean, "true or false (printed, never to a file)"),
    "ksp_view": (_boolean, "true or false (printed, never to a file)"),
    "ksp_norm_type": (
        _one_of(("none", "preconditioned", "unpreconditioned", "natural")),
        "one of none, preconditioned, unpreconditioned, natural",
    ),
    "pc_factor_levels": (_integer, "an integer"),
    "pc_factor_shift_type": (
        _one_of(("none", "nonzero", "positive_definite", "inblocks")),
        "one of none, nonzero, positive_definite, inblocks",
    ),
    "sub_pc_factor_levels": (_integer, "an integer"),
    "pc_sor_omega": (_real, "a number"),
    "pc_sor_its": (_integer, "an integer"),
    "pc_gamg_threshold": (_real, "a number"),
    "pc_gamg_agg_nsmooths": (_integer, "an integer"),
    "pc_gamg_square_graph": (_integer, "an integer"),
    "pc_hypre_boomeramg_strong_threshold": (_real, "a number"),
    "pc_hypre_boomeramg_max_iter": (_integer, "an integer"),
    "pc_hypre_boomeramg_coarsen_type": (
        _one_of(("CLJP", "Ruge-Stueben", "modifiedRuge-Stueben", "Falgout", "PMIS", "HMIS")),
        "one of CLJP, Ruge-Stueben, modifiedRuge-Stueben, Falgout, PMIS, HMIS",
    ),
    "pc_hypre_boomeramg_agg_nl": (_integer, "an integer"),
    "pc_hypre_boomeramg_print_statistics": (_integer, "an integer level (printed)"),
    "mg_levels_ksp_type": (_one_of(KSP_TYPES), f"one of {', '.join(KSP_TYPES)}"),
    "mg_levels_pc_type": (_one_of(PC_TYPES), f"one of {', '.join(PC_TYPES)}"),
    "mg_levels_ksp_max_it": (_integer, "an integer"),
    "sub_pc_type": (_one_of(PC_TYPES), f"one of {', '.join(PC_TYPES)}"),
    "sub_ksp_type": (_one_of(KSP_TYPES), f"one of {', '.join(KSP_TYPES)}"),
    "mat_mumps_icntl_14": (_integer, "an integer"),
}


def check_option(where: str, name: str, value: object) -> None:
    """Refuse an option name outside ``ALLOWED`` or a value of the wrong form."""
    if name not in ALLOWED:
        raise ConfigError(
            f"{where}.{name} is not an allowed PETSc option (options that run code, read or"
            f" write files are refused); allowed: {', '.join(sorted(ALLOWED))}"
            " (see docs/safety.md to ask for more)"
        )
    check, valid = ALLOWED[name]
    if not check(value):
        raise ConfigError(f"{where}.{name} = {value!r} is not valid: expected {valid}")


def check_ksp_type(where: str, value: str) -> None:
    """Refuse a Krylov method that is not one of PETSc's built-in ``KSP_TYPES``."""
    if value not in KSP_TYPES:
        raise ConfigError(
            f'{where} = "{value}" is not valid: expected one of {", ".join(KSP_TYPES)}'
        )
