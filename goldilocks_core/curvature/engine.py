"""The chunked pass behind :func:`decompose` and :func:`sweep`: one JR per chunk, every β.

For inverse temperatures β_1 … β_B (β = α^L/T) the engine returns, per β, the projected
G-term G*(p) and H-term H*(p) of the *unscaled* network at p = σ(βz) (Eq. 4–5 of
Vysogorets et al., 2024), each as an O(1) matrix with a natural-log scale:

    G*(p) = exp(c_G)·Ĝ,   Ĝ = (1/N) Σ_n B̃_nᵀB̃_n          (PSD by construction)
    H*(p) = exp(c_H)·Ĥ,   Ĥ = (1/N) Σ_n Σ_k r̂_nk Rᵀ∇²z_nk R

and the projected logit-space gradient (1/N) Σ_n (J_nR)ᵀ(p_n − y_n) = exp(c_H)·ĝ.

Two passes over the data, both chunked so that peak memory does not grow with N:

1. logits z of every sample (no graph) → loss, entropy and the scales c_G, c_H per β;
2. per chunk, the projected Jacobian JR (forward mode, vmapped over the d basis
   columns) once, then for every β the G rows from JR, and the H-term.

JR and the H-term's factors are computed in the working dtype (float32 on CUDA), but every
d×d product — the Gram matrix B̃ᵀB̃ and the H-term's contraction over the parameters — is
formed and accumulated in float64, so Ĝ stays PSD to float64 round-off in any precision.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..devices import default_dtype
from ..functional import logits_in_chunks
from ..progress import progress_enabled
from ..subspace import check_basis
from ..validation import check_data, check_inputs, check_label_range
from .hvp import GenericNetwork
from .layerwise import LayeredNetwork, is_layered
from .softmax_weights import SoftmaxStatistics, g_term_rows, normalised_residuals, softmax_statistics

__all__ = ["METHODS", "Projection", "build_network", "accumulate", "projected_jacobian",
           "default_chunk_size", "MEMORY_BUDGET_BYTES"]

METHODS = ("auto", "layerwise", "hvp")
MEMORY_BUDGET_BYTES = 384 * 2**20  # working memory per chunk when chunk_size is None


@dataclass(frozen=True, eq=False)
class Projection:
    """G-term, H-term and gradient of the unscaled network at one β (see module doc)."""

    stats: SoftmaxStatistics
    g_hat: torch.Tensor  # (d, d) float64; G* = exp(stats.log_g_scale)·g_hat
    h_hat: torch.Tensor  # (d, d) float64; H* = exp(stats.log_h_scale)·h_hat
    grad_hat: torch.Tensor  # (d,) float64; (1/N) Σ (JR)ᵀ(p − y) = exp(stats.log_h_scale)·grad_hat
    precision: torch.dtype = torch.float64  # the dtype JR and the H-term factors were computed in


def _model_device(model: nn.Module) -> torch.device:
    first = next(iter(model.parameters()), None)
    if first is None:
        raise ValueError("the model has no parameters")
    return first.device


def build_network(model: nn.Module, *, method: str = "auto", dtype: torch.dtype | None = None):
    """The implementation for ``method``: ``"layerwise"`` (bias-free sequential ReLU nets),
    ``"hvp"`` (any module, forward-over-reverse) or ``"auto"`` (layerwise when supported)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    device = _model_device(model)
    dtype = default_dtype(device) if dtype is None else dtype
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    if method == "layerwise" or (method == "auto" and is_layered(model)):
        return LayeredNetwork(model, dtype=dtype, device=device)
    return GenericNetwork(model, dtype=dtype, device=device)


def default_chunk_size(network, inputs: torch.Tensor, d: int, itemsize: int,
                       budget: int = MEMORY_BUDGET_BYTES) -> int:
    """Samples per chunk so that activations × (d tangents) stay within ``budget`` bytes."""
    example = inputs[:1].to(device=network.device, dtype=network.dtype)
    per_sample = network.floats_per_sample(example) * (d + 2) * itemsize * 3
    fixed = d * network.num_params * itemsize * (3 if isinstance(network, GenericNetwork) else 1)
    room = max(budget - fixed, budget // 4)
    return int(max(1, min(inputs.shape[0], room // per_sample)))


def _chunk_size(chunk_size, network, inputs, d) -> int:
    if chunk_size is None:
        return default_chunk_size(network, inputs, d, torch.finfo(network.dtype).bits // 8)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    return int(chunk_size)


def _all_logits(network, inputs: torch.Tensor, step: int) -> torch.Tensor:
    z = logits_in_chunks(network.logits, inputs, step, device=network.device, dtype=network.dtype,
                         out_dtype=torch.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"the model must output logits of shape (N, K) with K ≥ 2, got {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError("the model produced non-finite logits")
    return z


def _check_betas(betas: Sequence[float]) -> list[float]:
    out = []
    for b in betas:
        b = float(b)
        if not math.isfinite(b) or b <= 0:
            raise ValueError(f"inverse temperature β = α^L/T must be positive and finite, got {b!r}")
        out.append(b)
    if not out:
        raise ValueError("no sweep points")
    return out


def accumulate(
    model: nn.Module,
    inputs,
    targets,
    basis: torch.Tensor,
    betas: Sequence[float],
    *,
    chunk_size: int | None = None,
    dtype: torch.dtype | None = None,
    method: str = "auto",
    progress: bool = True,
    desc: str = "curvature",
) -> list[Projection]:
    """G-term, H-term and gradient factors at every β, from one JR per chunk."""
    betas = _check_betas(betas)
    network = build_network(model, method=method, dtype=dtype)
    inputs, targets = check_data(inputs, targets)
    basis = check_basis(basis, network.num_params).to(device=network.device, dtype=network.dtype)
    d = basis.shape[1]
    step = _chunk_size(chunk_size, network, inputs, d)
    N = inputs.shape[0]

    logits = _all_logits(network, inputs, step)
    check_label_range(targets, logits.shape[1])
    targets_dev = targets.to(logits.device)
    stats = [softmax_statistics(logits, targets_dev, b) for b in betas]

    blocks = network.basis_blocks(basis)
    g_acc = [torch.zeros(d, d, dtype=torch.float64, device=network.device) for _ in betas]
    h_acc = [torch.zeros(d, d, dtype=torch.float64, device=network.device) for _ in betas]
    grad_acc = [torch.zeros(d, dtype=torch.float64, device=network.device) for _ in betas]

    starts = range(0, N, step)
    bar = None
    if progress_enabled(progress):
        from tqdm import tqdm

        bar = tqdm(total=len(starts) * len(betas), desc=desc, leave=False, disable=False)
    try:
        for i in starts:
            x = inputs[i:i + step].to(device=network.device, dtype=network.dtype)
            y = targets_dev[i:i + step]
            z = logits[i:i + step]
            state = network.prepare(x, blocks)
            jr = state.jacobian.to(torch.float64)  # (n, K, d): d×d products in float64 (PSD G-term)
            for b, (beta, st) in enumerate(zip(betas, stats)):
                rows = g_term_rows(jr, z, beta, st.log_g_scale).reshape(-1, d)
                g_acc[b] += rows.T @ rows
                r_hat = normalised_residuals(z, y, beta, st.log_h_scale)
                grad_acc[b] += torch.einsum("nkd,nk->d", jr, r_hat)
                if st.log_h_scale != -math.inf:
                    h_acc[b] += network.h_term(state, r_hat.to(network.dtype), blocks)
                if bar is not None:
                    bar.update(1)
            del state
    finally:
        if bar is not None:
            bar.close()

    out = []
    for st, g, h, gr in zip(stats, g_acc, h_acc, grad_acc):
        g = 0.5 * (g + g.T) / N
        h = 0.5 * (h + h.T) / N
        out.append(Projection(st, g, h, gr / N, precision=network.dtype))
    return out


def projected_jacobian(
    model: nn.Module,
    inputs,
    basis: torch.Tensor,
    *,
    chunk_size: int | None = None,
    dtype: torch.dtype | None = None,
    method: str = "auto",
) -> torch.Tensor:
    """JR ∈ R^{N×K×d}: the logit Jacobian of the *unscaled* network projected on ``basis``.

    Forward mode (``jvp`` vmapped over the d basis columns), chunked over samples.
    At scale α, the Jacobian of the α-scaled network is α^{L−1}·JR (homogeneity).
    """
    network = build_network(model, method=method, dtype=dtype)
    inputs = check_inputs(inputs)
    basis = check_basis(basis, network.num_params).to(device=network.device, dtype=network.dtype)
    step = _chunk_size(chunk_size, network, inputs, basis.shape[1])
    blocks = network.basis_blocks(basis)
    parts = []
    for i in range(0, inputs.shape[0], step):
        x = inputs[i:i + step].to(device=network.device, dtype=network.dtype)
        parts.append(network.prepare(x, blocks, h_term=False).jacobian)
    return torch.cat(parts)
