"""The pre-collapse regime: App. D and Fig. 10 of Vysogorets, Dawid, Kempe (ICML 2024).

As α grows at T = 1 the softmax outputs p^μ = σ(βz^μ), β = α^L/T, collapse to one-hot
vectors one sample at a time. Just before the last one collapses, the G-term (Eq. 4) is
the contribution of that single sample μ₀, and

* positive curvature Tr(H)/‖H‖_F (Eq. 2) of the G-term and of the Hessian sits at 1
  (:func:`find_plateau` finds that stretch of a :func:`~goldilocks_core.curvature.sweep`
  table);
* the top eigenvector of the Hessian block of the first layer's weight W₁ (hidden×input),
  averaged over hidden units (rows), is the input x^{μ₀} itself
  (:func:`eigenvector_images`), because the first-layer Jacobian of sample μ is
  ∂z^μ/∂W₁ = b_k^μ (x^μ)ᵀ, an outer product with the input.

Helpers measure the pieces of that argument: per-sample softmax entropies
(:func:`sample_entropies`, :func:`entropy_collapse`) here, and the first layer's Gram
matrices, eigenpairs, trace shares and H-term in :mod:`.first_layer`. Everything is a pure
computation on a model and its data; figures live in :mod:`goldilocks_core.plotting`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import curvature, subspace
from ..functional import logits_in_chunks
from ..models import homogeneity_degree, inverse_temperature, resolve_degree
from ..progress import progress_bar
from ..validation import check_alpha, check_positive
from .first_layer import (_check_inputs, _chunk, cosine, eigenvector_image, first_layer_eigenpairs,
                          first_layer_gram, first_weight_name, g_term_trace_shares, h_term_block_ratio,
                          rank_one_share, single_sample_top_eigenvalue)

__all__ = [
    "Plateau",
    "find_plateau",
    "reference_alpha",
    "image_alphas",
    "sample_logits",
    "sample_entropies",
    "entropy_collapse",
    "PrecollapseResult",
    "eigenvector_images",
    "PrecollapseExperiment",
    "curvature_sweep",
    "plateau_summary",
    "RUN_OPTIONS",
    "options",
    "run",
    "setting_for",
    "cache_key",
    "experiment",
    "robustness",
]


# --------------------------------------------------------------------------------------------
# the plateau of positive curvature


@dataclass(frozen=True)
class Plateau:
    """A contiguous stretch of a sweep where ``column`` stays within ``tol`` of ``level``.

    ``start``/``stop`` index the rows of the α-sorted table (``stop`` exclusive).
    """

    column: str
    level: float
    tol: float
    alpha_lo: float
    alpha_hi: float
    start: int
    stop: int

    @property
    def num_points(self) -> int:
        return self.stop - self.start

    @property
    def alpha_mid(self) -> float:
        """Geometric mean of the two ends (the middle on a log α axis)."""
        return math.sqrt(self.alpha_lo * self.alpha_hi)

    @property
    def decades(self) -> float:
        """Width of the plateau in decades of α."""
        return math.log10(self.alpha_hi / self.alpha_lo)

    def __str__(self) -> str:
        return (f"{self.column} within {self.tol:g} of {self.level:g} for alpha in "
                f"[{self.alpha_lo:.3g}, {self.alpha_hi:.3g}] ({self.num_points} grid points, "
                f"{self.decades:.2f} decades)")


def _sorted_table(table: pd.DataFrame, column: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame (a curvature sweep), got {type(table).__name__}")
    for name in ("alpha", column):
        if name not in table.columns:
            raise ValueError(f"table has no column {name!r}; columns: {', '.join(map(str, table.columns))}")
    if len(table) == 0:
        raise ValueError("table is empty")
    return table.sort_values("alpha", kind="stable").reset_index(drop=True)


def find_plateau(table: pd.DataFrame, column: str = "pc_hessian", *, level: float = 1.0, tol: float = 0.05,
                 min_points: int = 2) -> Plateau | None:
    """The longest run of consecutive α (sorted) with ``|table[column] − level| ≤ tol``.

    App. D: positive curvature of the G-term and of the Hessian approaches 1, "remains
    level for a short time" and drops. Returns ``None`` when no run has ``min_points``
    points; among runs of equal length the one at the smallest α wins.
    """
    tol = check_positive("tol", tol)
    if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 1:
        raise ValueError(f"min_points must be an integer ≥ 1, got {min_points!r}")
    t = _sorted_table(table, column)
    inside = (np.abs(t[column].to_numpy(dtype=float) - level) <= tol).tolist() + [False]
    best, start = None, None
    for i, flag in enumerate(inside):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start >= min_points and (best is None or i - start > best[1] - best[0]):
                best = (start, i)
            start = None
    if best is None:
        return None
    a = t["alpha"].to_numpy(dtype=float)
    return Plateau(column, float(level), tol, float(a[best[0]]), float(a[best[1] - 1]), best[0], best[1])


def reference_alpha(table: pd.DataFrame, plateau: Plateau | None = None, *, column: str = "pc_g_term",
                    level: float = 1.0, tol: float = 0.05) -> float:
    """The α at which to look at the pre-collapse regime.

    The plateau's middle if there is one; otherwise the first α at which ``column``
    (default: the G-term's positive curvature) has come down to ``level + tol``.
    """
    if plateau is not None:
        return plateau.alpha_mid
    t = _sorted_table(table, column)
    hits = t.index[t[column].to_numpy(dtype=float) <= level + tol]
    if len(hits) == 0:
        raise ValueError(f"{column} never comes within {tol:g} of {level:g}: no pre-collapse regime on this grid")
    return float(t.loc[hits[0], "alpha"])


def image_alphas(center: float, num: int = 5, span_decades: float = 1.0) -> list[float]:
    """``num`` scales log-spaced from ``center``/10^``span_decades`` up to ``center``."""
    center = check_alpha(center)
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"num must be an integer ≥ 1, got {num!r}")
    if num == 1:
        return [center]
    span = check_positive("span_decades", span_decades)
    return [float(10.0**e) for e in np.linspace(math.log10(center) - span, math.log10(center), num)]


# --------------------------------------------------------------------------------------------
# per-sample confidence


def sample_logits(model: nn.Module, inputs, *, chunk_size: int | None = None) -> torch.Tensor:
    """z^μ = f_θ(x^μ) of the unscaled network, (N, K), computed ``chunk_size`` samples at a time."""
    x = _check_inputs(inputs)
    step = _chunk(chunk_size, x.shape[0])
    return logits_in_chunks(model, x, step)


def sample_entropies(model: nn.Module, inputs, alphas: Sequence[float], *, temperature: float = 1.0,
                     degree: int | None = None, chunk_size: int | None = None,
                     logits: torch.Tensor | None = None) -> np.ndarray:
    """Softmax entropies ℍ(p^μ) of p^μ = σ(α^L z^μ / T) in nats, shape (len(alphas), N).

    The logits of the α-scaled network are α^L z (homogeneity, §2), so one forward pass
    serves every α. Pass ``logits`` (from :func:`sample_logits`) to skip that pass.
    """
    L = resolve_degree(model, degree)
    z = sample_logits(model, inputs, chunk_size=chunk_size) if logits is None else torch.as_tensor(logits)
    out = []
    for a in alphas:
        logp = torch.log_softmax(inverse_temperature(a, temperature, L) * z, dim=-1)
        h = -(logp.exp() * logp).sum(-1)
        out.append(h.clamp_min(0.0).detach().cpu().double().numpy())
    return np.stack(out)


def entropy_collapse(entropies: np.ndarray, alphas: Sequence[float], *, top: int = 5,
                     threshold: float = 1e-3) -> pd.DataFrame:
    """The collapse of per-sample entropies, one row per α.

    Columns ``alpha``, ``entropy_1`` … ``entropy_{top}`` (the largest entropies, in
    decreasing order), ``median_entropy``, ``num_uncertain`` (samples with entropy >
    ``threshold`` nats) and ``least_confident`` (the index of the largest entropy).
    """
    H = np.asarray(entropies, dtype=float)
    a = np.asarray(alphas, dtype=float).reshape(-1)
    if H.ndim != 2 or H.shape[0] != a.size:
        raise ValueError(f"entropies must have shape (len(alphas), N) = ({a.size}, N), got {H.shape}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be an integer ≥ 1, got {top!r}")
    threshold = check_positive("threshold", threshold)
    top = min(top, H.shape[1])
    ranked = -np.sort(-H, axis=1)[:, :top]
    table = pd.DataFrame({"alpha": a})
    for j in range(top):
        table[f"entropy_{j + 1}"] = ranked[:, j]
    table["median_entropy"] = np.median(H, axis=1)
    table["num_uncertain"] = (H > threshold).sum(axis=1)
    table["least_confident"] = H.argmax(axis=1)
    return table


# --------------------------------------------------------------------------------------------
# Fig. 10: eigenvector images across α


@dataclass(frozen=True, eq=False)
class PrecollapseResult:
    """Per-α measurements (``table``) and the eigenvector images (``images``, α × input shape).

    Images are oriented (the eigenvector's sign is arbitrary) so that their inner product
    with that α's least-confident sample is ≥ 0. Table columns:

    * ``alpha``, ``beta`` (= α^L/T), ``lambda_1``, ``lambda_2`` (top eigenvalues of the
      first-layer Hessian block), ``lambda_1_single_sample`` (λ_max of the least-confident
      sample's own G-term block, α⁻²β²/N · λ_max(S Θ Sᵀ): equal to ``lambda_1`` when that
      sample alone makes the block);
    * ``least_confident`` (argmax entropy), ``entropy_1``, ``entropy_2`` (two largest
      entropies), ``num_uncertain`` (entropy > threshold);
    * ``dominant_sample`` and ``dominant_share`` (largest Tr(G^μ)/Tr(G) in the block),
      ``least_confident_share``;
    * ``rank_one`` (σ₁²/‖V‖_F² of the eigenvector as a matrix), ``cos_least_confident``,
      ``cos_mean_image``, ``runner_up`` (the other sample with the largest |cos|),
      ``cos_runner_up``, ``cos_best_match_sample`` and ``best_match`` over all samples.
      Cosines are absolute values (orientation-free).
    """

    table: pd.DataFrame
    images: np.ndarray
    input_shape: tuple[int, ...]
    parameter: str


def eigenvector_images(model: nn.Module, inputs, targets, alphas: Sequence[float], *,
                       parameter: str | None = None, temperature: float = 1.0, entropy_threshold: float = 1e-3,
                       reduce: str = "mean", chunk_size: int | None = None, gram_chunk_size: int = 64,
                       tol: float = 1e-8, generator=0, gram: torch.Tensor | None = None,
                       progress: bool = True) -> PrecollapseResult:
    """Fig. 10 of the paper: the first layer's top Hessian eigenvector as an image, per α.

    For every α: the top two eigenpairs of the Hessian block of W₁ (hidden×input) at
    T = ``temperature``, the row-averaged eigenvector reshaped to the input shape, the
    per-sample entropies, each sample's share of the block's G-term trace, and cosines
    between the image and the inputs (see :class:`PrecollapseResult`). ``gram`` (from
    :func:`first_layer_gram`) may be passed to reuse it across calls.
    """
    x = _check_inputs(inputs)
    name = first_weight_name(model, parameter)
    L = homogeneity_degree(model)
    input_shape = tuple(int(s) for s in x.shape[1:])
    flat = x.reshape(x.shape[0], -1).detach().cpu().double().numpy()
    n = flat.shape[0]
    norms = np.linalg.norm(flat, axis=1)
    if np.any(norms == 0):
        raise ValueError("an input sample is all zeros: its cosine with an eigenvector is undefined")
    units = flat / norms[:, None]
    mean_image = flat.mean(axis=0)
    z = sample_logits(model, x, chunk_size=chunk_size)
    if gram is None:
        gram = first_layer_gram(model, x, parameter=name, chunk_size=gram_chunk_size)
    alphas = [check_alpha(a) for a in alphas]
    if not alphas:
        raise ValueError("alphas must not be empty")
    entropies = sample_entropies(model, x, alphas, temperature=temperature, degree=L, logits=z)
    rows, images = [], []
    for i, a in enumerate(progress_bar(alphas, enabled=progress, desc="first-layer eigenvectors")):
        beta = inverse_temperature(a, temperature, L)
        values, matrix = first_layer_eigenpairs(model, x, targets, a, k=2, parameter=name, temperature=temperature,
                                                chunk_size=chunk_size, tol=tol, generator=generator)
        img = eigenvector_image(matrix, input_shape, reduce=reduce).reshape(-1)
        H = entropies[i]
        mu0 = int(H.argmax())
        if img @ flat[mu0] < 0:
            img = -img
        cos_all = np.abs(units @ (img / np.linalg.norm(img)))
        others = cos_all.copy()
        others[mu0] = -np.inf
        runner = int(others.argmax())
        shares = g_term_trace_shares(gram, z, beta)
        ranked = np.sort(H)[::-1]
        rows.append({
            "alpha": a, "beta": beta,
            "lambda_1": float(values[0]), "lambda_2": float(values[1]),
            "lambda_1_single_sample": single_sample_top_eigenvalue(gram, z, beta, mu0) / (a**2 * n),
            "least_confident": mu0, "entropy_1": float(ranked[0]),
            "entropy_2": float(ranked[1]) if ranked.size > 1 else 0.0,
            "num_uncertain": int((H > entropy_threshold).sum()),
            "dominant_sample": int(shares.argmax()), "dominant_share": float(shares.max()),
            "least_confident_share": float(shares[mu0]),
            "rank_one": rank_one_share(matrix),
            "cos_least_confident": float(cos_all[mu0]),
            "cos_mean_image": abs(cosine(img, mean_image)),
            "runner_up": runner, "cos_runner_up": float(cos_all[runner]),
            "best_match": int(cos_all.argmax()), "cos_best_match_sample": float(cos_all.max()),
        })
        images.append(img.reshape(input_shape))
    return PrecollapseResult(pd.DataFrame(rows), np.stack(images), input_shape, name)


# --------------------------------------------------------------------------------------------
# the whole appendix in one call


@dataclass(frozen=True, eq=False)
class PrecollapseExperiment:
    """Everything App. D plots and prints, for one network on one data set.

    * ``sweep``: :func:`goldilocks_core.curvature.sweep` over ``alphas`` (T = 1) with the
      columns ``dominant_share`` (largest per-sample share of the first-layer G-term trace),
      ``dominant_sample``, ``num_uncertain`` and ``least_confident`` added;
    * ``plateau`` / ``g_plateau``: :func:`find_plateau` of ``pc_hessian`` / ``pc_g_term``;
    * ``entropies``: :func:`entropy_collapse` on the finer ``entropy_alphas``;
    * ``eigen``: :func:`eigenvector_images` at ``image_alphas``, which end at
      ``reference_alpha`` (the plateau's middle, see :func:`reference_alpha`);
    * ``h_term_ratio``: :func:`h_term_block_ratio` of the first layer at ``reference_alpha``.
    """

    sweep: pd.DataFrame
    plateau: Plateau | None
    g_plateau: Plateau | None
    entropies: pd.DataFrame
    eigen: PrecollapseResult
    reference_alpha: float
    image_alphas: list[float]
    h_term_ratio: float


def curvature_sweep(setting, *, alphas: Sequence[float], subspace_dim: int = 50,
                    basis_kind: str = "orthonormal", seed: int = 0, chunk_size: int | None = None,
                    progress: bool = True) -> pd.DataFrame:
    """:func:`goldilocks_core.curvature.sweep` at T = 1 on a random subspace drawn with ``seed``, sorted by α."""
    model, x, y = setting.model, setting.inputs, setting.targets
    P = sum(p.numel() for p in model.parameters() if p.requires_grad)
    R = subspace.random_basis(P, subspace_dim, kind=basis_kind, generator=torch.Generator().manual_seed(seed),
                              dtype=x.dtype, device=x.device)
    table = curvature.sweep(model, x, y, R, alphas=list(alphas), chunk_size=chunk_size, progress=progress)
    return table.sort_values("alpha", kind="stable").reset_index(drop=True)


def plateau_summary(table: pd.DataFrame, *, plateau_tol: float = 0.05, g_plateau_tol: float = 0.01) -> dict:
    """The plateaus of one sweep in numbers: ends of the Hessian and G-term plateaus
    (NaN when absent), how many grid points have |pc_hessian − 1| ≤ ``plateau_tol``, the
    pc_hessian value closest to 1, its α, and the G-term's positive curvature at that α."""
    p = find_plateau(table, "pc_hessian", tol=plateau_tol)
    g = find_plateau(table, "pc_g_term", tol=g_plateau_tol)
    pc_h = table["pc_hessian"].to_numpy(dtype=float)
    closest = int(np.argmin(np.abs(pc_h - 1.0)))
    nan = float("nan")
    return {
        "hessian_lo": p.alpha_lo if p else nan, "hessian_hi": p.alpha_hi if p else nan,
        "hessian_points_near_1": int((np.abs(pc_h - 1.0) <= plateau_tol).sum()),
        "pc_hessian_closest_to_1": float(pc_h[closest]),
        "alpha_closest_to_1": float(table["alpha"].iloc[closest]),
        "pc_g_term_there": float(table["pc_g_term"].iloc[closest]),
        "g_term_lo": g.alpha_lo if g else nan, "g_term_hi": g.alpha_hi if g else nan,
    }


RUN_OPTIONS = ("alphas", "subspace_dim", "basis_kind", "plateau_tol", "g_plateau_tol", "entropy_alphas",
               "entropy_threshold", "num_images", "image_span_decades", "chunk_size", "gram_chunk_size")


def options(cfg) -> dict:
    """The keyword arguments of :func:`run` found in a chapter's settings mapping."""
    return {k: cfg[k] for k in RUN_OPTIONS if k in cfg}


def run(setting, *, alphas: Sequence[float], subspace_dim: int = 50, basis_kind: str = "orthonormal",
        seed: int = 0,
        plateau_tol: float = 0.05, g_plateau_tol: float = 0.01, entropy_alphas: Sequence[float] | None = None,
        entropy_threshold: float = 1e-3, top: int = 5, num_images: int = 5, image_span_decades: float = 1.0,
        chunk_size: int | None = None, gram_chunk_size: int = 64, progress: bool = True) -> PrecollapseExperiment:
    """App. D for a :class:`~goldilocks_core.experiments.setup.Setting` (model, inputs, targets).

    A curvature sweep over ``alphas`` on a random ``subspace_dim``-dimensional subspace
    (kind ``basis_kind``, drawn with ``seed``), the plateaus of positive curvature at 1, the
    per-sample entropies, and the first layer's top Hessian eigenvector as an image at
    ``num_images`` scales spanning ``image_span_decades`` decades up to the reference α.
    """
    model, x, y = setting.model, setting.inputs, setting.targets
    table = curvature_sweep(setting, alphas=alphas, subspace_dim=subspace_dim, basis_kind=basis_kind, seed=seed,
                            chunk_size=chunk_size, progress=progress)

    L = homogeneity_degree(model)
    z = sample_logits(model, x, chunk_size=chunk_size)
    gram = first_layer_gram(model, x, chunk_size=gram_chunk_size, progress=progress)
    shares = [g_term_trace_shares(gram, z, inverse_temperature(a, 1.0, L)) for a in table["alpha"]]
    H = sample_entropies(model, x, table["alpha"].tolist(), degree=L, logits=z)
    table["dominant_share"] = [float(s.max()) for s in shares]
    table["dominant_sample"] = [int(s.argmax()) for s in shares]
    table["num_uncertain"] = (H > check_positive("entropy_threshold", entropy_threshold)).sum(axis=1)
    table["least_confident"] = H.argmax(axis=1)

    plateau = find_plateau(table, "pc_hessian", tol=plateau_tol)
    g_plateau = find_plateau(table, "pc_g_term", tol=g_plateau_tol)
    center = reference_alpha(table, plateau, tol=plateau_tol)
    chosen = image_alphas(center, num_images, image_span_decades)

    e_alphas = list(table["alpha"]) if entropy_alphas is None else list(entropy_alphas)
    entropies = entropy_collapse(sample_entropies(model, x, e_alphas, degree=L, logits=z), e_alphas,
                                 top=top, threshold=entropy_threshold)
    eigen = eigenvector_images(model, x, y, chosen, entropy_threshold=entropy_threshold, chunk_size=chunk_size,
                               gram=gram, generator=seed, progress=progress)
    ratio = h_term_block_ratio(model, x, y, center, chunk_size=chunk_size, generator=seed)
    return PrecollapseExperiment(table, plateau, g_plateau, entropies, eigen, center, chosen, ratio)


# --------------------------------------------------------------------------------------------
# the appendix's drivers: settings in, cached results out


def setting_for(cfg, seed: int | None = None):
    """The model and data of App. D's settings (``cfg.model``) initialised with ``seed``
    (default ``cfg.seed``), on ``cfg.device`` in that device's working precision
    (float64 on the CPU)."""
    from ..devices import default_dtype, resolve_device
    from .setup import build

    dev = resolve_device(cfg["device"])
    return build(dict(cfg["model"]), seed=int(cfg["seed"] if seed is None else seed), device=dev,
                 dtype=default_dtype(dev))


def cache_key(cfg, setting, **extra) -> dict:
    """What a cached App. D result depends on: every setting, the network's name and ``extra``."""
    return {**dict(cfg), "setting": setting.name, **extra}


def experiment(cfg, setting=None, *, progress: bool = False) -> PrecollapseExperiment:
    """:func:`run` with App. D's settings for seed ``cfg.seed`` (cached when ``cfg.cache``)."""
    from .cache import cached

    setting = setting_for(cfg) if setting is None else setting
    return cached("appendix_d", cache_key(cfg, setting),
                  lambda: run(setting, **options(cfg), seed=int(cfg["seed"]), progress=progress),
                  enabled=bool(cfg["cache"]))


def robustness(cfg, first: PrecollapseExperiment) -> pd.DataFrame:
    """:func:`plateau_summary` for seed ``cfg.seed`` (from ``first``) and each of ``cfg.robustness_seeds``.

    Each further seed draws new weights and a new subspace and sweeps ``cfg.robustness_alphas``
    (cached per seed when ``cfg.cache``). Returns one row per seed (index ``seed``).
    """
    from .cache import cached

    tols = {"plateau_tol": cfg["plateau_tol"], "g_plateau_tol": cfg["g_plateau_tol"]}
    rows = {int(cfg["seed"]): plateau_summary(first.sweep, **tols)}
    base = setting_for(cfg)
    for sd in cfg["robustness_seeds"]:
        other = setting_for(cfg, sd)
        table = cached("appendix_d_seed", cache_key(cfg, base, robust_seed=int(sd)), lambda: curvature_sweep(
            other, alphas=cfg["robustness_alphas"], subspace_dim=cfg["subspace_dim"], basis_kind=cfg["basis_kind"],
            seed=int(sd), chunk_size=cfg["chunk_size"], progress=False), enabled=bool(cfg["cache"]))
        rows[int(sd)] = plateau_summary(table, **tols)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "seed"
    return out
