"""Bad input: every case exits 2 with a message naming the key and what is valid, no
traceback, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bmf
from mpi4py import MPI

from bmf_fem.cli import main

# [solver] petsc_options that run code, read or write files, or name no built-in type.
FORBIDDEN_OPTIONS = {
    "ksp-python-type": ('ksp_python_type = "/abs/payload.py:X"', "ksp_python_type"),
    "pc-python-type": ('pc_type = "python", pc_python_type = "this.s"', "pc_type"),
    "pc-python-type-alone": ('pc_python_type = "this.s"', "pc_python_type"),
    "snes-python-type": ('snes_python_type = "os.system"', "snes_python_type"),
    "mat-python-type": ('mat_python_type = "m.X"', "mat_python_type"),
    "sub-pc-python": ('sub_pc_type = "python"', "sub_pc_type"),
    "mg-levels-pc-python": ('mg_levels_pc_type = "python"', "mg_levels_pc_type"),
    "ksp-type-python": ('ksp_type = "python"', "ksp_type"),
    "ksp-view-file": ('ksp_view = "ascii:/abs/file.txt"', "ksp_view"),
    "ksp-view-binary": ('ksp_view = "binary:/abs/file.bin"', "ksp_view"),
    "ksp-view-number": ("ksp_view = 1", "ksp_view"),
    "ksp-monitor-file": ('ksp_monitor = "ascii:/tmp/m.txt"', "ksp_monitor"),
    "ksp-monitor-draw": ('ksp_monitor = "draw"', "ksp_monitor"),
    "ksp-reason-file": ('ksp_converged_reason = "ascii:/tmp/r"', "ksp_converged_reason"),
    "ksp-monitor-true-residual": ('ksp_monitor_true_residual = "ascii:/x"', "ksp_monitor_true"),
    "ksp-monitor-singular": ("ksp_monitor_singular_value = true", "ksp_monitor_singular"),
    "pc-view": ('pc_view = "ascii:/tmp/p"', "pc_view"),
    "mat-view": ('mat_view = "binary:/tmp/A"', "mat_view"),
    "vec-view": ('vec_view = "ascii:/tmp/v"', "vec_view"),
    "ksp-view-mat": ('ksp_view_mat = "binary:/tmp/A"', "ksp_view_mat"),
    "ksp-view-rhs": ('ksp_view_rhs = "binary:/tmp/b"', "ksp_view_rhs"),
    "ksp-view-solution": ('ksp_view_solution = "binary:/tmp/x"', "ksp_view_solution"),
    "ksp-view-pre": ("ksp_view_pre = true", "ksp_view_pre"),
    "options-file": ('options_file = "/etc/passwd"', "options_file"),
    "options-file-yaml": ('options_file_yaml = "/tmp/o.yaml"', "options_file_yaml"),
    "options-left": ("options_left = true", "options_left"),
    "options-view": ('options_view = "ascii:/tmp/o"', "options_view"),
    "log-view": ('log_view = "ascii:/tmp/log.txt"', "log_view"),
    "log-view-true": ("log_view = true", "log_view"),
    "log-trace": ('log_trace = "/tmp/trace"', "log_trace"),
    "log-all": ("log_all = true", "log_all"),
    "history": ('history = "/tmp/h"', "history"),
    "on-error-attach-debugger": ('on_error_attach_debugger = "gdb"', "on_error_attach"),
    "start-in-debugger": ('start_in_debugger = "gdb"', "start_in_debugger"),
    "debugger-pause": ("debugger_pause = 5", "debugger_pause"),
    "malloc-dump": ('malloc_dump = "/tmp/d"', "malloc_dump"),
    "memory-view": ("memory_view = true", "memory_view"),
    "viewer-binary-filename": ('viewer_binary_filename = "/tmp/v"', "viewer_binary"),
    "draw-save": ('draw_save = "/tmp/d.png"', "draw_save"),
    "ksp-type-nonexistent": ('ksp_type = "nonexistent"', "ksp_type"),
    "pc-type-nonexistent": ('pc_type = "nonexistent_pc"', "pc_type"),
    "pc-type-shell": ('pc_type = "shell"', "pc_type"),
    "pc-hypre-type-bad": ('pc_hypre_type = "nonesuch"', "pc_hypre_type"),
    "factor-solver-bad": ('pc_factor_mat_solver_type = "x"', "pc_factor_mat_solver_type"),
    "rtol-string": ('ksp_rtol = "1e-6; rm"', "ksp_rtol"),
    "max-it-real": ("ksp_max_it = 2.5", "ksp_max_it"),
    "max-it-bool": ("ksp_max_it = true", "ksp_max_it"),
    "restart-string": ('ksp_gmres_restart = "30"', "ksp_gmres_restart"),
    "initial-guess-string": ('ksp_initial_guess_nonzero = "yes"', "ksp_initial_guess"),
    "prefixed-python": ('bmf_pc_python_type = "x.y"', "bmf_pc_python_type"),
    "dashed-view": ('"-ksp_view" = "ascii:/tmp/x"', "ksp_view"),
    "unknown-name": ("frobnicate = 1", "frobnicate"),
    "help": ("help = true", "help"),
    "version": ("version = true", "version"),
    "petscspace-python": ('petscpartitioner_type = "python"', "petscpartitioner_type"),
}

# [solver] ksp_type / pc_type outside PETSc's built-in methods.
SOLVER_KEYS = {
    "ksp-python": ('ksp_type = "python"', "solver.ksp_type"),
    "ksp-nonexistent": ('ksp_type = "nonexistent"', "solver.ksp_type"),
    "ksp-shell-path": ('ksp_type = "/abs/payload.py"', "solver.ksp_type"),
    "pc-python": ('pc_type = "python"', "solver.pc_type"),
    "pc-nonexistent": ('pc_type = "nonexistent"', "solver.pc_type"),
    "pc-shell": ('pc_type = "shell"', "solver.pc_type"),
}

# --set overrides of the same keys: a config that is fine, made bad on the command line.
SET_VALUES = {
    "set-ksp-python": ('solver.ksp_type="python"', "solver.ksp_type"),
    "set-ksp-nonexistent": ('solver.ksp_type="nonexistent"', "solver.ksp_type"),
    "set-pc-python": ('solver.pc_type="python"', "solver.pc_type"),
    "set-python-type": (
        'solver.petsc_options={ksp_python_type="/abs/payload.py:X"}',
        "ksp_python_type",
    ),
    "set-ksp-view-file": ('solver.petsc_options={ksp_view="ascii:/tmp/x"}', "ksp_view"),
    "set-options-file": ('solver.petsc_options={options_file="/etc/passwd"}', "options_file"),
    "set-log-view": ('solver.petsc_options={log_view="ascii:/tmp/l"}', "log_view"),
    "set-pc-type-bad": ('solver.petsc_options={pc_type="nonexistent_pc"}', "pc_type"),
}

GOOD = """
[mesh]
kind = "box"
dim = 2
h = 0.25
[time]
dt = 0.1
t_end = 0.2
"""


def _solver_config(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD + "[solver]\n" + line + "\n")
    return path


def _options_config(tmp_path: Path, options: str) -> Path:
    return _solver_config(tmp_path, "petsc_options = { " + options + " }")


def _refused(argv: list[str], capsys, out: Path, *named: str) -> str:
    """Run bmf in-process; assert exit 2, the names in the message, no traceback, no output."""
    assert main(argv, MPI.COMM_WORLD) == 2
    error = capsys.readouterr().err
    for name in named:
        assert name in error, error
    assert "Traceback" not in error
    assert not out.exists()
    return error


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(
    ("options", "name"), FORBIDDEN_OPTIONS.values(), ids=list(FORBIDDEN_OPTIONS)
)
def test_forbidden_petsc_options_are_refused(tmp_path, capsys, command, options, name):
    config = _options_config(tmp_path, options)
    out = tmp_path / "out"
    argv = [command, str(config)] + (["--out", str(out), "--quiet"] if command == "run" else [])
    error = _refused(argv, capsys, out, "solver.petsc_options", name)
    assert "allowed" in error or "expected" in error


@pytest.mark.parametrize(("line", "key"), SOLVER_KEYS.values(), ids=list(SOLVER_KEYS))
def test_solver_types_outside_the_builtins_are_refused(tmp_path, capsys, line, key):
    out = tmp_path / "out"
    config = _solver_config(tmp_path, line)
    error = _refused(["run", str(config), "--out", str(out), "--quiet"], capsys, out, key)
    assert "is not valid" in error and ("cg" in error or "jacobi" in error)


@pytest.mark.parametrize(("override", "name"), SET_VALUES.values(), ids=list(SET_VALUES))
def test_set_overrides_cannot_reach_forbidden_options(tmp_path, capsys, override, name):
    config = tmp_path / "good.toml"
    config.write_text(GOOD)
    out = tmp_path / "out"
    argv = ["run", str(config), "--out", str(out), "--quiet", "--set", override]
    _refused(argv, capsys, out, name)


def test_python_payload_never_runs_from_the_real_entry_point(tmp_path):
    marker = tmp_path / "ran"
    payload = tmp_path / "payload.py"
    payload.write_text(f"open({str(marker)!r}, 'w').write('x')\nclass X: pass\n")
    config = _options_config(tmp_path, f'ksp_python_type = "{payload}:X"')
    out = tmp_path / "out"
    result = bmf("run", str(config), "--out", str(out), "--quiet")
    assert result.returncode == 2, result.stderr
    assert "ksp_python_type" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists() and not out.exists()


def test_a_viewer_never_touches_a_file_from_the_real_entry_point(tmp_path):
    victim = tmp_path / "file.txt"
    victim.write_text("keep me")
    config = _options_config(tmp_path, f'ksp_view = "ascii:{victim}"')
    result = bmf("check", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "ksp_view" in result.stderr
    assert victim.read_text() == "keep me"


def test_allowed_options_still_pass_check(tmp_path, capsys):
    options = 'pc_hypre_type = "boomeramg", ksp_monitor = true, ksp_rtol = 1e-8'
    config = _options_config(tmp_path, 'ksp_type = "gmres", ' + options)
    assert main(["check", str(config)], MPI.COMM_WORLD) == 0


# Numbers that overflowed in the run: refused at check time, naming the keys and the bound.
NUMBERS = {
    "steps-overflow": ("[time]\ndt = 1e-300\nt_end = 1e10\n", ("time.t_end", "time.dt")),
    "steps-too-many": ("[time]\ndt = 1e-6\nt_end = 1e3\n", ("time.t_end", "time.dt")),
    "seed-2-64": ("[output]\nseed = 18446744073709551616\n", ("output.seed", "<=")),
    "seed-2-63": ("[output]\nseed = 9223372036854775808\n", ("output.seed", "<=")),
}


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(("text", "named"), NUMBERS.values(), ids=list(NUMBERS))
def test_numbers_that_overflow_are_refused(tmp_path, capsys, command, text, named):
    config = tmp_path / "bad.toml"
    config.write_text(text + "[field]\nnoise = 0.1\n")
    out = tmp_path / "out"
    argv = [command, str(config)] + (["--out", str(out), "--quiet"] if command == "run" else [])
    _refused(argv, capsys, out, *named)


def test_steps_overflow_through_set_is_refused(tmp_path, capsys):
    config = tmp_path / "good.toml"
    config.write_text(GOOD)
    out = tmp_path / "out"
    argv = ["run", str(config), "--out", str(out), "--set", "time.dt=1e-300", "--quiet"]
    _refused(argv, capsys, out, "time.t_end", "time.dt", "steps")


PULSE = '[[input]]\nprofile = "everywhere"\ncount = 2\n'


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(
    ("text", "key"),
    [
        (PULSE + "period = 1e-310\nwidth = 1e-310\n", "period"),
        (PULSE + "width = 1e-310\n", "width"),
    ],
    ids=["period-subnormal", "width-subnormal"],
)
def test_subnormal_pulse_times_are_refused(tmp_path, capsys, command, text, key):
    config = tmp_path / "bad.toml"
    config.write_text(GOOD + text)
    out = tmp_path / "out"
    argv = [command, str(config)] + (["--out", str(out), "--quiet"] if command == "run" else [])
    _refused(argv, capsys, out, f"input.0.{key}", ">=")


def test_output_dir_naming_a_file_is_refused(tmp_path, capsys):
    existing = tmp_path / "afile"
    existing.write_text("keep")
    config = tmp_path / "good.toml"
    config.write_text(GOOD + f'[output]\ndir = "{existing}"\n')
    assert main(["run", str(config), "--quiet"], MPI.COMM_WORLD) == 2
    error = capsys.readouterr().err
    assert "afile" in error and "directory" in error and "Traceback" not in error
    assert existing.read_text() == "keep"


@pytest.mark.parametrize(
    "out", ["/proc/x", "/proc/x/y", "/sys/nope"], ids=["proc", "proc-deep", "sys"]
)
def test_out_on_a_virtual_file_system_is_refused(tmp_path, capsys, out):
    config = tmp_path / "good.toml"
    config.write_text(GOOD)
    _refused(["run", str(config), "--out", out, "--quiet"], capsys, Path(out), out, "directory")


BROKEN_SUMMARIES = {
    "truncated-json": b'{"final_metrics": {',
    "empty": b"",
    "not-utf8": b"\xff\xfe\x00garbage",
    "json-list": b"[1, 2]",
}


@pytest.mark.parametrize("content", BROKEN_SUMMARIES.values(), ids=list(BROKEN_SUMMARIES))
def test_report_on_a_broken_summary_is_refused(tmp_path, capsys, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_bytes(content)
    _refused(["report", str(run)], capsys, run / "plots", "summary.json", "bmf run")


def _sweep_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes(b'out = "caf\xe9"\n')
    directory = tmp_path / "adir.toml"
    directory.mkdir()
    proc = tmp_path / "proc.toml"
    proc.write_text('out = "/proc/nope"\n[grid]\n"time.dt" = [0.1]\n')
    return {"not-utf8": (not_utf8, "UTF-8"), "directory": (directory, "directory"),
            "out-proc": (proc, "/proc/nope")}  # fmt: skip


@pytest.mark.parametrize("case", ["not-utf8", "directory", "out-proc"])
def test_bad_sweep_files_are_refused(tmp_path, capsys, case):
    path, named = _sweep_cases(tmp_path)[case]
    before = sorted(tmp_path.rglob("*"))
    assert main(["sweep", str(path)], MPI.COMM_WORLD) == 2
    error = capsys.readouterr().err
    assert str(path.name) in error or named in error
    assert named in error and "Traceback" not in error
    assert sorted(tmp_path.rglob("*")) == before


DEEP = "[" * 2000 + "]" * 2000


def test_deeply_nested_toml_is_refused(tmp_path, capsys):
    config = tmp_path / "deep.toml"
    config.write_text(GOOD + f"[output]\nfields = {DEEP}\n")
    out = tmp_path / "out"
    _refused(["run", str(config), "--out", str(out), "--quiet"], capsys, out, "deep.toml", "deeply")


def test_deeply_nested_set_is_refused(tmp_path, capsys):
    config = tmp_path / "good.toml"
    config.write_text(GOOD)
    out = tmp_path / "out"
    argv = ["run", str(config), "--out", str(out), "--quiet", "--set", f"output.fields={DEEP}"]
    _refused(argv, capsys, out, "--set", "deeply")


QUOTED_MSH = """$MeshFormat
4.1 0 8
$EndMeshFormat
$PhysicalNames
1
2 1 "left "half""
$EndPhysicalNames
"""


def test_a_region_name_with_a_quote_is_refused(tmp_path, capsys):
    (tmp_path / "quoted.msh").write_text(QUOTED_MSH)
    config = tmp_path / "file.toml"
    config.write_text('[mesh]\nkind = "file"\nfile = "quoted.msh"\n[time]\nt_end = 0.0\n')
    out = tmp_path / "out"
    _refused(["run", str(config), "--out", str(out), "--quiet"], capsys, out, "quoted.msh", "left")


def test_an_h_too_small_for_the_memory_is_refused_at_check(tmp_path, capsys, monkeypatch):
    import meshes.keys

    monkeypatch.setattr(meshes.keys, "available_memory", lambda: 8 * 2**30)
    config = tmp_path / "fine.toml"
    config.write_text('[mesh]\nkind = "box"\ndim = 2\nh = 0.0004\n')
    error = _refused(["check", str(config)], capsys, tmp_path / "out", "mesh.h", "GiB")
    assert "use mesh.h >=" in error


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(
    ("section", "key"), [("input", "input.0.region"), ("perturbation", "perturbation.0.region")]
)
def test_a_region_the_mesh_lacks_is_refused_with_close_names(
    tmp_path, capsys, command, section, key
):
    config = tmp_path / "web.toml"
    extra = 'kind = "reset"\n' if section == "perturbation" else 'profile = "region"\n'
    config.write_text(
        f'[mesh]\nkind = "web"\n[time]\nt_end = 0.2\n[[{section}]]\n{extra}region = "spoke_99"\n'
    )
    out = tmp_path / "out"
    argv = [command, str(config)] + (["--out", str(out), "--quiet"] if command == "run" else [])
    error = _refused(argv, capsys, out, key, "'spoke_99'", "did you mean 'spoke_9'")
    assert "in all" in error and len(error) < 600
