"""containers/run: the route it chooses, and the podman route gives the run the chroot route gives.

The route tests run ``containers/run --route`` with stand-in ``podman``, ``docker``,
``dpkg-query`` and ``apt-get`` programs first on PATH and a chosen os-release file, so they
need no image and change nothing. The comparison runs a short ``bmf run`` in this
environment and, on the host, through podman (building the image once per package list);
metrics.csv (but for its wall-clock column) and every written field value must be
identical: same packages, same compiled forms, same arithmetic.
"""

from __future__ import annotations

import csv
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import bmf

from bmf_fem.results import read_series, read_values

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "containers" / "run"

TRIXIE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_CODENAME=trixie\n'
BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n'

FAILING = "#!/bin/sh\necho 'Error: stand-in failure' >&2\nexit 1\n"
WORKING = "#!/bin/sh\nexit 0\n"
# podman that starts containers only with containers/run's settings file
WORKS_WITH_SETTINGS = (
    '#!/bin/sh\n[ -n "$CONTAINERS_CONF" ] || { echo "Error: setrlimit" >&2; exit 1; }\n'
)
RECORD = '#!/bin/sh\necho "$(basename "$0") $*" >> "$(dirname "$0")/calls"\nexit 1\n'


def packages() -> list[str]:
    text = (ROOT / "containers" / "packages.txt").read_text()
    return sorted({w for line in text.splitlines() for w in line.split("#")[0].split()})


def route(
    tmp_path: Path,
    *,
    podman: str | None = FAILING,
    os_release: str = TRIXIE,
    installed: list[str] | None = None,
    engine: str | None = None,
    docker: str = FAILING,
    args: tuple[str, ...] = ("--route",),
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """containers/run ARGS outside any environment, with stand-ins for the host's tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tools = {
        "docker": docker,
        "apt-get": RECORD,
        "dpkg-query": "#!/bin/sh\nprintf '%s\\n' " + " ".join(installed or []) + "\n",
    }
    if podman is not None:
        tools["podman"] = podman
    for name, text in tools.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "os-release").write_text(os_release)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("BMF_") and key != "CONTAINERS_CONF"
    }
    env.update(
        PATH=f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
        BMF_OS_RELEASE=str(tmp_path / "os-release"),
        BMF_CACHE=str(tmp_path / "cache"),
    )
    if engine is not None:
        env["BMF_ENGINE"] = engine
    env.update(extra or {})
    # setsid: no controlling terminal, as in CI, so nobody can answer a question
    return subprocess.run(
        ["setsid", "-w", str(RUN), *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize(
    ("name", "value", "valid"),
    [
        ("BMF_ENGINE", "lxc", "use podman, docker, host or chroot"),
        ("BMF_VIEWER", "vtk", "use paraview or none"),
        ("BMF_SNAPSHOT", "2025-05-20", "use a snapshot.debian.org time like 20250520T000000Z"),
    ],
)
def test_an_unknown_setting_is_refused_naming_the_valid_ones(tmp_path, name, value, valid):
    result = route(tmp_path, extra={name: value})
    assert result.returncode == 2
    assert f"{name}={value} is not valid; {valid}" in result.stderr


def test_inside_the_environment_commands_run_directly():
    result = subprocess.run([str(RUN), "--route"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"inside (BMF_ENV={os.environ['BMF_ENV']})\n"


def test_a_working_podman_comes_before_a_prepared_trixie_host(tmp_path):
    result = route(tmp_path, podman=WORKING, installed=packages())
    assert (result.returncode, result.stdout) == (0, "podman\n"), result.stderr


def test_docker_comes_next_when_podman_cannot_start_a_container(tmp_path):
    result = route(tmp_path, docker=WORKING, installed=packages())
    assert result.stdout.startswith("docker (podman skipped: podman cannot start"), result.stderr
    assert "stand-in failure" in result.stdout


def test_podman_that_fails_with_its_defaults_runs_with_the_host_settings(tmp_path):
    result = route(tmp_path, podman=WORKS_WITH_SETTINGS, os_release=BOOKWORM)
    settings = tmp_path / "cache" / "podman-settings"
    assert result.stdout == f"podman (with the settings in {settings})\n", result.stderr
    conf = (settings / "containers.conf").read_text()
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = min(nofile, 1048576) if nofile != resource.RLIM_INFINITY else 1048576
    assert f'"nofile={nofile}:{nofile}"' in conf
    assert 'netns = "host"' in conf


def test_a_trixie_host_with_the_packages_runs_natively(tmp_path):
    result = route(tmp_path, installed=packages())
    assert result.stdout == "host (the packages are installed)\n", result.stderr


def test_a_trixie_host_without_the_packages_asks_and_without_a_terminal_installs_nothing(tmp_path):
    missing = len(packages())
    result = route(tmp_path)
    assert result.stdout == f"host-ask (asks before installing {missing} Debian packages)\n"
    result = route(tmp_path, args=("true",))
    assert result.returncode == 2
    assert "nothing was installed" in result.stderr
    assert "BMF_ENGINE=host" in result.stderr and "install podman" in result.stderr
    assert not (tmp_path / "bin" / "calls").exists(), "apt-get was called"


def test_a_forced_host_route_installs_without_asking(tmp_path):
    result = route(tmp_path, engine="host", args=("true",))  # the stand-in apt-get fails
    assert result.returncode == 2
    if os.getuid() == 0:
        assert "apt-get install failed" in result.stderr
        calls = (tmp_path / "bin" / "calls").read_text()
        assert "apt-get install -y --no-install-recommends" in calls
        assert "python3-dolfinx" in calls
    else:
        assert "sudo apt-get install --no-install-recommends" in result.stderr


def test_another_host_without_an_engine_takes_the_chroot_route_as_root(tmp_path):
    result = route(tmp_path, os_release=BOOKWORM)
    if os.getuid() == 0:
        assert result.stdout.startswith("chroot (no container engine: podman cannot start"), (
            result.stderr
        )
        assert "stand-in failure" in result.stdout
    else:
        assert result.returncode == 2
        assert "apt-get install podman" in result.stderr


def test_forcing_the_host_route_on_another_host_says_why_not(tmp_path):
    result = route(tmp_path, os_release=BOOKWORM, engine="host")
    assert result.returncode == 2
    assert "BMF_ENGINE=host needs a Debian trixie host" in result.stderr
    assert "bookworm" in result.stderr


# ---------------------------------------------------------- podman against this route ----

SMALL = """
[mesh]
kind = "box"
dim = 2
h = 0.1
[time]
dt = 0.1
t_end = 0.6
[field]
noise = 0.05
[sites]
noise = 0.02
[[input]]
centre = [0.5, 0.5]
radius = 0.2
amplitude = 1.0
start = 0.1
period = 0.3
count = 2
width = 0.1
[output]
every = 2
"""


FIELDS = {"u", "M", "phi", "s", "expression_time"}


def metrics_without_wall_time(run: Path) -> list[dict]:
    """metrics.csv's rows as written (the numbers' text), without the wall-clock seconds."""
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and "wall_s" in rows[0]
    return [{k: v for k, v in row.items() if k != "wall_s"} for row in rows]


def on_the_host(*command: str, timeout: float) -> subprocess.CompletedProcess:
    """Run COMMAND on the host that started this environment, in the host's own environment.

    The chroot route names its containers/run process in BMF_HOST_PID; nsenter enters that
    process's mount namespace (and its root), where the host's podman lives.
    """
    route_name = os.environ.get("BMF_ENV")
    if route_name == "native":
        prefix: list[str] = []
        host_env = dict(os.environ)
    elif route_name == "rootfs":
        pid = os.environ.get("BMF_HOST_PID")
        assert pid, "the chroot route did not say its host process (BMF_HOST_PID)"
        assert shutil.which("nsenter"), "nsenter (util-linux) is missing in the environment"
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        host_env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        prefix = ["nsenter", "-t", pid, "-m", "-u", "-i", "-n", "-p", "-r", f"--wd={ROOT}"]
    else:
        pytest.skip(
            f"the suite runs in a container (BMF_ENV={route_name}): the host's engine and the "
            "chroot route are out of its reach; run the suite with BMF_ENGINE=chroot to compare"
        )
    env = {k: v for k, v in host_env.items() if k not in ("BMF_ENV", "BMF_ENGINE", "BMF_HOST_PID")}
    env_args = [f"{k}={v}" for k, v in env.items()]
    return subprocess.run(
        [*prefix, "env", "-i", *env_args, *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_the_podman_route_gives_the_same_run_as_this_route():
    # The host chooses podman by itself when podman works there.
    chosen = on_the_host(str(RUN), "--route", timeout=120)
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.startswith("podman"), (
        "podman does not work on this host, so the image route cannot be compared: "
        f"containers/run --route says {chosen.stdout.strip()!r}; install podman and runc "
        "(apt-get install podman runc) or see docs/guide.md, 'Your own podman setup'"
    )
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".test-containers-") as scratch:
        work = Path(scratch)
        (work / "small.toml").write_text(SMALL)
        here = bmf("run", str(work / "small.toml"), "--out", str(work / "here"), "--quiet")
        assert here.returncode == 0, here.stderr
        there = on_the_host(
            str(RUN),
            "bmf",
            "run",
            str(work / "small.toml"),
            "--out",
            str(work / "podman"),
            "--quiet",
            timeout=1800,  # the first call builds the image
        )
        assert there.returncode == 0, there.stderr[-3000:]
        assert "containers/run: route: podman" in there.stderr
        here_metrics = metrics_without_wall_time(work / "here")
        assert len(here_metrics) == 4  # t = 0, 0.2, 0.4, 0.6
        assert metrics_without_wall_time(work / "podman") == here_metrics
        here_fields, podman_fields = read_series(work / "here"), read_series(work / "podman")
        assert set(podman_fields.functions) == set(here_fields.functions) == FIELDS
        for name in FIELDS:
            for (t, ref), (t_podman, ref_podman) in zip(
                here_fields.functions[name], podman_fields.functions[name], strict=True
            ):
                assert t_podman == t
                here_values = read_values(work / "here", ref)
                podman_values = read_values(work / "podman", ref_podman)
                assert np.array_equal(podman_values, here_values), f"{name} at t={t}"
