"""The sites' tilted double well, in one place: ``V(s; h) = s^4/4 - s^2/2 - h s``.

Its force ``-V' = s - s^3 + h`` drives every site (forms.bmf.site_terms in continuum
mode, bmf_fem.sites in cells mode), its stiffness ``V'' = 3 s^2 - 1`` bounds the
semi-implicit step and so sets the stabilisation, and its fold ``h_c = 2 / (3 sqrt 3)`` is
where the lower well disappears (the field detector, the docs). The step

    (s^{n+1} - s^n) / dt = alpha (force(s^n) + S s^n) - alpha S s^{n+1} + ...

is stable while ``alpha dt (3 s^2 - 1) <= B (1 + alpha S dt)``, ``B`` = 2 for SBDF1 and
4/3 for SBDF2 (docs/model.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

H_C = 2.0 / (3.0 * np.sqrt(3.0))
"""The fold: above this tilt h the lower well is gone and a site flips."""


@dataclass(frozen=True)
class DoubleWell:
    """The tilted double well and what the stepping needs to know about it."""

    fold: float = H_C
    stable_range: float = 1.29
    """|s| up to which "auto" keeps the stabilised step stable at every dt: the upper well
    at a tilt of 0.85 (S = 2 for SBDF1 at large alpha dt)."""
    stability_factor: tuple[tuple[str, float], ...] = (("sbdf1", 2.0), ("sbdf2", 4.0 / 3.0))
    """The factor B of each scheme (the extrapolation of SBDF2 has the smaller interval)."""

    @staticmethod
    def force(s, tilt):
        """``-V'(s) = s - s^3 + tilt``."""
        return s - s * s * s + tilt

    @staticmethod
    def force_into(out: np.ndarray, s: np.ndarray, tilt: np.ndarray) -> np.ndarray:
        """``force(s, tilt)`` written into ``out`` (no temporaries; ``s**3`` would go
        through ``pow``, a hundred times slower than two products for negative s)."""
        np.multiply(s, s, out=out)
        np.subtract(1.0, out, out=out)
        out *= s
        out += tilt
        return out

    @staticmethod
    def stiffness(s):
        """``V''(s) = 3 s^2 - 1``: where it is positive the well restores."""
        return 3.0 * s * s - 1.0

    @staticmethod
    def wells(tilt: float) -> np.ndarray:
        """The real roots of ``s - s^3 + tilt``, ascending (three below the fold)."""
        roots = np.roots([-1.0, 0.0, 1.0, tilt])
        return np.sort(roots[np.abs(roots.imag) < 1e-12].real)

    def barrier(self, tilt: float) -> float:
        """``V(saddle) - V(lower well)`` below the fold, 0 above it."""
        roots = self.wells(tilt)
        if roots.size < 3:
            return 0.0
        lower, saddle = roots[0], roots[1]
        V = lambda s: s**4 / 4 - s**2 / 2 - tilt * s  # noqa: E731
        return float(V(saddle) - V(lower))

    def factor(self, scheme: str) -> float:
        return dict(self.stability_factor)[scheme]

    def stabilisation(self, setting: float | str, rate: float, dt: float, scheme: str) -> float:
        """The stabilisation S of the step: ``setting``, or for "auto" the smallest S >= 0
        with which the step is stable for ``|s| <= stable_range`` at this dt."""
        if setting != "auto":
            return float(setting)
        if rate * dt == 0.0:
            return 0.0
        needed = self.stiffness(self.stable_range) / self.factor(scheme) - 1.0 / (rate * dt)
        return max(0.0, needed)

    def stable_extent(self, rate: float, dt: float, stabilisation: float, scheme: str) -> float:
        """The largest |s| at which the stabilised step is stable (inf when every s is)."""
        if rate * dt == 0.0:
            return np.inf
        bound = self.factor(scheme) * (1.0 + rate * stabilisation * dt) / (rate * dt)
        return float(np.sqrt((bound + 1.0) / 3.0))


SITE_POTENTIAL = DoubleWell()
"""The potential of every site."""
