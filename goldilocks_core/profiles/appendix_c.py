"""Appendix C, the limiting behaviour of diag(p) − ppᵀ (Eq. 10)."""
from __future__ import annotations

import dataclasses

from ..curvature.sweep import alpha_grid
from ._base import ChapterSettings

__all__ = ["AppendixC"]

_SMALL = {"eps": tuple(alpha_grid(-9.0, -1.0, 0.5)), "num_random_p": 2000}


@dataclasses.dataclass(frozen=True)
class AppendixC(ChapterSettings):
    chapter = "appendix_c"
    profiles = {"quick": _SMALL, "offline": _SMALL}

    num_classes: int = 10
    eps: tuple = tuple(alpha_grid(-12.0, -1.0, 0.25))
    num_random_p: int = 100000
