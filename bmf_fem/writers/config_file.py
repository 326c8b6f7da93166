"""config.toml: the resolved configuration the run used, readable by ``bmf run``."""

from __future__ import annotations

from bmf_fem.output import write_text
from bmf_fem.writers.base import RunWriter


class ConfigFile(RunWriter):
    name = "config"
    files = ("config.toml",)

    def open(self, resuming: bool) -> None:
        from bmf_fem.config import dump_toml

        text = dump_toml(self.run.config.to_dict())
        write_text(self.out / "config.toml", text, self.run.comm)
