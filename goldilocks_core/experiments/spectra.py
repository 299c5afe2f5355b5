"""Spectra of the loss Hessian, its G-term and its H-term: bulk, outliers and the BBP picture.

App. A of Vysogorets, Dawid & Kempe (ICML 2024) surveys the "bulk + outliers" shape of
neural-network Hessian spectra (Sagun et al. 2017; Ghorbani et al. 2019; Papyan 2020): the
PSD G-term Jᵀ(diag p − ppᵀ)J carries a handful of large outliers tied to the classes, the
H-term Σ_k (p − y)_k ∇²z_k a continuous bulk around zero, and the Hessian (Eq. 4) inherits
both. §3 explains the edges of the Goldilocks zone by a BBP transition (Baik, Ben Arous &
Péché 2005): once ‖G‖₂ falls below the H-term's bulk, the outliers sink into it.

This driver measures that picture for one network at several (α, T):

* :func:`count_outliers` — the number of eigenvalues above the bulk edge ‖H-term‖₂.
* :func:`measure_spectra` — densities on a common grid, top eigenvalues, SLQ traces and
  Frobenius norms and outlier counts of the three terms, for a list of α.
* :func:`h_term_diagonal_blocks` — the layer-diagonal blocks of the H-term, which vanish
  for bias-free ReLU networks, so that Tr(H-term) = 0 exactly (Pennington & Bahri 2017).
* :func:`bbp_outlier`, :func:`bbp_overlap`, :func:`spiked_wigner` — the BBP transition of
  a Wigner matrix plus a rank-one spike, in the limit and at finite size.

Everything here is computation; the figure is :func:`goldilocks_core.plotting.spectral_density_figure`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..claims import significant
from ..estimators import RitzValues, SpectralDensity, gaussian_density, hessian_operator, slq, top_ritz_values
from ..functional import parameter_slices
from ..progress import progress_bar
from ..validation import check_alpha, check_count, check_positive, check_temperature

__all__ = [
    "TERMS",
    "count_outliers",
    "TermSpectrum",
    "SpectraPoint",
    "measure_spectra",
    "appendix_a",
    "h_term_diagonal_blocks",
    "bbp_outlier",
    "bbp_overlap",
    "spiked_wigner",
]

TERMS = ("hessian", "g_term", "h_term")


def count_outliers(eigenvalues, edge: float, *, margin: float = 0.0) -> int:
    """Number of eigenvalues above the bulk edge by more than ``margin`` (relative).

    Counts λ > (1 + ``margin``)·``edge``; ``nan`` entries are ignored. With the edge
    ‖H-term‖₂ of :func:`measure_spectra` and no margin, a count ≥ 1 for the G-term is the
    paper's zone criterion ‖G‖₂ > ‖H-term‖₂ (§3 of Vysogorets et al. 2024). A margin keeps
    eigenvalues that merely hug the edge out of the count: λ_max(H) ≥ λ_max(H-term) always
    holds, since the G-term is PSD (Weyl).
    """
    ev = np.asarray(eigenvalues, dtype=np.float64).reshape(-1)
    try:
        edge = float(edge)
    except (TypeError, ValueError):
        raise ValueError(f"edge must be a finite number >= 0, got {edge!r}") from None
    if not np.isfinite(edge) or edge < 0:
        raise ValueError(f"edge must be a finite number >= 0, got {edge!r}")
    try:
        margin = float(margin)
    except (TypeError, ValueError):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}") from None
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    return int(np.sum(ev[np.isfinite(ev)] > (1.0 + margin) * edge))


@dataclass(frozen=True)
class TermSpectrum:
    """One curvature object at one (α, T): its SLQ density, extreme eigenvalues and moments.

    ``trace`` and ``squared_frobenius`` are the Hutchinson estimates that the SLQ probes give
    for free (P·vᵀAv/‖v‖² and P·‖Av‖²/‖v‖², i.e. P·(T₁₁) and P·(T₁₁² + T₁₂²) of each
    probe's tridiagonal), with standard errors over probes.
    """

    term: str
    density: SpectralDensity
    top: RitzValues
    bottom: float
    trace: float
    trace_standard_error: float
    squared_frobenius: float
    squared_frobenius_standard_error: float

    @property
    def spectral_norm(self) -> float:
        """max |λ| from the extreme Ritz values (a lower bound, sharp once converged)."""
        return float(max(abs(self.top.values[0]), abs(self.bottom)))

    @property
    def frobenius(self) -> float:
        return float(np.sqrt(max(self.squared_frobenius, 0.0)))

    @property
    def positive_curvature(self) -> float:
        """Tr/‖·‖_F (Eq. 2) from the SLQ probes (``nan`` for the zero operator)."""
        return self.trace / self.frobenius if self.frobenius > 0 else float("nan")


@dataclass(frozen=True)
class SpectraPoint:
    """The Hessian, G-term and H-term at one (α, T), and the outliers above the bulk edge.

    ``edge`` is ‖H-term‖₂; ``outliers[term]`` counts the term's eigenvalues above
    (1 + ``margin``)·``edge`` (for ``"hessian"`` and ``"g_term"``).
    """

    alpha: float
    temperature: float
    num_params: int
    terms: dict[str, TermSpectrum]
    edge: float
    margin: float = 0.0
    outliers: dict[str, int] = field(default_factory=dict)


def measure_spectra(
    setting,
    alphas: Sequence[float],
    *,
    temperature: float = 1.0,
    terms: Sequence[str] = TERMS,
    num_probes: int = 10,
    lanczos_steps: int = 80,
    num_top: int = 20,
    num_points: int = 1500,
    resolution: float = 400.0,
    margin: float = 0.1,
    chunk_size: int | None = None,
    probe_block: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> list[SpectraPoint]:
    """Spectra of H(α, T), its G-term and its H-term (Eq. 4–5) for every α in ``alphas``.

    Parameters
    ----------
    setting
        A :class:`~goldilocks_core.experiments.setup.Setting` (model, inputs, targets).
    alphas, temperature
        The scales α (> 0) and the softmax temperature T; α ≠ 1 needs a homogeneous model.
    terms
        Which of ``"hessian"``, ``"g_term"``, ``"h_term"``; the H-term is always measured,
        because its spectral norm is the bulk edge.
    num_probes, lanczos_steps, probe_block
        SLQ settings (:func:`goldilocks_core.estimators.slq`); the same probes (seeded by ``seed``) for
        every term and every α.
    num_top
        How many extreme eigenvalues to keep (best Ritz values over the probes).
    num_points, resolution
        The densities share one grid of ``num_points`` points per α; the Gaussian width is
        σ = max(span of all nodes / ``resolution``, width of the H-term's spectrum /
        ``lanczos_steps``): narrower than the spacing of the Gauss nodes, the smoothed
        density would show a comb of quadrature nodes instead of the bulk.
    margin
        Outliers are eigenvalues above (1 + ``margin``)·‖H-term‖₂ (:func:`count_outliers`).

    Returns one :class:`SpectraPoint` per α.
    """
    temperature = check_temperature(temperature)
    alphas = [check_alpha(a) for a in alphas]
    if not alphas:
        raise ValueError("alphas is empty: give at least one scale")
    wanted = list(dict.fromkeys(terms))
    for term in wanted:
        if term not in TERMS:
            raise ValueError(f"terms must be among {', '.join(TERMS)}, got {term!r}")
    if "h_term" not in wanted:
        wanted.append("h_term")
    num_top = check_count("num_top", num_top)
    num_points = check_count("num_points", num_points, minimum=2)
    resolution = check_positive("resolution", resolution)
    count_outliers([], 1.0, margin=margin)  # validates the margin before any work
    num_probes = check_count("num_probes", num_probes)
    lanczos_steps = check_count("lanczos_steps", lanczos_steps)

    points = []
    jobs = [(a, t) for a in alphas for t in wanted]
    raw = {}
    for alpha, term in progress_bar(jobs, enabled=progress, desc="spectra"):
        op = hessian_operator(setting.model, setting.inputs, setting.targets, alpha=alpha,
                              temperature=temperature, term=term, chunk_size=chunk_size)
        raw[alpha, term] = slq(op, num_probes=num_probes, lanczos_steps=lanczos_steps, generator=seed,
                               probe_block=probe_block, progress=False)
    for alpha in alphas:
        runs = {t: raw[alpha, t] for t in wanted}
        every = np.concatenate([r.nodes for r in runs.values()])
        lo, hi = float(every.min()), float(every.max())
        span = hi - lo
        h_nodes = runs["h_term"].nodes
        bulk = float(h_nodes.max() - h_nodes.min())  # m Lanczos steps resolve ≈ bulk / m
        sigma = max(span / resolution, bulk / lanczos_steps)
        if not sigma > 0:
            sigma = max(abs(hi), 1.0) * 1e-3
        grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, num_points)
        spectra = {}
        for term, r in runs.items():
            density = SpectralDensity(grid, gaussian_density(r.nodes, r.weights, grid, sigma),
                                      r.nodes, r.weights, float(sigma))
            bottom = float(min(v.values[-1] for v in r.ritz))
            spectra[term] = TermSpectrum(term, density, top_ritz_values(r.ritz, num_top), bottom, r.trace,
                                         r.trace_standard_error, r.squared_frobenius,
                                         r.squared_frobenius_standard_error)
        edge = spectra["h_term"].spectral_norm
        outliers = {t: count_outliers(spectra[t].top.values, edge, margin=margin)
                    for t in ("hessian", "g_term") if t in spectra}
        points.append(SpectraPoint(alpha, temperature, r.dim, spectra, edge, margin, outliers))
    return points


def appendix_a(cfg, setting) -> list[SpectraPoint]:
    """App. A's driver: :func:`measure_spectra` of ``setting`` at ``cfg.alphas`` with the chapter's
    SLQ settings, cached under the full settings when ``cfg.cache`` (the paper profile).

    Parameters
    ----------
    cfg
        The ``appendix_a`` settings (:func:`goldilocks_core.profiles.settings`).
    setting
        The network and data (:func:`goldilocks_core.experiments.setup.build` of ``cfg.model``).

    Returns
    -------
    list of SpectraPoint
        One per α.
    """
    from .cache import cached

    key = {**dict(cfg), "setting": setting.name}
    return cached("appendix_a", key, lambda: measure_spectra(
        setting, cfg.alphas, temperature=cfg.temperature, num_probes=cfg.num_probes,
        lanczos_steps=cfg.lanczos_steps, num_top=cfg.num_top, margin=cfg.margin, chunk_size=cfg.chunk_size,
        probe_block=cfg.probe_block, seed=cfg.seed, progress=False), enabled=cfg.cache)


def h_term_diagonal_blocks(model, inputs, targets, *, alpha: float = 1.0, temperature: float = 1.0,
                           num_vectors: int = 2, chunk_size: int | None = None, seed: int = 0) -> dict[str, float]:
    """‖H_ll V‖_F / ‖H_{·l} V‖_F for every parameter tensor l: how much of the H-term's column
    block l lies on its diagonal block.

    For a bias-free ReLU network the logits are linear in each weight tensor once the others
    are fixed, so every diagonal block ∇²_{W_l} z_k of the H-term Σ_k (p − y)_k ∇²z_k vanishes
    and Tr(H-term) = Σ_l Tr(H_ll) = 0 exactly (the block off-diagonal structure noted by
    Pennington & Bahri 2017). ``V`` holds ``num_vectors`` Rademacher vectors supported on
    block l.
    """
    num_vectors = check_count("num_vectors", num_vectors)
    kwargs = dict(alpha=alpha, temperature=temperature, term="h_term", chunk_size=chunk_size)
    full = hessian_operator(model, inputs, targets, **kwargs)
    rng = np.random.default_rng(seed)
    ratios = {}
    for name, sl in parameter_slices(model).items():
        block = hessian_operator(model, inputs, targets, parameters=name, **kwargs)
        size = sl.stop - sl.start
        V = rng.integers(0, 2, size=(size, num_vectors)) * 2.0 - 1.0
        embedded = np.zeros((full.shape[0], num_vectors))
        embedded[sl] = V
        column = np.linalg.norm(full.matmat(embedded))
        diagonal = np.linalg.norm(block.matmat(V))
        ratios[name] = float(diagonal / column) if column > 0 else float("nan")
    return ratios


def bbp_outlier(theta, sigma: float = 1.0) -> np.ndarray:
    """Limit of the top eigenvalue of W + θuuᵀ (‖u‖ = 1), W Wigner with semicircle on [−2σ, 2σ].

    The additive form of the BBP transition (Baik, Ben Arous & Péché 2005; Péché 2006;
    Benaych-Georges & Nadakuditi 2011): θ + σ²/θ when θ > σ, otherwise the bulk edge 2σ,
    where the spike is swallowed by the bulk.
    """
    sigma = check_positive("sigma", sigma)
    theta = np.asarray(theta, dtype=np.float64)
    safe = np.where(theta > sigma, theta, 2 * sigma)
    return np.where(theta > sigma, safe + sigma**2 / safe, 2 * sigma)


def bbp_overlap(theta, sigma: float = 1.0) -> np.ndarray:
    """Limit of ⟨u, v⟩², v the top eigenvector of W + θuuᵀ: 1 − σ²/θ² above θ = σ, else 0."""
    sigma = check_positive("sigma", sigma)
    theta = np.asarray(theta, dtype=np.float64)
    safe = np.where(theta > sigma, theta, sigma)
    return np.where(theta > sigma, 1 - sigma**2 / safe**2, 0.0)


def spiked_wigner(dim: int, thetas: Sequence[float], *, sigma: float = 1.0,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top eigenvalue and squared overlap ⟨u, v⟩² of W + θuuᵀ for each θ, at finite ``dim``.

    One GOE-like W (off-diagonal variance σ²/``dim``, bulk [−2σ, 2σ]) and one random unit
    u shared by all θ, so the curves differ only through θ.
    """
    dim = check_count("dim", dim, minimum=2)
    sigma = check_positive("sigma", sigma)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dim, dim))
    W = sigma * (X + X.T) / np.sqrt(2 * dim)
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    tops, overlaps = [], []
    for theta in thetas:
        values, vectors = np.linalg.eigh(W + float(theta) * np.outer(u, u))
        tops.append(values[-1])
        overlaps.append(float(vectors[:, -1] @ u) ** 2)
    return np.array(tops), np.array(overlaps)


# ------------------------------------------------------------------ App. A: reading the spectra

__all__ += ["largest_gap", "outlier_convergence", "outlier_shifts", "collapse_census", "summary_frame",
            "claims_rows"]


def largest_gap(values, n: int = 20) -> tuple[int, float]:
    """Where the top ``n`` positive eigenvalues break: the j maximising λ_j / λ_{j+1}, and that ratio.

    Returns ``(0, nan)`` when fewer than two finite positive values are given (e.g. a zero G-term).
    """
    n = check_count("n", n, minimum=2)
    v = np.asarray(values, dtype=np.float64).reshape(-1)[:n]
    v = v[np.isfinite(v) & (v > 0)]
    if v.size < 2:
        return 0, float("nan")
    ratios = v[:-1] / v[1:]
    j = int(np.argmax(ratios))
    return j + 1, float(ratios[j])


def outlier_convergence(point: SpectraPoint, *, term: str = "hessian", tol: float = 1e-6,
                        far: float = 2.0) -> dict[str, int]:
    """How many of ``term``'s counted outliers have converged, ‖Ay − θy‖ < ``tol``·θ.

    Returns the counts ``outliers``, ``converged``, ``far`` (outliers above ``far``·edge) and
    ``far_converged``: outliers well clear of the bulk converge first (Lanczos).
    """
    if term not in point.outliers:
        raise ValueError(f"no outlier count for term {term!r}; have {sorted(point.outliers)}")
    n = point.outliers[term]
    top = point.terms[term].top
    vals, res = top.values[:n], top.residuals[:n]
    ok = res < tol * np.abs(vals)
    clear = vals > far * point.edge
    return {"outliers": int(n), "converged": int(ok.sum()), "far": int(clear.sum()),
            "far_converged": int((ok & clear).sum())}


def outlier_shifts(point: SpectraPoint, k: int | None = None) -> np.ndarray:
    """λ_i(H) − λ_i(G-term) for the top ``k`` (default: the Hessian's outliers) eigenvalues.

    Weyl's inequality bounds each shift by ‖H-term‖₂ (``point.edge``) for any matrices; spiked
    matrix theory (Benaych-Georges & Nadakuditi 2011) says a strong spike moves much less.
    """
    k = point.outliers.get("hessian", 0) if k is None else check_count("k", k)
    h, g = point.terms["hessian"].top.values, point.terms["g_term"].top.values
    return (h[:k] - g[:k]).astype(np.float64)


def collapse_census(setting, alpha: float, *, temperature: float = 1.0, num_vectors: int = 4,
                    seed: int = 0) -> dict[str, float]:
    """Is the G-term exactly zero at ``alpha``? What the softmax and the G-term operator give.

    The softmax σ_T(α^L z) (Eq. 1, 3) is evaluated in the setting's dtype; a sample whose
    probabilities are one-hot in floating point contributes exactly zero to
    G = Jᵀ(diag p − ppᵀ)J (Eq. 4). Returns the number of samples that are *not* one-hot, the
    largest non-top probability, and max |G v| over ``num_vectors`` Rademacher vectors v
    (0.0 exactly when the G-term vanishes in floating point).
    """
    import torch

    from ..losses import probabilities

    alpha = check_alpha(alpha)
    temperature = check_temperature(temperature)
    num_vectors = check_count("num_vectors", num_vectors)
    degree = setting.degree
    with torch.no_grad():
        logits = setting.model(setting.inputs) * alpha**degree
        p = probabilities(logits, temperature)
    rest = p.clone()
    rest[torch.arange(p.shape[0]), p.argmax(dim=1)] = 0.0
    second = rest.max(dim=1).values
    op = hessian_operator(setting.model, setting.inputs, setting.targets, alpha=alpha,
                          temperature=temperature, term="g_term")
    rng = np.random.default_rng(seed)
    V = rng.integers(0, 2, size=(op.shape[0], num_vectors)) * 2.0 - 1.0
    gv = float(np.abs(op.matmat(V)).max())
    return {"alpha": float(alpha), "samples": int(p.shape[0]),
            "not_one_hot": int((second > 0).sum()), "max_second_probability": float(second.max()),
            "max_abs_gv": gv}


def summary_frame(points: Sequence[SpectraPoint], digits: int = 3):
    """One row per α: bulk edge ‖H-term‖₂, ‖G‖₂, outliers of H and G-term, and the full-space
    positive curvature Tr/‖·‖_F (Eq. 2) of each term with its standard error, rounded."""
    import pandas as pd

    def r(x):
        return significant(x, digits)

    rows = []
    for p in points:
        row = {"alpha": p.alpha, "|H-term|_2 (edge)": r(p.edge),
               "|G-term|_2": r(p.terms["g_term"].spectral_norm),
               "outliers H": p.outliers.get("hessian"), "outliers G": p.outliers.get("g_term")}
        for t in TERMS:
            ts = p.terms[t]
            if ts.frobenius > 0:
                row[f"PC {t}"] = round(ts.positive_curvature, 2) + 0.0
                row[f"± {t}"] = round(ts.trace_standard_error / ts.frobenius, 2) + 0.0
            else:
                row[f"PC {t}"], row[f"± {t}"] = float("nan"), float("nan")
        rows.append(row)
    return pd.DataFrame(rows).set_index("alpha")


def claims_rows(points: Sequence[SpectraPoint], num_classes: int, *, main_alpha: float = 1.0,
                gap_window: int = 20, max_outliers_per_class: int = 2, match_rtol: float = 0.1,
                symmetry_tol: float = 0.25) -> list:
    """App. A's testable statements about the spectrum at ``main_alpha`` and outside the zone.

    Criteria (fixed before the numbers were seen):

    * bulk + outliers (Sagun et al.): the Hessian has at least one and at most
      ``max_outliers_per_class``·K eigenvalues above (1 + m)·‖H-term‖₂;
    * about K outliers (K − 1 in App. B): the largest ratio λ_j/λ_{j+1} among the Hessian's top
      ``gap_window`` eigenvalues falls at j ∈ {K − 1, K};
    * the G-term dominates (App. A, Eq. 6): ‖G‖₂ > ‖H-term‖₂;
    * the Hessian's outliers are the G-term's (spiked matrices, Perry et al. 2018): the top
      min(K − 1, #outliers) eigenvalues of H and of the G-term agree within ``match_rtol``;
    * the H-term is a nearly symmetric bulk (Papyan 2018, Pennington & Bahri 2017):
      |λ_min + λ_max| ≤ ``symmetry_tol``·λ_max for the H-term;
    * outside the zone the spikes are swallowed (§3, BBP): ‖G‖₂ < ‖H-term‖₂ at every other α.
    """
    from .. import claims as C

    K = check_count("num_classes", num_classes, minimum=2)
    points = list(points)
    main = next((p for p in points if np.isclose(p.alpha, main_alpha)), None)
    if main is None:
        raise ValueError(f"no spectrum at main_alpha = {main_alpha}; have {[p.alpha for p in points]}")
    outside = [p for p in points if p is not main]
    H, G, Hs = (main.terms[t] for t in TERMS)
    a = f"α = {main.alpha:g}"
    n_out = main.outliers["hessian"]
    rows = [C.check(
        "Hessian spectrum: a bulk plus a few outliers", source="App. A",
        paper="a handful of large outliers", here=f"{n_out} above {1 + main.margin:g}·‖H-term‖₂ at {a}",
        holds=1 <= n_out <= max_outliers_per_class * K,
        criterion=f"1 ≤ #outliers ≤ {max_outliers_per_class}K")]
    j, ratio = largest_gap(H.top.values, gap_window)
    rows.append(C.check(
        "number of outliers ≈ K (K − 1)", source="App. A, App. B",
        paper=f"K = {K} (K − 1 = {K - 1})",
        here=f"largest gap after λ_{j} (ratio {C.fmt(ratio)})",
        holds=j in (K - 1, K), criterion=f"largest λ_j/λ_(j+1) of the top {gap_window} at j ∈ {{K−1, K}}"))
    ratio_g = G.spectral_norm / main.edge if main.edge > 0 else float("nan")
    rows.append(C.check(
        "G-term outliers dominate the H-term bulk", source="App. A, Eq. 6",
        paper="‖G‖₂ > ‖H-term‖₂ near α = 1", here=f"‖G‖₂/‖H-term‖₂ = {C.fmt(ratio_g)}",
        holds=C.at_least(ratio_g, 1.0) and ratio_g > 1.0, criterion="ratio > 1"))
    k = max(1, min(K - 1, n_out))
    rel = np.abs(outlier_shifts(main, k)) / np.abs(H.top.values[:k])
    worst = float(np.max(rel)) if rel.size and np.all(np.isfinite(rel)) else float("nan")
    rows.append(C.check(
        "Hessian outliers are the G-term's", source="App. A",
        paper="spectrum ≈ union of the two", here=f"top {k}: max |λ(H) − λ(G)|/λ(H) = {C.fmt(worst, 2)}",
        holds=C.at_most(worst, match_rtol), criterion=f"≤ {match_rtol:g}"))
    top, bottom = Hs.top.values[0], Hs.bottom
    asym = abs(top + bottom) / top if top > 0 else float("nan")
    rows.append(C.check(
        "H-term: a nearly symmetric bulk", source="App. A",
        paper="Wigner-like bulk", here=f"λ_min = {C.fmt(bottom)}, λ_max = {C.fmt(top)}",
        holds=C.at_most(asym, symmetry_tol), criterion=f"|λ_min + λ_max| ≤ {symmetry_tol:g} λ_max"))
    for p in outside:
        g = p.terms["g_term"].spectral_norm
        r = g / p.edge if p.edge > 0 else float("nan")
        rows.append(C.check(
            f"outside the zone the spikes sink into the bulk (α = {p.alpha:g})", source="§3, App. A",
            paper="‖G‖₂ < ‖H-term‖₂", here=f"‖G‖₂/‖H-term‖₂ = {C.fmt(r)}",
            holds=C.at_most(r, 1.0) and r < 1.0, criterion="ratio < 1"))
    return rows
