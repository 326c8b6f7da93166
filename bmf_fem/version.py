"""The version of bmf-fem."""

__version__ = "0.1.0"
