"""Chapter 1, "The Goldilocks zone" (Fig. 1): positive curvature along three rays."""
from __future__ import annotations

import dataclasses

from ..curvature.sweep import alpha_grid
from ._base import SweepSettings
from ._models import LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["Zone"]


@dataclasses.dataclass(frozen=True)
class Zone(SweepSettings):
    chapter = "zone"
    profiles = {
        # N = 4000 (≈ 2.5 min for 3 seeds on 2 cores): the α- and T-sweeps share one Jacobian per seed;
        # the tied ray needs one per α, so quick computes it on every 6th α (10^-3, 10^-1.5, ..., 10^3)
        "quick": {"models": (subset(LENET_300_100_FASHION, 4000),), "tied_every": 6, "cache": False},
        "offline": {"models": (subset(MLP_DIGITS, 1390),), "alphas": tuple(alpha_grid(-3.0, 3.0, 0.5)),
                    "cache": False},
    }

    end_fraction: float = 0.1
    tied_rtol: float = 1e-6
    tied_every: int = 1  # the tied ray T = α^L on every k-th α of ``alphas``
    cache: bool = True
