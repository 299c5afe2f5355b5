"""Fig. 5 of Vysogorets, Dawid & Kempe (ICML 2024): model confidence and vanishing gradients.

The expected batch gradient is Σ_k c_k (Q̂_k − Q_k) (Eq. 9): gradients on unrelated balanced
data sets overlap (Fig. 5 left, :func:`gradient_cosines`) and the gradient norm is linear in
‖Q̂ − Q‖ over subsets with random class priors (Fig. 5 right, :func:`prior_sweep`). Drivers:
:func:`fig5_left`, :func:`fig5_right`.
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
from ..losses import cross_entropy
from ..validation import check_count
from .cache import cached_map, result_settings
from .setup import Setting, build, build_data, build_model, device_and_dtype, required, show_progress, use_cache

__all__ = [
    "flat_gradient",
    "class_mean_gradients",
    "gradient_cosines",
    "draw_priors",
    "fit_slope",
    "prior_sweep",
    "fig5_left",
    "fig5_right",
]


# ----------------------------------------------------------------------------- Fig. 5
def flat_gradient(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                  chunk_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """(∇_θ ℓ, Q̂): the mean cross-entropy gradient (flat, float64 CPU) and the mean softmax output."""
    params = [p for p in model.parameters() if p.requires_grad]
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
    params = [p for p in model.parameters() if p.requires_grad]
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
    dev, dtype = device_and_dtype(device)
    num_samples = check_count("num_samples", num_samples, 2)
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
    num_priors = check_count("num_priors", num_priors)
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

def fig5_left(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 5 left: :func:`gradient_cosines` for ``cosine_setting`` on ``cosine_datasets``."""
    base = int(cfg.get("seed", 0))
    inits = [base + i for i in range(check_count("cosine_num_inits", required(cfg, "cosine_num_inits")))]
    return gradient_cosines(required(cfg, "cosine_setting"), required(cfg, "cosine_datasets"),
                            required(cfg, "cosine_num_samples"), inits, device=required(cfg, "device"), data_seed=base,
                            cache=use_cache(cfg), progress=show_progress(cfg))

def fig5_right(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Fig. 5 right: :func:`prior_sweep` on ``prior_setting`` (one unscaled init, seed ``cfg.seed``)."""
    dev, dtype = device_and_dtype(required(cfg, "device"))
    spec = dict(required(cfg, "prior_setting"))
    seed = int(cfg.get("seed", 0))
    setting = build(spec, seed=seed, dtype=dtype, device=dev)
    return prior_sweep(setting, required(cfg, "prior_num_priors"), required(cfg, "prior_subset_size"), seed=seed,
                       cache=use_cache(cfg), cache_key={"spec": spec, "device": str(dev)},
                       progress=show_progress(cfg))
