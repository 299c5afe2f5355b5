"""Drivers for chapters 1 and 3: the Goldilocks zone along the ray {αθ₀} and its Gauss–Newton anatomy.

Vysogorets, Dawid & Kempe (ICML 2024), §1 and §3. For a homogeneous network
(f_{αθ} = α^L f_θ) at softmax temperature T the projected Hessian splits as

    H' = α^{2L−2}/T² G*(p') + α^{L−2}/T H*(p'),    p' = σ_T(α^L z)            (Eq. 5)

so positive curvature Tr(H)/‖H‖_F (Eq. 2) depends on β = α^L/T alone: the α-sweep at T = 1
(Fig. 1 left, Fig. 2) and the T-sweep at α = 1 (Fig. 1 right) are one curve in β, and the
tied temperature T = α^L (Fig. 1 middle) puts every norm in the zone. The zone is where the
G-term dominates, ‖G'‖₂ ≳ ‖H'‖₂ (Eq. 6).

Two layers of functions:

* measurements of one seed or one network: :func:`run_seed` (the sweeps of Fig. 1 and 2),
  :func:`gradient_identity_errors` (Eq. 3), :func:`eq5_errors` (Eq. 5 against explicitly
  scaled weights);
* drivers taking a chapter's settings (:func:`zone_sweeps`, :func:`fig1`, :func:`fig2`,
  :func:`identity_checks`): the notebooks' code path for every profile, seeds cached with
  :func:`~goldilocks_core.experiments.cached_map` when ``cfg.cache``.

The pure functions on the resulting curves (peaks, zones, slopes) are in :mod:`.curves`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..curvature import TIED, decompose, sweep_decompositions
from ..devices import resolve_device, torch_dtype
from ..losses import cross_entropy
from ..models import resolve_degree, scale_parameters
from ..progress import progress_bar
from ..subspace import random_basis
from ..validation import check_alpha, check_temperature
from .cache import cached_map, result_settings
from .setup import BASIS_SEED_OFFSET, build, required, seeds, show_progress, source_identity, use_cache

__all__ = [
    "SWEEPS",
    "temperature_grid",
    "run_seed",
    "zone_sweeps",
    "fig1",
    "fig2",
    "gradient_identity_errors",
    "eq5_errors",
    "identity_checks",
]

# The three rays of Fig. 1: α at T = 1, T at α = 1, and α at the tied temperature T = α^L.
SWEEPS = ("alpha", "temperature", "tied")


def _check_alphas(alphas) -> list[float]:
    try:
        values = [float(a) for a in alphas]
    except TypeError:
        raise ValueError(f"alphas must be a sequence of positive numbers, got {alphas!r}") from None
    if not values:
        raise ValueError("alphas must not be empty")
    return [check_alpha(a) for a in values]


def _power(alpha: float, degree: int) -> float:
    """α^L through logs (α = 10^k gives 10^{kL} without drift)."""
    return math.exp(degree * math.log(alpha))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖_F / ‖b‖_F (0 when both vanish)."""
    diff, ref = float(torch.linalg.norm(a - b)), float(torch.linalg.norm(b))
    if ref == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / ref


def temperature_grid(alphas: Sequence[float], degree: int) -> list[float]:
    """T = α^L for every α: the T-sweep at α = 1 whose β = 1/T are the α-sweep's β = α^L.

    For the authors' α grid 10^(−3 … 3, step 0.25) this is their T grid 10^(−3L … 3L, step 0.25L).
    """
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    return [_power(a, int(degree)) for a in _check_alphas(alphas)]


# ------------------------------------------------------------------------ one seed
def _row(dec, *, sweep: str, alpha: float, temperature: float, beta: float) -> dict[str, Any]:
    row = dec.metrics()
    row.update(sweep=sweep, alpha=alpha, temperature=temperature, beta=beta, log10_beta=math.log10(beta))
    lam = torch.linalg.eigvalsh(dec.g_term_normalized)
    top = float(lam.abs().max())
    # λ_min/max|λ| of the G-term: ≥ −(rounding) when G is PSD (Eq. 4); NaN if G vanishes.
    row["g_term_min_eig_ratio"] = float(lam[0]) / top if top > 0 else math.nan
    return row


def run_seed(
    spec: Mapping[str, Any],
    seed: int,
    *,
    alphas: Sequence[float],
    subspace_dim: int = 50,
    sweeps: Sequence[str] = ("alpha",),
    basis_kind: str = "orthonormal",
    dtype=torch.float64,
    device="cpu",
    chunk_size: int | None = None,
    progress: bool = False,
    tied_alphas: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Curvature of one network (``spec``, initialised with ``seed``) along the rays of Fig. 1–2.

    ``sweeps`` (any of :data:`SWEEPS`):

    * ``"alpha"`` — α over ``alphas`` at T = 1 (Fig. 1 left, Fig. 2);
    * ``"temperature"`` — T over :func:`temperature_grid` at α = 1 (Fig. 1 right);
    * ``"tied"`` — α over ``alphas`` at T = α^L (Fig. 1 middle), computed on *explicitly
      scaled weights* (:func:`~goldilocks_core.models.scale_parameters`), not through Eq. 5,
      over ``tied_alphas`` (default ``alphas``; one full Jacobian per α, so a subset saves time).

    The first two share one projected Jacobian and one H-term pass per distinct β = α^L/T
    (:func:`~goldilocks_core.curvature.sweep_decompositions`). ``dtype`` is the precision of
    the model, the data and the curvature engine alike (float64 by default, also on CUDA). The basis is
    :func:`~goldilocks_core.subspace.random_basis` with seed ``BASIS_SEED_OFFSET + seed``.

    Returns one row per point: the columns of :func:`goldilocks_core.curvature.sweep`
    (``pc_*``, ``lc_*``, ``norm_*``, ``log10_norm_*``, ``lmax_*``, ``loss``, ``mean_entropy``,
    ``grad_norm``, …) plus ``sweep, g_term_min_eig_ratio, model, seed, num_samples,
    num_params, degree, subspace_dim``. For ``"tied"`` rows ``alpha`` is the scale of the
    weights and ``beta`` = α^L/T = 1.
    """
    sweeps = list(sweeps)
    unknown = [s for s in sweeps if s not in SWEEPS]
    if unknown or not sweeps:
        raise ValueError(f"sweeps must be a non-empty selection of {', '.join(SWEEPS)}, got {sweeps!r}")
    alphas = _check_alphas(alphas)
    dtype, device = torch_dtype(dtype), resolve_device(device)
    setting = build(dict(spec), seed=int(seed), dtype=dtype, device=device)
    L, P = setting.degree, setting.num_params
    basis = random_basis(P, subspace_dim, kind=basis_kind, dtype=dtype, device=device,
                         generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + int(seed)))
    model, x, y = setting.model, setting.inputs, setting.targets

    rows: list[dict[str, Any]] = []
    points: list[tuple[str, float, float]] = []  # (sweep, α, T)
    if "alpha" in sweeps:
        points += [("alpha", a, 1.0) for a in alphas]
    if "temperature" in sweeps:
        points += [("temperature", 1.0, t) for t in temperature_grid(alphas, L)]
    if points:
        decs = sweep_decompositions(model, x, y, basis, alphas=[a for _, a, _ in points],
                                    temperatures=[t for _, _, t in points], chunk_size=chunk_size,
                                    dtype=dtype, progress=progress)
        for (name, a, t), dec in zip(points, decs):
            rows.append(_row(dec, sweep=name, alpha=a, temperature=t, beta=dec.beta))
    if "tied" in sweeps:
        tied = alphas if tied_alphas is None else _check_alphas(tied_alphas)
        for a in progress_bar(tied, enabled=progress, desc="T = α^L"):
            t = _power(a, L)
            dec = decompose(scale_parameters(model, a), x, y, basis, alpha=1.0, temperature=t, degree=L,
                            chunk_size=chunk_size, dtype=dtype)
            rows.append(_row(dec, sweep="tied", alpha=a, temperature=t, beta=1.0))
    out = pd.DataFrame(rows)
    out["model"] = setting.name
    out["seed"] = int(seed)
    out["num_samples"] = int(x.shape[0])
    out["num_params"] = P
    out["degree"] = L
    out["subspace_dim"] = int(subspace_dim)
    front = ["model", "seed", "sweep", "alpha", "temperature", "beta"]
    return out[front + [c for c in out.columns if c not in front]]


# ---------------------------------------------------------------------------- drivers
def zone_sweeps(cfg: Mapping[str, Any], *, sweeps: Sequence[str], name: str = "zone") -> pd.DataFrame:
    """:func:`run_seed` for every entry of ``cfg.models`` and every seed, as one tidy table.

    Settings read: ``models`` (list of :func:`~goldilocks_core.experiments.setup.build` specs),
    ``alphas``, ``subspace_dim``, ``seed`` and ``num_seeds`` (seeds ``seed … seed+num_seeds−1``;
    a spec's own ``num_seeds`` keeps only its first seeds, for a model that costs more),
    optional ``basis_kind`` ("orthonormal"), ``dtype`` ("float64"), ``device`` ("auto"),
    ``chunk_size`` (None), ``cache`` (False: per-seed results cached on disk when true),
    ``progress`` (True) and ``tied_every`` (1: the tied ray T = α^L on every ``k``-th α only).
    """
    specs = [dict(s) for s in required(cfg, "models")]
    if not specs:
        raise ValueError("the settings list no models")
    alphas = _check_alphas(required(cfg, "alphas"))
    d = int(required(cfg, "subspace_dim"))
    kind = cfg.get("basis_kind", "orthonormal")
    dtype = torch_dtype(cfg.get("dtype", "float64"))
    device = resolve_device(cfg.get("device", "auto"))
    chunk = cfg.get("chunk_size")
    progress = show_progress(cfg)
    sweeps = list(sweeps)
    every = cfg.get("tied_every", 1)
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"tied_every must be a positive integer, got {every!r}")
    tied_alphas = alphas[::int(every)]

    def one(item):
        spec, seed, _ = item
        return run_seed(spec, seed, alphas=alphas, subspace_dim=d, sweeps=sweeps, basis_kind=kind,
                        dtype=dtype, device=device, chunk_size=chunk, progress=False, tied_alphas=tied_alphas)

    # each point is keyed by its model, seed and data (so adding seeds or models reuses the
    # finished ones) and by every other setting
    cache = use_cache(cfg)
    items = [(spec, s, source_identity(spec) if cache else None) for spec in specs
             for s in seeds(cfg)[:spec.get("num_seeds")]]
    key = {"cfg": result_settings(cfg, exclude=("models", "seed", "num_seeds")), "sweeps": sweeps,
           "device": str(device)}
    frames = cached_map(name, key, one, items, enabled=cache, progress=progress, desc="seeds")
    return pd.concat(frames, ignore_index=True)


def fig1(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Fig. 1: the α-sweep at T = 1, the tied sweep T = α^L and the T-sweep at α = 1, every seed."""
    return zone_sweeps(cfg, sweeps=SWEEPS, name="zone-fig1")


def fig2(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Fig. 2: curvature and spectral norms of H, G-term and H-term over α at T = 1, every seed."""
    return zone_sweeps(cfg, sweeps=("alpha",), name="zone-fig2")


# -------------------------------------------------------------------- Eq. 3 and Eq. 5
def _full_gradient(model: nn.Module, inputs, targets, temperature: float) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        loss = cross_entropy(model(inputs), targets, temperature=temperature)
        grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in grads]).to(torch.float64)


def gradient_identity_errors(model: nn.Module, inputs, targets, alphas: Sequence[float], *,
                             degree: int | None = None) -> pd.DataFrame:
    """Eq. 3 at T = α^L: ∇_{θ'}ℓ = α⁻¹∇_θℓ, on the full P-dimensional gradient (autograd).

    θ' = αθ are explicitly scaled weights (:func:`~goldilocks_core.models.scale_parameters`).
    Columns: ``alpha, temperature, grad_norm_scaled, rel_error`` with
    rel_error = ‖∇_{θ'}ℓ − α⁻¹∇_θℓ‖ / ‖α⁻¹∇_θℓ‖.
    """
    L = resolve_degree(model, degree)
    base = _full_gradient(model, inputs, targets, 1.0)
    rows = []
    for a in _check_alphas(alphas):
        t = _power(a, L)
        scaled = _full_gradient(scale_parameters(model, a), inputs, targets, t)
        expected = base / a
        rows.append({"alpha": a, "temperature": t, "grad_norm_scaled": float(scaled.norm()),
                     "rel_error": _rel(scaled, expected)})
    return pd.DataFrame(rows)


def _scaled(dec, name: str) -> tuple[torch.Tensor, float]:
    """(normalised matrix, log10 scale) of ``dec``'s ``name`` term: M = 10^scale · M̂."""
    return getattr(dec, f"{name}_normalized"), getattr(dec, f"log10_{name}_scale")


def _rel_log(a: tuple[torch.Tensor, float], b: tuple[torch.Tensor, float]) -> float:
    """‖A − B‖_F/‖B‖_F for A = 10^s_a Â, B = 10^s_b B̂, without forming A or B (no underflow)."""
    (ma, sa), (mb, sb) = a, b
    ref = float(torch.linalg.norm(mb))
    if ref == 0.0 or sb == -math.inf:
        return 0.0 if (float(torch.linalg.norm(ma)) == 0.0 or sa == -math.inf) else math.inf
    if sa == -math.inf:
        return 1.0
    shift = sa - sb
    if shift > 300:
        return math.inf
    return float(torch.linalg.norm(10.0**shift * ma - mb)) / ref


def _combine(g: tuple[torch.Tensor, float], h: tuple[torch.Tensor, float]) -> tuple[torch.Tensor, float]:
    """10^s_g Ĝ + 10^s_h Ĥ as (normalised matrix, log10 scale)."""
    (mg, sg), (mh, sh) = g, h
    top = max(sg, sh)
    if top == -math.inf:
        return torch.zeros_like(mg), -math.inf
    return 10.0 ** (sg - top) * mg + 10.0 ** (sh - top) * mh, top


def eq5_errors(model: nn.Module, inputs, targets, basis: torch.Tensor, alphas: Sequence[float],
               temperatures: Sequence[float | str], *, degree: int | None = None,
               chunk_size: int | None = None, dtype: torch.dtype | None = None) -> pd.DataFrame:
    """Eq. 5 on every (α, T) of ``alphas`` × ``temperatures``, against explicitly scaled weights.

    Three computations of RᵀH'R = G' + H' for the α-scaled network at temperature T:

    * ``explicit`` — :func:`~goldilocks_core.curvature.decompose` of
      ``scale_parameters(model, α)`` at α = 1 and T (no use of homogeneity);
    * ``engine`` — ``decompose(model, alpha=α, temperature=T)`` (the engine applies Eq. 5);
    * ``formula`` — the right-hand side of Eq. 5 written out: α^{2L−2}/T² G*(p') and
      α^{L−2}/T H*(p'), with G*(p'), H*(p') of the *unscaled* network at p' = σ(βz),
      β = α^L/T, read off the unscaled network at α = 1, T = 1/β (where its G-term is
      β²G*(p') and its H-term βH*(p')).

    ``temperatures`` may contain ``"alpha^L"`` (T = α^L, where Eq. 5 gives H' = α⁻²H).
    Matrices are compared as 10^scale × normalised matrix, so terms far below the float64
    range (the G-term of a collapsed softmax) are compared too. The G-term of a nearly
    one-hot softmax is made of probabilities e^{−β(z_max − z_k)}: a rounding error δ in the
    unscaled logits z becomes a relative error of about β·δ in them, so its error grows in
    proportion to β. Columns ``exponent_range`` = β·max_n(max_k z_nk − min_k z_nk) (how
    collapsed the softmax is) and ``logit_scale`` = max|z| (for the bound ε·β·max|z|).
    Columns: ``alpha, temperature, beta, tied, exponent_range, logit_scale`` and, for X ∈ {engine, formula} and M ∈ {hessian, g_term,
    h_term}, ``err_X_M`` = ‖M_X − M_explicit‖_F/‖M_explicit‖_F; ``err_engine_grad``
    (projected gradients, Eq. 3's α⁻¹ included); ``err_tied_hessian`` where T = α^L: the
    relative error of H' = α⁻²H with H the unscaled Hessian at T = 1 (NaN elsewhere);
    ``log10_norm_g_term`` (explicit, true scale). ``dtype``: the engine's precision
    (default: the model's, also on CUDA where the engine would otherwise use float32).
    """
    L = resolve_degree(model, degree)
    alphas = _check_alphas(alphas)
    temps = list(temperatures)
    if not temps:
        raise ValueError("temperatures must not be empty")
    for t in temps:
        if isinstance(t, str):
            if t != TIED:
                raise ValueError(f"temperatures must be numbers or {TIED!r}, got {t!r}")
        else:
            check_temperature(t)
    points = []  # (α, T, β, tied)
    for a in alphas:
        for t_spec in temps:
            tied = isinstance(t_spec, str)
            t = _power(a, L) if tied else float(t_spec)
            points.append((a, t, math.exp(L * math.log(a) - math.log(t)), tied))
    with torch.no_grad():
        z = model(inputs).to(torch.float64)
    logit_range = float((z.amax(-1) - z.amin(-1)).max())
    logit_scale = float(z.abs().max())
    if dtype is None:  # the model's own precision, not the engine's device default
        dtype = next(p for p in model.parameters()).dtype
    kw = {"degree": L, "chunk_size": chunk_size, "dtype": dtype, "progress": False}
    # one projected Jacobian per network: the unscaled one (engine, formula) and each α-scaled copy
    engine = sweep_decompositions(model, inputs, targets, basis, alphas=[p[0] for p in points],
                                  temperatures=[p[1] for p in points], **kw)
    at_p = sweep_decompositions(model, inputs, targets, basis, alphas=1.0,
                                temperatures=[1.0] + [1.0 / p[2] for p in points], **kw)
    unscaled, at_p = at_p[0], at_p[1:]
    explicit = []
    for a in alphas:
        mine = [p for p in points if p[0] == a]
        explicit += sweep_decompositions(scale_parameters(model, a), inputs, targets, basis, alphas=1.0,
                                         temperatures=[p[1] for p in mine], **kw)
    rows = []
    for (a, t, beta, tied), eng, ref, u in zip(points, engine, explicit, at_p):
        la, lt, lb = math.log10(a), math.log10(t), math.log10(beta)
        # G' = α^{2L−2}/T² · [u.g_term / β²],  H' = α^{L−2}/T · [u.h_term / β]   (Eq. 5)
        g_formula = (u.g_term_normalized, (2 * L - 2) * la - 2 * lt - 2 * lb + u.log10_g_term_scale)
        h_formula = (u.h_term_normalized, (L - 2) * la - lt - lb + u.log10_h_term_scale)
        row = {"alpha": a, "temperature": t, "beta": beta, "tied": tied,
               "exponent_range": beta * logit_range, "logit_scale": logit_scale}
        for name in ("hessian", "g_term", "h_term"):
            row[f"err_engine_{name}"] = _rel_log(_scaled(eng, name), _scaled(ref, name))
        row["err_formula_hessian"] = _rel_log(_combine(g_formula, h_formula), _scaled(ref, "hessian"))
        row["err_formula_g_term"] = _rel_log(g_formula, _scaled(ref, "g_term"))
        row["err_formula_h_term"] = _rel_log(h_formula, _scaled(ref, "h_term"))
        row["err_engine_grad"] = _rel_log((eng.grad_normalized, eng.log10_grad_scale),
                                          (ref.grad_normalized, ref.log10_grad_scale))
        row["err_tied_hessian"] = (_rel_log(_scaled(ref, "hessian"),
                                            (unscaled.hessian_normalized, unscaled.log10_hessian_scale - 2 * la))
                                   if tied else math.nan)
        top = float(torch.linalg.matrix_norm(ref.g_term_normalized, ord=2))
        row["log10_norm_g_term"] = ref.log10_g_term_scale + math.log10(top) if top > 0 else -math.inf
        rows.append(row)
    return pd.DataFrame(rows)


def identity_checks(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eq. 3 and Eq. 5 for every model of ``cfg.models`` on ``identity_num_samples`` samples.

    Settings read: ``models``, ``seed``, ``subspace_dim``, ``identity_num_samples``,
    ``identity_alphas``, ``identity_temperatures``, optional ``dtype``, ``device``,
    ``basis_kind``. Returns ``(gradients, hessians)``: :func:`gradient_identity_errors` and
    :func:`eq5_errors` rows with a ``model`` column.
    """
    dtype = torch_dtype(cfg.get("dtype", "float64"))
    device = resolve_device(cfg.get("device", "auto"))
    seed = int(cfg.get("seed", 0))
    n = cfg.get("identity_num_samples")
    alphas = _check_alphas(required(cfg, "identity_alphas"))
    temps = list(required(cfg, "identity_temperatures"))
    grads, hess = [], []
    for spec in required(cfg, "models"):
        spec = {**spec, "num_samples": n if n is not None else spec.get("num_samples")}
        s = build(spec, seed=seed, dtype=dtype, device=device)
        basis = random_basis(s.num_params, int(required(cfg, "subspace_dim")), kind=cfg.get("basis_kind", "orthonormal"),
                             dtype=dtype, device=device,
                             generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + seed))
        g = gradient_identity_errors(s.model, s.inputs, s.targets, alphas, degree=s.degree)
        h = eq5_errors(s.model, s.inputs, s.targets, basis, alphas, temps, degree=s.degree,
                       chunk_size=cfg.get("chunk_size"), dtype=dtype)
        g.insert(0, "model", s.name)
        h.insert(0, "model", s.name)
        grads.append(g)
        hess.append(h)
    return pd.concat(grads, ignore_index=True), pd.concat(hess, ignore_index=True)
