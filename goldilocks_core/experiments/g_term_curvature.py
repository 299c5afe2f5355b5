"""Fig. 3–4 of Vysogorets, Dawid & Kempe (ICML 2024): Eq. 8 against the true projected G-term.

Under the random logit model of Fort & Ganguli (2019) the logit gradients are
∇_θ z_k(X^μ) = c_k + e_k^μ, and the expected G-term has the positive curvature of Eq. 8
(Fig. 3), which grows with the subspace dimension d (Fig. 4 left) and falls with Γ_p⁻²
(Fig. 4 right). One projected Jacobian JR and the logits serve every α (:class:`ProjectedLogits`,
Eq. 5). Drivers: :func:`fig3`, :func:`fig4_left`, :func:`fig4_right`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import data as _data
from ..curvature import positive_curvature, projected_jacobian
from ..curvature.softmax_weights import g_term_rows, softmax_statistics
from ..functional import logits_in_chunks
from ..losses import log_probabilities
from ..random_logit import (
    estimate_sigmas,
    expected_g_curvature,
    expected_g_term_from_means,
    gamma_p,
    logit_gradient_clustering,
    mean_geometry,
    positive_curvature_of,
)
from ..subspace import random_basis
from ..validation import check_count
from .cache import cached, cached_map, result_settings
from .setup import (BASIS_SEED_OFFSET, Setting, build, device_and_dtype, required, seeds, show_progress,
                    source_identity, use_cache)

__all__ = [
    "ProjectedLogits",
    "projected_logits",
    "g_term_curvature",
    "curvature_vs_alpha",
    "curvature_vs_dimension",
    "gamma_trajectories",
    "monotone_in_entropy",
    "fig3",
    "fig4_left",
    "fig4_right",
]


# ------------------------------------------------------------------- projected logits
@dataclass(frozen=True, eq=False)
class ProjectedLogits:
    """One network on one data set, seen through a random d-dimensional subspace.

    ``jacobian`` is JR (N × K × d) of the *unscaled* network; at scale α the Jacobian is
    α^{L−1}·JR and the logits α^L·z (homogeneity), so one JR serves every α.
    """

    name: str
    seed: int
    jacobian: torch.Tensor  # (N, K, d), float64 CPU
    logits: torch.Tensor  # (N, K), float64 CPU
    targets: torch.Tensor  # (N,), int64 CPU
    degree: int  # L
    num_params: int  # P

    @property
    def dim(self) -> int:
        return int(self.jacobian.shape[-1])

    def restrict(self, d: int) -> "ProjectedLogits":
        """The first ``d`` columns: the subspace spanned by the first d basis vectors."""
        d = check_count("d", d)
        if d > self.dim:
            raise ValueError(f"d = {d} exceeds the subspace dimension {self.dim}")
        return ProjectedLogits(self.name, self.seed, self.jacobian[..., :d], self.logits, self.targets,
                               self.degree, self.num_params)

def projected_logits(setting: Setting, d: int, *, seed: int, basis_kind: str = "orthonormal",
                     chunk_size: int | None = None, out_dtype=torch.float64, out_device="cpu") -> ProjectedLogits:
    """JR and the logits of ``setting``'s network on its data, for a random basis of dimension ``d``.

    The basis (:func:`~goldilocks_core.subspace.random_basis`, ``basis_kind``) is drawn with seed
    ``BASIS_SEED_OFFSET + seed``. JR comes from forward mode, chunked over samples
    (:func:`goldilocks_core.curvature.projected_jacobian`).
    """
    d = check_count("d", d)
    model = setting.model
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    basis = random_basis(setting.num_params, d, kind=basis_kind,
                         generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + int(seed)),
                         dtype=dtype, device=device)
    jr = projected_jacobian(model, setting.inputs, basis, chunk_size=chunk_size)
    logits = logits_in_chunks(model, setting.inputs, chunk_size or 4096, out_dtype=torch.float64,
                              out_device="cpu")
    return ProjectedLogits(setting.name, int(seed), jr.to(torch.float64).cpu(), logits,
                           setting.targets.cpu(), setting.degree, setting.num_params)

# --------------------------------------------------------------------- Fig. 3 and 4
def g_term_curvature(jacobian: torch.Tensor, logits: torch.Tensor, betas: Sequence[float],
                     chunk_size: int = 4096) -> np.ndarray:
    """Tr(G)/‖G‖_F of the projected G-term (1/N) Σ_μ (J_μR)ᵀ(diag p_μ − p_μp_μᵀ)(J_μR), p_μ = σ(βz_μ).

    Eq. 4's G-term of the unscaled network at inverse temperature β = α^L/T (the α^{2L−2}/T²
    prefactor of Eq. 5 does not change the ratio). Built in the centred, log-scaled factored form
    of :func:`goldilocks_core.curvature.softmax_weights.g_term_rows`, so it is PSD and finite for any
    β; 0 where every p is exactly one-hot (G = 0, the authors' convention).
    """
    jacobian = torch.as_tensor(jacobian)
    logits = torch.as_tensor(logits, dtype=torch.float64)
    if jacobian.ndim != 3 or logits.shape != jacobian.shape[:2]:
        raise ValueError(f"jacobian must be N × K × d and logits N × K, got {tuple(jacobian.shape)} "
                         f"and {tuple(logits.shape)}")
    n, k, d = jacobian.shape
    dummy = torch.zeros(n, dtype=torch.long)
    out = []
    for beta in betas:
        beta = float(beta)
        if not (beta > 0 and math.isfinite(beta)):
            raise ValueError(f"betas must be positive and finite, got {beta!r}")
        scale = softmax_statistics(logits, dummy, beta).log_g_scale
        if scale == -math.inf:
            out.append(0.0)
            continue
        g = torch.zeros(d, d, dtype=torch.float64)
        for i in range(0, n, chunk_size):
            rows = g_term_rows(jacobian[i:i + chunk_size], logits[i:i + chunk_size], beta, scale)
            rows = rows.reshape(-1, d).to(torch.float64)
            g += rows.T @ rows
        value = float(positive_curvature(g))
        out.append(value if math.isfinite(value) else 0.0)
    return np.asarray(out)

def _probabilities(logits: torch.Tensor, beta: float) -> torch.Tensor:
    return log_probabilities(logits.to(torch.float64), beta=beta).exp()

def _entropy(logits: torch.Tensor, beta: float) -> torch.Tensor:
    logp = log_probabilities(logits.to(torch.float64), beta=beta)
    p = logp.exp()
    return -torch.where(p > 0, p * logp, torch.zeros_like(p)).sum(-1)

def curvature_vs_alpha(pl: ProjectedLogits, alphas: Sequence[float]) -> pd.DataFrame:
    """True projected G-term curvature and Eq. 8 over α at T = 1 (Fig. 3), one seed.

    σ_c², σ_e² are estimated once from the unscaled JR (Eq. 8 is invariant to scaling both by
    α^{2(L−1)}), grouped by label (Fort & Ganguli's Eq. 15) and over all samples; p is the
    network's softmax at each α. Eq. 8 is evaluated with d = the subspace dimension and with
    d = P (the authors' notebook). ``eq7_means`` is the curvature of Eq. 7's first line with the
    *measured* class means c_k (by label; neither orthogonal nor of equal length) and isotropic
    residuals σ_e²: the part of the gap between Eq. 8 and the truth that the class means explain.
    Columns: ``name, seed, alpha, beta, mean_entropy, gamma_p, pc_g_term, eq8_label, eq8_all,
    eq8_label_P, eq8_all_P, eq7_means``.
    """
    alphas = [float(a) for a in alphas]
    if not alphas or any(not (a > 0 and math.isfinite(a)) for a in alphas):
        raise ValueError("alphas must be a non-empty sequence of positive numbers")
    betas = [a ** pl.degree for a in alphas]
    true = g_term_curvature(pl.jacobian, pl.logits, betas)
    est = {g: estimate_sigmas(pl.jacobian, pl.targets, grouping=g) for g in ("label", "all")}
    rows = []
    for a, b, t in zip(alphas, betas, true):
        p = _probabilities(pl.logits, b)
        gamma = float(gamma_p(p))
        row = {"name": pl.name, "seed": pl.seed, "alpha": a, "beta": b,
               "mean_entropy": float(_entropy(pl.logits, b).mean()),
               "gamma_p": gamma if gamma > 0 else math.nan, "pc_g_term": float(t)}
        for g, e in est.items():
            for suffix, dim in (("", pl.dim), ("_P", pl.num_params)):
                value = float(expected_g_curvature(p, e.sigma_c2, e.sigma_e2, dim))
                # Every p one-hot in float64: Γ_p is 0/0 and Eq. 8 undefined (NaN, not plotted).
                row[f"eq8_{g}{suffix}"] = value if gamma > 0 else math.nan
        lab = est["label"]
        means = float(positive_curvature_of(expected_g_term_from_means(p, lab.class_means, lab.sigma_e2)))
        row["eq7_means"] = means if gamma > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)

def _seed_summary(pl: ProjectedLogits) -> dict[str, Any]:
    """σ's, SNR and logit-gradient clustering (F&G Eq. 11–13) of one seed's JR."""
    lab = estimate_sigmas(pl.jacobian, pl.targets, grouping="label")
    al = estimate_sigmas(pl.jacobian, pl.targets, grouping="all")
    q = logit_gradient_clustering(pl.jacobian, pl.targets)
    geometry = mean_geometry(lab.class_means)
    return {"max_abs_cos_means": geometry["max_abs_cos"], "norm_ratio_means": geometry["norm_ratio"],
            "name": pl.name, "seed": pl.seed, "num_samples": int(pl.jacobian.shape[0]), "d": pl.dim,
            "num_params": pl.num_params, "sigma_c2_label": lab.sigma_c2, "sigma_e2_label": lab.sigma_e2,
            "sigma_c2_all": al.sigma_c2, "sigma_e2_all": al.sigma_e2, "snr_all": al.snr,
            "q_slsc": q.q_slsc, "q_sl": q.q_sl, "q_dl": q.q_dl}

def curvature_vs_dimension(pl: ProjectedLogits, dims: Sequence[int], alphas: Sequence[float]) -> pd.DataFrame:
    """Fig. 4 left: true projected G-term curvature and Eq. 8 for nested subspaces of dimension d.

    ``pl`` must hold JR for at least max(dims) directions; the subspace of dimension d is spanned
    by the first d basis vectors. σ's are re-estimated on each subspace (by label). Columns:
    ``d, alpha, pc_g_term, eq8, eq8_P``.
    """
    dims = [check_count("d", d) for d in dims]
    if not dims:
        raise ValueError("dims must not be empty")
    rows = []
    for d in dims:
        sub = pl.restrict(d)
        df = curvature_vs_alpha(sub, alphas)
        for _, r in df.iterrows():
            rows.append({"d": d, "alpha": r["alpha"], "pc_g_term": r["pc_g_term"], "eq8": r["eq8_label"],
                         "eq8_P": r["eq8_label_P"]})
    return pd.DataFrame(rows)

def gamma_trajectories(logits, alphas: Sequence[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 4 right: Γ_p⁻² against softmax entropy for logit sets scaled by α, p = σ(αz).

    ``logits``: M × K logit sets. Returns ``(curves, average)``: ``curves`` has one row per
    (set, α) with ``set, alpha, entropy, gamma_inv2`` (Γ_p of diag(p) − ppᵀ of that one p);
    ``average`` one row per α with ``alpha, entropy`` (mean over sets) and ``gamma_inv2`` of the
    average matrix (1/M) Σ_μ diag(p^μ) − p^μp^μᵀ (the paper's red curve).
    """
    z = torch.as_tensor(logits, dtype=torch.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must be M × K with K ≥ 2, got shape {tuple(z.shape)}")
    a = torch.as_tensor([float(x) for x in alphas], dtype=torch.float64)
    if a.numel() == 0 or not torch.isfinite(a).all() or (a <= 0).any():
        raise ValueError("alphas must be a non-empty sequence of positive numbers")
    logp = torch.log_softmax(a[:, None, None] * z[None], dim=-1)  # (A, M, K)
    p = logp.exp()
    entropy = -torch.where(p > 0, p * logp, torch.zeros_like(p)).sum(-1)  # (A, M)
    per = gamma_p(p, average=False)  # (A, M)
    avg = gamma_p(p, average=True)  # (A,)
    m = z.shape[0]
    curves = pd.DataFrame({
        "set": np.tile(np.arange(m), len(a)),
        "alpha": np.repeat(a.numpy(), m),
        "entropy": entropy.reshape(-1).numpy(),
        "gamma_inv2": (per ** -2).reshape(-1).numpy(),
    })
    average = pd.DataFrame({"alpha": a.numpy(), "entropy": entropy.mean(1).numpy(),
                            "gamma_inv2": (avg ** -2).numpy()})
    return curves, average

def monotone_in_entropy(curves: pd.DataFrame, rtol: float = 1e-9) -> pd.DataFrame:
    """Per logit set: is Γ_p⁻² a non-increasing function of the entropy, and Spearman ρ.

    Points are ordered by entropy; a step counts as monotone if Γ_p⁻² does not rise by more
    than ``rtol`` relative (rounding). Columns: ``set, monotone, spearman`` (ρ between entropy and
    Γ_p⁻², −1 for a strictly decreasing relation).
    """
    from scipy.stats import spearmanr

    rows = []
    for s, g in curves.groupby("set", sort=True):
        g = g.sort_values("entropy")
        y = g["gamma_inv2"].to_numpy()
        ok = bool(np.all(np.diff(y) <= rtol * np.maximum(np.abs(y[1:]), np.abs(y[:-1]))))
        rho = spearmanr(g["entropy"], y).statistic if np.ptp(y) > 0 else float("nan")
        rows.append({"set": int(s), "monotone": ok, "spearman": float(rho)})
    return pd.DataFrame(rows)

def fig3(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 3 for every entry of ``cfg.fig3_settings`` and seed: ``(curves, seeds)``.

    ``curves``: :func:`curvature_vs_alpha` rows for every setting and seed; ``seeds``: σ's, SNR
    and q^SLSC, q^SL, q^DL of each seed's JR (F&G Eq. 11–13 on the real network).
    """
    dev, dtype = device_and_dtype(required(cfg, "device"))
    specs = list(required(cfg, "fig3_settings"))
    d, alphas = required(cfg, "subspace_dim"), list(required(cfg, "alphas"))
    kind, chunk = cfg.get("basis_kind", "orthonormal"), cfg.get("chunk_size")

    def one(item):
        spec, seed, _ = item
        setting = build(dict(spec), seed=seed, dtype=dtype, device=dev)
        pl = projected_logits(setting, d, seed=seed, basis_kind=kind, chunk_size=chunk)
        return curvature_vs_alpha(pl, alphas), _seed_summary(pl)

    # each point is keyed by its model, seed and data (adding seeds or settings reuses the
    # finished ones) and by every other setting
    cache = use_cache(cfg)
    items = [(dict(spec), s, source_identity(dict(spec)) if cache else None) for spec in specs
             for s in seeds(cfg)]
    key = {"cfg": result_settings(cfg, exclude=("fig3_settings", "seed", "num_seeds")), "device": str(dev)}
    results = cached_map("features-fig3", key, one, items, enabled=cache, progress=show_progress(cfg),
                         desc="Fig. 3 seeds")
    return pd.concat([r[0] for r in results], ignore_index=True), pd.DataFrame([r[1] for r in results])

def fig4_left(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Fig. 4 left: :func:`curvature_vs_dimension` on ``fig3_settings[0]`` with ``dims_num_samples``."""
    dev, dtype = device_and_dtype(required(cfg, "device"))
    spec = dict(required(cfg, "fig3_settings")[0])
    spec["num_samples"] = cfg.get("dims_num_samples") or spec.get("num_samples")
    dims = [int(x) for x in required(cfg, "dims")]
    alphas = list(required(cfg, "dims_alphas"))
    seed = seeds(cfg)[0]

    def compute():
        setting = build(spec, seed=seed, dtype=dtype, device=dev)
        pl = projected_logits(setting, max(dims), seed=seed, basis_kind=cfg.get("basis_kind", "orthonormal"),
                              chunk_size=cfg.get("chunk_size"))
        return curvature_vs_dimension(pl, dims, alphas)

    cache = use_cache(cfg)
    key = {"cfg": result_settings(cfg), "device": str(dev), "data": source_identity(spec) if cache else None}
    return cached("features-fig4-left", key, compute, enabled=cache)

def fig4_right(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, torch.Tensor]:
    """Fig. 4 right: Γ_p⁻² vs entropy for ``gamma_num_logit_sets`` logit sets of the network.

    The logit sets are the unscaled logits of ``fig3_settings[0]``'s network (seed ``cfg.seed``)
    on a balanced batch of that many inputs; α runs over ``gamma_alphas``. Returns
    ``(curves, average, logits)``.
    """
    dev, dtype = device_and_dtype(required(cfg, "device"))
    spec = dict(required(cfg, "fig3_settings")[0])
    m = check_count("gamma_num_logit_sets", required(cfg, "gamma_num_logit_sets"), 2)
    seed = seeds(cfg)[0]
    setting = build({**spec, "num_samples": None}, seed=seed, dtype=dtype, device=dev)
    k = setting.num_classes
    full = _data.Dataset(setting.inputs, setting.targets, k, setting.name, "train")
    batch = _data.balanced_subset(full, k * math.ceil(m / k), generator=10_000 + seed)
    logits = logits_in_chunks(setting.model, batch.inputs, 4096, out_dtype=torch.float64, out_device="cpu")[:m]
    curves, average = gamma_trajectories(logits, required(cfg, "gamma_alphas"))
    return curves, average, logits
