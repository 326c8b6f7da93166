"""What ``bmf run --resume`` does in a run directory: start afresh, continue, or nothing."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mpi4py import MPI

from bmf_fem.checkpoint_files import complete_checkpoints, readable_state
from bmf_fem.errors import ConfigError
from bmf_fem.run_identity import require_same_config


@dataclass
class ResumePlan:
    """What ``--resume`` does in a run directory.

    ``kind`` is "fresh" (nothing to continue: start at t = 0, replacing partial
    outputs), "checkpoint" (continue from ``state``) or "finished" (summary.json is
    there; nothing to do).
    """

    kind: str
    state: dict | None = None
    summary: dict | None = None


def plan_resume(run_dir: Path, config, comm: MPI.Comm, ignore: tuple[str, ...] = ()) -> ResumePlan:
    """Decide how to resume ``run_dir`` under ``config`` (collective; rank 0 reads).

    Raises ConfigError when the directory's run was made with another configuration
    (apart from the dotted keys in ``ignore``).
    """
    plan: ResumePlan | ConfigError | None = None
    if comm.rank == 0:
        try:
            plan = _plan_resume(Path(run_dir), config, ignore)
        except ConfigError as error:
            plan = error
    plan = comm.bcast(plan, root=0)
    if isinstance(plan, ConfigError):
        raise plan
    return plan


def _plan_resume(run_dir: Path, config, ignore: tuple[str, ...]) -> ResumePlan:
    summary_path = run_dir / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        stored = summary.get("config", {})
        require_same_config(stored, config, "the finished run", run_dir, ignore)
        return ResumePlan("finished", summary=summary)
    checkpoints = complete_checkpoints(run_dir)
    problems = []
    for checkpoint in checkpoints:
        try:
            state = readable_state(checkpoint)
        except (OSError, ValueError) as error:
            problems.append(str(error))
            continue
        for problem in problems:
            print(
                f"bmf: warning: {problem}; resuming from the older checkpoint {checkpoint.name}",
                file=sys.stderr,
                flush=True,
            )
        require_same_config(state["config"], config, "its checkpoint", run_dir, ignore)
        state["path"] = str(checkpoint)
        return ResumePlan("checkpoint", state=state)
    if problems:
        raise ConfigError(
            f"cannot resume {run_dir}: no checkpoint can be read ({'; '.join(problems)}); "
            "run with --force to start again"
        )
    written = run_dir / "config.toml"
    if written.is_file():
        import tomllib

        try:
            stored = tomllib.loads(written.read_text())
        except (tomllib.TOMLDecodeError, ValueError):
            stored = None
        if stored is not None:
            require_same_config(stored, config, "its config.toml", run_dir, ignore)
    return ResumePlan("fresh")
