"""Appendix A, the Hessian's spectrum: bulk and outliers, G-term against H-term."""
from __future__ import annotations

import dataclasses

from ._base import ChapterSettings
from ._models import LENET_300_100_FASHION, MLP_DIGITS, subset

__all__ = ["AppendixA"]

_CPU = {"num_probes": 4, "lanczos_steps": 40, "probe_block": None, "num_top": 20, "trace_probes": 64,
        "chunk_size": None, "bbp_dim": 500, "cache": False, "device": "auto"}


@dataclasses.dataclass(frozen=True)
class AppendixA(ChapterSettings):
    chapter = "appendix_a"
    profiles = {
        "quick": {**_CPU, "model": subset(LENET_300_100_FASHION, 500)},
        "offline": {**_CPU, "model": subset(MLP_DIGITS, 256)},
    }

    model: dict = dataclasses.field(default_factory=lambda: subset(LENET_300_100_FASHION, 10000))
    alphas: tuple = (0.1, 1.0, 100.0)
    main_alpha: float = 1.0
    temperature: float = 1.0
    num_probes: int = 20
    lanczos_steps: int = 100
    probe_block: int | None = 10
    num_top: int = 30
    margin: float = 0.1
    trace_probes: int = 256
    chunk_size: int | None = 2000
    bbp_dim: int = 3000
    bbp_thetas: tuple = (0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
    cache: bool = True
    device: str = "cuda"
