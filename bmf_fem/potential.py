"""The sites' tilted double well ``V(s) = s^4/4 - s^2/2 - h s`` and its fold."""

from __future__ import annotations

import numpy as np

H_C = 2.0 / (3.0 * np.sqrt(3.0))
"""The fold: above this tilt h the lower well is gone and a site flips."""
