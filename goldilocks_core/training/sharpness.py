"""Sharpness ‖H‖₂ at initialisation per α, and the admissibility η·‖H‖₂ < 2 of each grid cell.

The right column of Fig. 8 (§5): classical optimisation theory makes gradient descent on a
quadratic converge for η < 2/‖H‖₂. ‖H(α)‖₂ = max |λ| of the loss Hessian at α·θ₀ (Eq. 5, evaluated
at the unscaled θ₀ so α = 10³ stays finite) by Lanczos (ARPACK) from
:mod:`goldilocks_core.estimators`; it depends on α only, η = η₀·α^(2−L) on the cell.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..estimators import hessian_operator, operator_norm
from ..estimators.lanczos_1950 import lanczos, ritz_values
from ..models import resolve_degree
from ._checks import check_count, check_dataset, check_values
from .engine import effective_lr

__all__ = ["initial_sharpness", "admissibility"]


def initial_sharpness(model: nn.Module, train_set, alphas, *, temperature: float = 1.0,
                      degree: int | None = None,
                      chunk_size: int | None = None, tol: float = 1e-6, generator=0,
                      dtype: torch.dtype = torch.float64, lanczos_steps: int | None = None) -> pd.DataFrame:
    r"""Compute the sharpness ‖H(α, T)‖₂ at α·θ₀ for each α, as a frame with columns ``alpha, sharpness``.

    ‖H‖₂ = max|λ| of the loss Hessian, evaluated through Eq. 5 at the unscaled θ₀
    (:math:`H = \alpha^{-2}\beta^2 G^* + \alpha^{-2}\beta H^*`, :math:`\beta = \alpha^L/T`),
    so α = 10³ stays finite.

    Parameters
    ----------
    model : nn.Module
        θ₀, the unscaled network.
    train_set : Dataset or (inputs, targets) pair
        The data of the loss (the full training set for full-batch GD).
    alphas : sequence of positive floats
        The scales α.
    temperature : float
        T of Eq. 1.
    degree : int, optional
        L (default: read from the model).
    chunk_size : int, optional
        Samples per Hessian-vector pass.
    tol : float
        ARPACK's relative accuracy of the Ritz value.
    generator : int or torch.Generator
        Seeds the Lanczos start vector.
    dtype : torch.dtype
        The Hessian products are computed in this precision (float64 by default).
    lanczos_steps : int, optional
        Instead of ARPACK to ``tol``, a fixed budget of this many Lanczos steps (one Hessian-vector
        product each): max |Ritz value|, a lower bound on ‖H‖₂ that is sharp when the top eigenvalue
        is well separated (the outliers of §3); for quick runs.

    Returns
    -------
    pandas.DataFrame
        Columns ``alpha, sharpness``, one row per α.
    """
    alphas = check_values("alpha", alphas)
    L = resolve_degree(model, degree)
    x, y, _ = check_dataset("train_set", train_set)
    net = copy.deepcopy(model).to(dtype)  # the caller's θ₀ keeps its dtype
    x = x.to(dtype)
    values = []
    for a in alphas:
        op = hessian_operator(net, x, y, alpha=a, temperature=temperature, degree=L, chunk_size=chunk_size)
        if lanczos_steps is None:
            values.append(operator_norm(op, tol=tol, generator=generator))
        else:
            ritz = ritz_values(lanczos(op, check_count("lanczos_steps", lanczos_steps), generator=generator))
            values.append(float(np.abs(ritz).max()))
    return pd.DataFrame({"alpha": alphas, "sharpness": values})


def admissibility(sharpness: pd.DataFrame, base_lrs, degree: int) -> pd.DataFrame:
    r"""Compute η·‖H‖₂ per cell (α, η₀) and whether it is below 2 (Fig. 8, right).

    Classical optimisation theory makes gradient descent on a quadratic converge for
    :math:`\eta\lVert H\rVert_2 < 2`, with :math:`\eta = \eta_0\,\alpha^{2-L}`.

    Parameters
    ----------
    sharpness : pandas.DataFrame
        Columns ``alpha, sharpness`` (from :func:`initial_sharpness`).
    base_lrs : sequence of positive floats
        The base learning rates η₀.
    degree : int
        L, the homogeneity degree.

    Returns
    -------
    pandas.DataFrame
        Columns ``alpha, base_lr, lr, sharpness, lr_sharpness, admissible``; ``admissible``
        is η·‖H‖₂ < 2 (cells above 2 are inadmissible).
    """
    base_lrs = check_values("base_lr", base_lrs)
    rows = []
    for a, s in zip(sharpness["alpha"], sharpness["sharpness"]):
        for b in base_lrs:
            lr = effective_lr(a, b, degree)
            rows.append({"alpha": float(a), "base_lr": b, "lr": lr, "sharpness": float(s),
                         "lr_sharpness": lr * s})
    out = pd.DataFrame(rows)
    out["admissible"] = out["lr_sharpness"] < 2.0
    return out
