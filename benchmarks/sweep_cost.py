"""The fixed cost of a sweep case: what `bmf sweep` spends on a case besides its steps.

Two sweeps of --cases replicates (seeds 1..N, so the cases are distinct runs of the same
configuration) of the quick default demo (demos/tickling.toml with `bmf demo tickling
--quick`'s overrides: a 331-dof crystal, 800 SBDF2 steps, fields every 4 steps), each run
as one command, by default the one docs/batch.md recommends for many small cases:

    mpirun -n 2 bmf sweep SWEEP.toml --ranks-per-case 1

  zero-step   the same cases with time.t_end = 0: everything but the time loop (reading
              the configuration, mesh, forms, operators and solver setup, the output at
              t = 0, summary.json, the sweep's table): a case's fixed cost
  stepping    the quick demo as it is

The sweep prints a line per finished case; the time between two lines of one group is
the cost of the later case, all of it (lock, configuration, mesh, forms, setup, steps,
output, summary, the sweep table). Columns, per sweep:

  start      from launching the command to the sweep's list of cases: interpreter,
             imports, MPI start, reading the sweep file
  first      the first case of each group (the largest over the groups): it also pays
             the imports done on first use (gmsh, the writers, form modules from the JIT
             cache; with --cold-cache their compilation)
  later      the median (and range) of the cases after the first
  setup      the median Simulation construction inside the later cases (summary.json
             setup_s: mesh, model, forms, operators, solvers)
  loop       the median time loop of the later cases (summary.json run_s: steps and
             their output)
  outside    later - loop: what a later case costs outside its time loop
  end        from the last case to the command's exit

From the stepping sweep, a sweep of --extrapolate cases (100) on the same ranks takes
start + first + (cases per group - 1) x later + end; its cases per hour are printed
with the bound of the loop alone (no fixed cost). The target of issue 21 is a fixed cost
(the zero-step sweep's "later") of at most 0.5 s.

    containers/run python3 benchmarks/sweep_cost.py [--cases 8] [--ranks 2]
        [--ranks-per-case 1] [--extrapolate 100] [--cold-cache] [--set KEY=VALUE ...]

--ranks 1 runs `bmf sweep` without mpirun. --cold-cache gives the sweep an empty JIT
cache (XDG_CACHE_HOME), as on a machine where bmf-fem never ran. Timings on a shared
machine: check `uptime` first (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEMO = "tickling"
CASE_LINE = re.compile(r"^bmf sweep: group (\d+) \[(\d+)/(\d+)\] (\S+): (.*)$")
LIST_LINE = re.compile(r"^bmf sweep: \d+ case\(s\), \d+ to run")


@dataclass
class CaseTiming:
    group: int
    name: str
    seconds: float  # from the group's previous line (or the list of cases) to this one
    first: bool
    status: str
    setup_s: float = math.nan
    run_s: float = math.nan
    steps: int = 0
    dofs: int = 0


@dataclass
class SweepTiming:
    label: str
    command: list[str]
    wall: float
    start: float
    end: float
    cases: list[CaseTiming] = field(default_factory=list)

    def first(self) -> float:
        return max(case.seconds for case in self.cases if case.first)

    def later(self) -> list[float]:
        return [case.seconds for case in self.cases if not case.first]

    def median(self, name: str, later_only: bool = False) -> float:
        values = [getattr(c, name) for c in self.cases if not (later_only and c.first)]
        return statistics.median(values) if values else math.nan


def bmf_command() -> list[str]:
    """The `bmf` entry point of this environment."""
    script = Path(sys.executable).with_name("bmf")
    if script.exists():
        return [str(script)]
    found = shutil.which("bmf")
    return [found] if found else [sys.executable, "-m", "bmf_fem"]


def shown(command: list[str]) -> str:
    """A command as typed: `bmf` for the entry point, the sweep file by its name."""
    words = [Path(word).name if word.endswith(("/bmf", ".toml")) else word for word in command]
    return " ".join(words)


def write_sweep(path: Path, cases: int, overrides: list[str]) -> None:
    """A sweep file of ``cases`` replicates of the quick default demo with ``overrides``."""
    from bmf_fem.demos import QUICK, demo_path

    settings = [*QUICK[DEMO], *overrides]
    path.write_text(
        f"base = {json.dumps(str(demo_path(DEMO)))}\n"
        f'out = "{path.stem}"\n'
        f"replicates = {cases}\n"
        f"set = {json.dumps(settings)}\n"
    )


def run_sweep(label: str, sweep: Path, args, env: dict[str, str]) -> SweepTiming:
    """Run one sweep command, timing the lines it prints as they arrive."""
    command = [*bmf_command(), "sweep", str(sweep)]
    if args.ranks > 1:
        command = ["mpirun", "-n", str(args.ranks), *command]
        command += ["--ranks-per-case", str(args.ranks_per_case)]
    with tempfile.TemporaryFile("w+") as errors:
        launched = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=sweep.parent, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
        )
        listed = None
        last: dict[int, float] = {}
        cases = []
        for line in process.stdout:
            now = time.perf_counter()
            if listed is None and LIST_LINE.match(line):
                listed = now
            match = CASE_LINE.match(line.strip())
            if match:
                group, name, status = int(match[1]), match[4], match[5]
                previous = last.get(group, listed)
                cases.append(CaseTiming(group, name, now - previous, group not in last, status))
                last[group] = now
        process.wait()
        finished = time.perf_counter()
        if process.returncode != 0 or listed is None or not cases:
            errors.seek(0)
            sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{errors.read()}")
    for case in cases:
        summary = json.loads((sweep.parent / sweep.stem / case.name / "summary.json").read_text())
        timings = summary["timings"]
        case.setup_s, case.run_s = timings["setup_s"], timings["run_s"]
        case.steps, case.dofs = timings["steps"], summary["dofs"]
    return SweepTiming(
        label,
        command,
        finished - launched,
        listed - launched,
        finished - max(last.values()),
        cases,
    )


def extrapolate(timing: SweepTiming, cases: int, groups: int) -> float:
    """Seconds a sweep of ``cases`` like these takes on ``groups`` groups."""
    per_group = math.ceil(cases / groups)
    later = statistics.median(timing.later()) if timing.later() else timing.first()
    return timing.start + timing.first() + (per_group - 1) * later + timing.end


def print_report(timings: list[SweepTiming], args) -> None:
    groups = args.ranks // args.ranks_per_case if args.ranks > 1 else 1
    dofs = timings[0].cases[0].dofs
    cache = "empty JIT cache" if args.cold_cache else "JIT cache as it is"
    print(
        f"Sweep cost: {args.cases} cases of the quick {DEMO} demo ({dofs} dofs per field), "
        f"{args.ranks} rank(s) in {groups} group(s), {cache}; load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    for timing in timings:
        print(f"{timing.label:>10}: {shown(timing.command)}")
    print(
        f"{'sweep':>10} {'steps':>5} {'wall s':>7} {'start s':>7} {'first s':>7} "
        f"{'later s (min-max)':>20} {'setup s':>7} {'loop s':>7} {'outside s':>9} {'end s':>6}"
    )
    for timing in timings:
        later = timing.later()
        spread = f"{min(later):.3f}-{max(later):.3f}" if later else "-"
        median_later = statistics.median(later) if later else math.nan
        loop = timing.median("run_s", later_only=True)
        setup = timing.median("setup_s", later_only=True)
        print(
            f"{timing.label:>10} {timing.cases[0].steps:>5} {timing.wall:>7.2f} "
            f"{timing.start:>7.2f} {timing.first():>7.2f} "
            f"{f'{median_later:.3f} ({spread})':>20} {setup:>7.3f} "
            f"{loop:>7.3f} {median_later - loop:>9.3f} {timing.end:>6.2f}"
        )
    zero = next(t for t in timings if t.label == "zero-step")
    stepping = next(t for t in timings if t.label == "stepping")
    fixed = statistics.median(zero.later()) if zero.later() else math.nan
    print(
        f"fixed cost of a case after the first: {fixed:.3f} s (zero-step sweep; target <= 0.5 s); "
        f"first case {zero.first():.2f} s after a start of {zero.start:.2f} s"
    )
    total = extrapolate(stepping, args.extrapolate, groups)
    loop = stepping.median("run_s")
    bound = 3600.0 * groups / loop
    print(
        f"{args.extrapolate} cases like the stepping ones on {groups} group(s): about "
        f"{total:.0f} s, {3600.0 * args.extrapolate / total:.0f} cases per hour "
        f"(measured here: {3600.0 * args.cases / stepping.wall:.0f}; time loops alone: "
        f"{bound:.0f})"
    )
    for timing in timings:
        failed = [c.name for c in timing.cases if not c.status.startswith("done")]
        if failed:
            print(f"{timing.label}: not done: {', '.join(failed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--ranks", type=int, default=2, help="1: bmf sweep without mpirun")
    parser.add_argument("--ranks-per-case", type=int, default=1)
    parser.add_argument("--extrapolate", type=int, default=100, help="cases of the estimate")
    parser.add_argument("--cold-cache", action="store_true", help="start from an empty JIT cache")
    parser.add_argument(
        "--set", dest="overrides", nargs="+", default=[], help="more overrides of every case"
    )
    args = parser.parse_args()
    if args.cases < 1 or args.ranks % args.ranks_per_case:
        sys.exit("give --cases >= 1 and --ranks a multiple of --ranks-per-case")
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ)
        if args.cold_cache:
            env["XDG_CACHE_HOME"] = str(Path(scratch) / "cache")
        timings = []
        for label, extra in (("zero-step", ["time.t_end=0"]), ("stepping", [])):
            sweep = Path(scratch) / f"{label}.toml"
            write_sweep(sweep, args.cases, [*args.overrides, *extra])
            timings.append(run_sweep(label, sweep, args, env))  # the first fills the cache
    print_report(timings, args)


if __name__ == "__main__":
    main()
