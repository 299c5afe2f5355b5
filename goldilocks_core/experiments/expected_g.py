"""Appendices B–C of Vysogorets, Dawid & Kempe (ICML 2024): the expected G-term by Monte Carlo.

App. B checks the closed forms of E_e G (Eq. 7), its positive curvature (Eq. 8) and its
spectrum against draws of the random logit model (:func:`monte_carlo_expected_g`,
:func:`monte_carlo_spectrum`; driver :func:`appendix_b`); App. C tabulates Γ_p² against its
limit 4(S − 1)/(S + 2) (:func:`gamma_limit_table`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from ..random_logit import expected_g_eigenvalues, expected_g_term_from_means, gamma_p, softmax_hessian_factor
from ..validation import check_count
from .setup import required

__all__ = [
    "monte_carlo_expected_g",
    "orthogonal_class_means",
    "monte_carlo_spectrum",
    "appendix_b",
    "gamma_limit_table",
]


# --------------------------------------------------------------------------- App. B, C
def monte_carlo_expected_g(p, sigma_c2: float, sigma_e2: float, d: int, num_draws: int, *,
                           generator: torch.Generator | None = None, rotate: bool = True,
                           chunk: int = 2048, class_means: torch.Tensor | None = None) -> torch.Tensor:
    """A Monte-Carlo estimate of E_e G (Eq. 7): the mean over draws of (1/N) Σ_μ (C + E^μ)ᵀA(p^μ)(C + E^μ).

    ``p``: ``(K,)`` or ``(N, K)``; C has K pairwise-orthogonal rows of squared length dσ_c²
    (a random rotation of √(dσ_c²)·[I_K 0] with ``rotate``), E^μ i.i.d. N(0, σ_e²) entries,
    drawn afresh for every sample and draw. ``class_means`` (K × d) replaces that C. Returns the
    d × d average (float64, PSD).
    """
    p = torch.as_tensor(p, dtype=torch.float64)
    p = p[None] if p.ndim == 1 else p
    n, k = p.shape
    d, num_draws = check_count("d", d, k), check_count("num_draws", num_draws)
    if class_means is not None:
        c = torch.as_tensor(class_means, dtype=torch.float64)
        if c.shape != (k, d):
            raise ValueError(f"class_means must be K × d = {k} × {d}, got {tuple(c.shape)}")
    else:
        c = orthogonal_class_means(k, d, sigma_c2, generator=generator if rotate else None)
    factor = softmax_hessian_factor(p)  # (N, K, K), BᵀB = diag p − ppᵀ
    g = torch.zeros(d, d, dtype=torch.float64)
    done = 0
    while done < num_draws:
        m = min(chunk, num_draws - done)
        e = math.sqrt(sigma_e2) * torch.randn(m, n, k, d, generator=generator, dtype=torch.float64)
        rows = (factor[None] @ (c[None, None] + e)).reshape(-1, d)
        g += rows.T @ rows
        done += m
    g = g / (num_draws * n)
    return 0.5 * (g + g.T)

def orthogonal_class_means(k: int, d: int, sigma_c2: float, *, generator: torch.Generator | None = None
                           ) -> torch.Tensor:
    """K pairwise-orthogonal rows of squared length dσ_c² in R^d (Eq. 7's C): √(dσ_c²)·[I_K 0],
    randomly rotated when a ``generator`` is given."""
    k, d = check_count("k", k, 2), check_count("d", d, k)
    c = torch.zeros(k, d, dtype=torch.float64)
    c[:, :k] = math.sqrt(d * sigma_c2) * torch.eye(k, dtype=torch.float64)
    if generator is not None:
        q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
        c = c @ (q * torch.sign(torch.diagonal(r))).T
    return c

def monte_carlo_spectrum(p, sigma_c2: float, sigma_e2: float, d: int, num_draws: int, *,
                         num_batches: int = 10, generator: torch.Generator | None = None
                         ) -> tuple[pd.DataFrame, torch.Tensor]:
    """App. B's spectrum of E_e G (Eq. 7) against a Monte-Carlo average, with standard errors.

    The Monte-Carlo matrix Ĝ (:func:`monte_carlo_expected_g`, ``num_draws`` split into
    ``num_batches`` independent batches) is read in the eigenspaces of the exact E_e G: for each
    distinct eigenvalue λ with eigenspace V (multiplicity m: the bulk, or equal outliers such as
    those of the uniform p) the unbiased, basis-free estimate Tr(VᵀĜV)/m. Standard errors come
    from the spread over the batches. Columns: ``kind`` (outlier / bulk), ``multiplicity``,
    ``formula`` (App. B's eigenvalue), ``monte_carlo``, ``std_error``, ``z`` = (monte_carlo −
    formula)/std_error. Returns ``(table, G)`` with G the Monte-Carlo matrix averaged over all
    batches.
    """
    p = torch.as_tensor(p, dtype=torch.float64)
    k = p.shape[-1]
    b = check_count("num_batches", num_batches, 2)
    per = check_count("num_draws", num_draws, b) // b
    c = orthogonal_class_means(k, d, sigma_c2, generator=generator)
    _, vec = torch.linalg.eigh(expected_g_term_from_means(p, c, sigma_e2))
    vec = vec.flip(-1)  # descending, as App. B's eigenvalues
    spectrum = expected_g_eigenvalues(p, sigma_c2, sigma_e2, d)
    full = spectrum.full().reshape(-1)
    # group equal eigenvalues (to rounding): their eigenvectors are defined only up to a rotation
    groups, start = [], 0
    for i in range(1, d + 1):
        if i == d or abs(float(full[i] - full[start])) > 1e-9 * float(full.abs().max()):
            groups.append((start, i))
            start = i
    values, total = [], torch.zeros(d, d, dtype=torch.float64)
    for _ in range(b):
        g = monte_carlo_expected_g(p, sigma_c2, sigma_e2, d, per, generator=generator, class_means=c)
        total += g / b
        quad = torch.einsum("di,de,ei->i", vec, g, vec)
        values.append(torch.stack([quad[i:j].mean() for i, j in groups]))
    values = torch.stack(values)  # (B, groups)
    mean, se = values.mean(0), values.std(0, unbiased=True) / math.sqrt(b)
    target = torch.stack([full[i:j].mean() for i, j in groups])
    table = pd.DataFrame({"kind": ["outlier" if i < k - 1 else "bulk" for i, _ in groups],
                          "multiplicity": [j - i for i, j in groups], "formula": target.numpy(),
                          "monte_carlo": mean.numpy(), "std_error": se.numpy(),
                          "z": ((mean - target) / se).numpy()})
    return table, total

def appendix_b(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """App. B's three cases (a random p, the uniform p, a batch of ``batch_size`` softmax outputs):
    per case ``table`` (:func:`monte_carlo_spectrum`), ``monte_carlo`` (sorted eigenvalues of the
    Monte-Carlo matrix) and ``formula`` (App. B's d eigenvalues), all from seed ``cfg.seed``."""
    k, d = required(cfg, "num_classes"), required(cfg, "subspace_dim")
    sc2, se2, draws = required(cfg, "sigma_c2"), required(cfg, "sigma_e2"), required(cfg, "num_draws")
    g = torch.Generator().manual_seed(int(cfg.get("seed", 0)))

    def softmax(*shape):
        return torch.softmax(1.5 * torch.randn(*shape, generator=g, dtype=torch.float64), -1)

    cases = {"random p": softmax(k), "uniform p": torch.full((k,), 1.0 / k, dtype=torch.float64),
             f"batch of {cfg['batch_size']}": softmax(cfg["batch_size"], k)}
    out = {}
    for name, p in cases.items():
        table, mc = monte_carlo_spectrum(p, sc2, se2, d, draws, generator=g)
        out[name] = {"table": table, "monte_carlo": torch.linalg.eigvalsh(mc).flip(0).numpy(),
                     "formula": expected_g_eigenvalues(p, sc2, se2, d).full().numpy()}
    return out

def gamma_limit_table(S_values: Sequence[int], eps_values: Sequence[float], K: int) -> pd.DataFrame:
    """Γ_p² of p(S, ε) (App. C) by the closed form (Eq. 10) and numerically, against the limit (Eq. 11).

    Columns: ``S, eps, gamma2_closed, gamma2_numeric, limit``.
    """
    from ..random_logit import gamma_p_limit, p_family

    rows = []
    for S in S_values:
        p = p_family(int(S), list(eps_values), K)
        closed = gamma_p(p, average=False) ** 2
        numeric = gamma_p(p, "numeric", average=False) ** 2
        for e, c, nmr in zip(eps_values, closed.tolist(), numeric.tolist()):
            rows.append({"S": int(S), "eps": float(e), "gamma2_closed": c, "gamma2_numeric": nmr,
                         "limit": gamma_p_limit(int(S))})
    return pd.DataFrame(rows)
