"""Chapter 3, "Revisiting the Goldilocks zone" (Eq. 3-6, Fig. 2)."""
from __future__ import annotations

import dataclasses

from ..curvature.sweep import alpha_grid
from ._base import SweepSettings
from ._models import LENET5_DIGITS32, LENET5_FASHION32, LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["Revisiting"]


@dataclasses.dataclass(frozen=True)
class Revisiting(SweepSettings):
    chapter = "revisiting"
    profiles = {
        # LeNet-5 costs most: one seed of it, three of LeNet-300-100 (CPU budget)
        "quick": {"models": (subset(LENET_300_100_FASHION, 1500), subset(LENET5_FASHION32, 1000, num_seeds=1)),
                  "identity_num_samples": 20, "cache": False},
        "offline": {"models": (subset(MLP_DIGITS, 1390), subset(LENET5_DIGITS32, 100)),
                    "alphas": tuple(alpha_grid(-3.0, 3.0, 0.5)), "identity_num_samples": 20, "cache": False},
    }

    zone_fraction: float = 0.5
    slope_fit_max_alpha: float = 10**-1.5
    identity_num_samples: int = 1000
    identity_alphas: tuple = (0.01, 0.3, 3.0, 30.0)
    identity_temperatures: tuple = (0.1, 1.0, 10.0, "alpha^L")
    identity_rtol: float = 1e-10
    cache: bool = True
