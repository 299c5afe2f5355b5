"""The softmax side of Eq. 4–5, in log space: p = σ(βz), the G-term factor and p − y.

With β = α^L/T and the *unscaled* logits z = f_θ(x), the α-scaled network at
temperature T has p' = σ(βz) (Eq. 5 of Vysogorets et al., 2024). Everything here works
from log p = log_softmax(βz) in float64, and returns weights that are O(1) together with
a natural-log scale carried separately, so that no quantity under- or overflows at
α = 10³ or T = 10⁻⁹:

* G-term. Per sample, diag p − ppᵀ = Σ_k p_k (e_k − p)(e_k − p)ᵀ, so
  G*_n = Σ_k p_k (J_k − J̄)(J_k − J̄)ᵀ with J̄ = Σ_k p_k J_k (J_k: row k of the projected
  Jacobian). Centring at the arg-max class m (D_k = J_k − J_m, exact zero at k = m)
  keeps J_k − J̄ = D_k − ε Ď accurate when p is nearly one-hot, where
  ε = 1 − p_m = Σ_{k≠m} p_k (computed as a log-sum-exp) and Ď = Σ_{k≠m} (p_k/ε) D_k.
  Then G*_n = ε [Σ_{k≠m} (p_k/ε)(D_k − εĎ)(·)ᵀ + p_m ε ĎĎᵀ], a sum of outer products of
  rows B_n (PSD by construction). Over the data, G* = exp(c_G)·(1/N) Σ_n B̃_nᵀB̃_n with
  c_G = max_n log ε_n and the row weights of :func:`g_term_rows`.
* H-term. r = p − y, with r_y = −Σ_{k≠y} p_k (a log-sum-exp, exact as p_y → 1),
  normalised r̂ = r·exp(−c_H) with c_H = max log|r|, so H* = exp(c_H)·Ĥ(r̂).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..losses import log_probabilities as _log_probabilities

__all__ = ["SoftmaxStatistics", "softmax_statistics", "g_term_rows", "normalised_residuals"]

_NEG_INF = -math.inf


def _log_p64(logits: torch.Tensor, beta: float) -> torch.Tensor:
    """log σ(βz) in float64 (Eq. 1 with T' = 1/β; :func:`goldilocks_core.losses.log_probabilities`)."""
    return _log_probabilities(logits.to(torch.float64), beta=beta)


def _logsumexp_except(logp: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """log Σ_{k ≠ index_n} p_nk, per row: log(1 − p_index) without cancellation."""
    masked = logp.scatter(-1, index.unsqueeze(-1), _NEG_INF)
    return torch.logsumexp(masked, dim=-1)


def _log_abs_residual(logp: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log|p − y|: log p_k off the target, log(1 − p_y) on it."""
    on_target = _logsumexp_except(logp, targets)
    return logp.scatter(-1, targets.unsqueeze(-1), on_target.unsqueeze(-1))


@dataclass(frozen=True)
class SoftmaxStatistics:
    """Data-wide softmax summaries at one β (all floats; log scales in natural log).

    Parameters
    ----------
    beta : float
        The inverse temperature β = α^L/T.
    loss : float
        Mean cross-entropy −log p_y.
    mean_entropy : float
        Mean −Σ p log p, in nats.
    log_g_scale : float
        c_G = max_n log(1 − max_k p_nk); −inf if every p is exactly one-hot.
    log_h_scale : float
        c_H = max_{n,k} log|p − y|_{nk}; −inf if p = y exactly.
    """

    beta: float
    loss: float  # mean cross-entropy −log p_y
    mean_entropy: float  # mean −Σ p log p (nats)
    log_g_scale: float  # c_G = max_n log(1 − max_k p_nk); −inf if every p is exactly one-hot
    log_h_scale: float  # c_H = max_{n,k} log|p − y|_{nk}; −inf if p = y exactly


def softmax_statistics(logits: torch.Tensor, targets: torch.Tensor, beta: float) -> SoftmaxStatistics:
    """Compute loss, mean entropy and the G/H log scales of σ(βz) over all samples, in float64.

    Parameters
    ----------
    logits : torch.Tensor
        The unscaled logits z, shape (N, K).
    targets : torch.Tensor
        N integer labels.
    beta : float
        The inverse temperature β = α^L/T (Eq. 5).

    Returns
    -------
    SoftmaxStatistics
    """
    logp = _log_p64(logits, beta)
    p = logp.exp()
    loss = -logp.gather(-1, targets.unsqueeze(-1)).mean()
    plogp = torch.where(p > 0, p * logp, torch.zeros_like(p))
    entropy = -plogp.sum(-1).mean()
    top = logp.argmax(-1)
    c_g = _logsumexp_except(logp, top).max()
    c_h = _log_abs_residual(logp, targets).max()
    return SoftmaxStatistics(float(beta), float(loss), float(entropy), float(c_g), float(c_h))


def g_term_rows(jacobian: torch.Tensor, logits: torch.Tensor, beta: float, log_scale: float) -> torch.Tensor:
    r"""Form the rows B̃ of the G-term, with Σ_n B̃_nᵀB̃_n = exp(−c_G) Σ_n J_nᵀ(diag p_n − p_n p_nᵀ)J_n.

    The G-term :math:`J^\top(\mathrm{diag}\,p - pp^\top)J` (Eq. 4) as a sum of outer products
    of rows, PSD by construction, centred at the arg-max class so that it stays accurate when
    p is nearly one-hot (see the module docstring). Weights are formed in float64 and cast to
    J's dtype.

    Parameters
    ----------
    jacobian : torch.Tensor
        The projected Jacobian JR of the unscaled network, shape (n, K, d).
    logits : torch.Tensor
        z for the same samples, shape (n, K).
    beta : float
        The inverse temperature β, p = σ(βz).
    log_scale : float
        c_G of :func:`softmax_statistics` (over the whole data set).

    Returns
    -------
    torch.Tensor
        B̃, shape (n, K, d); zeros when c_G = −inf.
    """
    n, K, d = jacobian.shape
    if log_scale == _NEG_INF:
        return jacobian.new_zeros(n, K, d)
    dtype = jacobian.dtype
    logp = _log_p64(logits, beta)
    top = logp.argmax(-1)
    c_n = _logsumexp_except(logp, top)  # log ε_n
    alive = torch.isfinite(c_n)
    c_safe = torch.where(alive, c_n, torch.zeros_like(c_n))
    off_top = torch.ones_like(logp, dtype=torch.bool).scatter(-1, top.unsqueeze(-1), False)
    # q_nk = p_nk/ε_n off the top class (Σ_k q = 1), 0 on it.
    q = torch.where(off_top & alive.unsqueeze(-1), (logp - c_safe.unsqueeze(-1)).exp(), torch.zeros_like(logp))
    eps = torch.where(alive, c_safe.exp(), torch.zeros_like(c_n))
    # Row weights: exp((log p_k − c_G)/2) off the top; exp((2 log ε + log p_m − c_G)/2) on it.
    w_off = torch.where(off_top, ((logp - log_scale) / 2).exp(), torch.zeros_like(logp))
    log_pm = logp.gather(-1, top.unsqueeze(-1)).squeeze(-1)
    w_top = torch.where(alive, ((2 * c_safe + log_pm - log_scale) / 2).exp(), torch.zeros_like(c_n))

    j_top = jacobian.gather(1, top.view(n, 1, 1).expand(n, 1, d))  # (n, 1, d)
    D = jacobian - j_top  # D_m = 0 exactly
    D_check = torch.einsum("nk,nkd->nd", q.to(dtype), D)  # Ď
    rows = w_off.to(dtype).unsqueeze(-1) * (D - eps.to(dtype).view(n, 1, 1) * D_check.unsqueeze(1))
    top_row = -w_top.to(dtype).unsqueeze(-1) * D_check  # (n, d)
    return rows.scatter(1, top.view(n, 1, 1).expand(n, 1, d), top_row.unsqueeze(1))


def normalised_residuals(logits: torch.Tensor, targets: torch.Tensor, beta: float, log_scale: float,
                         dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return r̂ = (p − y)·exp(−c_H) with p = σ(βz), entries in [−1, 1].

    Parameters
    ----------
    logits : torch.Tensor
        The unscaled logits z, shape (n, K).
    targets : torch.Tensor
        n integer labels.
    beta : float
        The inverse temperature β.
    log_scale : float
        c_H of :func:`softmax_statistics`.
    dtype : torch.dtype, optional
        Output dtype (default float64).

    Returns
    -------
    torch.Tensor
        r̂, shape (n, K); zeros when c_H = −inf.
    """
    logp = _log_p64(logits, beta)
    if log_scale == _NEG_INF:
        out = torch.zeros_like(logp)
    else:
        mag = (_log_abs_residual(logp, targets) - log_scale).exp()
        sign = torch.ones_like(logp).scatter(-1, targets.unsqueeze(-1), -1.0)
        out = sign * mag
    return out if dtype is None else out.to(dtype)
