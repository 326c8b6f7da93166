"""The environment end to end: versions, MPI, and a first real solve written to XDMF."""

from __future__ import annotations

import dolfinx
import pytest
from conftest import bmf, mpirun, run_script


def test_info_reports_versions_and_blas():
    result = bmf("info")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.strip().splitlines())
    assert lines["dolfinx"].startswith("0.9")
    assert lines["petsc"].startswith("3.")
    assert "libblas" in lines["blas"] or "openblas" in lines["blas"] or "mkl" in lines["blas"]
    assert lines["mpi_size"] == "1"


@pytest.mark.mpi
def test_info_prints_once_under_mpirun():
    import sys

    result = mpirun(2, sys.executable, "-m", "bmf_fem", "info")
    assert result.stdout.count("dolfinx") == 1
    lines = dict(line.split(None, 1) for line in result.stdout.strip().splitlines())
    assert lines["mpi_size"] == "2"


def test_dolfinx_is_0_9():
    assert dolfinx.__version__.startswith("0.9")


@pytest.mark.mpi
def test_heat_equation_serial_and_parallel_agree(tmp_path):
    serial = run_script(1, "heat.py", str(tmp_path / "serial"))
    parallel = run_script(2, "heat.py", str(tmp_path / "parallel"))
    # Backward Euler with dt = 0.005 against exp(-2 pi^2 D t): relative error ~1e-3.
    assert 1e-4 < serial["error"] < 5e-3
    assert parallel["cells"] == serial["cells"]
    # Same mesh, same operator: 1 and 2 ranks agree to the solver tolerance (1e-10).
    assert parallel["norm2"] == pytest.approx(serial["norm2"], rel=1e-8)
    assert parallel["error"] == pytest.approx(serial["error"], rel=1e-5)
    # The XDMF read back holds the same field.
    for run in (serial, parallel):
        assert run["cells_back"] == run["cells"]
        assert run["norm2_back"] == pytest.approx(run["norm2"], rel=1e-12)
        assert max(run["its"]) <= 10
