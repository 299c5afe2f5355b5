"""Driver for chapter 2, "Preliminaries": the paper's models, their homogeneity (Def. 1), the
Gauss–Newton split of the projected Hessian (Eq. 4) against dense autograd, and the curvature of
each model at its Kaiming initialisation (α = 1, T = 1; Eq. 2, Eq. 6).

Vysogorets, Dawid & Kempe (ICML 2024), §2–3. Functions:

* :func:`model_table` — N, P, L and the homogeneity error of f(αθ) = α^L f(θ);
* :func:`split_errors` — the engine's G-term and H-term, each against its dense reference
  (:func:`~goldilocks_core.curvature.reference.dense_g_term`, ``dense_h_term``) on a tiny MLP;
* :func:`init_curvature` — positive curvature, local convexity and the spectral norms of the
  G-term and H-term at α = 1, T = 1, with the eigenvalues of the three d×d matrices;
* :func:`claims_rows` — the chapter's claims table from those results.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import claims, models
from ..curvature import decompose, eigenvalues, local_convexity, positive_curvature
from ..curvature.reference import dense_g_term, dense_h_term
from ..devices import resolve_device, torch_dtype
from ..subspace import random_basis
from ..validation import check_count
from .curves import error_bound
from .setup import BASIS_SEED_OFFSET, build, required

__all__ = ["PAPER_LENET5_PARAMS", "paper_lenet5_params", "model_table", "split_errors", "init_curvature",
           "show_split", "show_models", "show_curvature",
           "claims_rows", "psd_curvature_examples"]

# Fig. 5 caption and §4 of the paper: "d = P = 61,170" for LeNet-5 on CIFAR-10 (3×32×32).
PAPER_LENET5_PARAMS = 61_170


def paper_lenet5_params() -> int:
    """P of the paper's LeNet-5 on CIFAR-10 inputs (3×32×32), as this package builds it."""
    return models.num_parameters(models.lenet5(in_channels=3, image_size=32))


def model_table(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """N, input shape, P, L and the homogeneity error of every model of ``cfg.models``.

    Settings read: ``models``, ``seed``, ``homogeneity_alphas``, optional ``device``.

    Returns
    -------
    pandas.DataFrame
        Index ``model``; columns ``input, N, P, L, homogeneity_error`` where the error is
        max over α of max|f(αθ) − α^L f(θ)|/max|α^L f(θ)| (Def. 1) on the first 64 inputs, float64.
    """
    alphas = [float(a) for a in required(cfg, "homogeneity_alphas")]
    device = resolve_device(cfg.get("device", "auto"))
    rows = []
    for spec in required(cfg, "models"):
        s = build(dict(spec), seed=int(cfg.get("seed", 0)), dtype=torch.float64, device=device)
        err = max(models.homogeneity_error(s.model, s.inputs[:64], alphas).values())
        rows.append({"model": s.name, "input": "×".join(str(n) for n in s.inputs.shape[1:]),
                     "N": int(s.inputs.shape[0]), "P": s.num_params, "L": s.degree,
                     "homogeneity_error": float(err)})
    return pd.DataFrame(rows).set_index("model")


def split_errors(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The engine's split RᵀH'R = G-term + H-term against dense autograd, term by term (Eq. 4).

    A bias-free MLP of widths ``dense_check_widths`` (float64, seed ``seed``) on
    ``dense_check_samples`` Gaussian inputs, a random orthonormal basis of ``dense_check_dim``
    columns, at every (α, T) of ``dense_check_points``. References: the G-term
    Jᵀ(diag p − ppᵀ)J/T² from dense logit Jacobians, the H-term as the dense Hessian minus it.

    Returns
    -------
    pandas.DataFrame
        Columns ``alpha, temperature, err_hessian, err_g_term, err_h_term`` (‖engine − dense‖_F /
        ‖dense‖_F, each projected on R) and ``h_over_g`` = ‖H-term‖_F/‖G-term‖_F (both terms
        matter where this is neither tiny nor huge).
    """
    widths = [int(w) for w in required(cfg, "dense_check_widths")]
    n, d = int(required(cfg, "dense_check_samples")), int(required(cfg, "dense_check_dim"))
    g = torch.Generator().manual_seed(int(cfg.get("seed", 0)))
    net = models.mlp(widths, generator=g, dtype=torch.float64)
    x = torch.randn(n, widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, widths[-1], (n,), generator=g)
    R = random_basis(models.num_parameters(net), d, generator=g, dtype=torch.float64)

    def rel(a, b):
        return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))

    rows = []
    for alpha, temperature in required(cfg, "dense_check_points"):
        kw = {"alpha": float(alpha), "temperature": float(temperature)}
        G = R.T @ dense_g_term(net, x, y, **kw) @ R
        Hs = R.T @ dense_h_term(net, x, y, **kw) @ R
        dec = decompose(net, x, y, R, **kw)
        rows.append({**kw, "err_hessian": rel(dec.hessian, G + Hs), "err_g_term": rel(dec.g_term, G),
                     "err_h_term": rel(dec.h_term, Hs),
                     "h_over_g": float(torch.linalg.norm(Hs) / torch.linalg.norm(G))})
    return pd.DataFrame(rows)


def init_curvature(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Curvature of every model of ``cfg.models`` at its Kaiming initialisation (α = 1, T = 1).

    Settings read: ``models``, ``seed``, ``subspace_dim``, optional ``device``, ``dtype``. The basis
    is orthonormal with seed ``BASIS_SEED_OFFSET + seed`` (as in chapter 1).

    Returns
    -------
    (pandas.DataFrame, dict)
        One row per model (index ``model``): ``pc_hessian, lc_hessian, pc_g_term, pc_h_term,
        norm_g_term, norm_h_term`` (spectral norms, Eq. 6) and ``g_over_h`` = ‖G‖₂/‖H-term‖₂;
        and per model the descending eigenvalues of ``hessian``, ``g_term``, ``h_term``.
    """
    device = resolve_device(cfg.get("device", "auto"))
    dtype = torch_dtype(cfg.get("dtype", "float64"))
    seed, d = int(cfg.get("seed", 0)), int(required(cfg, "subspace_dim"))
    rows, spectra = [], {}
    for spec in required(cfg, "models"):
        s = build(dict(spec), seed=seed, dtype=dtype, device=device)
        R = random_basis(s.num_params, d, dtype=dtype, device=device,
                         generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + seed))
        m = decompose(s.model, s.inputs, s.targets, R, dtype=dtype)
        row = m.metrics()
        rows.append({"model": s.name, **{k: row[k] for k in ("pc_hessian", "lc_hessian", "pc_g_term",
                                                              "pc_h_term", "norm_g_term", "norm_h_term")},
                     "g_over_h": 10 ** (row["log10_norm_g_term"] - row["log10_norm_h_term"])})
        spectra[s.name] = {k: eigenvalues(getattr(m, k)).cpu().numpy()[::-1].copy()
                           for k in ("hessian", "g_term", "h_term")}
    return pd.DataFrame(rows).set_index("model"), spectra


def claims_rows(table: pd.DataFrame, split: pd.DataFrame, curvature: pd.DataFrame, *,
                lenet5_params: int | None = None, split_rtol: float = 1e-10) -> list[claims.Claim]:
    """The claims of chapter 2, with criteria fixed here before any number is seen.

    Parameters
    ----------
    table, split, curvature : pandas.DataFrame
        :func:`model_table`, :func:`split_errors` and the first output of :func:`init_curvature`.
    lenet5_params : int, optional
        P of LeNet-5 on 3×32×32 inputs (default :func:`paper_lenet5_params`), against the paper's
        61,170 (Fig. 5): reproduces only if equal.
    split_rtol : float
        Largest relative error of either term of Eq. 4 against dense autograd.

    Returns
    -------
    list of Claim
        LeNet-5's P; the split of Eq. 4; per model, Kaiming initialisation in the zone (positive
        curvature ≥ 1, the least a non-zero PSD matrix has; a symmetric bulk gives ≈ 0) and the
        G-term dominating at α = 1, T = 1 (‖G‖₂ ≥ ‖H-term‖₂, Eq. 6; §3).
    """
    del table  # the counts of the quick models are shown, not compared (the paper uses other inputs)
    p5 = paper_lenet5_params() if lenet5_params is None else int(lenet5_params)
    rows = [claims.check("P of LeNet-5 on CIFAR-10 (3×32×32)", source="Fig. 5, §4",
                         paper=f"{PAPER_LENET5_PARAMS:,}", here=f"{p5:,}", holds=p5 == PAPER_LENET5_PARAMS,
                         criterion="equal counts")]
    worst = float(split[["err_g_term", "err_h_term"]].to_numpy().max())
    rows.append(claims.check("H = G-term + H-term, each term as defined", source="Eq. 4",
                             paper="G = Jᵀ(diag p − ppᵀ)J/T²; H-term = H − G",
                             here=f"max rel. error {error_bound(worst)}",
                             holds=claims.at_most(worst, split_rtol),
                             criterion=f"each term within {split_rtol:.0e} of dense autograd"))
    for model, r in curvature.iterrows():
        rows.append(claims.check(f"{model}: Kaiming init in the zone", source="Fig. 1, §1",
                                 paper="high positive curvature at α = 1",
                                 here=f"{r.pc_hessian:.2f}", holds=claims.at_least(r.pc_hessian, 1.0),
                                 criterion="positive curvature ≥ 1"))
        rows.append(claims.check(f"{model}: G-term dominates at α = T = 1", source="Eq. 6, §3",
                                 paper="‖G‖₂ ≥ ‖H-term‖₂", here=f"ratio {r.g_over_h:.3g}",
                                 holds=claims.at_least(r.g_over_h, 1.0), criterion="‖G‖₂/‖H-term‖₂ ≥ 1"))
    return rows


def show_split(split: pd.DataFrame) -> pd.DataFrame:
    """:func:`split_errors` for the page: errors as bounds (``< 1e-12`` …, no rounding noise),
    ‖H-term‖/‖G-term‖ to 2 significant digits."""
    out = split[["alpha", "temperature"]].copy()
    for name in ("hessian", "g_term", "h_term"):
        out[f"error {name}"] = [error_bound(v) for v in split[f"err_{name}"]]
    out["‖H-term‖/‖G-term‖"] = [f"{v:.2g}" for v in split["h_over_g"]]
    return out.set_index(["alpha", "temperature"])


def show_models(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`model_table` for the page: P with thousands separators, homogeneity error as a bound."""
    out = table.copy()
    out["P"] = [f"{p:,}" for p in table["P"]]
    out["homogeneity_error"] = [error_bound(v) for v in table["homogeneity_error"]]
    return out.rename(columns={"homogeneity_error": "homogeneity error"})


def show_curvature(curvature: pd.DataFrame) -> pd.DataFrame:
    """:func:`init_curvature`'s table for the page, to 3 significant digits."""
    return curvature.apply(lambda col: [claims.significant(v) for v in col])


def psd_curvature_examples(*, seed: int, n: int = 200, ranks=(1, 4, 16, 64)) -> tuple[pd.DataFrame, dict[str, float]]:
    """Positive curvature (Eq. 2) of rank-r PSD matrices against the bound √r, and of a Wigner matrix.

    Parameters
    ----------
    seed
        Seeds one generator that draws, in order, the n×n symmetric Gaussian matrix and then
        one n×r Gaussian factor F per rank (M = FFᵀ).
    n, ranks
        Size of the matrices and the ranks r.

    Returns
    -------
    (pandas.DataFrame, dict)
        One row per r: positive curvature of FFᵀ ("random PSD"), of the projector on r
        coordinates ("equal eigenvalues", which attains √r) and √r; and the symmetric Gaussian
        matrix's positive curvature and local convexity (a spectrum symmetric about 0: ≈ 0 and ≈ ½).
    """
    n = check_count("n", n, minimum=2)
    rng = torch.Generator().manual_seed(int(seed))
    wigner = torch.randn(n, n, generator=rng, dtype=torch.float64)
    wigner = (wigner + wigner.T) / 2
    rows = []
    for r in ranks:
        r = check_count("rank", r)
        factor = torch.randn(n, r, generator=rng, dtype=torch.float64)
        equal = factor.new_zeros(n, n)
        equal[range(r), range(r)] = 1.0
        rows.append({"rank r": r, "random PSD": float(positive_curvature(factor @ factor.T)),
                     "equal eigenvalues": float(positive_curvature(equal)), "sqrt(r)": math.sqrt(r)})
    symmetric = {"positive_curvature": float(positive_curvature(wigner)),
                 "local_convexity": float(local_convexity(wigner))}
    return pd.DataFrame(rows).set_index("rank r"), symmetric
