"""Appendix E, "More connections to optimisation" (Fig. 11-12): the USO model, linear probes,
zero logits and random labels.

Fig. 11 uses LeNet-300-100 on Fashion-MNIST with η₀ = 2·10⁻⁴ (20,000 epochs); Fig. 12 probes the
penultimate features of trained LeNet-300-100 networks (3 seeds) and follows the zero-logit
fraction of LeNet-5 on CIFAR-10.
"""
from __future__ import annotations

import dataclasses

from ._base import ChapterSettings
from ._models import LENET5_CIFAR10, LENET5_DIGITS32, LENET5_FASHION32, LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["AppendixE"]

_QUICK = {
    "uso_model": subset(LENET_300_100_FASHION, 500),
    "test_num_samples": 500,
    "uso_base_lr": 0.003,
    "uso_alphas": (0.03, 0.1, 0.3),
    "uso_steps": 100,
    "uso_snapshots": (0, 25, 50, 100),
    "retrain_steps": 60,
    "retrain_base_lr": 0.03,
    "log_every": 2,
    "probe_model": subset(LENET_300_100_FASHION, 500),
    "probe_alphas": (0.1, 1.0, 10.0, 1000.0),
    "probe_base_lrs": (0.01, 0.1),
    "probe_steps": 100,
    "num_seeds": 1,
    "zero_model": subset(LENET5_FASHION32, 200),
    "zero_alphas": (1.0, 3.0, 10.0),
    "zero_base_lr": 0.1,
    "zero_steps": 40,
    "cache": False,
}

_OFFLINE = {
    **_QUICK,
    "uso_model": subset(MLP_DIGITS, 300),
    "test_num_samples": 200,
    "probe_model": subset(MLP_DIGITS, 300),
    "zero_model": subset(LENET5_DIGITS32, 100),
    "uso_steps": 60,
    "uso_snapshots": (0, 30, 60),
    "retrain_steps": 30,
    "probe_steps": 60,
    "zero_steps": 30,
}


@dataclasses.dataclass(frozen=True)
class AppendixE(ChapterSettings):
    chapter = "appendix_e"
    profiles = {"quick": _QUICK, "offline": _OFFLINE}

    uso_model: dict = dataclasses.field(default_factory=lambda: dict(LENET_300_100_FASHION))
    test_num_samples: int | None = None
    uso_base_lr: float = 0.0002
    uso_alphas: tuple = (0.001, 0.01, 0.1)
    uso_steps: int = 20000
    uso_snapshots: tuple = (0, 2500, 5000, 10000, 15000, 20000)
    retrain_steps: int = 20000
    retrain_base_lr: float = 0.01
    log_every: int = 100
    uniform_tol: float = 1e-3  # the softmax "is uniform" while |loss − log K| < this
    uso_rtol: float = 1e-3  # ‖θ_t‖/α agrees with the USO path to this relative tolerance
    probe_model: dict = dataclasses.field(default_factory=lambda: dict(LENET_300_100_FASHION))
    probe_alphas: tuple = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
    probe_base_lrs: tuple = (0.0001, 0.001, 0.01)
    probe_steps: int = 20000
    num_seeds: int = 3
    zero_model: dict = dataclasses.field(default_factory=lambda: dict(LENET5_CIFAR10))
    zero_alphas: tuple = (1.0, 3.0, 10.0, 100.0)
    zero_base_lr: float = 0.01
    zero_steps: int = 20000
    dtype: str = "float32"
    paper_steps: int = 20000
    cache: bool = True
