"""How a run is solved and written: [solver] (Krylov method, preconditioner, PETSc
options) and [output] (run directory, fields, checkpoints, noise seed)."""

from __future__ import annotations

from dataclasses import dataclass

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.config.table import Table, show, type_name
from bmf_fem.errors import ConfigError
from bmf_fem.petsc_options import check_ksp_type, check_option
from bmf_fem.suggest import did_you_mean

PRECONDITIONERS = ("auto", "hypre", "gamg", "jacobi", "icc", "ilu", "none", "lu", "cholesky", "sor")
OUTPUT_FIELDS = ("u", "M", "phi", "s", "expression_time", "m")
MAX_SEED = 2**63 - 1  # output.seed: the largest seed numpy's generators take as an int64
COMPRESSION_ON = 1  # gzip level of output.compression = "on"


def _read_ksp_type(table: Table, name: str) -> str:
    value = table.string(name, required=True)
    if value != "auto":
        check_ksp_type(table.where(name), value)
    return value


def _read_petsc_options(table: Table, name: str) -> dict[str, str | int | float | bool]:
    """PETSc options as name -> value; a leading '-' on names is dropped."""
    value = table.raw(name)
    where = table.where(name)
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where} = {show(value)} has the wrong type: expected a table of option = value,"
            f" got {type_name(value)}"
        )
    options: dict[str, str | int | float | bool] = {}
    for option, setting in value.items():
        bare = option.lstrip("-")
        if not bare:
            raise ConfigError(f'{where} has an empty option name "{option}"')
        if not isinstance(setting, str | int | float | bool):
            raise ConfigError(
                f"{where}.{option} = {show(setting)} has the wrong type: expected a string,"
                f" number or boolean, got {type_name(setting)}"
            )
        if bare in options:
            raise ConfigError(f"{where} sets {bare} twice")
        check_option(where, bare, setting)
        options[bare] = setting
    return options


@dataclass(frozen=True)
class SolverConfig(Section):
    """[solver]: Krylov method, preconditioner, tolerances and raw PETSc options."""

    HEADING = "[solver]"

    ksp_type: str = key(
        "auto",
        "custom",
        "Krylov method (auto: CG for symmetric operators, GMRES otherwise; or a built-in"
        " PETSc KSP type, docs/safety.md)",
        reader=_read_ksp_type,
        valid='"auto" or a PETSc KSP type',
    )
    pc_type: str = key(
        "auto",
        "choice",
        "preconditioner (auto: a factorisation for small operators on one rank, else by"
        " diffusion number, docs/performance.md)",
        choices=PRECONDITIONERS,
    )
    direct_max_dofs: int = key(
        -1,
        "integer",
        "largest operator (dofs) pc_type = auto factorises on one rank (-1: by mesh"
        " dimension, docs/performance.md; 0: never)",
        at_least=-1,
    )
    rtol: float = key(
        1e-6, "real", "Krylov tolerance relative to the step's change", above=0, below=1
    )
    atol: float = key(0.0, "real", "absolute Krylov tolerance", at_least=0)
    max_it: int = key(1000, "integer", "Krylov iterations per solve at most", at_least=1)
    petsc_options: dict[str, str | int | float | bool] = key(
        {},
        "custom",
        "PETSc options from the allow-list of docs/safety.md",
        reader=_read_petsc_options,
        valid="table of option = value",
    )


def _read_fields(table: Table, name: str) -> tuple[str, ...]:
    fields = table.raw(name)
    where = table.where(name)
    if not isinstance(fields, list | tuple):
        raise ConfigError(
            f"{where} = {show(fields)} has the wrong type: expected an array of strings, got"
            f" {type_name(fields)}"
        )
    valid = ", ".join(f'"{field}"' for field in OUTPUT_FIELDS)
    for field in fields:
        if not isinstance(field, str):
            raise ConfigError(
                f"{where} = {show(fields)} is not valid: {show(field)} is not a string;"
                f" valid names: {valid}"
            )
        if field not in OUTPUT_FIELDS:
            hint = did_you_mean(field, OUTPUT_FIELDS, quote=True)
            raise ConfigError(
                f'{where} = {show(fields)} is not valid: unknown field "{field}"{hint}; valid'
                f' names: {valid} ("m" writes every memory mode)'
            )
        if list(fields).count(field) > 1:
            raise ConfigError(f'{where} = {show(fields)} is not valid: "{field}" appears twice')
    return tuple(fields)


def _read_compression(table: Table, name: str) -> int:
    """A gzip level 0-9 for the field series, or "off" (0) / "on"."""
    value = table.raw(name)
    if isinstance(value, str):
        words = {"off": 0, "on": COMPRESSION_ON}
        if value not in words:
            raise table.invalid(name, 'give "off", "on" or a gzip level 0-9')
        return words[value]
    return table.integer(name, choices=range(10))


@dataclass(frozen=True)
class OutputConfig(Section):
    """[output]: run directory, what to write and how often, and the noise seed."""

    HEADING = "[output]"

    dir: str = key("bmf-out", "string", "run directory (--out overrides)", required=True)
    every: int = key(10, "integer", "steps between field writes and metric rows", at_least=1)
    fields: tuple[str, ...] = key(
        ("u", "M", "phi", "s", "expression_time"),
        "custom",
        "fields written to fields.xdmf",
        reader=_read_fields,
        valid="array of " + ", ".join(f'`"{f}"`' for f in OUTPUT_FIELDS),
    )
    checkpoint_every: int = key(
        0,
        "integer",
        "steps between checkpoints (0: only when stopped by a signal)",
        at_least=0,
    )
    seed: int = key(12345, "integer", "seed of all noise", at_least=0, at_most=MAX_SEED)
    compression: int = key(
        0,
        "custom",
        "gzip level of the field files",
        reader=_read_compression,
        valid='`"off"`, `"on"` (level 1) or a level 0-9',
    )
