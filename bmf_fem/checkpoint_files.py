"""Where checkpoints live in a run directory, and which of them are complete and readable."""

from __future__ import annotations

import json
import re
from pathlib import Path

CHECKPOINT_DIR = "checkpoint"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint with the largest step in ``run_dir`` (rank-local look)."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return None
    found = []
    for entry in directory.iterdir():
        match = _STEP_DIR.match(entry.name)
        if match and (entry / "state.json").is_file():
            found.append((int(match.group(1)), entry))
    return max(found)[1] if found else None


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """The complete checkpoints in ``run_dir``, newest first (rank-local look)."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _STEP_DIR.match(entry.name)
        if match and (entry / "state.json").is_file():
            found.append((int(match.group(1)), entry))
    return [entry for _, entry in sorted(found, reverse=True)]


def readable_state(checkpoint: Path) -> dict:
    """``state.json`` of a checkpoint whose data files are all there; OSError/ValueError."""
    path = checkpoint / "state.json"
    try:
        state = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path} cannot be read ({error})") from None
    if not isinstance(state, dict) or "config" not in state:
        raise ValueError(f"{checkpoint / 'state.json'} is incomplete")
    data = checkpoint / "functions.bp" / "data.0"
    if not data.is_file() or data.stat().st_size == 0:
        raise FileNotFoundError(f"{data} is missing or empty")
    return state
