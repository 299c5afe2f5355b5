"""Drivers for chapter 4, "Features of the Goldilocks zone", and Appendices B–C.

Vysogorets, Dawid & Kempe (ICML 2024), §4: under the random logit model of Fort & Ganguli
(2019) the logit gradients are ∇_θ z_k(X^μ) = c_k + e_k^μ, and

* the expected G-term has the positive curvature of Eq. 8 (Fig. 3), which grows with the
  subspace dimension d (Fig. 4 left) and falls with Γ_p⁻² (Fig. 4 right);
* the expected batch gradient is Σ_k c_k (Q̂_k − Q_k) (Eq. 9): gradients on unrelated balanced
  data sets overlap (Fig. 5 left) and the gradient norm is linear in ‖Q̂ − Q‖ (Fig. 5 right);
* over random initialisations, softmax entropy, positive curvature, low loss and low gradient
  norm go together (Fig. 6).

Two layers of functions:

* computations with explicit arguments (:func:`projected_logits`, :func:`curvature_vs_alpha`,
  :func:`gamma_trajectories`, :func:`gradient_cosines`, :func:`prior_sweep`,
  :func:`init_statistics`, :func:`monte_carlo_expected_g`, …);
* one driver per figure taking a chapter's settings (``fig3``, ``fig4_left``, ``fig4_right``,
  ``fig5_left``, ``fig5_right``, ``fig6``): the code path of the notebook, for every profile.
  Per-seed / per-init loops go through :func:`~goldilocks_core.experiments.cached_map` (on for
  the paper profile, ``cfg.cache``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import data as _data
from ..curvature import decompose, positive_curvature, projected_jacobian
from ..curvature.softmax_weights import g_term_rows, log_probabilities, softmax_statistics
from ..devices import default_dtype, resolve_device
from ..losses import cross_entropy
from ..models import homogeneity_degree, num_parameters
from ..progress import progress_bar
from ..random_logit import (
    estimate_sigmas,
    expected_g_curvature,
    expected_g_eigenvalues,
    expected_g_term_from_means,
    gamma_p,
    logit_gradient_clustering,
    mean_geometry,
    positive_curvature_of,
    softmax_hessian_factor,
)
from ..subspace import random_basis
from .cache import cached, cached_map, result_settings
from .setup import Setting, build, build_data, build_model, source_identity

__all__ = [
    "BASIS_SEED_OFFSET",
    "ProjectedLogits",
    "projected_logits",
    "g_term_curvature",
    "curvature_vs_alpha",
    "curvature_vs_dimension",
    "gamma_trajectories",
    "monotone_in_entropy",
    "flat_gradient",
    "class_mean_gradients",
    "gradient_cosines",
    "draw_priors",
    "prior_sweep",
    "fit_slope",
    "init_statistics",
    "rank_correlations",
    "monte_carlo_expected_g",
    "orthogonal_class_means",
    "monte_carlo_spectrum",
    "appendix_b",
    "gamma_limit_table",
    "fig3",
    "fig4_left",
    "fig4_right",
    "fig5_left",
    "fig5_right",
    "fig6",
]

# The subspace basis of seed s is drawn with seed BASIS_SEED_OFFSET + s, so that it is
# independent of the Kaiming draw of the model with the same seed (both use torch.randn).
BASIS_SEED_OFFSET = 104_729


# ----------------------------------------------------------------------------- helpers
def _cfg(cfg: Mapping[str, Any], key: str):
    try:
        return cfg[key]
    except KeyError:
        raise ValueError(f"the settings have no {key!r}") from None


def _device_dtype(device) -> tuple[torch.device, torch.dtype]:
    dev = resolve_device(device)
    return dev, default_dtype(dev)


def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _logits(model: nn.Module, inputs: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """Unscaled logits of every sample, float64 on the CPU, without a graph."""
    parts = []
    with torch.no_grad():
        for i in range(0, inputs.shape[0], chunk_size):
            parts.append(model(inputs[i:i + chunk_size]).to(torch.float64).cpu())
    return torch.cat(parts)


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


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
        d = _check_int("d", d)
        if d > self.dim:
            raise ValueError(f"d = {d} exceeds the subspace dimension {self.dim}")
        return ProjectedLogits(self.name, self.seed, self.jacobian[..., :d], self.logits, self.targets,
                               self.degree, self.num_params)


def projected_logits(setting: Setting, d: int, *, seed: int, basis_kind: str = "orthonormal",
                     chunk_size: int | None = None) -> ProjectedLogits:
    """JR and the logits of ``setting``'s network on its data, for a random basis of dimension ``d``.

    The basis (:func:`~goldilocks_core.subspace.random_basis`, ``basis_kind``) is drawn with seed
    ``BASIS_SEED_OFFSET + seed``. JR comes from forward mode, chunked over samples
    (:func:`goldilocks_core.curvature.projected_jacobian`).
    """
    d = _check_int("d", d)
    model = setting.model
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    basis = random_basis(setting.num_params, d, kind=basis_kind,
                         generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + int(seed)),
                         dtype=dtype, device=device)
    jr = projected_jacobian(model, setting.inputs, basis, chunk_size=chunk_size)
    logits = _logits(model, setting.inputs, chunk_size or 4096)
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
    return log_probabilities(logits, beta).exp()


def _entropy(logits: torch.Tensor, beta: float) -> torch.Tensor:
    logp = log_probabilities(logits, beta)
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
    dims = [_check_int("d", d) for d in dims]
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


# ----------------------------------------------------------------------------- Fig. 5
def flat_gradient(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                  chunk_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """(∇_θ ℓ, Q̂): the mean cross-entropy gradient (flat, float64 CPU) and the mean softmax output."""
    params = _params(model)
    n = inputs.shape[0]
    grads = [torch.zeros_like(p) for p in params]
    q_hat = 0.0
    for i in range(0, n, chunk_size):
        x, y = inputs[i:i + chunk_size], targets[i:i + chunk_size]
        z = model(x)
        loss = cross_entropy(z, y) * (x.shape[0] / n)
        for acc, g in zip(grads, torch.autograd.grad(loss, params)):
            acc += g
        q_hat = q_hat + torch.softmax(z.detach().to(torch.float64), -1).sum(0).cpu()
    return torch.cat([g.reshape(-1) for g in grads]).to(torch.float64).cpu(), q_hat / n


def class_mean_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, num_classes: int, *,
                         grouping: str = "all", chunk_size: int = 4096) -> torch.Tensor:
    """The mean logit gradients c_k (K × P, float64 CPU) in the full parameter space.

    ``grouping="all"``: c_k = (1/N) Σ_μ ∇_θ z_k^μ (the random model of §4 read literally);
    ``"label"``: c_k = (1/N_k) Σ_{μ: y^μ = k} ∇_θ z_k^μ (Fort & Ganguli's Eq. 15). K backward
    passes per chunk, one per class.
    """
    if grouping not in ("all", "label"):
        raise ValueError(f"grouping must be 'all' or 'label', got {grouping!r}")
    params = _params(model)
    n = inputs.shape[0]
    counts = torch.bincount(targets.cpu(), minlength=num_classes).to(torch.float64)
    if grouping == "label" and (counts == 0).any():
        raise ValueError("grouping='label' needs every class among the targets")
    acc = torch.zeros(num_classes, sum(p.numel() for p in params), dtype=torch.float64)
    eye = torch.eye(num_classes, device=inputs.device)
    for i in range(0, n, chunk_size):
        x, y = inputs[i:i + chunk_size], targets[i:i + chunk_size]
        z = model(x)
        if grouping == "all":
            weights = torch.ones(x.shape[0], num_classes, device=x.device) / n
        else:
            weights = nn.functional.one_hot(y, num_classes).to(x.device) / counts.to(x.device)
        # one backward pass per class (a batched vmap backward is many times slower for convolutions)
        for k in range(num_classes):
            cot = (eye[k][None, :] * weights[:, k:k + 1]).to(z.dtype)  # (n, K): column k = weight
            grads = torch.autograd.grad(z, params, grad_outputs=cot, retain_graph=k < num_classes - 1)
            acc[k] += torch.cat([g.reshape(-1) for g in grads]).to(torch.float64).cpu()
    return acc


def _load_balanced(spec: Mapping[str, Any], n: int, *, seed: int, shape=None, dtype, device) -> _data.Dataset:
    """A balanced subset of ``n`` samples of a data-set spec {dataset, split, image_size, data_options}.

    A ``gaussian`` spec without a ``shape`` gets ``shape`` (the model's input shape) and enough
    samples to balance.
    """
    spec = dict(spec)
    split = spec.pop("split", "train")
    if spec.get("dataset") == "gaussian":
        options = dict(spec.get("data_options", {}))
        if "shape" not in options:
            if shape is None:
                raise ValueError("a gaussian data set needs a shape")
            options["shape"] = list(shape)
        options.setdefault("num_samples", 4 * n)
        options.setdefault("seed", seed)
        spec["data_options"] = options
    spec["num_samples"] = n
    return build_data(spec, split=split, seed=seed, dtype=dtype, device=device)


def _dataset_label(spec: Mapping[str, Any]) -> str:
    name = spec.get("label") or spec["dataset"]
    split = spec.get("split")
    return f"{name} ({split})" if split and not spec.get("label") else name


def gradient_cosines(model_spec: Mapping[str, Any], datasets: Sequence[Mapping[str, Any]], num_samples: int,
                     inits: Sequence[int], *, device="cpu", data_seed: int = 0, cache: bool = False,
                     progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 5 left: cosine similarity of the loss gradients of unscaled networks on several data sets.

    ``model_spec``: an :func:`~goldilocks_core.experiments.setup.build` entry (its own data set
    gives the input shape); ``datasets``: data-set specs (``dataset``, optional ``split``,
    ``image_size``, ``data_options``, ``label``), each reduced to a balanced subset of
    ``num_samples``. For each init the gradient on each set and the Eq. 9 prediction: with
    orthogonal equal-length c_k the expected gradients Σ_k c_k Δ_k have cosine cos(Δ_a, Δ_b),
    Δ = Q̂ − Q. Returns ``(pairs, per_set)``: ``init, a, b, cosine, eq9_cosine`` and
    ``init, dataset, delta_norm, grad_norm, num_params``.
    """
    arguments = result_settings(locals(), exclude=("inits",))
    dev, dtype = _device_dtype(device)
    num_samples = _check_int("num_samples", num_samples, 2)
    first = _load_balanced({k: model_spec[k] for k in ("dataset", "image_size", "pad_to", "data_options")
                            if k in model_spec},
                           num_samples, seed=data_seed, dtype=dtype, device=dev)
    shape = tuple(first.inputs.shape[1:])
    sets = {}
    for spec in datasets:
        spec = dict(spec)
        if "image_size" not in spec and model_spec.get("image_size") and spec.get("dataset") != "gaussian":
            spec["image_size"] = model_spec["image_size"]
        ds = _load_balanced(spec, num_samples, seed=data_seed, shape=shape, dtype=dtype, device=dev)
        if tuple(ds.inputs.shape[1:]) != shape:
            raise ValueError(f"data set {_dataset_label(spec)} has inputs {tuple(ds.inputs.shape[1:])}, "
                             f"the model expects {shape}")
        sets[_dataset_label(spec)] = ds
    names = list(sets)

    def one(init: int):
        model = build_model(dict(model_spec), in_shape=shape, num_classes=first.num_classes, seed=int(init),
                            dtype=dtype, device=dev)
        grads, deltas, per = {}, {}, []
        for name, ds in sets.items():
            g, q_hat = flat_gradient(model, ds.inputs, ds.targets)
            q = torch.bincount(ds.targets.cpu(), minlength=ds.num_classes).to(torch.float64) / len(ds)
            grads[name], deltas[name] = g, q_hat - q
            per.append({"init": int(init), "dataset": name, "delta_norm": float(deltas[name].norm()),
                        "grad_norm": float(g.norm()), "num_params": int(g.numel())})
        pairs = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                pairs.append({"init": int(init), "a": a, "b": b,
                              "cosine": float(nn.functional.cosine_similarity(grads[a], grads[b], 0)),
                              "eq9_cosine": float(nn.functional.cosine_similarity(deltas[a], deltas[b], 0))})
        return pairs, per

    key = {**arguments, "resolved_device": str(dev), "data": [first, sets]}
    results = cached_map("features-fig5-left", key, one, [int(i) for i in inits], enabled=cache,
                         progress=progress, desc="gradient cosines")
    pairs = pd.DataFrame([r for res in results for r in res[0]])
    per_set = pd.DataFrame([r for res in results for r in res[1]])
    return pairs, per_set


def draw_priors(num_priors: int, num_classes: int, *, seed: int, counts: Sequence[int] | None = None,
                subset_size: int | None = None) -> tuple[np.ndarray, int]:
    """Class priors Q uniform on the simplex Δ_K (Dirichlet(1, …, 1)), as in the paper's Fig. 5.

    With ``counts`` (samples available per class) and ``subset_size``, priors that would ask a
    class for more samples than it has are redrawn. Returns ``(priors, redraws)``.
    """
    num_priors = _check_int("num_priors", num_priors)
    rng = np.random.default_rng(seed)
    out, redraws = [], 0
    while len(out) < num_priors:
        q = rng.dirichlet(np.ones(num_classes))
        if counts is not None and subset_size is not None:
            need = _data.counts_from_prior(q, subset_size)
            if any(m > c for m, c in zip(need, counts)):
                redraws += 1
                if redraws > 1000 * num_priors:
                    raise ValueError("subset_size is too large for the class counts: priors keep failing")
                continue
        out.append(q)
    return np.stack(out), redraws


def fit_slope(x, y) -> dict[str, float]:
    """Least-squares slopes of y against x: through the origin, and with an intercept; Pearson r."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise ValueError("x and y must be 1-D arrays of the same length ≥ 3")
    origin = float(x @ y / (x @ x))
    slope, intercept = np.polyfit(x, y, 1)
    return {"slope_origin": origin, "slope": float(slope), "intercept": float(intercept),
            "pearson": float(np.corrcoef(x, y)[0, 1])}


def prior_sweep(setting: Setting, num_priors: int, subset_size: int, *, seed: int = 0, cache: bool = False,
                cache_key: Mapping[str, Any] | None = None, progress: bool = True,
                chunk: int = 100) -> tuple[pd.DataFrame, dict[str, float]]:
    """Fig. 5 right: ‖∇ℓ‖ against ‖Q̂ − Q‖ over subsets drawn with random class priors Q (Eq. 9).

    ``setting``: the network (fixed, unscaled) and the whole data set it is evaluated on; σ_c² is
    estimated on all of it in the full parameter space (d = P), as in the paper, from the class
    means c_k (:func:`class_mean_gradients`, both groupings). Every prior gives a subset of
    ``subset_size`` samples (:func:`goldilocks_core.data.subset_with_prior`); per subset the
    columns are ``delta_norm`` (‖Q̂ − Q‖), ``grad_norm`` (‖∇_θℓ‖) and ``eq9_norm``
    (‖Σ_k c_k Δ_k‖ with the measured c_k, "all") and ``label_norm`` (‖Σ_k Q̂_k c_k^all − Q_k c_k^label‖:
    the loss gradient when p is independent of the logit gradients but the class means depend on the
    label). The summary holds σ_c² (per coordinate),
    P, the predicted slopes ``printed`` = Pσ_c² (Eq. 9 as printed) and ``exact`` = √P σ_c
    (orthogonal c_k, ‖c_k‖² = Pσ_c²), the fitted slopes and the largest |cos(c_k, c_l)|, the
    median ratios of ‖∇ℓ‖ to ``eq9_norm`` and to ``label_norm``, and ``label_norm_at_zero``, the
    predicted ‖∇ℓ‖ at Q̂ = Q (the class frequencies of the whole set). With
    ``cache`` the chunks are keyed by every argument, ``setting``'s network and data by content;
    ``cache_key`` may add settings of the caller's.
    """
    arguments = result_settings(locals())
    model, x, y, k = setting.model, setting.inputs, setting.targets, setting.num_classes
    P = setting.num_params
    means = {g: class_mean_gradients(model, x, y, k, grouping=g) for g in ("all", "label")}
    counts = torch.bincount(y.cpu(), minlength=k).tolist()
    priors, redraws = draw_priors(num_priors, k, seed=seed, counts=counts, subset_size=subset_size)
    dataset = _data.Dataset(x, y, k, setting.name, "train")
    gram = means["all"] @ means["all"].T  # ‖Σ c_k Δ_k‖² = Δᵀ(CCᵀ)Δ
    # label-dependent means: ∇ℓ ≈ Σ_k Q̂_k c_k^all − Q_k c_k^label; with M = [C_all; C_label] and
    # w = [Q̂; −Q], the norm is √(wᵀ(MMᵀ)w)
    stacked = torch.cat([means["all"], means["label"]])
    gram_label = stacked @ stacked.T

    def one(item):
        start = int(item)
        rows = []
        for j in range(start, min(start + chunk, num_priors)):
            sub = _data.subset_with_prior(dataset, priors[j], subset_size,
                                          generator=torch.Generator().manual_seed(seed * 1_000_003 + j))
            g, q_hat = flat_gradient(model, sub.inputs, sub.targets)
            q = torch.bincount(sub.targets.cpu(), minlength=k).to(torch.float64) / subset_size
            delta = q_hat - q
            w = torch.cat([q_hat, -q])
            rows.append({"prior": j, "delta_norm": float(delta.norm()), "grad_norm": float(g.norm()),
                         "eq9_norm": float(torch.sqrt(torch.clamp(delta @ gram @ delta, min=0))),
                         "label_norm": float(torch.sqrt(torch.clamp(w @ gram_label @ w, min=0)))})
        return rows

    key = {**arguments, "device": str(x.device)}
    chunks = cached_map("features-fig5-right", key, one, list(range(0, num_priors, chunk)), enabled=cache,
                        progress=progress, desc="class priors")
    df = pd.DataFrame([r for c in chunks for r in c])
    summary: dict[str, float] = {"num_params": P, "redraws": redraws}
    for g, c in means.items():
        sc2 = float((c ** 2).sum(1).mean() / P)
        unit = nn.functional.normalize(c, dim=1)
        summary[f"sigma_c2_{g}"] = sc2
        summary[f"printed_{g}"] = P * sc2
        summary[f"exact_{g}"] = math.sqrt(P * sc2)
        summary[f"max_cos_{g}"] = float((unit @ unit.T - torch.eye(k, dtype=unit.dtype)).abs().max())
    summary.update(fit_slope(df["delta_norm"], df["grad_norm"]))
    summary["median_grad_over_eq9"] = float(np.median(df["grad_norm"] / df["eq9_norm"]))
    summary["median_grad_over_label"] = float(np.median(df["grad_norm"] / df["label_norm"]))
    freq = torch.as_tensor(counts, dtype=torch.float64) / sum(counts)
    summary["label_norm_at_zero"] = float((freq @ (means["all"] - means["label"])).norm())
    return df, summary


# ----------------------------------------------------------------------------- Fig. 6
def init_statistics(model_spec: Mapping[str, Any], inits: Sequence[int], *, d: int = 50,
                    basis_kind: str = "orthonormal", data_seed: int = 0, device="cpu", cache: bool = False,
                    chunk: int = 25, progress: bool = True, chunk_size: int | None = None) -> pd.DataFrame:
    """Fig. 6: per Kaiming initialisation, confidence, curvature, loss and gradient norm on one batch.

    The batch is ``model_spec``'s data (balanced to ``num_samples`` with ``data_seed``), the same
    for every init. Per init: ``mean_entropy`` of the softmax, positive curvature of the projected
    Hessian and G-term (d-dimensional random subspace, basis seed ``BASIS_SEED_OFFSET + init``),
    ``loss``, the full-space ``grad_norm`` ‖∇_θℓ‖ and ``delta_norm`` ‖Q̂ − Q‖.
    """
    arguments = result_settings(locals(), exclude=("inits",))
    dev, dtype = _device_dtype(device)
    batch = build_data(dict(model_spec), seed=data_seed, dtype=dtype, device=dev)
    shape = tuple(batch.inputs.shape[1:])
    inits = [int(i) for i in inits]
    q = torch.bincount(batch.targets.cpu(), minlength=batch.num_classes).to(torch.float64) / len(batch)

    def one(part: tuple[int, ...]):
        rows = []
        for init in part:
            model = build_model(dict(model_spec), in_shape=shape, num_classes=batch.num_classes, seed=init,
                                dtype=dtype, device=dev)
            basis = random_basis(num_parameters(model), d, kind=basis_kind,
                                 generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + init),
                                 dtype=dtype, device=dev)
            dec = decompose(model, batch.inputs, batch.targets, basis, chunk_size=chunk_size)
            g, q_hat = flat_gradient(model, batch.inputs, batch.targets)
            rows.append({"init": init, "mean_entropy": dec.mean_entropy, "pc_hessian": dec.pc_hessian,
                         "pc_g_term": dec.pc_g_term, "loss": dec.loss, "grad_norm": float(g.norm()),
                         "delta_norm": float((q_hat - q).norm())})
        return rows

    key = {**arguments, "resolved_device": str(dev), "data": batch}
    items = [tuple(inits[s:s + chunk]) for s in range(0, len(inits), chunk)]
    parts = cached_map("features-fig6", key, one, items, enabled=cache, progress=progress,
                       desc="initialisations")
    return pd.DataFrame([r for part in parts for r in part])


def rank_correlations(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Spearman rank correlations (scipy.stats.spearmanr) between ``columns`` of ``df``."""
    from scipy.stats import spearmanr

    columns = list(columns)
    if len(columns) < 2:
        raise ValueError("need at least two columns")
    rho = spearmanr(df[columns].to_numpy()).statistic
    return pd.DataFrame(np.asarray(rho), index=columns, columns=columns)


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
    d, num_draws = _check_int("d", d, k), _check_int("num_draws", num_draws)
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
    k, d = _check_int("k", k, 2), _check_int("d", d, k)
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
    b = _check_int("num_batches", num_batches, 2)
    per = _check_int("num_draws", num_draws, b) // b
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
    k, d = _cfg(cfg, "num_classes"), _cfg(cfg, "subspace_dim")
    sc2, se2, draws = _cfg(cfg, "sigma_c2"), _cfg(cfg, "sigma_e2"), _cfg(cfg, "num_draws")
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


# ------------------------------------------------------------------ drivers per figure
def _seeds(cfg: Mapping[str, Any]) -> list[int]:
    base = int(cfg.get("seed", 0))
    return [base + s for s in range(_check_int("num_seeds", _cfg(cfg, "num_seeds")))]


def _progress(cfg) -> bool:
    return bool(cfg.get("progress", True))


def fig3(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 3 for every entry of ``cfg.fig3_settings`` and seed: ``(curves, seeds)``.

    ``curves``: :func:`curvature_vs_alpha` rows for every setting and seed; ``seeds``: σ's, SNR
    and q^SLSC, q^SL, q^DL of each seed's JR (F&G Eq. 11–13 on the real network).
    """
    dev, dtype = _device_dtype(_cfg(cfg, "device"))
    specs = list(_cfg(cfg, "fig3_settings"))
    d, alphas = _cfg(cfg, "subspace_dim"), list(_cfg(cfg, "alphas"))
    kind, chunk = cfg.get("basis_kind", "orthonormal"), cfg.get("chunk_size")

    def one(item):
        spec, seed, _ = item
        setting = build(dict(spec), seed=seed, dtype=dtype, device=dev)
        pl = projected_logits(setting, d, seed=seed, basis_kind=kind, chunk_size=chunk)
        return curvature_vs_alpha(pl, alphas), _seed_summary(pl)

    # each point is keyed by its model, seed and data (adding seeds or settings reuses the
    # finished ones) and by every other setting
    cache = bool(cfg.get("cache", False))
    items = [(dict(spec), s, source_identity(dict(spec)) if cache else None) for spec in specs
             for s in _seeds(cfg)]
    key = {"cfg": result_settings(cfg, exclude=("fig3_settings", "seed", "num_seeds")), "device": str(dev)}
    results = cached_map("features-fig3", key, one, items, enabled=cache, progress=_progress(cfg),
                         desc="Fig. 3 seeds")
    return pd.concat([r[0] for r in results], ignore_index=True), pd.DataFrame([r[1] for r in results])


def fig4_left(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Fig. 4 left: :func:`curvature_vs_dimension` on ``fig3_settings[0]`` with ``dims_num_samples``."""
    dev, dtype = _device_dtype(_cfg(cfg, "device"))
    spec = dict(_cfg(cfg, "fig3_settings")[0])
    spec["num_samples"] = cfg.get("dims_num_samples") or spec.get("num_samples")
    dims = [int(x) for x in _cfg(cfg, "dims")]
    alphas = list(_cfg(cfg, "dims_alphas"))
    seed = _seeds(cfg)[0]

    def compute():
        setting = build(spec, seed=seed, dtype=dtype, device=dev)
        pl = projected_logits(setting, max(dims), seed=seed, basis_kind=cfg.get("basis_kind", "orthonormal"),
                              chunk_size=cfg.get("chunk_size"))
        return curvature_vs_dimension(pl, dims, alphas)

    cache = bool(cfg.get("cache", False))
    key = {"cfg": result_settings(cfg), "device": str(dev), "data": source_identity(spec) if cache else None}
    return cached("features-fig4-left", key, compute, enabled=cache)


def fig4_right(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, torch.Tensor]:
    """Fig. 4 right: Γ_p⁻² vs entropy for ``gamma_num_logit_sets`` logit sets of the network.

    The logit sets are the unscaled logits of ``fig3_settings[0]``'s network (seed ``cfg.seed``)
    on a balanced batch of that many inputs; α runs over ``gamma_alphas``. Returns
    ``(curves, average, logits)``.
    """
    dev, dtype = _device_dtype(_cfg(cfg, "device"))
    spec = dict(_cfg(cfg, "fig3_settings")[0])
    m = _check_int("gamma_num_logit_sets", _cfg(cfg, "gamma_num_logit_sets"), 2)
    seed = _seeds(cfg)[0]
    setting = build({**spec, "num_samples": None}, seed=seed, dtype=dtype, device=dev)
    k = setting.num_classes
    full = _data.Dataset(setting.inputs, setting.targets, k, setting.name, "train")
    batch = _data.balanced_subset(full, k * math.ceil(m / k), generator=10_000 + seed)
    logits = _logits(setting.model, batch.inputs, 4096)[:m]
    curves, average = gamma_trajectories(logits, _cfg(cfg, "gamma_alphas"))
    return curves, average, logits


def fig5_left(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 5 left: :func:`gradient_cosines` for ``cosine_setting`` on ``cosine_datasets``."""
    base = int(cfg.get("seed", 0))
    inits = [base + i for i in range(_check_int("cosine_num_inits", _cfg(cfg, "cosine_num_inits")))]
    return gradient_cosines(_cfg(cfg, "cosine_setting"), _cfg(cfg, "cosine_datasets"),
                            _cfg(cfg, "cosine_num_samples"), inits, device=_cfg(cfg, "device"), data_seed=base,
                            cache=bool(cfg.get("cache", False)), progress=_progress(cfg))


def fig5_right(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Fig. 5 right: :func:`prior_sweep` on ``prior_setting`` (one unscaled init, seed ``cfg.seed``)."""
    dev, dtype = _device_dtype(_cfg(cfg, "device"))
    spec = dict(_cfg(cfg, "prior_setting"))
    seed = int(cfg.get("seed", 0))
    setting = build(spec, seed=seed, dtype=dtype, device=dev)
    return prior_sweep(setting, _cfg(cfg, "prior_num_priors"), _cfg(cfg, "prior_subset_size"), seed=seed,
                       cache=bool(cfg.get("cache", False)), cache_key={"spec": spec, "device": str(dev)},
                       progress=_progress(cfg))


def fig6(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Fig. 6: :func:`init_statistics` for ``inits_setting`` over ``num_inits`` Kaiming inits."""
    base = int(cfg.get("seed", 0))
    inits = list(range(base, base + _check_int("num_inits", _cfg(cfg, "num_inits"), 3)))
    return init_statistics(_cfg(cfg, "inits_setting"), inits, d=_cfg(cfg, "subspace_dim"),
                           basis_kind=cfg.get("basis_kind", "orthonormal"), data_seed=base,
                           device=_cfg(cfg, "device"), cache=bool(cfg.get("cache", False)),
                           progress=_progress(cfg), chunk_size=cfg.get("chunk_size"))
