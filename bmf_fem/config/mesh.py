"""[mesh]: the geometry to build (or the file to read). Its keys are declared by each
mesh kind (bmf_fem.meshes, docs/geometry.md), which checks them and fills the defaults."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bmf_fem.config.table import show, type_name
from bmf_fem.errors import ConfigError
from bmf_fem.suggest import did_you_mean

DEFAULT_KIND = "crystal"


@dataclass(frozen=True)
class MeshConfig:
    """[mesh]: the geometry to build (or the file to read) and its parameters.

    ``params`` holds the table's other keys as given (shape, size, h, dim, seed, file and
    the kind's own keys), checked by the geometry library, which fills in the defaults
    (docs/geometry.md).
    """

    HEADING = "[mesh]"

    kind: str = DEFAULT_KIND
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def toml_keys(cls) -> list[str]:
        """The section's own key; the others belong to the mesh kind."""
        return ["kind"]

    @classmethod
    def read(cls, data: Any, path: str = "mesh", base_dir: Path | None = None) -> MeshConfig:
        """The section for the TOML table `data`; a relative mesh.file is taken relative
        to `base_dir` (the configuration file's folder)."""
        from bmf_fem.meshes import MeshError
        from bmf_fem.meshes.parameters import KINDS, resolve

        if not isinstance(data, dict):
            raise ConfigError(f"[mesh] must be a table of keys, not {type_name(data)}")
        params = dict(data)
        kind = params.pop("kind", DEFAULT_KIND)
        if not isinstance(kind, str):
            raise ConfigError(
                f"mesh.kind = {show(kind)} has the wrong type: expected a string, "
                f"got {type_name(kind)}"
            )
        if kind not in KINDS:
            hint = did_you_mean(kind, list(KINDS), quote=True)
            raise ConfigError(
                f"mesh.kind = {show(kind)} is not valid{hint}; use one of "
                + ", ".join(f'"{k}"' for k in KINDS)
            )
        if kind == "file":
            params["file"] = _mesh_file(params.get("file"), base_dir)
        try:
            resolve(kind, dict(params))
        except MeshError as error:
            raise ConfigError(str(error)) from None
        return cls(kind=kind, params=params)

    def to_dict(self) -> dict[str, Any]:
        """The section as plain TOML data (unset keys left out)."""
        values = {name: value for name, value in self.params.items() if value is not None}
        return {"kind": self.kind, **copy.deepcopy(values)}


def _mesh_file(file: Any, base_dir: Path | None) -> str:
    """The absolute path of mesh.file, which must exist."""
    if not isinstance(file, str) or not file.strip():
        raise ConfigError(
            'mesh.file is required when mesh.kind = "file": the path of a .msh (or any'
            " meshio) file, relative to the configuration file"
        )
    path = Path(file).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    path = path.absolute()
    if not path.is_file():
        raise ConfigError(f"mesh.file = {show(file)} is not valid: no such file {path}")
    return str(path)
