"""Temperature softmax and cross-entropy (Eq. 1 of Vysogorets et al., 2024).

p = σ_T(z) = softmax(z / T) and ℓ(p, y) = −log p_y. Everything goes through
``log_softmax`` so that extreme scales (α = 10³, T = 10⁻⁹) give finite values.

The Hessian of ℓ in the logits, ∇²_z ℓ = diag(p) − ppᵀ (Eq. 4), has the centred factor
B(p) = diag(√p)(I − 1pᵀ) with BᵀB = diag(p) − ppᵀ: :func:`centred_softmax_factor` forms it,
:func:`centred_factor_product` and :func:`centred_factor_transpose_product` apply it
without forming it. Every G-term in the package is built from it, so it is PSD by
construction.
"""
from __future__ import annotations

import torch

from .validation import check_temperature

__all__ = ["log_probabilities", "probabilities", "cross_entropy", "softmax_entropy", "centred_softmax_factor",
           "centred_factor_product", "centred_factor_transpose_product"]


def log_probabilities(logits: torch.Tensor, temperature: float = 1.0, *, beta: float | None = None) -> torch.Tensor:
    r"""Compute log σ_T(z) (Eq. 1) with log-sum-exp.

    :math:`\log\sigma_T(z) = \log\mathrm{softmax}(z/T)`, or :math:`\log\mathrm{softmax}(\beta z)`
    given β.

    Parameters
    ----------
    logits : torch.Tensor
        z, shape ``(..., K)``.
    temperature : float
        T > 0: log softmax(z / T).
    beta : float, optional
        Instead of T, the inverse temperature β = α^L/T of Eq. 5 (unscaled logits of an
        α-scaled network): log softmax(βz), multiplied rather than divided so that β = 10⁹
        loses nothing. Give one of ``temperature`` and ``beta``.

    Returns
    -------
    torch.Tensor
        log p, same shape and dtype as ``logits``.
    """
    if beta is not None:
        if temperature != 1.0:
            raise ValueError("give either temperature or beta, not both")
        return torch.log_softmax(beta * logits, dim=-1)
    t = check_temperature(temperature)
    return torch.log_softmax(logits / t, dim=-1)


def probabilities(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Compute the temperature softmax σ_T(z) = softmax(z / T) (Eq. 1).

    Parameters
    ----------
    logits : torch.Tensor
        z, shape ``(..., K)``.
    temperature : float
        T > 0.

    Returns
    -------
    torch.Tensor
        p, same shape and dtype as ``logits``.
    """
    return log_probabilities(logits, temperature).exp()


def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Compute the temperature cross-entropy ℓ = −log [σ_T(z)]_y (Eq. 1), averaged over the batch.

    Parameters
    ----------
    logits : torch.Tensor
        z, shape ``(..., K)``.
    targets : torch.Tensor
        Integer labels, shape ``(...)``.
    temperature : float
        T > 0.
    reduction : {"mean", "sum", "none"}
        How the per-sample losses are combined.

    Returns
    -------
    torch.Tensor
        A scalar (``"mean"``, ``"sum"``) or the per-sample losses (``"none"``).
    """
    logp = log_probabilities(logits, temperature)
    nll = -logp.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
    if reduction == "mean":
        return nll.mean()
    if reduction == "sum":
        return nll.sum()
    if reduction == "none":
        return nll
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def softmax_entropy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Compute the per-sample entropy −Σ_k p_k log p_k of σ_T(z), in nats (0 ≤ H ≤ log K).

    Parameters
    ----------
    logits : torch.Tensor
        z, shape ``(..., K)``.
    temperature : float
        T > 0.

    Returns
    -------
    torch.Tensor
        Shape ``(...)``.
    """
    logp = log_probabilities(logits, temperature)
    return -(logp.exp() * logp).sum(-1)


def _complement(p: torch.Tensor) -> torch.Tensor:
    """1 − p_k as Σ_{j≠k} p_j (exclusive prefix plus suffix sums): no cancellation near p_k = 1."""
    zeros = torch.zeros_like(p[..., :1])
    prefix = torch.cat([zeros, torch.cumsum(p[..., :-1], dim=-1)], dim=-1)
    suffix = torch.cat([torch.cumsum(p.flip(-1)[..., :-1], dim=-1).flip(-1), zeros], dim=-1)
    return prefix + suffix


def centred_softmax_factor(p: torch.Tensor) -> torch.Tensor:
    r"""Form B(p) = diag(√p)(I − 1pᵀ), ``(..., K) → (..., K, K)``, with BᵀB = diag(p) − ppᵀ (Eq. 4).

    :math:`B^\top B = \mathrm{diag}\,p - pp^\top` is the logit Hessian of the loss, so every
    G-term :math:`J^\top(\mathrm{diag}\,p - pp^\top)J = (BJ)^\top(BJ)` built from it is PSD by
    construction.

    Parameters
    ----------
    p : torch.Tensor
        Probability vectors, shape ``(..., K)`` (not checked;
        :func:`goldilocks_core.random_logit.softmax_hessian_factor` validates them first).

    Returns
    -------
    torch.Tensor
        B, shape ``(..., K, K)``: B_kk = √p_k Σ_{j≠k} p_j and B_kj = −√p_k p_j (k ≠ j).
    """
    root = p.sqrt()
    factor = -root[..., :, None] * p[..., None, :]
    factor.diagonal(dim1=-2, dim2=-1).copy_(root * _complement(p))
    return factor


def centred_factor_product(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Apply B(p) u = √p ⊙ (u − (pᵀu)1) along the last axis, without forming B.

    Parameters
    ----------
    p : torch.Tensor
        Probability vectors, shape ``(..., K)``; broadcasts against ``u``.
    u : torch.Tensor
        Vectors, shape ``(..., K)``.

    Returns
    -------
    torch.Tensor
        B(p) u, the broadcast shape.
    """
    return p.sqrt() * (u - (p * u).sum(-1, keepdim=True))


def centred_factor_transpose_product(p: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Apply B(p)ᵀ w = √p ⊙ w − p (√pᵀ w) along the last axis, without forming B.

    Parameters
    ----------
    p : torch.Tensor
        Probability vectors, shape ``(..., K)``; broadcasts against ``w``.
    w : torch.Tensor
        Vectors, shape ``(..., K)``.

    Returns
    -------
    torch.Tensor
        B(p)ᵀ w, the broadcast shape.
    """
    x = p.sqrt() * w
    return x - p * x.sum(-1, keepdim=True)
