"""Chapter 2, "Preliminaries": Eq. 1-2, the paper's models, projected Hessians and their split (Eq. 4)."""
from __future__ import annotations

import dataclasses

from ._base import ChapterSettings
from ._models import LENET5_CIFAR10, LENET5_DIGITS32, LENET5_FASHION32, LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["Preliminaries"]


@dataclasses.dataclass(frozen=True)
class Preliminaries(ChapterSettings):
    chapter = "preliminaries"
    profiles = {
        "quick": {"models": (subset(LENET_300_100_FASHION, 2000), subset(LENET5_FASHION32, 1000))},
        "offline": {"models": (subset(MLP_DIGITS, 500), subset(LENET5_DIGITS32, 200))},
    }

    models: tuple = (LENET_300_100_FASHION, LENET5_CIFAR10)
    subspace_dim: int = 50
    dtype: str = "float64"
    homogeneity_alphas: tuple = (1e-3, 1e-1, 10.0, 1e3)
    # the split of Eq. 4 against dense autograd: a tiny bias-free MLP, Gaussian inputs
    dense_check_widths: tuple = (6, 5, 4, 3)
    dense_check_samples: int = 32
    dense_check_dim: int = 8
    dense_check_points: tuple = ((1.0, 1.0), (0.1, 1.0), (10.0, 1.0), (1.0, 0.05), (3.0, 20.0))
