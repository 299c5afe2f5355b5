"""Fig. 6 of Vysogorets, Dawid & Kempe (ICML 2024): statistics over random initialisations.

Over Kaiming initialisations, softmax entropy, positive curvature, low loss and low gradient
norm go together (:func:`init_statistics`, :func:`rank_correlations`; driver :func:`fig6`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..curvature import decompose
from ..models import num_parameters
from ..subspace import random_basis
from ..validation import check_count
from .cache import cached_map, result_settings
from .gradients import flat_gradient
from .setup import (BASIS_SEED_OFFSET, build_data, build_model, device_and_dtype, required, show_progress,
                    use_cache)

__all__ = [
    "init_statistics",
    "rank_correlations",
    "fig6",
]


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
    dev, dtype = device_and_dtype(device)
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

def fig6(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Fig. 6: :func:`init_statistics` for ``inits_setting`` over ``num_inits`` Kaiming inits."""
    base = int(cfg.get("seed", 0))
    inits = list(range(base, base + check_count("num_inits", required(cfg, "num_inits"), 3)))
    return init_statistics(required(cfg, "inits_setting"), inits, d=required(cfg, "subspace_dim"),
                           basis_kind=cfg.get("basis_kind", "orthonormal"), data_seed=base,
                           device=required(cfg, "device"), cache=use_cache(cfg),
                           progress=show_progress(cfg), chunk_size=cfg.get("chunk_size"))
