"""The variational forms of the model (installed as ``bmf_fem.forms``; see the package-dir
mapping in pyproject.toml)."""
