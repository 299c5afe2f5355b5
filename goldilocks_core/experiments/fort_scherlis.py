"""Related work: Fort & Scherlis (2019), "The Goldilocks zone" — hyperplanes and hyperspheres.

θ₀ = r·θ̂ is a point at radius r in the direction θ̂ = θ_K/‖θ_K‖ of a Kaiming initialisation.

* **Hyperplanes.** The Hessian of ℓ on the hyperplane θ₀ + R u at u = 0 is H_d = RᵀH(θ₀)R, with
  R ∈ R^{P×d} orthonormal; Fort & Scherlis' statistics are its positive curvature Tr(H_d)/‖H_d‖_F
  and its local convexity (fraction of positive eigenvalues).
* **Hyperspheres.** On the sphere ‖θ‖ = r the Riemannian Hessian on the tangent space is

      Hess_S ℓ(θ) = P(H − (θ·∇ℓ / r²) I)P,    P = I − θθᵀ/r²                       (S)

  (a geodesic γ with γ(0) = θ, γ'(0) = v has γ'' = −(‖v‖²/r²)θ, and d²ℓ(γ)/dt² = vᵀHv + ∇ℓ·γ'').
  With R ⊥ θ̂ (:func:`~goldilocks_core.training.subspace.tangent_basis`) its restriction to span R
  is RᵀHR − (θ·∇ℓ/r²) I_d: the hyperplane's Hessian shifted by a multiple of the identity. For a
  homogeneous network, Euler's identity θ·∇_θ z = L z gives θ·∇ℓ = L·mean_n (p_n − y_n)·z_n.
* **Training** on both surfaces: :func:`~goldilocks_core.training.subspace.train_subspace`.

For a homogeneous network the radius is α‖θ_K‖, so the radius axis is the α axis of
Vysogorets et al. (2024), Fig. 1: the softmax sees β = α^L (chapter 1). The claims rows and
their criteria are in :mod:`.fort_scherlis_report`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, jvp

from ..curvature import lambda_max, local_convexity, positive_curvature, sweep_decompositions
from ..devices import resolve_device, torch_dtype
from ..losses import cross_entropy, log_probabilities
from ..models import resolve_degree
from ..training.subspace import tangent_basis, train_subspace, unit_direction
from .cache import cached_map, result_settings
from .setup import build, build_data, show_progress, source_identity, use_cache
from .curves import half_peak_interval, peak

__all__ = ["BASIS_SEED_OFFSET", "SURFACE_PROTOCOLS", "init_radii", "radial_slope", "homogeneous_radial_slope",
           "sphere_hessian", "curvature_seed", "curvature_vs_radius", "mean_curves", "zone_interval",
           "subspace_runs", "final_accuracies"]

BASIS_SEED_OFFSET = 7_000  # the tangent basis of seed s is drawn with seed BASIS_SEED_OFFSET + s
# the two training protocols: (name, surfaces, learning-rate rule, subspace dims: "all" or the largest)
SURFACE_PROTOCOLS = (("fixed η (Fort & Scherlis)", ("hyperplane", "sphere"), "fixed", "all"),
                     ("η₀·α^(2−L) (Vysogorets et al.)", ("sphere",), "scaled", "largest"))


def init_radii(model: nn.Module) -> dict[str, float]:
    """Expected ‖θ‖ of a Xavier-normal and of a Kaiming-normal draw of ``model``'s weights.

    Parameters
    ----------
    model : nn.Module
        Its weight layers (Linear, Conv) set the fans: fan_in = weight[0].numel(),
        fan_out = out_channels × kernel volume.

    Returns
    -------
    dict
        ``{"xavier": √Σ n_w·2/(fan_in + fan_out), "kaiming": √Σ n_w·2/fan_in}`` over the weights
        (n_w entries each); for a bias-free MLP the Kaiming radius is √(2 Σ_l n_out,l).
    """
    xavier = kaiming = 0.0
    found = False
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            w = module.weight
            fan_in, fan_out = w[0].numel(), w.shape[0] * w[0][0].numel()
            xavier += w.numel() * 2.0 / (fan_in + fan_out)
            kaiming += w.numel() * 2.0 / fan_in
            found = True
    if not found:
        raise ValueError("the model has no Linear or Conv layer to take fans from")
    return {"xavier": math.sqrt(xavier), "kaiming": math.sqrt(kaiming)}


def radial_slope(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """θ·∇ℓ(θ) at the model's parameters: d/dt ℓ((1 + t)θ) at t = 0, by forward mode (any network).

    Parameters
    ----------
    model : nn.Module
    inputs, targets : torch.Tensor
        Data (N, …) and N class indices; ℓ is the mean cross-entropy.

    Returns
    -------
    float
        The radial derivative r·∂ℓ/∂r that enters the sphere's Hessian (S).
    """
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())

    def loss(ps):
        return cross_entropy(functional_call(model, (ps, buffers), (inputs,)), targets)

    _, slope = jvp(loss, (params,), (params,))
    return float(slope)


def homogeneous_radial_slope(logits: torch.Tensor, targets: torch.Tensor, degree: int) -> float:
    """θ·∇ℓ = L·mean_n Σ_k (p_nk − 1{y_n = k}) z_nk for a degree-L homogeneous network (Euler).

    Parameters
    ----------
    logits : torch.Tensor
        z = f_θ(x), shape (N, K), of the network at θ itself (for αθ_K: α^L times the unscaled ones).
    targets : torch.Tensor
        N class indices.
    degree : int
        L ≥ 1.

    Returns
    -------
    float
        θ·∇ℓ(θ), computed in float64 with a log-softmax (finite for any finite logits).
    """
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"need logits (N, K) and N targets, got {tuple(logits.shape)} and {tuple(targets.shape)}")
    if isinstance(degree, bool) or int(degree) != degree or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    z = logits.to(torch.float64)
    p = log_probabilities(z).exp()
    pz = (p * z).sum(-1) - z.gather(-1, targets.long()[:, None]).squeeze(-1)
    return float(int(degree) * pz.mean())


def sphere_hessian(plane_hessian: torch.Tensor, slope: float, radius: float) -> torch.Tensor:
    """The sphere's Hessian (S) on tangent directions R: RᵀHR − (θ·∇ℓ / r²) I_d.

    Parameters
    ----------
    plane_hessian : torch.Tensor
        RᵀH(θ)R (d×d) for an orthonormal R with Rᵀθ = 0.
    slope : float
        θ·∇ℓ(θ) (:func:`radial_slope` or :func:`homogeneous_radial_slope`).
    radius : float
        r = ‖θ‖ > 0.

    Returns
    -------
    torch.Tensor
        The d×d Riemannian Hessian of ℓ restricted to the sphere of radius r, on span R.
    """
    M = torch.as_tensor(plane_hessian)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"plane_hessian must be a square matrix, got shape {tuple(M.shape)}")
    radius, slope = float(radius), float(slope)
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be positive and finite, got {radius!r}")
    if not math.isfinite(slope):
        raise ValueError(f"slope must be finite, got {slope!r}")
    return M - (slope / radius**2) * torch.eye(M.shape[0], dtype=M.dtype, device=M.device)


def curvature_seed(spec: Mapping[str, Any], seed: int, *, ratios, subspace_dim: int, device="cpu",
                   chunk_size: int | None = None) -> pd.DataFrame:
    """Positive curvature and local convexity on hyperplanes and spheres through r·θ̂, one seed.

    Parameters
    ----------
    spec : mapping
        A :func:`~goldilocks_core.experiments.setup.build` entry (a homogeneous network and data).
    seed : int
        Seeds the Kaiming draw θ_K, the balanced subset and the tangent basis R (d columns ⊥ θ̂).
    ratios : sequence of positive floats
        Radii as multiples of the expected Kaiming radius (:func:`init_radii`).
    subspace_dim : int
        d.
    device, chunk_size
        Where and in how many samples at a time the curvature engine runs (float64).

    Returns
    -------
    pandas.DataFrame
        One row per (radius, surface): ``seed, ratio, radius, alpha`` (= r/‖θ_K‖), ``surface``,
        ``pc`` (Tr/‖·‖_F), ``lc`` (fraction of positive eigenvalues), ``trace`` and ``lmax`` (Tr and
        largest eigenvalue of the d×d Hessian), ``loss``, ``entropy`` (mean softmax entropy / log K)
        and ``shift`` (θ·∇ℓ/r², the sphere's shift of (S)). ``attrs``: ``num_samples``,
        ``num_params``, ``degree`` and ``radii`` (:func:`init_radii`).
    """
    s = build(dict(spec), seed=seed, dtype=torch.float64, device=device)
    L = s.degree
    direction, norm = unit_direction(s.model)
    r_k = init_radii(s.model)["kaiming"]
    ratios = [float(q) for q in ratios]
    radii = [q * r_k for q in ratios]
    alphas = [r / norm for r in radii]
    R = tangent_basis(direction, int(subspace_dim), generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + seed))
    decs = sweep_decompositions(s.model, s.inputs, s.targets, R.to(device), alphas=alphas, chunk_size=chunk_size,
                                dtype=torch.float64, progress=False)
    with torch.no_grad():
        z = s.model(s.inputs).to(torch.float64)
    log_k = math.log(s.num_classes)
    rows = []
    for q, r, a, dec in zip(ratios, radii, alphas, decs):
        slope = homogeneous_radial_slope(a**L * z, s.targets, L)
        plane = dec.hessian
        for surface, M in (("hyperplane", plane), ("sphere", sphere_hessian(plane, slope, r))):
            rows.append({"seed": seed, "ratio": q, "radius": r, "alpha": a, "surface": surface,
                         "pc": float(positive_curvature(M)),
                         "lc": float(local_convexity(M, precision=dec.precision)),
                         "trace": float(torch.trace(M)), "lmax": float(lambda_max(M)), "loss": dec.loss,
                         "entropy": dec.mean_entropy / log_k, "shift": slope / r**2})
    out = pd.DataFrame(rows)
    out.attrs.update(num_samples=int(s.inputs.shape[0]), num_params=s.num_params, degree=L,
                     radii=init_radii(s.model))
    return out


def curvature_vs_radius(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`curvature_seed` for seeds ``seed … seed + num_seeds − 1`` of ``cfg["model"]``, one table.

    Reads ``model, curvature_ratios, subspace_dim, seed, num_seeds``, optional ``device``,
    ``chunk_size``, ``cache`` (per-seed results on disk) and ``progress``. The table's ``attrs``
    carry ``radii`` (:func:`init_radii` of the network), ``num_samples``, ``num_params``, ``degree``.
    """
    spec = dict(cfg["model"])
    seeds = range(int(cfg["seed"]), int(cfg["seed"]) + int(cfg["num_seeds"]))
    if len(seeds) < 1:
        raise ValueError(f"num_seeds must be ≥ 1, got {cfg['num_seeds']!r}")
    device = resolve_device(cfg.get("device", "auto"))
    cache = use_cache(cfg)

    def one(item):
        return curvature_seed(spec, item[0], ratios=cfg["curvature_ratios"], subspace_dim=int(cfg["subspace_dim"]),
                              device=device, chunk_size=cfg.get("chunk_size"))

    items = [(s, source_identity(spec) if cache else None) for s in seeds]
    key = {"cfg": result_settings(cfg, exclude=("seed", "num_seeds", "train_model", "train_ratios", "train_dims",
                                                "steps", "batch_size", "base_lr", "test_num_samples",
                                                "train_dtype", "success_fraction")),
           "device": str(device)}
    frames = cached_map("fort-scherlis-curvature", key, one, items, enabled=cache,
                        progress=show_progress(cfg), desc="seeds")
    df = pd.concat(frames, ignore_index=True)
    df.attrs.update(frames[0].attrs)
    return df


def mean_curves(df: pd.DataFrame, surface: str, column: str = "pc") -> pd.DataFrame:
    """Mean, min and max of ``column`` over seeds at each ratio on one surface (``radius``: the seed mean)."""
    for c in ("surface", "ratio", "radius", column):
        if c not in df.columns:
            raise ValueError(f"the table has no column {c!r}")
    sub = df[df["surface"] == surface]
    if sub.empty:
        raise ValueError(f"the table has no {surface!r} rows")
    out = sub.groupby("ratio", sort=True).agg(radius=("radius", "mean"), mean=(column, "mean"),
                                              min=(column, "min"), max=(column, "max"))
    return out.reset_index()


def zone_interval(df: pd.DataFrame, *, fraction: float = 0.5, surface: str = "hyperplane") -> tuple[float, float]:
    """The radii (lo, hi) around the peak where the seed-mean positive curvature is ≥ ``fraction`` × peak."""
    c = mean_curves(df, surface)
    return half_peak_interval(c["radius"], c["mean"], fraction=fraction)


def peak_radius(df: pd.DataFrame, surface: str = "hyperplane") -> tuple[float, float]:
    """(radius, value) at the maximum of the seed-mean positive curvature on ``surface``."""
    c = mean_curves(df, surface)
    return peak(c["radius"], c["mean"])


def subspace_runs(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Training confined to random surfaces through r·θ̂ under both protocols of :data:`SURFACE_PROTOCOLS`.

    Reads ``train_model`` (network and training subset), ``test_num_samples``, ``train_ratios``
    (radii / expected Kaiming radius), ``train_dims``, ``steps``, ``batch_size``, ``base_lr`` (η₀),
    ``seed``, optional ``train_dtype`` (float32), ``device``, ``progress``. Both protocols use the
    same θ̂, the same tangent basis and the same batches; the scaled rule runs the largest d only.

    Returns
    -------
    pandas.DataFrame
        :data:`~goldilocks_core.training.subspace.SUBSPACE_COLUMNS` plus ``protocol`` and ``ratio``,
        for the first and the last step of every cell. ``attrs``: ``radii``, ``num_classes``.
    """
    spec, seed = dict(cfg["train_model"]), int(cfg["seed"])
    dtype = torch_dtype(cfg.get("train_dtype", "float32"))
    device = resolve_device(cfg.get("device", "auto"))
    s = build(dict(spec), seed=seed, dtype=dtype, device=device)
    model, train = s.model, (s.inputs, s.targets, s.num_classes)
    test = build_data({**spec, "num_samples": cfg.get("test_num_samples")}, split="test", seed=seed, dtype=dtype,
                      device=device)
    radii = init_radii(model)
    basis = tangent_basis(unit_direction(model)[0], max(int(d) for d in cfg["train_dims"]),
                          generator=torch.Generator().manual_seed(BASIS_SEED_OFFSET + seed))
    ratios = [float(q) for q in cfg["train_ratios"]]
    dims = tuple(int(d) for d in cfg["train_dims"])
    frames = []
    for name, surfaces, rule, which in SURFACE_PROTOCOLS:
        res = train_subspace(model, train, test, radii=[q * radii["kaiming"] for q in ratios],
                             dims=dims if which == "all" else (max(dims),), base_lr=float(cfg["base_lr"]),
                             steps=int(cfg["steps"]), surfaces=surfaces, lr_rules=(rule,), basis=basis,
                             batch_size=cfg.get("batch_size"), seed=seed, device=device,
                             progress=show_progress(cfg))
        f = res.frame
        f.insert(0, "protocol", name)
        f.insert(3, "ratio", f["radius"] / radii["kaiming"])
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(radii=radii, num_classes=s.num_classes, num_params=sum(p.numel() for p in model.parameters()),
                     degree=resolve_degree(model))
    return out


def final_accuracies(runs: pd.DataFrame) -> pd.DataFrame:
    """The last step of every cell: protocol, surface, dim, ratio, radius, test accuracy, final ‖θ‖."""
    last = runs[runs["step"] == runs["step"].max()]
    cols = ["protocol", "surface", "dim", "ratio", "radius", "test_accuracy", "param_norm", "diverged"]
    return last[cols].reset_index(drop=True)
