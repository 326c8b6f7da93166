"""``bmf sweep``: a batch of runs from one base configuration, overrides and seeds.

A sweep file (TOML)::

    base = "tickle.toml"            # the base configuration (relative to this file)
    out = "sweep-tickle"            # the sweep directory (default: the file's name)
    seeds = [1, 2, 3]               # replicate seeds (output.seed); or replicates = 3
    set = ["time.t_end=40"]         # overrides for every case (optional)

    [grid]                          # every combination of these values
    "field.D" = [0.01, 0.02]
    "sites.coupling" = [0.5, 1.0]

    [[case]]                        # and/or an explicit list of override sets
    "memory.tau" = [10.0]

Cases are the grid's combinations (or the listed cases, or each listed case with each
grid combination when both are given), each with every seed. Each case runs in
``out/<name>``, its name made of the values that vary (``D=0.01_coupling=0.5_seed=1``),
so a case keeps its directory when the grid grows. ``out/sweep.csv`` has one row per
case: parameters, status, reason, wall time, key outputs and provenance.

Re-running a sweep skips finished cases (summary.json), resumes partial ones from their
checkpoint and leaves failed ones (``failure.json``) alone unless ``--retry-failed``.
A case that fails (bad override, divergence, any error) is recorded and the sweep goes
on. Under ``mpirun -n N`` all ranks run each case together, or ``--ranks-per-case K``
splits them into N/K groups (``comm.Split``) that take cases in turn (case i goes to
group i mod N/K among the cases still to run).
"""

from __future__ import annotations

import csv
import gc
import hashlib
import itertools
import json
import math
import os
import re
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpi4py import MPI

from bmf_fem.errors import ConfigError

SWEEP_KEYS = ("base", "out", "seeds", "replicates", "set", "grid", "case")
RESULT_COLUMNS = (
    "peak_intensity",
    "wane_percent",
    "scope_retained_percent",
    "restart_ratio",
    "expressed_fraction",
    "median_lead_time",
)
PROVENANCE_COLUMNS = ("ranks", "seed", "config_hash", "git_commit", "bmf_fem", "dolfinx")
FAILURE_FILE = "failure.json"
CASE_FILE = "case.json"


@dataclass(frozen=True)
class Case:
    """One run of a sweep: its directory name, varying parameters and overrides."""

    name: str
    parameters: dict[str, Any]
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Sweep:
    path: Path
    base: Path | None
    out: Path
    cases: tuple[Case, ...]
    parameter_keys: tuple[str, ...]


# ---------------------------------------------------------------------------------------
# Reading the sweep file


def load_sweep(path: str | Path, out: str | Path | None = None) -> Sweep:
    """Read and check a sweep file; ConfigError names the key and what would be valid."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"sweep file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"sweep file {path} is a directory; give a TOML file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"sweep file {path} is not UTF-8 text ({error}); give a TOML file"
        ) from None
    except OSError as error:
        raise ConfigError(f"sweep file {path} cannot be read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    unknown = [key for key in data if key not in SWEEP_KEYS]
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r}; valid keys: {', '.join(SWEEP_KEYS)}"
        )
    here = path.absolute().parent
    base = data.get("base")
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: base must be the path of a configuration file")
        base = here / base
        if not base.is_file():
            raise ConfigError(f"{path}: base = {data['base']!r}: {base} does not exist")
    out_dir = Path(out) if out is not None else here / str(data.get("out", path.stem))
    from bmf_fem.output import check_run_directory

    check_run_directory(out_dir)

    common = _override_list(data.get("set", []), f"{path}: set")
    grid = _flatten(data.get("grid", {}), "")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f'{path}: grid."{key}" = {values!r} is not valid: give a non-empty array of values'
            )
    listed = data.get("case", [])
    if not isinstance(listed, list) or not all(isinstance(c, dict) for c in listed):
        raise ConfigError(f"{path}: case must be an array of tables ([[case]])")
    listed = [_flatten(entry, "") for entry in listed]
    seeds = _seeds(data, path)

    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    combined = [{**entry, **point} for entry in (listed or [{}]) for point in points]
    varying = [key for entry in listed for key in entry]
    varying += [key for key in grid if key not in varying]
    varying = list(dict.fromkeys(varying))
    names = _short_names(varying)

    cases = []
    seen: dict[str, int] = {}
    for parameters in combined:
        for seed in seeds or [None]:
            label = [
                f"{names[key]}={_label(parameters[key])}" for key in varying if key in parameters
            ]
            settings = dict(parameters)
            if seed is not None:
                label.append(f"seed={seed}")
                settings["output.seed"] = seed
            name = _safe("_".join(label) or "base")
            if name in seen:
                seen[name] += 1
                name = f"{name}_{seen[name]}"
            else:
                seen[name] = 1
            overrides = (*common, *(_override(key, value) for key, value in settings.items()))
            cases.append(Case(name, settings, overrides))
    return Sweep(path, base, out_dir, tuple(cases), tuple(varying))


def _flatten(table: Any, prefix: str) -> dict[str, Any]:
    """{"field": {"D": [..]}} and {"field.D": [..]} alike as {"field.D": [..]}."""
    if not isinstance(table, dict):
        raise ConfigError(f"{prefix or 'grid'} must be a table")
    flat = {}
    for key, value in table.items():
        where = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, where))
        else:
            flat[where] = value
    return flat


def _override_list(value: Any, where: str) -> list[str]:
    if isinstance(value, dict):
        return [_override(key, item) for key, item in _flatten(value, "").items()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f'{where} must be a list of "section.key=value" strings or a table')
    return list(value)


def _seeds(data: dict, path: Path) -> list[int]:
    if "seeds" in data and "replicates" in data:
        raise ConfigError(f"{path}: give seeds or replicates, not both")
    if "seeds" in data:
        seeds = data["seeds"]
        if not isinstance(seeds, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds
        ):
            raise ConfigError(f"{path}: seeds = {seeds!r} must be an array of integers >= 0")
        return list(seeds)
    if "replicates" in data:
        count = data["replicates"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ConfigError(f"{path}: replicates = {count!r} must be an integer >= 1")
        return list(range(1, count + 1))
    return []


def _override(key: str, value: Any) -> str:
    """A ``--set`` string for a TOML value."""
    from bmf_fem.config import dump_toml

    text = dump_toml({"value": value}).strip()
    return f"{key}={text.split('=', 1)[1].strip()}"


def _short_names(keys: list[str]) -> dict[str, str]:
    """The last part of each dotted key, or the whole key where the last part repeats."""
    last = [key.split(".")[-1] for key in keys]
    return {
        key: short if last.count(short) == 1 else key for key, short in zip(keys, last, strict=True)
    }


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "-".join(_label(item) for item in value)
    return str(value)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+_-]", "_", name)


# ---------------------------------------------------------------------------------------
# Case state on disk


def case_hashes(sweep: Sweep) -> dict[str, str]:
    """Each case's input hash: the base file's text and the case's overrides.

    Not the resolved configuration, so a bmf-fem upgrade that adds keys with defaults
    does not turn finished cases stale; resuming a checkpoint still compares the
    resolved configurations.
    """
    base = sweep.base.read_bytes() if sweep.base is not None else b""
    hashes = {}
    for case in sweep.cases:
        digest = hashlib.sha256(base)
        digest.update(json.dumps(case.overrides).encode())
        hashes[case.name] = digest.hexdigest()
    return hashes


def case_record(sweep: Sweep, case: Case, expected: str | None = None) -> dict[str, Any]:
    """The sweep.csv row of a case, from what its directory holds (rank-local read).

    ``expected`` is the case's input hash now (case_hashes); a case directory made
    under other inputs (``case.json``) is "stale" and never run over.
    """
    directory = sweep.out / case.name
    row: dict[str, Any] = {"case": case.name}
    for key in sweep.parameter_keys:
        row[key] = _label(case.parameters[key]) if key in case.parameters else ""
    row.update({"status": "pending", "reason": "", "wall_s": ""})
    row.update({column: "" for column in (*RESULT_COLUMNS, *PROVENANCE_COLUMNS)})
    row["seed"] = case.parameters.get("output.seed", "")
    summary = _read_json(directory / "summary.json")
    failure = _read_json(directory / FAILURE_FILE)
    made = _read_json(directory / CASE_FILE)
    if made is not None and expected is not None and made.get("input_hash") != expected:
        row["status"] = "stale"
        row["reason"] = (
            "the directory holds this case under another configuration (the base or the "
            "overrides changed); delete it to run the case again"
        )
    elif summary is not None:
        row["status"] = "done"
        timings = summary.get("timings", {})
        row["wall_s"] = _number(timings.get("setup_s", 0.0) + timings.get("run_s", 0.0))
        results = summary.get("results", {})
        for column in RESULT_COLUMNS[:4]:
            row[column] = _number(results.get(column))
        row["expressed_fraction"] = _number(
            summary.get("final_metrics", {}).get("expressed_fraction")
        )
        row["median_lead_time"] = _number(median_lead_time(summary))
        row["ranks"] = summary.get("mpi_size", "")
        row["seed"] = summary.get("seed", row["seed"])
        row["config_hash"] = summary.get("config_hash", "")
        row["git_commit"] = summary.get("git_commit", "")
        versions = summary.get("bmf_fem", {})
        row["bmf_fem"] = versions.get("bmf-fem", "")
        row["dolfinx"] = versions.get("dolfinx", "")
    elif failure is not None:
        row["status"] = "failed"
        row["reason"] = failure.get("reason", "")
        row["wall_s"] = _number(failure.get("wall_s"))
        row["ranks"] = failure.get("ranks", "")
    elif (directory / "checkpoint").is_dir():
        row["status"] = "partial"
    return row


def median_lead_time(summary: dict) -> float | None:
    """The median lead time of the run's detection (observable detectors first)."""
    from bmf_fem.detect import detector_results

    detectors = detector_results(summary.get("detection") or {})
    for name in ("observable", "statistical", "field", *detectors):
        if name in detectors and detectors[name].get("lead_median") is not None:
            return detectors[name]["lead_median"]
    return None


def write_table(sweep: Sweep, hashes: dict | None = None, path: Path | None = None) -> list[dict]:
    """Rewrite sweep.csv from the case directories (atomic; any rank may call it)."""
    hashes = hashes or {}
    rows = [case_record(sweep, case, hashes.get(case.name)) for case in sweep.cases]
    path = path or sweep.out / "sweep.csv"
    columns = list(rows[0]) if rows else ["case"]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return rows


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _number(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------
# Running


def run_sweep(
    sweep: Sweep,
    comm: MPI.Comm,
    ranks_per_case: int = 0,
    retry_failed: bool = False,
    list_only: bool = False,
    quiet: bool = False,
    part: tuple[int, int] = (0, 1),
) -> int:
    """Run the cases still to run; 0 when all are done, 1 when any failed (collective).

    ``part = (i, n)`` runs only the cases whose index is i modulo n: one share of the
    sweep per job of a Slurm job array.
    """
    from bmf_fem.signals import RunInterruptedError, stop_signals

    size = comm.size
    per_case = ranks_per_case or size
    if per_case < 1 or size % per_case:
        raise ConfigError(
            f"--ranks-per-case {ranks_per_case} does not divide the {size} MPI rank(s); "
            f"use a divisor of {size}"
        )
    todo = hashes = None
    if comm.rank == 0:
        sweep.out.mkdir(parents=True, exist_ok=True)
        hashes = case_hashes(sweep)
        rows = write_table(sweep, hashes)
        todo = [
            index
            for index, row in enumerate(rows)
            if index % part[1] == part[0]
            and (
                row["status"] in ("pending", "partial")
                or (row["status"] == "failed" and retry_failed)
            )
        ]
        if list_only or not quiet:
            for row in rows:
                print(f"{row['status']:>8}  {row['case']}", flush=True)
            share = f" (part {part[0]}/{part[1]})" if part[1] > 1 else ""
            print(
                f"bmf sweep: {len(rows)} case(s), {len(todo)} to run{share}, on {size} rank(s) "
                f"in {size // per_case} group(s) of {per_case}; table {sweep.out / 'sweep.csv'}",
                flush=True,
            )
    todo, hashes = comm.bcast((todo, hashes), root=0)
    if list_only:
        return 0

    groups = size // per_case
    color = comm.rank // per_case
    group = comm.Split(color, comm.rank)
    mine = todo[color::groups]
    interrupted: RunInterruptedError | None = None
    try:
        with stop_signals() as stop:
            for number, index in enumerate(mine, start=1):
                if stop.requested(group):
                    break
                case = sweep.cases[index]
                try:
                    line = _run_case(sweep, case, group, hashes[case.name])
                except RunInterruptedError as error:
                    interrupted = error
                    line = f"interrupted ({error})"
                if group.rank == 0:
                    write_table(sweep, hashes)
                    if not quiet:
                        print(
                            f"bmf sweep: group {color} [{number}/{len(mine)}] {case.name}: {line}",
                            flush=True,
                        )
                if interrupted is not None:
                    break
        signum = comm.allreduce(interrupted.signum if interrupted else stop.received, op=MPI.MAX)
    finally:
        group.Free()
    rows = write_table(sweep, hashes) if comm.rank == 0 else None
    rows = comm.bcast(rows, root=0)
    failed = [row["case"] for row in rows if row["status"] in ("failed", "stale")]
    if comm.rank == 0:
        done = sum(row["status"] == "done" for row in rows)
        message = f"bmf sweep: {done}/{len(rows)} done, {len(failed)} failed or stale"
        if failed:
            message += f" ({', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''})"
        print(message + f"; {sweep.out / 'sweep.csv'}", flush=True)
    if signum:
        if comm.rank == 0:
            print(
                "bmf sweep: stopped by a signal; run the same command again to resume",
                file=sys.stderr,
                flush=True,
            )
        return 128 + signum
    return 1 if failed else 0


def _run_case(sweep: Sweep, case: Case, comm: MPI.Comm, expected: str | None) -> str:
    """Run (or resume) one case on ``comm``; record a failure; a line for the log."""

    from bmf_fem.runlock import DirectoryInUseError, run_lock

    directory = sweep.out / case.name
    try:
        with run_lock(directory, comm):
            return _run_locked_case(sweep, case, comm, expected)
    except DirectoryInUseError as error:
        return f"skipped: {error}"


def _run_locked_case(sweep: Sweep, case: Case, comm: MPI.Comm, expected: str | None) -> str:
    from bmf_fem.config import load_config
    from bmf_fem.control import run_with_detection
    from bmf_fem.signals import RunInterruptedError

    directory = sweep.out / case.name
    started = time.perf_counter()
    reason = None
    summary = None
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        made = {"case": case.name, "overrides": list(case.overrides), "input_hash": expected}
        (directory / CASE_FILE).write_text(json.dumps(made, indent=1) + "\n")
    comm.barrier()
    try:
        config = load_config(sweep.base, overrides=list(case.overrides))
        summary = run_with_detection(config, directory, comm, progress=False, resume=True)
    except RunInterruptedError:
        raise
    except ConfigError as error:
        reason = f"configuration: {error}"
    except Exception as error:  # recorded, and the sweep goes on
        reason = f"{type(error).__name__}: {error}"
    finally:
        gc.collect()
    wall = time.perf_counter() - started
    if comm.rank == 0:
        failure = directory / FAILURE_FILE
        if reason is None:
            failure.unlink(missing_ok=True)
        else:
            record = {"status": "failed", "reason": reason, "wall_s": wall, "ranks": comm.size}
            failure.write_text(json.dumps(record, indent=1) + "\n")
    if reason is not None:
        return f"failed after {wall:.1f} s: {reason}"
    peak = summary.get("results", {}).get("peak_intensity")
    extra = f", peak intensity {peak:.4g}" if isinstance(peak, float) else ""
    return f"done in {wall:.1f} s{extra}"
