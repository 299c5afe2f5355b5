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
    """log σ_T(z), Eq. 1, computed with log-sum-exp.

    Parameters
    ----------
    logits
        z, shape ``(..., K)``.
    temperature
        T > 0: log softmax(z / T).
    beta
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
    """σ_T(z) = softmax(z / T), Eq. 1."""
    return log_probabilities(logits, temperature).exp()


def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Temperature cross-entropy ℓ = −log [σ_T(z)]_y (Eq. 1), averaged over the batch."""
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
    """Per-sample entropy −Σ_k p_k log p_k of σ_T(z), in nats (0 ≤ H ≤ log K)."""
    logp = log_probabilities(logits, temperature)
    return -(logp.exp() * logp).sum(-1)


def _complement(p: torch.Tensor) -> torch.Tensor:
    """1 − p_k as Σ_{j≠k} p_j (exclusive prefix plus suffix sums): no cancellation near p_k = 1."""
    zeros = torch.zeros_like(p[..., :1])
    prefix = torch.cat([zeros, torch.cumsum(p[..., :-1], dim=-1)], dim=-1)
    suffix = torch.cat([torch.cumsum(p.flip(-1)[..., :-1], dim=-1).flip(-1), zeros], dim=-1)
    return prefix + suffix


def centred_softmax_factor(p: torch.Tensor) -> torch.Tensor:
    """B(p) = diag(√p)(I − 1pᵀ), ``(..., K) → (..., K, K)``, with BᵀB = diag(p) − ppᵀ (Eq. 4).

    Parameters
    ----------
    p
        Probability vectors (not checked; :func:`goldilocks_core.random_logit.softmax_hessian_factor`
        validates them first).

    Returns
    -------
    torch.Tensor
        B_kk = √p_k Σ_{j≠k} p_j and B_kj = −√p_k p_j (k ≠ j).
    """
    root = p.sqrt()
    factor = -root[..., :, None] * p[..., None, :]
    factor.diagonal(dim1=-2, dim2=-1).copy_(root * _complement(p))
    return factor


def centred_factor_product(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """B(p) u = √p ⊙ (u − (pᵀu)1) along the last axis (``p`` broadcasts against ``u``)."""
    return p.sqrt() * (u - (p * u).sum(-1, keepdim=True))


def centred_factor_transpose_product(p: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """B(p)ᵀ w = √p ⊙ w − p (√pᵀ w) along the last axis."""
    x = p.sqrt() * w
    return x - p * x.sum(-1, keepdim=True)
