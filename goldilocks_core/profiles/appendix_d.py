"""Appendix D, the pre-collapse regime (curvature plateau, first-layer eigenvector image)."""
from __future__ import annotations

import dataclasses

from ..curvature.sweep import alpha_grid
from ._base import ChapterSettings
from ._models import LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["AppendixD"]


@dataclasses.dataclass(frozen=True)
class AppendixD(ChapterSettings):
    chapter = "appendix_d"
    profiles = {
        "quick": {"model": subset(LENET_300_100_FASHION, 1000), "chunk_size": None, "gram_chunk_size": 128,
                  "robustness_alphas": tuple(alpha_grid(1.0, 2.25, 0.0625)), "cache": False, "device": "auto"},
        "offline": {"model": MLP_DIGITS, "chunk_size": None, "gram_chunk_size": 128,
                    "robustness_alphas": tuple(alpha_grid(1.0, 2.25, 0.0625)), "cache": False, "device": "auto"},
    }

    model: dict = dataclasses.field(default_factory=lambda: dict(LENET_300_100_FASHION))
    alphas: tuple = tuple(alpha_grid(0.0, 2.5, 0.0625))
    entropy_alphas: tuple = tuple(alpha_grid(0.0, 2.5, 0.015625))
    subspace_dim: int = 50
    basis_kind: str = "orthonormal"
    plateau_tol: float = 0.05
    g_plateau_tol: float = 0.01
    entropy_threshold: float = 1e-3
    num_images: int = 5
    image_span_decades: float = 1.0
    chunk_size: int | None = 10000
    gram_chunk_size: int = 32
    robustness_seeds: tuple = (1, 2)
    robustness_alphas: tuple = tuple(alpha_grid(0.5, 2.5, 0.0625))
    cache: bool = True
    device: str = "cuda"
