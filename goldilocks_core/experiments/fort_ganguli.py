"""Fort & Ganguli (2019), the random logit model: its four properties in simulation."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..random_logit import RandomLogitModel, growing_sigma_c
from ..validation import check_count

__all__ = [
    "fort_ganguli_properties",
    "fort_ganguli_power",
]


# ------------------------------------------------------------------ Fort & Ganguli (2019)
def fort_ganguli_properties(*, n_samples: int = 300, n_classes: int = 10, dim: int = 1000, sigma_z: float = 15.0,
                            sigma_c: float | None = None, sigma_e: float | None = None, accuracy: float = 0.95,
                            seed: int = 0, sweep_sigma_z: Sequence[float] = (), sigma_c_power: float = 0.25,
                            top_k: int | None = None) -> dict[str, Any]:
    """The four properties of Fort & Ganguli's random model (their §4, Figs. 5–8) at one draw.

    Defaults are their setting (σ_c = 1/√D, σ_E = 0.7/√D). Returns a dict with ``eigenvalues``
    (descending), ``noise_top`` (top eigenvalue of the residual term alone), ``num_outliers``
    (eigenvalues above it), ``overlaps`` (cos² between g and each eigenvector), ``power_top_k``
    (fraction of ‖g‖² in the top-k eigenvectors, k = C by default), ``clustering`` (q^SLSC, q^SL,
    q^DL), ``snr`` and ``q_sl_predicted`` = SNR/(SNR + 1), ``mean_top_probability``, ``accuracy``
    and ``sweep`` (:meth:`RandomLogitModel.sweep_sigma_z` with σ_c growing as
    :func:`~goldilocks_core.random_logit.growing_sigma_c`, σ_c/σ_E fixed), if ``sweep_sigma_z``.
    """
    sigma_c = 1.0 / math.sqrt(dim) if sigma_c is None else sigma_c
    sigma_e = 0.7 / math.sqrt(dim) if sigma_e is None else sigma_e
    top_k = n_classes if top_k is None else check_count("top_k", top_k)
    model = RandomLogitModel(n_samples, n_classes, dim, sigma_z, sigma_c, sigma_e, accuracy=accuracy,
                             generator=torch.Generator().manual_seed(seed))
    lam, cos2 = model.gradient_overlaps()
    noise_top = float(torch.linalg.eigvalsh(model.hessian("residuals"))[-1])
    snr = sigma_c ** 2 / sigma_e ** 2
    out = {"model": model, "eigenvalues": lam.numpy(), "noise_top": noise_top,
           "num_outliers": int((lam > noise_top).sum()), "overlaps": cos2.numpy(),
           "power_top_k": float(cos2[:top_k].sum()), "top_k": top_k, "clustering": model.clustering(),
           "snr": snr, "q_sl_predicted": snr / (snr + 1), "mean_top_probability": model.mean_top_probability(),
           "accuracy": model.accuracy()}
    if len(sweep_sigma_z):
        z = np.asarray(sweep_sigma_z, dtype=np.float64)
        out["sweep"] = model.sweep_sigma_z(z, growing_sigma_c(z, sigma_c, sigma_c_power))
    return out

def fort_ganguli_power(seeds: Sequence[int], *, n_samples: int = 300, n_classes: int = 10, dim: int = 1000,
                       sigma_z: float = 15.0, sigma_c: float | None = None, sigma_e: float | None = None,
                       accuracy: float = 0.95, top_k: int | None = None) -> np.ndarray:
    """Fraction of ‖g‖² in the top-k Hessian eigenvectors (F&G property 2) for several draws.

    Same arguments as :func:`fort_ganguli_properties` (defaults: their setting, k = C); one
    Hessian and one eigendecomposition per seed.
    """
    sigma_c = 1.0 / math.sqrt(dim) if sigma_c is None else sigma_c
    sigma_e = 0.7 / math.sqrt(dim) if sigma_e is None else sigma_e
    top_k = n_classes if top_k is None else check_count("top_k", top_k)
    out = []
    for seed in seeds:
        model = RandomLogitModel(n_samples, n_classes, dim, sigma_z, sigma_c, sigma_e, accuracy=accuracy,
                                 generator=torch.Generator().manual_seed(int(seed)))
        out.append(model.gradient_power_fraction(top_k))
    return np.asarray(out)
