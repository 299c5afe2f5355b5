"""Related work: Kalra & Barkeshli (2023), the phase diagram of early training.

Their FCNs (App. A): bias-free ReLU networks in standard parameterisation at criticality, trained
by SGD with batch size 512 and η = c/λ₀, c = 2^x with x in steps of 0.1, for the first steps of
training (the public demo notebook: 10 steps, widths 256–2048 at depth 8, CIFAR-10); sharpness by
20 power iterations on 4,096 training examples; ten initialisations per point (Fig. 3); a run
diverges when its loss exceeds K = 10⁵. The depths 4 and 16 of the paper profile are our reading
of their depth sweeps (Fig. 3 d–f), not a list printed in the text. The uv model (§5, App. B)
is trained on one example by gradient descent.
"""
from __future__ import annotations

import dataclasses

from ._base import ChapterSettings

__all__ = ["KalraBarkeshli"]

_QUICK = {
    "dataset": "fashion_mnist",
    "image_size": 14,
    "num_train": 250,
    "batch_size": None,
    "measure_samples": 120,
    "architectures": ((2, 256), (2, 128), (4, 128), (2, 64), (4, 64), (8, 64), (4, 32)),
    "xent_architectures": None,
    "demo_architectures": ((2, 256), (8, 64)),
    "x_min": 0.0,
    "x_max": 7.0,
    "x_step": 0.5,
    "num_inits": 3,
    "warm_steps": 4,
    "until_rise": True,
    "threads": 1,
    "uv_inits": 300,
}

_OFFLINE = {
    **_QUICK,
    "dataset": "digits",
    "image_size": None,
    "num_train": 250,
    "measure_samples": 100,
    "architectures": ((2, 128), (2, 32), (4, 32), (8, 32)),
    "xent_architectures": ((2, 128), (2, 32), (8, 32)),
    "demo_architectures": ((2, 128), (8, 32)),
    "num_inits": 2,
    "uv_inits": 100,
    "uv_widths": (2, 8, 32, 128, 512),
}


@dataclasses.dataclass(frozen=True)
class KalraBarkeshli(ChapterSettings):
    chapter = "kalra_barkeshli"
    profiles = {"quick": _QUICK, "offline": _OFFLINE}

    dataset: str = "cifar10"
    image_size: int | None = None
    num_train: int | None = None  # None: the full training set
    batch_size: int | None = 512  # None: full-batch gradient descent
    measure_samples: int = 4096  # where loss and sharpness are measured
    architectures: tuple = ((8, 256), (8, 512), (8, 1024), (8, 2048), (4, 512), (16, 512))  # (d, w)
    xent_architectures: tuple | None = None  # None: the MSE architectures
    losses: tuple = ("mse", "xent")
    x_min: float = 0.0  # c = 2^x
    x_max: float = 7.0
    x_step: float = 0.1
    num_inits: int = 10
    steps: int = 10
    lanczos_steps: int = 20  # for λ₀
    warm_steps: int = 20  # per step afterwards, from the previous Ritz vector
    until_rise: bool = False
    divergence: float = 1e5
    demo_architectures: tuple = ((4, 2048), (16, 256))  # trajectories shown in full (their Fig. 2)
    demo_xs: tuple = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5)
    dtype: str = "float64"
    threads: int | None = None  # PyTorch intra-op threads for the FCN runs (None: PyTorch's default)
    cache: bool = True  # each architecture's runs on disk as soon as they finish (resumable)
    # the uv model (§5, App. B)
    uv_widths: tuple = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    uv_inits: int = 1000
    uv_steps: int = 200
    uv_x_min: float = 0.0
    uv_x_max: float = 3.0
    uv_x_step: float = 0.02
    uv_demo_width: int = 16
    uv_demo_cs: tuple = (1.5, 2.5, 3.5)  # one per phase at w = 16 (η = c/λ₀)
    uv_demo_steps: int = 12
