"""Related work: Fort & Ganguli (2019), "Emergent properties of the local geometry of neural loss
landscapes" — the random logit model (their §3–4, Figs. 5–8) and logit-gradient clustering on
real networks (their Fig. 1).

Defaults are their setting: N = 300, C = 10, D = 1000, σ_z = 15, σ_c = 1/√D, σ_E = 0.7/√D,
labels for accuracy 0.95, a sweep of σ_z from 10⁻³ to 10², a random d = 10 hyperplane. Their
Fig. 1 names neither its networks nor its data sets in the text; the paper profile uses the
main paper's LeNet-300-100 on Fashion-MNIST and LeNet-5 on CIFAR-10.
"""
from __future__ import annotations

import dataclasses
import math

from ..curvature.sweep import alpha_grid
from ._base import ChapterSettings
from ._models import LENET5_CIFAR10, LENET5_DIGITS32, LENET5_FASHION32, LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["FortGanguli"]

_QUICK = {
    "sweep_sigma_z": tuple(alpha_grid(-3.0, 2.0, 0.5)),
    "num_seeds": 5,
    "num_bases": 5,
    "networks": (subset(LENET_300_100_FASHION, 200), subset(LENET5_FASHION32, 200)),
    "num_measure": 200,
    "train_steps": 60,
    "cache": False,
}

_OFFLINE = {
    **_QUICK,
    "networks": (subset(MLP_DIGITS, 200), subset(LENET5_DIGITS32, 200)),
}


@dataclasses.dataclass(frozen=True)
class FortGanguli(ChapterSettings):
    chapter = "fort_ganguli"
    profiles = {"quick": _QUICK, "offline": _OFFLINE}

    # the random logit model (F&G §4)
    model: dict = dataclasses.field(default_factory=lambda: {
        "n_samples": 300, "n_classes": 10, "dim": 1000, "sigma_z": 15.0, "sigma_c": 1.0 / math.sqrt(1000),
        "sigma_e": 0.7 / math.sqrt(1000), "accuracy": 0.95})
    top_k: int = 10  # Fig. 6: the power in the top 10 eigenvectors
    num_seeds: int = 20  # draws of the model for the power of Fig. 6
    sweep_sigma_z: tuple = tuple(alpha_grid(-3.0, 2.0, 0.25))  # Figs. 7–8: 10⁻³ … 10²
    sigma_c_power: float | None = None  # σ_c ∝ σ_z^power; None: the exponent measured on the networks
    sigma_c_powers: tuple = (0.0, 0.25, 0.5, 0.75)  # the family drawn in Fig. 7
    num_bases: int = 20  # random hyperplanes for Fig. 8 (d = basis_dim)
    basis_dim: int = 10
    # logit-gradient clustering on networks (F&G Fig. 1)
    networks: tuple = (LENET_300_100_FASHION, LENET5_CIFAR10)
    activations: tuple = ("relu", "tanh")
    num_measure: int = 500  # samples whose logit gradients are compared (a balanced subset)
    train_steps: int = 2000  # full-batch gradient descent
    base_lr: float = 0.1
    train_dtype: str = "float32"
    cache: bool = True
