"""Appendix B, eigenvalues of E G (a Monte-Carlo check of the random logit model)."""
from __future__ import annotations

import dataclasses

from ._base import ChapterSettings

__all__ = ["AppendixB"]

_SMALL = {"num_draws": 20000, "num_random_p": 1000}


@dataclasses.dataclass(frozen=True)
class AppendixB(ChapterSettings):
    chapter = "appendix_b"
    profiles = {"quick": _SMALL, "offline": _SMALL}

    num_classes: int = 10
    subspace_dim: int = 50
    sigma_c2: float = 1.0
    sigma_e2: float = 0.5
    num_draws: int = 200000
    batch_size: int = 8
    num_random_p: int = 10000
