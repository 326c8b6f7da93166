"""The spatial profiles of ``[[input]]``, registered here once: the configuration, the
inputs, the resolution guard and the docs read this table.

A profile is a module: a dataclass of the ``[[input]]`` keys only it uses (declared with
`bmf_fem.config.keys.key`, so they are checked, documented and refused with the other
profiles like every key) and a function giving its nodal values, or a function of time
that gives them (a moving profile). Add one by writing the module and a line here;
docs/python.md shows "moving_gaussian" as the worked example.
"""

from __future__ import annotations

from bmf_fem.config.keys import keys_of
from bmf_fem.profiles import everywhere, gaussian, moving_gaussian, region
from bmf_fem.profiles.base import Profile

PROFILES: dict[str, Profile] = {
    module.PROFILE.name: module.PROFILE
    for module in (gaussian, region, everywhere, moving_gaussian)
}
"""Every input profile by name; the first is the default."""

PROFILE_KEYS = tuple(dict.fromkeys(name for p in PROFILES.values() for name in keys_of(p.keys)))
"""The keys of ``[[input]]`` that belong to some profile."""


def users(name: str) -> tuple[str, ...]:
    """The profiles that read the key `name`."""
    return tuple(p.name for p in PROFILES.values() if name in keys_of(p.keys))


__all__ = ["PROFILES", "PROFILE_KEYS", "Profile", "users"]
