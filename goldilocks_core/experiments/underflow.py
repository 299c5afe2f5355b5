"""When does the G-term become exactly zero? The authors' formula, evaluated in float64.

The book's engine keeps the G-term of Eq. 4 as 10^s · Ĝ (log-space scale times a matrix of order
one), so it never underflows. The authors' code (public repository avysogorets/goldilocks-zone,
``linalg.py``: ``_get_G_term``/``get_G_term``; notebook ``goldilocks-zone.ipynb``, Fig. 2 cell)
computes, per sample, in the model's dtype (float64 in their notebook),

    G^μ = J'ᵀ (p ∘ J') − (pᵀJ')ᵀ(pᵀJ'),    p = softmax(α^L z^μ),  J' = α^{L−1} J^μ R,

averages over samples, and records positive curvature 0 when the eigenvalues have norm 0
(``L_G.sum()/L_G.norm() if L_G.norm()>0 else 0``). Once p has collapsed so far that every
p_k·J'_k is below half an ulp of the winning class's J', the two products round to the same numbers
and G^μ is exactly zero — long before p_k itself underflows (e^{−745}).

:func:`float64_g_term_sweep` evaluates that formula on the projected Jacobian of the unscaled
network over a grid of α and reports, for each α, whether the G-term is exactly zero, how many
samples still contribute, and the positive curvature the authors' convention gives.
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd
import torch
from torch import nn

from ..curvature.engine import projected_jacobian
from ..models import resolve_degree
from ..validation import check_alpha

__all__ = ["naive_g_term", "float64_g_term_sweep", "first_exact_zero"]


def naive_g_term(jacobian: torch.Tensor, logits: torch.Tensor, alpha: float, degree: int, *,
                 chunk_size: int = 512) -> tuple[torch.Tensor, int]:
    """The authors' G-term at scale α in float64, without any rescaling (Eq. 4 as written).

    Parameters
    ----------
    jacobian : Tensor (N, K, d)
        Projected logit Jacobian JR of the unscaled network.
    logits : Tensor (N, K)
        Logits z of the unscaled network.
    alpha : float
        Scale of the weights; the scaled network has logits α^L z and Jacobian α^{L−1} JR (§2).
    degree : int
        Homogeneity degree L.

    Returns
    -------
    (G, num_nonzero)
        G = (1/N) Σ_μ [J'ᵀ(p∘J') − (pᵀJ')ᵀ(pᵀJ')] (d × d, float64) and the number of samples whose
        own G^μ has a non-zero entry.
    """
    J = torch.as_tensor(jacobian).to(torch.float64)
    z = torch.as_tensor(logits).to(torch.float64)
    if J.ndim != 3 or z.shape != J.shape[:2]:
        raise ValueError(f"jacobian must be (N, K, d) and logits (N, K); got {tuple(J.shape)}, {tuple(z.shape)}")
    a = check_alpha(alpha)
    scale_z, scale_j = math.exp(degree * math.log(a)), math.exp((degree - 1) * math.log(a))
    n, _, d = J.shape
    total = torch.zeros(d, d, dtype=torch.float64)
    nonzero = 0
    for i in range(0, n, chunk_size):
        Jc = J[i:i + chunk_size] * scale_j
        p = torch.softmax(z[i:i + chunk_size] * scale_z, dim=-1)
        A = torch.einsum("nk,nkd->nd", p, Jc)  # pᵀJ'
        G = Jc.transpose(1, 2) @ (Jc * p[..., None]) - A[:, :, None] * A[:, None, :]
        nonzero += int((G != 0).flatten(1).any(1).sum())
        total += G.sum(0)
    return total / n, nonzero


def float64_g_term_sweep(model: nn.Module, inputs, basis: torch.Tensor, alphas: Sequence[float], *,
                         degree: int | None = None, chunk_size: int | None = None) -> pd.DataFrame:
    """:func:`naive_g_term` over ``alphas`` (T = 1) for one network and subspace.

    Returns
    -------
    DataFrame with columns ``alpha``, ``exactly_zero`` (every entry of G is 0.0),
    ``num_nonzero_samples``, ``max_runner_up`` (largest second-largest probability over samples,
    float64 softmax), ``max_abs`` (largest |entry|), ``pc_authors`` (Tr/‖λ‖ of the
    eigenvalues, 0 when ‖λ‖ = 0, as in the authors' notebook).
    """
    L = resolve_degree(model, degree)
    x = torch.as_tensor(inputs)
    J = projected_jacobian(model, x, basis, chunk_size=chunk_size, dtype=torch.float64).cpu()
    with torch.no_grad():
        z = model(x.to(next(model.parameters()).dtype)).to(torch.float64).cpu()
    rows = []
    for a in alphas:
        G, nz = naive_g_term(J, z, a, L)
        lam = torch.linalg.eigvalsh(0.5 * (G + G.T))
        norm = float(torch.linalg.norm(lam))
        p = torch.softmax(z * math.exp(L * math.log(check_alpha(a))), dim=-1)
        runner_up = float(p.topk(2, dim=-1).values[:, 1].max())
        rows.append({"alpha": float(a), "exactly_zero": bool((G == 0).all()), "num_nonzero_samples": nz,
                     "max_runner_up": runner_up,
                     "max_abs": float(G.abs().max()), "pc_authors": float(lam.sum()) / norm if norm > 0 else 0.0})
    return pd.DataFrame(rows)


def first_exact_zero(table: pd.DataFrame) -> float:
    """The smallest α from which on the G-term stays exactly zero (NaN if it never does)."""
    if not {"alpha", "exactly_zero"} <= set(table.columns):
        raise ValueError("the table needs the columns alpha and exactly_zero")
    t = table.sort_values("alpha")
    zero = t["exactly_zero"].to_numpy(dtype=bool)
    if not zero[-1]:
        return math.nan
    i = len(zero) - 1
    while i > 0 and zero[i - 1]:
        i -= 1
    return float(t["alpha"].iloc[i])
