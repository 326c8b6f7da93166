"""The documentation follows the code: generated key reference, documented keys."""

from __future__ import annotations

import re
from pathlib import Path

from mpi4py import MPI

from bmf_fem.config import SECTIONS, load_config
from bmf_fem.config_reference import reference
from bmf_fem.demos import demo_path
from bmf_fem.simulation import Simulation
from bmf_fem.sweep import load_sweep

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_generated_configuration_reference_is_current():
    committed = (DOCS / "configuration-keys.md").read_text()
    assert committed == reference(), (
        "docs/configuration-keys.md has drifted; regenerate it with "
        "`containers/run python3 -m bmf_fem.config_reference > docs/configuration-keys.md`"
    )


def test_every_key_is_explained_in_the_configuration_guide():
    guide = (DOCS / "configuration.md").read_text()
    for section, cls in SECTIONS.items():
        if section == "mesh":
            continue
        for name in cls.toml_keys():
            assert (
                f"| {name} " in guide
                or f" {name}," in guide
                or (f"{name} +" in guide or f", {name}" in guide)
            ), f"{section}.{name} is not explained in docs/configuration.md"


def toml_blocks(path: Path) -> list[str]:
    """The ```toml blocks of a markdown file."""
    return re.findall(r"```toml\n(.*?)```", path.read_text(), flags=re.S)


def test_every_run_configuration_in_the_docs_is_valid_and_runs(tmp_path):
    """Configuration examples (not sweep files) load and build a run: keys, regions."""
    checked = 0
    for path in sorted(DOCS.glob("*.md")):
        for index, text in enumerate(toml_blocks(path)):
            if "[grid]" in text or "base =" in text:
                continue  # a sweep file: the next test
            file = tmp_path / f"{path.stem}-{index}.toml"
            file.write_text(text)
            config = load_config(file, overrides=["time.t_end=0"])
            Simulation(config, MPI.COMM_WORLD).close()
            checked += 1
    assert checked >= 3


def test_the_sweep_example_expands_to_its_cases(tmp_path):
    (sweep_text,) = [t for t in toml_blocks(DOCS / "batch.md") if "[grid]" in t]
    (tmp_path / "tickle.toml").write_text(demo_path("tickling").read_text())
    (tmp_path / "sweep.toml").write_text(sweep_text)
    sweep = load_sweep(tmp_path / "sweep.toml")
    assert len(sweep.cases) == 3 * 2 * 2 * 3  # D x coupling x listed cases x seeds
    for case in sweep.cases[:4]:
        load_config(tmp_path / "tickle.toml", overrides=case.overrides)
