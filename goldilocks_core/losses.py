"""Temperature softmax and cross-entropy (Eq. 1 of Vysogorets et al., 2024).

p = σ_T(z) = softmax(z / T) and ℓ(p, y) = −log p_y. Everything goes through
``log_softmax`` so that extreme scales (α = 10³, T = 10⁻⁹) give finite values.
"""
from __future__ import annotations

import torch

from .validation import check_temperature

__all__ = ["log_probabilities", "probabilities", "cross_entropy", "softmax_entropy"]


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
