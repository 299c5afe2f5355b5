"""Argument checks and small numerical helpers shared by :mod:`goldilocks_core.random_logit`.

Every bad argument raises ``ValueError`` with a one-line message.
"""
from __future__ import annotations

import numbers

import torch

__all__ = [
    "as_float_tensor",
    "check_probabilities",
    "check_variance",
    "check_dimension",
    "positive_curvature_of",
]


def as_float_tensor(x, name: str = "input") -> torch.Tensor:
    """Convert ``x`` to a floating tensor (floating tensors keep their dtype, others become float64).

    Parameters
    ----------
    x : tensor, array-like or number
        The value.
    name : str
        The argument's name, for the message.

    Returns
    -------
    torch.Tensor
        ``ValueError`` for non-numeric input.
    """
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(torch.float64)
    try:
        return torch.as_tensor(x, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be numeric (a tensor, an array or a number), got {type(x).__name__}") from None


def _sum_tolerance(dtype: torch.dtype) -> float:
    # float64 inputs are usually exact softmax outputs; float32 ones carry ~1e-7 per entry.
    return max(1e-6, 1e3 * torch.finfo(dtype).eps)


def check_probabilities(p, name: str = "p") -> torch.Tensor:
    """Return ``p`` (shape ``(..., K)``, K ≥ 2) renormalised to sum exactly to one along the last axis.

    Renormalising a vector that passes the check changes it at the level of rounding only, and
    makes identities such as BᵀB = diag(p) − ppᵀ hold to rounding.

    Parameters
    ----------
    p : tensor or array-like
        Probability vectors.
    name : str
        The argument's name, for the message.

    Returns
    -------
    torch.Tensor
        ``ValueError`` for non-finite or negative entries, for K < 2, and for vectors whose sum
        differs from one by more than ``max(1e-6, 1e3·eps)``.
    """
    p = as_float_tensor(p, name)
    if p.ndim == 0 or p.shape[-1] < 2:
        raise ValueError(f"{name} must have shape (..., K) with K ≥ 2 classes, got shape {tuple(p.shape)}")
    if p.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(p.shape)})")
    if not torch.isfinite(p).all():
        raise ValueError(f"{name} has non-finite entries")
    if (p < 0).any():
        raise ValueError(f"{name} has negative entries (min {p.min().item():.3g}): not a probability vector")
    total = p.sum(-1, keepdim=True)
    err = (total - 1).abs().max().item()
    if err > _sum_tolerance(p.dtype):
        raise ValueError(f"{name} does not sum to one along its last axis (largest deviation {err:.3g})")
    return p / total


def check_variance(name: str, value) -> torch.Tensor:
    """Validate a variance σ² ≥ 0 (scalar or tensor, finite) and return it as a floating tensor.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : number, tensor or array-like
        The variance.

    Returns
    -------
    torch.Tensor
        ``ValueError`` for non-finite or negative values.
    """
    v = as_float_tensor(value, name)
    if not torch.isfinite(v).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (v < 0).any():
        raise ValueError(f"{name} is a variance and must be ≥ 0, got {value!r}")
    return v


def check_dimension(d, num_classes: int, name: str = "d") -> torch.Tensor:
    """Validate the dimension d ≥ K of the space the logit gradients live in.

    Eq. 7 places K pairwise-orthogonal class means c_k in R^d, which needs d ≥ K.

    Parameters
    ----------
    d : int or integer-valued tensor
        The dimension(s).
    num_classes : int
        K.
    name : str
        The argument's name, for the message.

    Returns
    -------
    torch.Tensor
        d as a float64 (or the input's floating) tensor; ``ValueError`` for a non-integer or d < K.
    """
    if isinstance(d, bool):
        raise ValueError(f"{name} must be an integer ≥ K = {num_classes}, got {d!r}")
    if isinstance(d, numbers.Integral):
        t = torch.tensor(float(d), dtype=torch.float64)
    else:
        t = as_float_tensor(d, name)
        if not torch.isfinite(t).all() or (t != t.round()).any():
            raise ValueError(f"{name} must be an integer ≥ K = {num_classes}, got {d!r}")
    if (t < num_classes).any():
        raise ValueError(
            f"{name} = {d!r} is smaller than the number of classes K = {num_classes}: "
            "K orthogonal class means need d ≥ K"
        )
    return t


def positive_curvature_of(matrix: torch.Tensor) -> torch.Tensor:
    """Compute Tr(M)/‖M‖_F (Eq. 2) of a batch of square matrices, with 0 for the zero matrix.

    :func:`goldilocks_core.curvature.positive_curvature` with one convention changed: the value
    of the zero matrix is undefined (0/0) and is NaN there; like the authors' code, the random
    logit model reports 0, "no positive curvature" (a one-hot softmax).

    Parameters
    ----------
    matrix : torch.Tensor
        Shape ``(..., n, n)``.

    Returns
    -------
    torch.Tensor
        Shape ``(...)``.
    """
    from ..curvature.metrics import positive_curvature

    return torch.nan_to_num(positive_curvature(matrix), nan=0.0)
