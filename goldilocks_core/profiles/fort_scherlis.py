"""Related work, Fort & Scherlis (2019): curvature on random hyperplanes and hyperspheres, and
training confined to them.

Fort & Scherlis study fully-connected ReLU/tanh networks on MNIST (and CIFAR-10) at radii r of the
point r·θ̂ over several decades around the Xavier radius, with random hyperplanes of small
dimension d. The package has no MNIST, so every profile runs LeNet-300-100 on Fashion-MNIST; the
paper profile at 28×28 on the full training set. Radii are given as multiples of the expected
Kaiming radius (``*_ratios``); the learning rate η₀ is ours (the fixed rule uses it at every
radius, the scaled rule η₀·α^(2−L) of Vysogorets et al., 2024).
"""
from __future__ import annotations

import dataclasses

from ..curvature.sweep import alpha_grid
from ._base import ChapterSettings
from ._models import LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["FortScherlis"]

# quick: Fashion-MNIST at 14×14 (P = 89,800 instead of 266,200) so that the 35 subspace-training
# cells run 200 steps in well under a minute on two cores
_FASHION14 = {**LENET_300_100_FASHION, "name": "LeNet-300-100, Fashion-MNIST 14×14", "image_size": 14}

_QUICK = {
    "model": subset(_FASHION14, 1000),
    "curvature_ratios": tuple(alpha_grid(-2.0, 2.0, 0.25)),
    "subspace_dim": 50,
    "num_seeds": 3,
    "train_model": subset(_FASHION14, 2000),
    "test_num_samples": 1000,
    "train_ratios": tuple(alpha_grid(-1.5, 1.5, 0.5)),
    "train_dims": (25, 100),
    "steps": 200,
    "batch_size": 50,
    "base_lr": 30.0,
    "cache": False,
}

_OFFLINE = {
    **_QUICK,
    "model": subset(MLP_DIGITS, 500),
    "train_model": subset(MLP_DIGITS, 1000),
    "test_num_samples": 300,
    "curvature_ratios": tuple(alpha_grid(-2.0, 2.0, 0.5)),
    "subspace_dim": 20,
    "num_seeds": 2,
    "train_dims": (10, 40),
    "steps": 150,
    "batch_size": 100,
}


@dataclasses.dataclass(frozen=True)
class FortScherlis(ChapterSettings):
    chapter = "fort_scherlis"
    profiles = {"quick": _QUICK, "offline": _OFFLINE}

    model: dict = dataclasses.field(default_factory=lambda: dict(LENET_300_100_FASHION))
    curvature_ratios: tuple = tuple(alpha_grid(-2.0, 2.0, 0.125))  # r / r_Kaiming
    subspace_dim: int = 50
    num_seeds: int = 3
    chunk_size: int | None = None
    train_model: dict = dataclasses.field(default_factory=lambda: dict(LENET_300_100_FASHION))
    test_num_samples: int | None = None
    train_ratios: tuple = tuple(alpha_grid(-2.0, 2.0, 0.25))
    train_dims: tuple = (10, 100, 1000)
    steps: int = 10000
    batch_size: int | None = 100
    base_lr: float = 30.0
    zone_fraction: float = 0.5  # the zone: positive curvature on hyperplanes ≥ this × its peak
    success_fraction: float = 0.5  # success: accuracy ≥ chance + this × (best − chance) at that d
    train_dtype: str = "float32"
    cache: bool = True
