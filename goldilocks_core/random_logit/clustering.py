"""Logit-gradient clustering q^SLSC, q^SL, q^DL (Fort & Ganguli 2019, Eq. 11–13).

For logit gradients g_k^μ = ∂z_k^μ/∂θ (rows of ``projected_jacobian[μ, k, :]``, full or
projected), with cos the cosine similarity:

    q^SLSC = (1/K) Σ_k  mean_{μ≠ν, y^μ = y^ν = k} cos(g_k^μ, g_k^ν)     same logit, same class
    q^SL   = (1/K) Σ_k  mean_{μ≠ν}               cos(g_k^μ, g_k^ν)      same logit
    q^DL   = mean_{k≠l} mean_{μ≠ν}               cos(g_k^μ, g_l^ν)      different logits

All three come from sums of unit vectors, Σ_{μ≠ν} u^μ·u^ν = ‖Σ_μ u^μ‖² − Σ_μ ‖u^μ‖², so the cost
is O(N K d + N K²) with no loop over pairs. Zero gradients (e.g. a sample whose ReLUs are all
off) have no direction; they are left out of the pairs. Under the random model with
c_k ~ N(0, σ_c² I_D), e ~ N(0, σ_e² I_D) and large D, q^SL → SNR/(SNR + 1), SNR = σ_c²/σ_e².
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .sigmas import check_jacobian, check_labels

__all__ = ["LogitGradientClustering", "logit_gradient_clustering", "clustering_from_gram"]


class LogitGradientClustering(NamedTuple):
    """Mean cosine similarities of logit gradients: same logit and class, same logit, different logits.

    Parameters
    ----------
    q_slsc : float
        q^SLSC, same logit, same class (Fort & Ganguli Eq. 11).
    q_sl : float
        q^SL, same logit (Eq. 12).
    q_dl : float
        q^DL, different logits (Eq. 13).
    """

    q_slsc: float
    q_sl: float
    q_dl: float


def _pair_mean(sum_products: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    ok = pairs > 0
    return torch.where(ok, sum_products / torch.where(ok, pairs, torch.ones_like(pairs)), torch.nan)


def logit_gradient_clustering(projected_jacobian, labels) -> LogitGradientClustering:
    """Compute q^SLSC, q^SL and q^DL (Eq. 11–13 of Fort & Ganguli) of logit gradients N × K × d.

    Parameters
    ----------
    projected_jacobian : tensor or array-like
        Logit gradients g_k^μ as ``[μ, k, :]``, N × K × d (full or projected).
    labels : tensor or array-like
        N integers in [0, K), needed for q^SLSC; classes with fewer than two samples are left
        out of its average over k.

    Returns
    -------
    LogitGradientClustering
        Floats, NaN where no pair exists.
    """
    j = check_jacobian(projected_jacobian)
    n, k, _ = j.shape
    y = check_labels(labels, n, k)
    norms = torch.linalg.vector_norm(j, dim=-1)  # (N, K)
    present = (norms > 0).to(j.dtype)
    units = j / torch.where(norms > 0, norms, torch.ones_like(norms))[..., None]

    # Same logit: S_k = Σ_μ u_k^μ; pairs μ≠ν among the n_k non-zero gradients.
    sums = units.sum(0)  # (K, d)
    counts = present.sum(0)  # (K,)
    q_sl_k = _pair_mean((sums**2).sum(-1) - counts, counts * (counts - 1))

    # Same logit, same class: only samples labelled k for logit k.
    onehot = torch.nn.functional.one_hot(y, k).to(j.dtype)  # (N, K)
    class_sums = torch.einsum("nk,nkd->kd", onehot, units)
    class_counts = (onehot * present).sum(0)
    q_slsc_k = _pair_mean((class_sums**2).sum(-1) - class_counts, class_counts * (class_counts - 1))

    # Different logits k≠l: Σ_{μ≠ν} u_k^μ·u_l^ν = S_k·S_l − Σ_μ u_k^μ·u_l^μ;
    # pairs = n_k n_l − #{μ: both non-zero}.
    cross = sums @ sums.T - torch.einsum("nkd,nld->kl", units, units)
    pairs = counts[:, None] * counts[None, :] - present.T @ present
    off = ~torch.eye(k, dtype=torch.bool)
    q_dl_kl = _pair_mean(cross[off], pairs[off])

    def nanmean(x: torch.Tensor) -> float:
        x = x[~torch.isnan(x)]
        return float(x.mean()) if x.numel() else float("nan")

    return LogitGradientClustering(nanmean(q_slsc_k), nanmean(q_sl_k), nanmean(q_dl_kl))


def clustering_from_gram(gram, labels) -> LogitGradientClustering:
    """q^SLSC, q^SL and q^DL (F&G Eq. 11–13) from the Gram matrix of the logit gradients.

    Parameters
    ----------
    gram : array-like (N, K, N, K)
        Θ[μ, k, ν, l] = ⟨∂z_k^μ/∂θ, ∂z_l^ν/∂θ⟩, e.g.
        :func:`~goldilocks_core.random_logit.logit_gram.logit_gradient_gram`.
    labels : N integers in [0, K)

    Returns
    -------
    LogitGradientClustering
        The same numbers as :func:`logit_gradient_clustering` on the Jacobian itself (zero
        gradients left out of the pairs; nan where no pair exists).
    """
    g = torch.as_tensor(gram, dtype=torch.float64)
    if g.ndim != 4 or g.shape[:2] != g.shape[2:] or g.shape[0] < 2 or g.shape[1] < 2:
        raise ValueError(f"gram must be N × K × N × K with N ≥ 2, K ≥ 2, got shape {tuple(g.shape)}")
    if not torch.isfinite(g).all():
        raise ValueError("gram has non-finite entries")
    n, k = g.shape[:2]
    y = check_labels(labels, n, k)
    norms = torch.einsum("nknk->nk", g).clamp_min(0).sqrt()  # (N, K)
    present = norms > 0
    inv = torch.where(present, 1.0 / torch.where(present, norms, torch.ones_like(norms)), torch.zeros_like(norms))
    cos = g * inv[:, :, None, None] * inv[None, None, :, :]  # zero rows/columns for zero gradients
    off = ~torch.eye(n, dtype=torch.bool)  # μ ≠ ν
    pf = present.to(torch.float64)
    # Σ_{μ≠ν} cos(g_k^μ, g_l^ν) and the number of such pairs with both gradients non-zero
    sums = torch.einsum("mknl,mn->kl", cos, off.to(torch.float64))
    counts = pf.sum(0)
    pairs = counts[:, None] * counts[None, :] - pf.T @ pf
    same = torch.where(pairs.diagonal() > 0, sums.diagonal() / pairs.diagonal().clamp_min(1), torch.nan)
    offdiag = ~torch.eye(k, dtype=torch.bool)
    dl = torch.where(pairs[offdiag] > 0, sums[offdiag] / pairs[offdiag].clamp_min(1), torch.nan)
    onehot = torch.nn.functional.one_hot(y, k).to(torch.float64) * pf  # μ labelled k, g_k^μ ≠ 0
    diag_cos = torch.einsum("mknk->mnk", cos)  # (N, N, K): cos(g_k^μ, g_k^ν)
    class_sums = torch.einsum("mnk,mk,nk,mn->k", diag_cos, onehot, onehot, off.to(torch.float64))
    class_counts = onehot.sum(0)
    class_pairs = class_counts * (class_counts - 1)
    slsc = torch.where(class_pairs > 0, class_sums / class_pairs.clamp_min(1), torch.nan)

    def nanmean(x: torch.Tensor) -> float:
        x = x[~torch.isnan(x)]
        return float(x.mean()) if x.numel() else float("nan")

    return LogitGradientClustering(nanmean(slsc), nanmean(same), nanmean(dl))
