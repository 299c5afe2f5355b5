"""Drivers for the chapter "Related work: Fort & Ganguli's random logit model".

Fort & Ganguli (2019) explain four properties of neural loss landscapes with a random model of
logits z ~ N(0, σ_z²), mean logit gradients c_k ~ N(0, σ_c² I_D) and residuals E ~ N(0, σ_E² I_D)
(:class:`~goldilocks_core.random_logit.RandomLogitModel`), after measuring that the logit
gradients of real networks cluster by logit (their Fig. 1). Two layers of functions:

* computations with explicit arguments: :func:`fort_ganguli_properties` (Figs. 5–6 at one draw),
  :func:`fort_ganguli_power` (Fig. 6 over draws), :func:`fort_ganguli_sweep` (Figs. 7–8),
  :func:`coupled_top_eigenvalue` and :func:`peak_table` (Fig. 7 for a family of σ_c(σ_z) laws),
  :func:`network_clustering` (Fig. 1 for one network), :func:`coupling_exponents`;
* drivers taking the chapter's settings (``cfg``, :class:`~goldilocks_core.profiles.fort_ganguli.FortGanguli`):
  :func:`fig1` and :func:`model_figures`, the code path of the notebook for every profile.

Tables and claims rows are in :mod:`goldilocks_core.experiments.fort_ganguli_report`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import data as _data
from ..devices import resolve_device, torch_dtype
from ..random_logit import (
    RandomLogitModel,
    clustering_from_gram,
    gram_statistics,
    growing_sigma_c,
    logit_gradient_gram,
)
from ..subspace import random_basis
from ..training import train_networks
from .cache import cached_map, result_settings
from ..validation import check_count
from .setup import BASIS_SEED_OFFSET, build, source_identity

__all__ = [
    "MODEL_KEYS",
    "fort_ganguli_properties",
    "fort_ganguli_power",
    "fort_ganguli_sweep",
    "coupled_top_eigenvalue",
    "peak_table",
    "network_clustering",
    "coupling_exponents",
    "chosen_power",
    "fig1",
    "model_figures",
]

MODEL_KEYS = ("n_samples", "n_classes", "dim", "sigma_z", "sigma_c", "sigma_e", "accuracy")


def _model(n_samples, n_classes, dim, sigma_z, sigma_c, sigma_e, accuracy, seed) -> RandomLogitModel:
    sigma_c = 1.0 / math.sqrt(dim) if sigma_c is None else sigma_c
    sigma_e = 0.7 / math.sqrt(dim) if sigma_e is None else sigma_e
    return RandomLogitModel(n_samples, n_classes, dim, sigma_z, sigma_c, sigma_e, accuracy=accuracy,
                            generator=torch.Generator().manual_seed(check_count("seed", seed, 0)))


# ------------------------------------------------------------------ the random model (F&G §4)
def fort_ganguli_properties(*, n_samples: int = 300, n_classes: int = 10, dim: int = 1000, sigma_z: float = 15.0,
                            sigma_c: float | None = None, sigma_e: float | None = None, accuracy: float = 0.95,
                            seed: int = 0, top_k: int | None = None) -> dict[str, Any]:
    """Properties (1)–(2) of Fort & Ganguli's random model (their §4, Figs. 5–6) at one draw.

    Parameters
    ----------
    n_samples, n_classes, dim, sigma_z, sigma_c, sigma_e, accuracy
        N, C, D, σ_z, σ_c, σ_E and the target accuracy; defaults are their setting
        (σ_c = 1/√D, σ_E = 0.7/√D when ``None``).
    seed : int
        Seeds the draw.
    top_k : int, optional
        k of "the power in the top k eigenvectors" (default C).

    Returns
    -------
    dict
        ``eigenvalues`` (of Eq. 16's H, descending), ``noise_top`` (largest eigenvalue of its
        noise term alone), ``num_outliers`` (eigenvalues above it), ``overlaps`` (cos² between
        the gradient of Eq. 8 and each eigenvector), ``power_top_k``, ``top_k``, ``clustering``
        (q^SLSC, q^SL, q^DL of Eq. 11–13), ``snr`` = σ_c²/σ_E², ``q_sl_predicted`` =
        SNR/(SNR + 1), ``mean_top_probability``, ``accuracy``, ``model``.
    """
    model = _model(n_samples, n_classes, dim, sigma_z, sigma_c, sigma_e, accuracy, seed)
    top_k = model.n_classes if top_k is None else check_count("top_k", top_k)
    lam, cos2 = model.gradient_overlaps()
    noise_top = float(torch.linalg.eigvalsh(model.hessian("residuals"))[-1])
    snr = model.sigma_c ** 2 / model.sigma_e ** 2
    return {"model": model, "eigenvalues": lam.numpy(), "noise_top": noise_top,
            "num_outliers": int((lam > noise_top).sum()), "overlaps": cos2.numpy(),
            "power_top_k": float(cos2[:top_k].sum()), "top_k": top_k, "clustering": model.clustering(),
            "snr": snr, "q_sl_predicted": snr / (snr + 1), "mean_top_probability": model.mean_top_probability(),
            "accuracy": model.accuracy()}


def fort_ganguli_power(seeds: Sequence[int], *, n_samples: int = 300, n_classes: int = 10, dim: int = 1000,
                       sigma_z: float = 15.0, sigma_c: float | None = None, sigma_e: float | None = None,
                       accuracy: float = 0.95, top_k: int | None = None) -> np.ndarray:
    """Fraction of ‖g‖² in the top-k Hessian eigenvectors (F&G property 2, Fig. 6) for several draws.

    Same arguments as :func:`fort_ganguli_properties` (k = C by default); returns one fraction
    per seed (one Hessian and one eigendecomposition each).
    """
    out = []
    for seed in seeds:
        model = _model(n_samples, n_classes, dim, sigma_z, sigma_c, sigma_e, accuracy, int(seed))
        out.append(model.gradient_power_fraction(model.n_classes if top_k is None else top_k))
    return np.asarray(out, dtype=np.float64)


def fort_ganguli_sweep(sigma_z: Sequence[float], *, n_samples: int = 300, n_classes: int = 10, dim: int = 1000,
                       sigma_c: float | None = None, sigma_e: float | None = None, accuracy: float = 0.95,
                       seed: int = 0, num_bases: int = 0, basis_dim: int = 10) -> pd.DataFrame:
    """Figs. 7–8: the model's Hessian along a sweep of σ_z on one draw, σ_c and σ_E fixed.

    Tr(H)/‖H‖ does not depend on σ_c at fixed σ_c/σ_E (H scales as σ_c²), and the top eigenvalue
    under any law σ_c(σ_z) follows by rescaling (:func:`coupled_top_eigenvalue`), so one sweep at
    the setting's σ_c serves every coupling. ``num_bases`` random orthonormal D × ``basis_dim``
    bases (seed ``BASIS_SEED_OFFSET + seed``) add the curvature on random hyperplanes (F&G §4 (4)).

    Returns
    -------
    pandas.DataFrame
        :meth:`~goldilocks_core.random_logit.RandomLogitModel.sweep_sigma_z`'s columns, one row
        per σ_z.
    """
    model = _model(n_samples, n_classes, dim, 1.0, sigma_c, sigma_e, accuracy, seed)
    bases = None
    if check_count("num_bases", num_bases, 0):
        gen = torch.Generator().manual_seed(BASIS_SEED_OFFSET + int(seed))
        bases = torch.stack([random_basis(dim, check_count("basis_dim", basis_dim), generator=gen,
                                          dtype=torch.float64) for _ in range(num_bases)])
    return model.sweep_sigma_z(np.asarray(sigma_z, dtype=np.float64), bases=bases)


def coupled_top_eigenvalue(sweep: pd.DataFrame, powers: Sequence[float], *, sigma_z_ref: float = 15.0,
                           sigma_c_ref: float | None = None) -> pd.DataFrame:
    """Fig. 7 for σ_c(σ_z) = σ_c,ref (σ_z/σ_z,ref)^a, one curve per a in ``powers``, σ_c/σ_E fixed.

    At fixed σ_c/σ_E the Hessian of Eq. 16 is σ_c² times a matrix that depends on σ_z only, so
    λ_max under the law is the sweep's λ_max × (σ_c(σ_z)/σ_c,sweep)² — exact, no new draw.
    ``sigma_c_ref``: σ_c at ``sigma_z_ref`` (default: the sweep's own σ_c, i.e. the law passes
    through the setting of Figs. 5–6).

    Returns
    -------
    pandas.DataFrame
        Columns ``power, sigma_z, sigma_c, top_eigenvalue``.
    """
    base = sweep["sigma_c"].to_numpy()
    if np.any(base <= 0):
        raise ValueError("the sweep must have σ_c > 0 to be rescaled")
    ref = float(base[0]) if sigma_c_ref is None else float(sigma_c_ref)
    z = sweep["sigma_z"].to_numpy()
    frames = []
    for a in powers:
        sc = growing_sigma_c(z, ref, sigma_z_ref=sigma_z_ref, power=float(a))
        frames.append(pd.DataFrame({"power": float(a), "sigma_z": z, "sigma_c": sc,
                                    "top_eigenvalue": sweep["top_eigenvalue"].to_numpy() * (sc / base) ** 2}))
    return pd.concat(frames, ignore_index=True)


def peak_table(coupled: pd.DataFrame) -> pd.DataFrame:
    """Per power: where λ_max peaks, whether strictly inside the sweep, and the rise and fall.

    ``rise`` = λ_max at the peak / at the smallest σ_z, ``fall`` = at the peak / at the largest.
    """
    rows = []
    for a, sub in coupled.groupby("power", sort=True):
        top = sub["top_eigenvalue"].to_numpy()
        i = int(np.argmax(top))
        rows.append({"power": float(a), "peak_sigma_z": float(sub["sigma_z"].iloc[i]),
                     "interior": bool(0 < i < len(top) - 1),
                     "rise": float(top[i] / top[0]) if top[0] > 0 else float("inf"),
                     "fall": float(top[i] / top[-1]) if top[-1] > 0 else float("inf")})
    return pd.DataFrame(rows)


# ------------------------------------------------------------- networks (F&G Fig. 1, Fig. 4)
def _num_weight_layers(model: nn.Module) -> int:
    return sum(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules())


def _measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    gram = logit_gradient_gram(model, x)
    q = clustering_from_gram(gram, y.cpu())
    with torch.no_grad():
        z = model(x).to(torch.float64)
    return {"q_slsc": q.q_slsc, "q_sl": q.q_sl, "q_dl": q.q_dl,
            "logit_std": float(z.std(1, unbiased=False).mean()),
            "accuracy": float((z.argmax(1) == y).double().mean()), **gram_statistics(gram, y.cpu())}


def network_clustering(spec: Mapping[str, Any], *, activation: str = "relu", seed: int = 0, num_measure: int = 200,
                       steps: int = 60, base_lr: float = 0.1, device="cpu",
                       train_dtype: torch.dtype = torch.float32) -> list[dict[str, Any]]:
    """F&G Fig. 1 (and Fig. 4's growth of logits) for one network: at initialisation and trained.

    Parameters
    ----------
    spec : mapping
        A network and its data (:func:`~goldilocks_core.experiments.setup.build`), e.g.
        ``subset(LENET_300_100_FASHION, 200)``; ``num_samples`` is the training set.
    activation : {"relu", "tanh"}
    seed : int
        The Kaiming draw and the measurement subset.
    num_measure : int
        Size of the balanced subset of the training set whose logit gradients are compared
        (a multiple of the number of classes, at most the training set).
    steps, base_lr, train_dtype
        Full-batch gradient descent (:func:`goldilocks_core.training.train_networks`, α = 1).
    device
        Where the network trains; the Gram matrices are float64.

    Returns
    -------
    list of dict
        Two rows (``stage`` "init", "trained") with ``network, activation, num_params, num_train,
        steps, train_accuracy`` (on the measurement subset), q^SLSC, q^SL, q^DL (Eq. 11–13, over
        all parameters), ``logit_std`` (std of the logits across classes, mean over samples),
        ``grad_norm`` (mean ‖∂z_k^μ/∂θ‖) and ``class_mean_norm`` (mean ‖c_k‖ of Eq. 15).
    """
    dev = resolve_device(device)
    setting = build({**dict(spec), "activation": activation}, seed=check_count("seed", seed, 0),
                    dtype=torch.float64, device=dev)
    full = _data.Dataset(setting.inputs, setting.targets, setting.num_classes, setting.name, "train")
    m = check_count("num_measure", num_measure)
    measure = full if m == len(full) else _data.balanced_subset(full, m, generator=20_000 + seed)
    res = train_networks(setting.model, full, measure, alphas=(1.0,), base_lrs=(float(base_lr),),
                         steps=check_count("steps", steps), log_every=steps, seed=seed, device=dev,
                         dtype=train_dtype, degree=_num_weight_layers(setting.model), progress=False)
    trained = res.network(setting.model, 1.0, float(base_lr))
    common = {"network": setting.name, "activation": activation, "num_params": setting.num_params,
              "num_train": len(full), "steps": int(steps)}
    rows = []
    for stage, net in (("init", setting.model), ("trained", trained)):
        stats = _measure(net, measure.inputs, measure.targets)
        rows.append({**common, "stage": stage, "train_accuracy": stats.pop("accuracy"), **stats})
    return rows


def coupling_exponents(table: pd.DataFrame) -> pd.DataFrame:
    """How fast the class-mean logit gradients grew with the logits during training, per network.

    a = log(‖c_k‖_trained/‖c_k‖_init) / log(σ_z,trained/σ_z,init): the exponent of σ_c ∝ σ_z^a
    between the two stages of :func:`network_clustering` (σ_c is ‖c_k‖ up to the constant √P).
    NaN where σ_z did not change.
    """
    rows = []
    for (net, act), sub in table.groupby(["network", "activation"], sort=False):
        s = sub.set_index("stage")
        dz = math.log(s.loc["trained", "logit_std"] / s.loc["init", "logit_std"])
        dc = math.log(s.loc["trained", "class_mean_norm"] / s.loc["init", "class_mean_norm"])
        rows.append({"network": net, "activation": act, "exponent": dc / dz if dz != 0 else float("nan")})
    return pd.DataFrame(rows)


def chosen_power(cfg: Mapping[str, Any], exponents: pd.DataFrame) -> float:
    """The exponent of σ_c ∝ σ_z^a for Fig. 7: ``cfg.sigma_c_power``, or when ``None`` the median
    exponent measured on the networks (:func:`coupling_exponents`), taken as 0 if negative (the
    model then has no growth of σ_c, which F&G's premise excludes)."""
    if cfg["sigma_c_power"] is not None:
        return float(cfg["sigma_c_power"])
    values = exponents["exponent"].to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if not values.size:
        raise ValueError("no finite exponent was measured: set sigma_c_power")
    return max(float(np.median(values)), 0.0)


# ----------------------------------------------------------------------------- drivers
def fig1(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """F&G Fig. 1 for every network of ``cfg.networks`` and activation of ``cfg.activations``:
    the rows of :func:`network_clustering`, one per (network, activation, stage)."""
    dtype = torch_dtype(cfg["train_dtype"])
    seed = int(cfg["seed"])

    def one(item):
        spec, act, _ = item
        return network_clustering(spec, activation=act, seed=seed, num_measure=cfg["num_measure"],
                                  steps=cfg["train_steps"], base_lr=cfg["base_lr"], device=cfg["device"],
                                  train_dtype=dtype)

    cache = bool(cfg["cache"])
    items = [(dict(spec), act, source_identity(dict(spec)) if cache else None)
             for spec in cfg["networks"] for act in cfg["activations"]]
    key = {"cfg": result_settings(cfg, exclude=("networks", "activations", "model", "top_k", "num_seeds",
                                                "sweep_sigma_z", "sigma_c_power", "sigma_c_powers", "num_bases",
                                                "basis_dim")),
           "device": str(resolve_device(cfg["device"]))}
    results = cached_map("fort-ganguli-fig1", key, one, items, enabled=cache, progress=False)
    return pd.DataFrame([row for rows in results for row in rows])


def model_figures(cfg: Mapping[str, Any], power: float) -> dict[str, Any]:
    """F&G Figs. 5–8 under ``cfg``: ``properties`` (:func:`fort_ganguli_properties`, seed
    ``cfg.seed``), ``powers`` (Fig. 6's fraction for ``cfg.num_seeds`` draws, the first being
    that one), ``sweep`` (:func:`fort_ganguli_sweep`), ``coupled`` (:func:`coupled_top_eigenvalue`
    for ``cfg.sigma_c_powers`` and ``power``), ``peaks`` (:func:`peak_table`) and ``power``."""
    setting = {k: cfg["model"][k] for k in MODEL_KEYS}
    seed, top_k = int(cfg["seed"]), check_count("top_k", cfg["top_k"])
    props = fort_ganguli_properties(**setting, seed=seed, top_k=top_k)
    more = range(seed + 1, seed + check_count("num_seeds", cfg["num_seeds"]))
    powers = np.concatenate([[props["power_top_k"]], fort_ganguli_power(more, **setting, top_k=top_k)])
    sweep_args = {k: setting[k] for k in MODEL_KEYS if k != "sigma_z"}
    sweep = fort_ganguli_sweep(cfg["sweep_sigma_z"], **sweep_args, seed=seed, num_bases=cfg["num_bases"],
                               basis_dim=cfg["basis_dim"])
    family = sorted({float(a) for a in cfg["sigma_c_powers"]} | {float(power)})
    coupled = coupled_top_eigenvalue(sweep, family, sigma_z_ref=setting["sigma_z"])
    return {"properties": props, "powers": powers, "sweep": sweep, "coupled": coupled,
            "peaks": peak_table(coupled), "power": float(power)}
