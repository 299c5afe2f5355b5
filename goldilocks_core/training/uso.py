"""The uniform-softmax-output (USO) model of App. E.

A normally initialised network that always receives the update it would receive if its softmax
output were uniform, whatever it actually predicts: by Eq. 3 the gradient of the cross-entropy is
(1/T) Σ_k (p_k − 1{y = k}) ∂z_k/∂θ, and the USO model uses the coefficients 1/K − 1{y = k}
instead of p_k − 1{y = k}. Networks scaled by α ≪ 1 have p = 1/K numerically, so they follow the
USO path — rescaled by α — until their softmax output leaves uniform (Fig. 11).
"""
from __future__ import annotations

import pandas as pd
from torch import nn

from .grid import GridResult, load_parameters, train_networks

__all__ = ["train_uso", "train_uso_networks", "uso_snapshots"]


def train_uso_networks(model: nn.Module, train_set, test_set, *, base_lrs, steps: int, alphas=(1.0,),
                       **options) -> GridResult:
    """Run :func:`train_uso`, also returning the final parameters of each cell.

    Parameters
    ----------
    model, train_set, test_set, base_lrs, steps, alphas
        As for :func:`train_uso`.
    **options
        Any other keyword of :func:`~goldilocks_core.training.grid.train_networks` except
        ``rule`` (fixed to ``"uniform"``).

    Returns
    -------
    GridResult
    """
    if "rule" in options:
        raise ValueError("train_uso fixes rule='uniform'; use train_networks for other rules")
    return train_networks(model, train_set, test_set, alphas=alphas, base_lrs=base_lrs, steps=steps,
                          rule="uniform", **options)


def train_uso(model: nn.Module, train_set, test_set, *, base_lrs, steps: int, alphas=(1.0,),
              **options) -> pd.DataFrame:
    r"""Train the USO model (App. E) by gradient descent over (α, η₀), with the columns of ``train_grid``.

    The USO update replaces the softmax output p in Eq. 3 by the uniform 1/K:
    :math:`\frac1N\sum_n\sum_k (1/K - 1\{y_n = k\})\,\partial z_{nk}/\partial\theta`.

    Parameters
    ----------
    model : nn.Module
        θ₀; the cell (α, η₀) starts from α·θ₀ with η = η₀·α^(2−L), exactly as in
        :func:`~goldilocks_core.training.train_grid`.
    train_set, test_set : Dataset or (inputs, targets) pair
        As for ``train_grid``.
    base_lrs, steps, alphas
        As in ``train_grid`` (α defaults to 1: the USO path of θ₀ itself).
    **options
        Any other keyword of :func:`~goldilocks_core.training.grid.train_networks`.

    Returns
    -------
    pandas.DataFrame
        The columns of ``train_grid``: ``train_loss`` is the actual cross-entropy of the USO
        parameters; ``grad_norm`` and ``cos_neg_grad`` use the USO update direction
        (1/N) Σ_n Σ_k (1/K − 1{y_n = k}) ∂z_nk/∂θ (Eq. 3 with p = 1/K).
    """
    return train_uso_networks(model, train_set, test_set, base_lrs=base_lrs, steps=steps, alphas=alphas,
                              **options).frame


def uso_snapshots(model: nn.Module, train_set, test_set, *, base_lr: float, snapshots, **options) -> dict:
    """Return the USO parameters θ_t at each step t of ``snapshots`` (App. E, Fig. 11 right).

    One USO run from θ₀ (α = 1, η = η₀), continued segment by segment: gradient descent has no
    state besides θ, so θ_t equals that of a single run of t steps.

    Parameters
    ----------
    model : nn.Module
        θ₀.
    train_set, test_set : Dataset or (inputs, targets) pair
        As for :func:`train_uso`.
    base_lr : float
        η₀ (= η at α = 1).
    snapshots : iterable of int
        Non-negative step numbers.
    **options
        Any other keyword of :func:`train_uso_networks`.

    Returns
    -------
    dict
        ``{t: {name: tensor}}`` (``t = 0`` is θ₀ itself).
    """
    steps = sorted({int(s) for s in snapshots})
    if not steps or steps[0] < 0:
        raise ValueError(f"snapshots must be non-negative step numbers, got {snapshots!r}")
    current, done, out = model, 0, {}
    for t in steps:
        if t > done:
            res = train_uso_networks(current, train_set, test_set, base_lrs=[base_lr], steps=t - done,
                                     alphas=(1.0,), log_every=t - done, **options)
            current = load_parameters(current, res.parameters[(1.0, float(base_lr))])
            done = t
        out[t] = {n: p.detach().clone() for n, p in current.named_parameters() if p.requires_grad}
    return out
