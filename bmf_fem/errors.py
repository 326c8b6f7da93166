"""The error type for everything a user can get wrong in a configuration."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration (file, override, expression) that cannot be used.

    The message names the offending key and value and says what would be valid; it is
    meant to be printed to the user as it is.
    """
