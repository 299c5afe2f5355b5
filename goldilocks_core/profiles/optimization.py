"""Chapter 5, "Connections to optimisation" (§5, Fig. 7-9): gradient descent across (α, η₀).

The paper trains LeNet-300-100 on Fashion-MNIST and LeNet-5 on CIFAR-10 by full-batch gradient
descent for 20,000 epochs over a grid of initialisation scales α and base learning rates η₀ with
η = η₀·α^(2−L). Its figures span α = 10⁻² … 10³ (Fig. 9 uses the two ends, α = 0.01 and 1,000);
the η₀ axis is read off Fig. 8 (App. E uses η₀ = 2·10⁻⁴), so the paper profile's 13×13 grid is
our reading of the figure, not a number printed in the text.
"""
from __future__ import annotations

import dataclasses

from ..curvature.sweep import alpha_grid
from ._base import ChapterSettings
from ._models import LENET5_CIFAR10, LENET5_DIGITS32, LENET5_FASHION32, LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["Optimization"]

# quick: a 7 α × 6 η₀ grid, short runs; the ends α = 0.01 and 1,000 stay in (Fig. 9)
_QUICK_ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 10.0, 1000.0)
_QUICK = {
    "models": (subset(LENET_300_100_FASHION, 500), subset(LENET5_FASHION32, 200)),
    "test_num_samples": 500,
    "alphas": _QUICK_ALPHAS,
    "base_lrs": tuple(alpha_grid(-3.0, -0.5, 0.5)),
    "steps": (80, 40),
    "log_every": 5,
    "zone_alphas": tuple(alpha_grid(-2.0, 3.0, 0.5)),
    "zone_num_samples": 100,
    "sharpness_num_samples": 100,
    "sharpness_lanczos_steps": 20,
    "cache": False,
}

_OFFLINE = {
    "models": (subset(MLP_DIGITS, 300), subset(LENET5_DIGITS32, 100)),
    "test_num_samples": 200,
    "alphas": _QUICK_ALPHAS,
    "base_lrs": tuple(alpha_grid(-3.0, -0.5, 0.5)),
    "steps": (60, 30),
    "log_every": 5,
    "zone_alphas": tuple(alpha_grid(-2.0, 3.0, 0.5)),
    "zone_num_samples": 60,
    "sharpness_num_samples": 50,
    "sharpness_lanczos_steps": 20,
    "cache": False,
}


@dataclasses.dataclass(frozen=True)
class Optimization(ChapterSettings):
    """Settings of Chapter 5. ``steps`` and ``models`` pair up (one number of epochs per model)."""

    chapter = "optimization"
    profiles = {"quick": _QUICK, "offline": _OFFLINE}

    models: tuple = (LENET_300_100_FASHION, LENET5_CIFAR10)
    test_num_samples: int | None = None
    alphas: tuple = tuple(alpha_grid(-2.0, 3.0, 5.0 / 12))
    base_lrs: tuple = tuple(alpha_grid(-5.0, 0.0, 5.0 / 12))
    steps: tuple = (20000, 20000)
    log_every: int = 100
    dtype: str = "float32"
    fig9_alphas: tuple = (0.01, 1000.0)
    zero_logit_threshold: float = 0.75  # Fig. 8 middle: "over 75% zero logits"
    admissible_limit: float = 2.0  # Fig. 8 right: η·‖H‖₂ > 2 is inadmissible
    trained_margin: float = 0.05  # "trains": best train accuracy above chance + this margin
    lazy_gap: float = 0.05  # "lazy": α > 1 and best test accuracy this far below α = 1's
    zone_alphas: tuple = tuple(alpha_grid())
    zone_num_samples: int | None = 1000
    subspace_dim: int = 50
    sharpness_num_samples: int | None = None
    sharpness_lanczos_steps: int | None = None  # None: ARPACK to 1e-6
    paper_steps: int = 20000
    cache: bool = True
