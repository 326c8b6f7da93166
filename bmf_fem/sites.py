"""The bistable site field and its expression record.

In ``continuum`` mode s is a finite-element field advanced with the other unknowns
(forms.bmf.site_terms); a degree of freedom is *expressed* from the first time its value
exceeds ``sites.on``, and ``expression_time`` holds that time (-1 while unexpressed).
"""

from __future__ import annotations

import numpy as np

from bmf_fem.parallel import global_sum


class ContinuumSites:
    """Expression bookkeeping for a site field that lives in the field's space."""

    def __init__(self, model, weights: np.ndarray, n_owned: int):
        self.model = model
        self.on = model.config.sites.on
        self.weights = weights[:n_owned]
        self.n_owned = n_owned
        self.total = global_sum(model.comm, self.weights.sum())

    def record(self, t: float) -> None:
        """Mark dofs whose value first exceeds ``sites.on`` at time t."""
        times = self.model.expression_time.x.array
        newly = (self.model.s.x.array > self.on) & (times < 0.0)
        times[newly] = t

    def expressed_fraction(self) -> float:
        """The expressed share of the domain's measure."""
        expressed = self.model.expression_time.x.array[: self.n_owned] >= 0.0
        return global_sum(self.model.comm, self.weights[expressed].sum()) / self.total
