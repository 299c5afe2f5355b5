"""Drivers of the related-work chapter on Kalra & Barkeshli (2023), the early-training phase diagram.

* :func:`fcn_phase_diagram` — for each (depth d, width w) of the profile and each initialisation,
  the first steps of SGD at η = c/λ₀ over a 2^x grid of c (all cells of one architecture vmapped
  together, :func:`goldilocks_core.training.early_sharpness.early_training`), and the critical
  constants c_loss, c_sharp, c_max of their Definition 1;
* :func:`phase_summary` — their averages over initialisations against d/w (their Fig. 3);
* :func:`uv_phase_diagrams`, :func:`uv_check` — the uv model of their §5 from the closed-form
  map in function space (:mod:`goldilocks_core.training.uv_model`), and that map against a direct
  simulation in parameter space;
* :func:`substitutions` — the page's data-substitution table.

The claims rows live in :mod:`goldilocks_core.experiments.kalra_barkeshli_report`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import models
from ..devices import resolve_device, torch_dtype
from ..training import early_sharpness as es
from ..training import uv_model as uv
from .cache import cached_map
from .setup import build_data, show_progress, use_cache

__all__ = ["c_grid", "torch_threads", "load_data", "sweep_architecture", "cached_sweeps", "fcn_phase_diagram",
           "trajectory_demo", "phase_summary", "phase_table",
           "ordering_fraction", "uv_phase_diagrams", "uv_summary", "uv_check", "substitutions"]

_DATA_NAMES = {"cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST", "digits": "digits (scikit-learn)",
               "mnist": "MNIST"}


def c_grid(x_min: float, x_max: float, x_step: float) -> np.ndarray:
    """c = 2^x for x = x_min, x_min + x_step, …, ≤ x_max (x rounded to 6 decimals)."""
    if not (np.isfinite(x_min) and np.isfinite(x_max) and x_step > 0 and x_max >= x_min):
        raise ValueError(f"need finite x_min ≤ x_max and x_step > 0, got {x_min}, {x_max}, {x_step}")
    xs = np.round(np.arange(x_min, x_max + x_step / 2, x_step), 6)
    return 2.0 ** xs


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` intra-op PyTorch threads (``None``: leave the setting alone).

    The early-training products are many small matrix products; on a shared CPU a second thread
    mostly waits for the first (the quick profile uses one).
    """
    old = torch.get_num_threads()
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"threads must be a positive integer or None, got {n!r}")
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def load_data(cfg: Mapping[str, Any]):
    """``(train, measure)``: a balanced training subset of ``num_train`` images (flattened) and a
    balanced subset of it with ``measure_samples`` images, where loss and sharpness are measured."""
    device = resolve_device(cfg.get("device", "auto"))
    spec = {"dataset": cfg["dataset"], "num_samples": cfg["num_train"]}
    if cfg.get("image_size"):
        spec["image_size"] = int(cfg["image_size"])
    train = build_data(spec, split="train", seed=int(cfg["seed"]), dtype=torch_dtype(cfg["dtype"]), device=device)
    train = train.flatten()
    n = int(cfg["measure_samples"])
    if n >= len(train):
        return train, train
    from ..data import balanced_subset

    return train, balanced_subset(train, n - n % train.num_classes,
                                  generator=torch.Generator().manual_seed(20_000 + int(cfg["seed"])))


def sweep_architecture(depth: int, width: int, train, measure, *, loss: str, cs, num_inits: int,
                       steps: int, seed: int = 0, batch_size: int | None = None, lanczos_steps: int = 20,
                       warm_steps: int = 5, until_rise: bool = False, divergence: float = 1e5):
    """Early training of one architecture at every (initialisation, c): constants and trajectories.

    Parameters
    ----------
    depth, width : the network (:func:`goldilocks_core.models.constant_width_mlp`).
    train, measure : Datasets with flattened inputs (training set, measurement set).
    loss : ``"mse"`` or ``"xent"``.
    cs : increasing learning-rate constants; cell (i, c) trains initialisation i with η = c/λ₀ⁱ.
    num_inits, steps, seed : initialisations (seeded ``1000·seed + i``), SGD steps.
    batch_size, lanczos_steps, warm_steps, until_rise, divergence :
        as in :func:`goldilocks_core.training.early_sharpness.early_training`.

    Returns
    -------
    (constants, trajectories) : DataFrames. ``constants``: one row per initialisation with
    ``depth, width, d_over_w, init, lambda0, c_loss, c_sharp, c_max, censored``;
    ``trajectories``: one row per (init, c, step) with ``loss_ratio`` ℓ_t/ℓ₀ and
    ``sharpness_ratio`` λ_t/λ₀.
    """
    cs = np.asarray(cs, dtype=float)
    x, y = train.inputs, train.targets
    dtype, device = x.dtype, x.device
    nets = [models.constant_width_mlp(x.shape[1], width, depth, train.num_classes, dtype=dtype,
                                      generator=torch.Generator().manual_seed(1000 * seed + i)).to(device)
            for i in range(num_inits)]
    thetas = es.stack_flat(nets)
    lam0, vec0 = es.initial_eigenpairs(nets[0], thetas, measure.inputs, measure.targets, loss=loss,
                                      steps=lanczos_steps, generator=seed)
    M = cs.size
    cells = thetas.repeat_interleave(M, 0)
    lam_cells, vec_cells = lam0.repeat_interleave(M), vec0.repeat_interleave(M, 0)
    lrs = np.tile(cs, num_inits) / lam_cells.cpu().numpy()
    out = es.early_training(nets[0], cells, lrs, x, y, loss=loss, steps=steps, batch_size=batch_size,
                            measure=(measure.inputs, measure.targets), initial=(lam_cells, vec_cells),
                            warm_steps=warm_steps, until_rise=until_rise, divergence=divergence,
                            generator=seed)
    rows, traj = [], []
    for i in range(num_inits):
        block = slice(i * M, (i + 1) * M)
        cc = es.critical_constants(cs, out.loss[block], out.sharpness[block], out.diverged[block])
        rows.append({"depth": depth, "width": width, "d_over_w": depth / width, "init": i,
                     "lambda0": float(lam0[i]), **cc._asdict()})
        loss_ratio = out.loss[block] / out.loss[block][:, :1]
        sharp_ratio = out.sharpness[block] / out.sharpness[block][:, :1]
        for m, c in enumerate(cs):
            traj.append(pd.DataFrame({"depth": depth, "width": width, "init": i, "c": c,
                                      "step": np.arange(steps + 1), "loss_ratio": loss_ratio[m],
                                      "sharpness_ratio": sharp_ratio[m],
                                      "diverged": bool(out.diverged[block][m])}))
    return pd.DataFrame(rows), pd.concat(traj, ignore_index=True)


def cached_sweeps(cfg: Mapping[str, Any], loss: str, data, architectures, cs, *, num_inits: int,
                  until_rise: bool, name: str) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """:func:`sweep_architecture` for each ``(depth, width)``, one results-cache entry each.

    With ``cfg["cache"]`` on, every architecture's result is stored on disk as soon as it is done
    (:func:`~goldilocks_core.experiments.cache.cached_map`), keyed by everything it depends on:
    ``loss``, ``cs``, the training and measurement sets by content, the device, PyTorch's thread
    count and the training settings of ``cfg`` (and, by the cache, the package's sources). An
    interrupted paper-profile run resumes at the first unfinished architecture.
    """
    train, measure = data
    keys = ("steps", "seed", "batch_size", "lanczos_steps", "warm_steps", "divergence")
    settings = {"loss": loss, "cs": np.asarray(cs, dtype=float), "num_inits": int(num_inits),
                "until_rise": bool(until_rise), "train": train, "measure": measure,
                "device": str(train.inputs.device), "threads": cfg.get("threads"),
                **{k: cfg[k] for k in keys}}

    def one(arch):
        depth, width = arch
        with torch_threads(cfg.get("threads")):
            return sweep_architecture(depth, width, train, measure, loss=loss, cs=cs, num_inits=num_inits,
                                      steps=int(cfg["steps"]), seed=int(cfg["seed"]),
                                      batch_size=cfg["batch_size"], lanczos_steps=int(cfg["lanczos_steps"]),
                                      warm_steps=int(cfg["warm_steps"]), until_rise=until_rise,
                                      divergence=float(cfg["divergence"]))

    items = [(int(d), int(w)) for d, w in architectures]
    return cached_map(f"kalra-barkeshli-{name}", settings, one, items, enabled=use_cache(cfg),
                      progress=show_progress(cfg), desc=f"{loss} architectures")


def fcn_phase_diagram(cfg: Mapping[str, Any], loss: str = "mse", *, data=None) -> dict[str, pd.DataFrame]:
    """Every architecture of the profile under ``loss``: ``{"constants", "trajectories"}``.

    ``cfg``: the chapter's settings; the architectures are ``cfg.architectures`` for MSE and
    ``cfg.xent_architectures`` (default: the same) for cross-entropy. ``data``: ``(train,
    measure)`` from :func:`load_data` (loaded when omitted). Cached per architecture
    (:func:`cached_sweeps`).
    """
    archs = cfg["architectures"]
    if loss == "xent" and cfg.get("xent_architectures"):
        archs = cfg["xent_architectures"]
    data = load_data(cfg) if data is None else data
    cs = c_grid(cfg["x_min"], cfg["x_max"], cfg["x_step"])
    results = cached_sweeps(cfg, loss, data, archs, cs, num_inits=int(cfg["num_inits"]),
                            until_rise=bool(cfg["until_rise"]), name="phase")
    return {"constants": pd.concat([c.assign(loss=loss) for c, _ in results], ignore_index=True),
            "trajectories": pd.concat([t.assign(loss=loss) for _, t in results], ignore_index=True)}


def trajectory_demo(cfg: Mapping[str, Any], loss: str = "mse", *, data=None) -> pd.DataFrame:
    """Full loss and sharpness trajectories (no early stop of the Lanczos tracking) for one
    initialisation of each ``demo_architectures`` entry at c = 2^x, x in ``demo_xs`` (their Fig. 2).
    Cached per architecture (:func:`cached_sweeps`)."""
    data = load_data(cfg) if data is None else data
    cs = 2.0 ** np.asarray(cfg["demo_xs"], dtype=float)
    results = cached_sweeps(cfg, loss, data, cfg["demo_architectures"], cs, num_inits=1, until_rise=False,
                            name="demo")
    return pd.concat([t.assign(loss=loss) for _, t in results], ignore_index=True)


def phase_summary(constants: pd.DataFrame) -> pd.DataFrame:
    """⟨c_loss⟩, ⟨c_sharp⟩, ⟨c_max⟩ (means over initialisations) per architecture, sorted by d/w.

    Columns ``depth, width, d_over_w, c_loss, c_sharp, c_max, inits, censored`` (the number of
    initialisations whose c_max is only a lower bound).
    """
    if constants.empty:
        raise ValueError("no critical constants to summarise")
    g = constants.groupby(["depth", "width", "d_over_w"], as_index=False)
    out = g.agg(c_loss=("c_loss", "mean"), c_sharp=("c_sharp", "mean"), c_max=("c_max", "mean"),
                inits=("init", "count"), censored=("censored", "sum"))
    return out.sort_values(["d_over_w", "width"]).reset_index(drop=True)


def _ratio(depth: int, width: int) -> str:
    q = width / depth
    return f"1/{q:g}" if q == int(q) else f"{depth}/{width}"


def phase_table(constants: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """:func:`phase_summary` for the page: d/w written as a fraction, constants rounded."""
    s = phase_summary(constants)
    out = pd.DataFrame({"d": s["depth"], "w": s["width"],
                        "d/w": [_ratio(d, w) for d, w in zip(s["depth"], s["width"])]})
    for key in ("c_loss", "c_sharp", "c_max"):
        out[f"⟨{key}⟩"] = s[key].round(decimals)
    out["inits"] = s["inits"]
    out["c_max censored"] = s["censored"]
    return out


def ordering_fraction(constants: pd.DataFrame) -> float:
    """The share of initialisations with c_loss ≤ c_sharp ≤ c_max (their Fig. 4)."""
    ok = (constants["c_loss"] <= constants["c_sharp"]) & (constants["c_sharp"] <= constants["c_max"])
    return float(ok.mean())


# ------------------------------------------------------------------------------ the uv model
def uv_phase_diagrams(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """The uv model's constants per (scale, width, init), η = c/λ₀ (``scale="lambda"``) and
    η = c/tr H₀ (``"trace"``), from the function-space map of :mod:`~goldilocks_core.training.uv_model`."""
    cs = c_grid(cfg["uv_x_min"], cfg["uv_x_max"], cfg["uv_x_step"])
    frames = [uv.phase_diagram(cfg["uv_widths"], cs, num_inits=int(cfg["uv_inits"]), steps=int(cfg["uv_steps"]),
                               scale=scale, divergence=float(cfg["divergence"]), generator=int(cfg["seed"]))
              .assign(scale=scale) for scale in uv.SCALES]
    return pd.concat(frames, ignore_index=True)


def uv_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Means over initialisations per (scale, width), with ``inv_width`` = 1/w."""
    out = frame.groupby(["scale", "width"], as_index=False)[["c_loss", "c_sharp", "c_max"]].mean()
    return out.assign(inv_width=1.0 / out["width"])


def uv_check(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The function-space map against gradient descent on (u, v), at ``uv_demo_width``.

    Returns ``{"frame", "max_rel_diff"}``: per c of ``uv_demo_cs`` and step, ``loss`` and
    ``sharpness`` (λ_max) from both (``source`` = "map" / "simulation"), and the largest
    difference of the two over all of them, relative to each series' largest value.
    """
    w, n = int(cfg["uv_demo_width"]), int(cfg["uv_demo_steps"])
    u, v = uv.sample_init(w, 1, generator=int(cfg["seed"]))
    f0, t0 = uv.observables(u[0], v[0])
    lam0 = float(uv.sharpness(f0, t0, w))
    rows, worst = [], 0.0
    for c in cfg["uv_demo_cs"]:
        a = uv.function_space(f0, t0, c / lam0, w, n)
        b = uv.parameter_space(u[0], v[0], c / lam0, n)
        for key in ("loss", "sharpness", "trace", "frobenius"):
            worst = max(worst, float(np.max(np.abs(a[key] - b[key])) / np.max(np.abs(b[key]))))
        for source, traj in (("map", a), ("simulation", b)):
            rows.append(pd.DataFrame({"c": c, "step": np.arange(n + 1), "source": source,
                                      "loss": traj["loss"], "sharpness": traj["sharpness"]}))
    return {"frame": pd.concat(rows, ignore_index=True), "max_rel_diff": worst, "width": w}


# ------------------------------------------------------------------------------ the page's table
def substitutions(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """What the page runs against Kalra & Barkeshli's setting, one row per aspect."""
    paper = {"data": "CIFAR-10, MNIST, Fashion-MNIST, full sets",
             "networks": "FCNs (w ≤ 2048), Myrtle CNNs, ResNets",
             "training": "SGD, batch 512, 10 steps (demo code)",
             "c grid": "c = 2^x, x in steps of 0.1",
             "sharpness": "20 power iterations, 4,096 images (MSE)",
             "initialisations": "10 per point (Fig. 3)",
             "uv model": "GD on (x, y) = (1, 0)"}
    size = f"{cfg['image_size']}×{cfg['image_size']}, " if cfg.get("image_size") else ""
    archs = sorted({(int(d), int(w)) for d, w in cfg["architectures"]})
    depths = sorted({d for d, _ in archs})
    widths = sorted({w for _, w in archs})
    batch = "full-batch GD" if cfg["batch_size"] is None else f"SGD, batch {cfg['batch_size']}"
    here = {"data": f"{_DATA_NAMES.get(cfg['dataset'], cfg['dataset'])}, {size}"
                    f"{cfg['num_train'] or 'all'} images",
            "networks": f"FCNs, d ∈ {{{', '.join(map(str, depths))}}}, "
                        f"w ∈ {{{', '.join(map(str, widths))}}}",
            "training": f"{batch}, {cfg['steps']} steps",
            "c grid": f"x = {cfg['x_min']:g}…{cfg['x_max']:g} in steps of {cfg['x_step']:g}",
            "sharpness": f"Lanczos, {cfg['lanczos_steps']} then {cfg['warm_steps']} steps; "
                         f"{min(int(cfg['measure_samples']), int(cfg['num_train'] or 10**9)):,} images",
            "initialisations": f"{cfg['num_inits']} per point",
            "uv model": f"exact map, {cfg['uv_inits']:,} inits per width"}
    return pd.DataFrame({"aspect": list(paper), "paper": list(paper.values()),
                         "this page": [here[k] for k in paper]})
