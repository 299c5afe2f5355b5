"""Chapter 4, "Features of the Goldilocks zone" (Eq. 7-9, Fig. 3-6). Fort & Ganguli's random
model has its own chapter (:mod:`goldilocks_core.profiles.fort_ganguli`)."""
from __future__ import annotations

import dataclasses

from ..curvature.sweep import alpha_grid
from ._base import ChapterSettings
from ._models import LENET5_CIFAR10, LENET5_FASHION32, LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["Features"]

_MLP_DIGITS_NAMED = {**MLP_DIGITS, "name": "MLP 64-300-100-10, digits"}

_QUICK = {
    "fig3_settings": (subset(LENET_300_100_FASHION, 2000),),
    "dims": (10, 20, 50, 100, 200),
    "dims_num_samples": 500,
    "cosine_setting": {"name": "LeNet-5", "arch": "lenet5", "dataset": "fashion_mnist", "pad_to": 32},
    "cosine_datasets": ({"dataset": "fashion_mnist", "pad_to": 32, "label": "Fashion-MNIST 32×32"},
                        {"dataset": "digits", "image_size": 32, "label": "digits 32×32"},
                        {"dataset": "gaussian", "label": "Gaussian images"}),
    "cosine_num_samples": 1000,
    "cosine_num_inits": 3,
    "prior_setting": subset(LENET5_FASHION32, 500),
    "prior_num_priors": 100,
    "prior_subset_size": 300,
    "inits_setting": {**subset(LENET5_FASHION32, 250), "name": "LeNet-5, Fashion-MNIST 32×32"},
    "num_inits": 24,
    "cache": False,
}

_OFFLINE = {
    "fig3_settings": (_MLP_DIGITS_NAMED,),
    "dims": (10, 20, 50, 100, 200),
    "dims_num_samples": 500,
    "cosine_setting": {"name": "MLP 64-300-100-10", "arch": "mlp", "dataset": "digits",
                       "widths": [64, 300, 100, 10]},
    "cosine_datasets": ({"dataset": "digits", "split": "train"}, {"dataset": "digits", "split": "test"},
                        {"dataset": "gaussian", "label": "Gaussian images"}),
    "cosine_num_samples": 350,
    "prior_setting": _MLP_DIGITS_NAMED,
    "prior_num_priors": 200,
    "prior_subset_size": 200,
    "inits_setting": {"name": "MLP 64-100-100-10, 200 digits", "arch": "mlp", "dataset": "digits",
                      "widths": [64, 100, 100, 10], "num_samples": 200},
    "num_inits": 100,
    "cache": False,
}


@dataclasses.dataclass(frozen=True)
class Features(ChapterSettings):
    chapter = "features"
    profiles = {"quick": _QUICK, "offline": _OFFLINE}

    fig3_settings: tuple = (LENET_300_100_FASHION, LENET5_CIFAR10)
    alphas: tuple = tuple(alpha_grid())
    subspace_dim: int = 50
    num_seeds: int = 3
    basis_kind: str = "orthonormal"
    chunk_size: int | None = None
    dims: tuple = (10, 20, 50, 100, 200, 500)
    dims_num_samples: int = 10000
    dims_alphas: tuple = (0.1, 1.0, 2.0)
    gamma_num_logit_sets: int = 30
    gamma_alphas: tuple = tuple(alpha_grid(-2.0, 2.0, 0.05))
    cosine_setting: dict = dataclasses.field(
        default_factory=lambda: {"name": "LeNet-5", "arch": "lenet5", "dataset": "cifar10"})
    cosine_datasets: tuple = ({"dataset": "svhn", "label": "SVHN"}, {"dataset": "cifar10", "label": "CIFAR-10"},
                              {"dataset": "gaussian", "label": "Gaussian images"})
    cosine_num_samples: int = 10000
    cosine_num_inits: int = 10
    prior_setting: dict = dataclasses.field(default_factory=lambda: dict(LENET5_CIFAR10))
    prior_num_priors: int = 2000
    prior_subset_size: int = 5000
    inits_setting: dict = dataclasses.field(
        default_factory=lambda: {**LENET5_CIFAR10, "name": "LeNet-5, 3,000 CIFAR-10 images", "num_samples": 3000})
    num_inits: int = 2000
    cache: bool = True
