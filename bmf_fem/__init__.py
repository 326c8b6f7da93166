"""bmf-fem: finite elements for the Base Morphic Field model."""

__version__ = "0.1.0"
