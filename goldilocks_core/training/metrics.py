"""Per-cell statistics of a stacked grid at one step (the columns of the training frame).

All functions take stacked tensors (leading axis: cells) and return one value per cell.
"""
from __future__ import annotations

import torch

__all__ = ["METRICS", "dot", "norm", "finite", "step_metrics"]

METRICS = ("train_loss", "train_accuracy", "test_accuracy", "param_norm", "grad_norm", "cos_theta0",
           "cos_neg_grad", "zero_logit_fraction")


def dot(a: dict, b: dict) -> torch.Tensor:
    """Compute ⟨a_c, b_c⟩ per cell; ``b`` may be unstacked (one shared vector, e.g. θ₀).

    Parameters
    ----------
    a : dict of str to torch.Tensor
        Stacked tensors, ``{name: C×shape}``.
    b : dict of str to torch.Tensor
        Stacked like ``a``, or unstacked ``{name: shape}``.

    Returns
    -------
    torch.Tensor
        Shape (C,).
    """
    total = 0.0
    for n, v in a.items():
        w = b[n]
        shared = w.ndim < v.ndim
        total = total + (v.flatten(1) @ w.flatten() if shared else (v * w).flatten(1).sum(1))
    return total


def norm(a: dict) -> torch.Tensor:
    """Compute the Euclidean norm ‖a_c‖ per cell.

    Parameters
    ----------
    a : dict of str to torch.Tensor
        Stacked tensors, ``{name: C×shape}``.

    Returns
    -------
    torch.Tensor
        Shape (C,).
    """
    return dot(a, a).sqrt()


def finite(params: dict) -> torch.Tensor:
    """Tell which cells have parameters that are all finite.

    Parameters
    ----------
    params : dict of str to torch.Tensor
        Stacked tensors, ``{name: C×shape}``.

    Returns
    -------
    torch.Tensor
        Boolean, shape (C,).
    """
    ok = None
    for v in params.values():
        f = torch.isfinite(v).flatten(1).all(1)
        ok = f if ok is None else ok & f
    return ok


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == y).to(logits.dtype).mean(-1)


def step_metrics(params: dict, grads: dict, theta0: dict, logits: torch.Tensor, targets: torch.Tensor,
                 loss: torch.Tensor, test_logits: torch.Tensor, test_targets: torch.Tensor) -> dict:
    """Compute the :data:`METRICS` of every cell at θ_t, as float64 numpy arrays.

    cos_theta0 = cos(θ_t, θ₀) (scale-free, so θ₀ may be unscaled); cos_neg_grad = cos(θ_t, −g_t);
    zero_logit_fraction = share of samples whose K logits are all exactly 0.

    Parameters
    ----------
    params, grads : dict of str to torch.Tensor
        Stacked θ_t and g_t, ``{name: C×shape}``.
    theta0 : dict of str to torch.Tensor
        The unstacked θ₀.
    logits : torch.Tensor
        Training logits per cell, C×N×K.
    targets : torch.Tensor
        The training labels of step t.
    loss : torch.Tensor
        The training loss per cell, (C,).
    test_logits : torch.Tensor
        Test logits per cell, C×M×K.
    test_targets : torch.Tensor
        The test labels.

    Returns
    -------
    dict of str to numpy.ndarray
        One array of length C per name of :data:`METRICS`.
    """
    pn, gn = norm(params), norm(grads)
    n0 = sum(v.pow(2).sum() for v in theta0.values()).sqrt()
    out = {
        "train_loss": loss,
        "train_accuracy": accuracy(logits, targets),
        "test_accuracy": accuracy(test_logits, test_targets),
        "param_norm": pn,
        "grad_norm": gn,
        "cos_theta0": dot(params, theta0) / (pn * n0),
        "cos_neg_grad": -dot(params, grads) / (pn * gn),
        "zero_logit_fraction": (logits == 0).all(-1).to(logits.dtype).mean(-1),
    }
    return {k: v.detach().to("cpu", torch.float64).numpy() for k, v in out.items()}
