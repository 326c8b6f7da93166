"""The documentation follows the code: generated key reference, documented keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bmf_fem.config import SECTIONS
from bmf_fem.config_reference import reference

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
        for field in dataclasses.fields(cls):
            if field.metadata.get("toml_key", True):
                assert (
                    f"| {field.name} " in guide
                    or f" {field.name}," in guide
                    or (f"{field.name} +" in guide or f", {field.name}" in guide)
                ), f"{section}.{field.name} is not explained in docs/configuration.md"
