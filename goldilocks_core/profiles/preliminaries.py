"""Chapter 2, "Preliminaries": Eq. 1-2, the paper's models, projected Hessians."""
from __future__ import annotations

import dataclasses

from ._base import ChapterSettings

__all__ = ["Preliminaries"]


@dataclasses.dataclass(frozen=True)
class Preliminaries(ChapterSettings):
    chapter = "preliminaries"
    profiles = {
        "quick": {"lenet_channels": 1, "num_samples": 2000},
        "offline": {"dataset": "digits", "mlp_widths": (64, 300, 100, 10), "lenet_channels": 1,
                    "num_samples": 500},
    }

    dataset: str = "fashion_mnist"
    mlp_widths: tuple = (784, 300, 100, 10)
    lenet_image_size: int = 32
    lenet_channels: int = 3
    num_samples: int = 60000
    subspace_dim: int = 50
    dense_check_widths: tuple = (6, 5, 4, 3)
