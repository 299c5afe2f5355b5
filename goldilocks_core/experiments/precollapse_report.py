"""App. D's tables and claims, read off :mod:`~goldilocks_core.experiments.precollapse` results.

* :func:`window_table` — the sweep through the upper edge of the zone (entropies, shares);
* :func:`eigen_table` — the first layer's top eigenvector against the least confident sample;
* :func:`float64_g_term` — the authors' G-term formula in float64 on App. D's subspace
  (:mod:`~goldilocks_core.experiments.underflow`), cached;
* :func:`claims_rows` — App. D's claims table, criteria fixed before the numbers were seen.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from .. import claims, subspace
from . import precollapse as pc
from .underflow import first_exact_zero, float64_g_term_sweep

__all__ = ["sample_label", "window_table", "float64_table", "eigen_table", "float64_g_term", "claims_rows", "COS_MIN", "SHARE_MIN",
           "LAMBDA_RTOL", "G_PLATEAU_LEVEL_TOL"]

# criteria, fixed before the quick-profile numbers were seen
COS_MIN = 0.999  # "the top eigenvector ... aligns with one particular sample"
SHARE_MIN = 0.99  # "only one sample left ... G ≈ G^{μ0}"
LAMBDA_RTOL = 0.01  # top eigenvalue = that sample's own G-term eigenvalue
G_PLATEAU_LEVEL_TOL = 0.05  # "then suddenly drops to 0": |pc_G| ≤ this at the end of the grid


FASHION_MNIST_CLASSES = ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                         "bag", "ankle boot")


def sample_label(setting, index: int) -> str:
    """"#index (class)" for a training sample: the class name for Fashion-MNIST, else the label."""
    label = int(setting.targets[index])
    name = FASHION_MNIST_CLASSES[label] if "Fashion-MNIST" in setting.name else str(label)
    return f"#{index} ({name})"


def window_table(exp: pc.PrecollapseExperiment, model, inputs, *, below: float = 10.0,
                 above: float = 4.0) -> pd.DataFrame:
    """The sweep for α in [α_ref/``below``, α_ref·``above``]: positive curvature of H, G-term and
    H-term, the two largest per-sample entropies, how many samples are uncertain, and the
    largest single-sample share of the first layer's G-term trace (Eq. d-trace)."""
    s = exp.sweep
    w = s[(s.alpha >= exp.reference_alpha / below) & (s.alpha <= exp.reference_alpha * above)]
    ent = pc.sample_entropies(model, inputs, w.alpha.tolist())
    top2 = -np.sort(-ent, axis=1)[:, :2]
    return pd.DataFrame({"α": w.alpha.round(2).to_numpy(), "pc H": w.pc_hessian.round(3).to_numpy(),
                         "pc G": w.pc_g_term.round(3).to_numpy(), "pc H-term": w.pc_h_term.round(3).to_numpy(),
                         "entropy 1st": [f"{v:.1e}" for v in top2[:, 0]],
                         "entropy 2nd": [f"{v:.1e}" for v in top2[:, 1]],
                         "uncertain": w.num_uncertain.astype(int).to_numpy(),
                         "top share": w.dominant_share.round(3).to_numpy()})


def eigen_table(exp: pc.PrecollapseExperiment) -> pd.DataFrame:
    """Per image α: λ₁, λ₂/λ₁, the least confident sample μ₀, its share, rank-one share of the
    eigenvector, |cos| with x^{μ₀}, with the mean image and with the next best sample, and λ₁
    against μ₀'s own G-term eigenvalue (Eq. d-rank-one)."""
    t = exp.eigen.table
    return pd.DataFrame({
        "α": t.alpha.round(2), "λ₁": [f"{v:.4g}" for v in t.lambda_1],
        "λ₂/λ₁": [f"{v:.1e}" for v in t.lambda_2 / t.lambda_1], "μ₀": t.least_confident.astype(int),
        "uncertain": t.num_uncertain.astype(int), "share of μ₀": t.least_confident_share.round(3),
        "rank one": t.rank_one.round(4), "cos x_μ₀": t.cos_least_confident.round(4),
        "cos mean": t.cos_mean_image.round(3), "cos next": t.cos_runner_up.round(3),
        "λ₁(μ₀ alone)/λ₁": (t.lambda_1_single_sample / t.lambda_1).round(3)}).reset_index(drop=True)


def float64_g_term(cfg: Mapping[str, Any], setting) -> pd.DataFrame:
    """:func:`~goldilocks_core.experiments.underflow.float64_g_term_sweep` over ``cfg.alphas`` on the
    subspace of :func:`~goldilocks_core.experiments.precollapse.curvature_sweep` (seed ``cfg.seed``),
    cached when ``cfg.cache``."""
    from .cache import cached

    def compute():
        x = setting.inputs
        R = subspace.random_basis(setting.num_params, cfg["subspace_dim"], kind=cfg["basis_kind"],
                                  generator=torch.Generator().manual_seed(int(cfg["seed"])),
                                  dtype=x.dtype, device=x.device)
        return float64_g_term_sweep(setting.model, x, R, cfg["alphas"], chunk_size=cfg["chunk_size"])

    return cached("appendix_d_float64", pc.cache_key(cfg, setting), compute, enabled=bool(cfg["cache"]))


def float64_table(naive: pd.DataFrame, alpha_min: float) -> pd.DataFrame:
    """:func:`float64_g_term` from ``alpha_min`` on, small numbers in scientific notation."""
    t = naive[naive["alpha"] >= alpha_min]
    return pd.DataFrame({"α": t["alpha"].round(2).to_numpy(), "exactly zero": t["exactly_zero"].to_numpy(),
                         "samples ≠ 0": t["num_nonzero_samples"].to_numpy(),
                         "largest runner-up p": [f"{v:.1e}" for v in t["max_runner_up"]],
                         "largest |G entry|": [f"{v:.1e}" for v in t["max_abs"]],
                         "pc (authors)": t["pc_authors"].round(3).to_numpy()})


def claims_rows(exp: pc.PrecollapseExperiment, robust: pd.DataFrame, naive: pd.DataFrame) -> list[claims.Claim]:
    """App. D's claims table.

    Parameters
    ----------
    exp : PrecollapseExperiment
        :func:`~goldilocks_core.experiments.precollapse.experiment`.
    robust : DataFrame
        :func:`~goldilocks_core.experiments.precollapse.robustness`, one row per seed.
    naive : DataFrame
        :func:`float64_g_term` (the authors' formula in float64).
    """
    g, p = exp.g_plateau, exp.plateau
    last = exp.eigen.table.iloc[-1]
    mu0 = int(last.least_confident)
    end = exp.sweep.sort_values("alpha").iloc[-1]
    zero_at = first_exact_zero(naive)
    pc_naive_end = float(naive.sort_values("alpha")["pc_authors"].iloc[-1])
    n_plateau = int((~robust["hessian_lo"].isna()).sum())
    return [
        claims.check("G-term curvature approaches 1 and stays level", source="App. D, Fig. 2",
                     paper="pre-collapse plateau at 1",
                     here=f"|pc − 1| ≤ {g.tol:g} for α ∈ [{g.alpha_lo:.3g}, {g.alpha_hi:.3g}]" if g else "no plateau",
                     holds=g is not None, criterion="|pc_G − 1| ≤ 0.01 over ≥ 2 grid points"),
        claims.check("the plateau transfers to the full Hessian", source="App. D, Fig. 10",
                     paper="Hessian plateau at 1",
                     here=(f"α ∈ [{p.alpha_lo:.3g}, {p.alpha_hi:.3g}]" if p else "none")
                     + f"; {n_plateau} of {len(robust)} seeds",
                     holds=p is not None, criterion="|pc_H − 1| ≤ 0.05 over ≥ 2 grid points (seed 0)"),
        claims.check("then G-term curvature drops to 0 (log-space engine)", source="App. D, Fig. 2",
                     paper="drops to 0", here=f"pc_G = {end.pc_g_term:.3f} at α = {end.alpha:.3g}",
                     holds=claims.at_most(abs(float(end.pc_g_term)), G_PLATEAU_LEVEL_TOL),
                     criterion=f"|pc_G| ≤ {G_PLATEAU_LEVEL_TOL} at the largest α"),
        claims.check("then G-term curvature drops to 0 (authors' formula, float64)", source="App. D, Fig. 2",
                     paper="drops to 0",
                     here=(f"G exactly 0 from α = {zero_at:.3g}; pc = {pc_naive_end:.3g}" if not math.isnan(zero_at)
                           else f"never exactly 0; pc = {pc_naive_end:.3g}"),
                     holds=claims.at_most(abs(pc_naive_end), G_PLATEAU_LEVEL_TOL),
                     criterion=f"|pc_G| ≤ {G_PLATEAU_LEVEL_TOL} at the largest α"),
        claims.check("first-layer top eigenvector is the least confident sample", source="App. D, Fig. 10",
                     paper="one sample (a bag)",
                     here=f"|cos| = {last.cos_least_confident:.4f} with #{mu0}; best of all: #{int(last.best_match)}",
                     holds=bool(last.cos_least_confident > COS_MIN and int(last.best_match) == mu0),
                     criterion=f"|cos| > {COS_MIN} and best match among all samples"),
        claims.check("one sample holds the G-term", source="App. D", paper="G ≈ G^μ₀",
                     here=f"share of #{mu0}: {last.least_confident_share:.3f}",
                     holds=bool(last.least_confident_share > SHARE_MIN and int(last.dominant_sample) == mu0),
                     criterion=f"share of first-layer G-term trace > {SHARE_MIN}"),
        claims.check("top eigenvalue is that sample's own", source="App. D, App. C", paper="rank one",
                     here=f"λ₁(μ₀ alone)/λ₁ = {last.lambda_1_single_sample / last.lambda_1:.3f}",
                     holds=claims.within(last.lambda_1_single_sample / last.lambda_1, 1.0, atol=LAMBDA_RTOL),
                     criterion=f"ratio within {LAMBDA_RTOL:.0%} of 1"),
    ]
