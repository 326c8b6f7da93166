"""Shared test helpers: running ``bmf`` and scripts under mpirun in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def mpi_environment() -> dict[str, str]:
    """os.environ plus Open MPI settings: root allowed, shared memory, oversubscription."""
    env = dict(os.environ)
    env.update(
        {
            "OMPI_ALLOW_RUN_AS_ROOT": "1",
            "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OMPI_MCA_btl": "self,sm",
            "OMPI_MCA_pml": "ob1",
            "OMPI_MCA_rmaps_base_oversubscribe": "1",
            "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe",
        }
    )
    return env


def mpirun(
    n: int, *args: str, timeout: float = 600, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``mpirun -n n ARGS`` (shared-memory transport, root allowed, oversubscribed)."""
    env = mpi_environment()
    command = ["mpirun", "-n", str(n), *args]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def run_script(n: int, name: str, *args: str, timeout: float = 600) -> dict:
    """Run tests/scripts/NAME under mpirun -n n; it prints one JSON object on rank 0."""
    result = mpirun(n, sys.executable, str(SCRIPTS / name), *args, timeout=timeout)
    return json.loads(result.stdout.strip().splitlines()[-1])


def bmf(
    *args: str, cwd: Path | None = None, timeout: float = 600, n: int = 1
) -> subprocess.CompletedProcess:
    """Run the ``bmf`` console script (under mpirun when n > 1), never raising."""
    if n > 1:
        return mpirun(
            n, sys.executable, "-m", "bmf_fem", *args, cwd=cwd, timeout=timeout, check=False
        )
    return subprocess.run(
        [sys.executable, "-m", "bmf_fem", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
