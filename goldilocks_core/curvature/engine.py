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
    r"""The projected G-term, H-term and gradient of the unscaled network at one β.

    Each is an O(1) float64 matrix with a natural-log scale (see the module docstring):
    :math:`G^*(p) = e^{c_G}\hat G` with :math:`\hat G = \frac1N\sum_n \tilde B_n^\top\tilde B_n`
    (PSD by construction), :math:`H^*(p) = e^{c_H}\hat H`, and the gradient
    :math:`\frac1N\sum_n (J_nR)^\top(p_n - y_n) = e^{c_H}\hat g`, at :math:`p = \sigma(\beta z)`.

    Parameters
    ----------
    stats : SoftmaxStatistics
        Loss, entropy and the scales c_G = ``stats.log_g_scale``, c_H = ``stats.log_h_scale``.
    g_hat : torch.Tensor
        Ĝ, (d, d) float64: G* = exp(stats.log_g_scale)·g_hat.
    h_hat : torch.Tensor
        Ĥ, (d, d) float64: H* = exp(stats.log_h_scale)·h_hat.
    grad_hat : torch.Tensor
        ĝ, (d,) float64: (1/N) Σ (JR)ᵀ(p − y) = exp(stats.log_h_scale)·grad_hat.
    precision : torch.dtype
        The dtype JR and the H-term factors were computed in.
    """

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
    """Build the engine that computes JR and the H-term of ``model`` for ``method``.

    Parameters
    ----------
    model : nn.Module
        The unscaled network (never modified; the engine holds cast copies of its weights).
    method : {"auto", "layerwise", "hvp"}
        ``"layerwise"`` (bias-free sequential ReLU nets, :class:`~goldilocks_core.curvature.layerwise.LayeredNetwork`),
        ``"hvp"`` (any module, forward-over-reverse, :class:`~goldilocks_core.curvature.hvp.GenericNetwork`)
        or ``"auto"`` (layerwise when supported).
    dtype : torch.dtype, optional
        Working precision (default: float64 on the CPU, float32 on CUDA).

    Returns
    -------
    LayeredNetwork or GenericNetwork
        On the model's device. ``ValueError`` for an unknown method, a model without
        parameters or a non-floating dtype.
    """
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
    """Choose the samples per chunk so that activations × (d tangents) stay within ``budget`` bytes.

    Parameters
    ----------
    network : LayeredNetwork or GenericNetwork
        The engine (its ``floats_per_sample`` and ``num_params`` size the memory).
    inputs : torch.Tensor
        The data, (N, …); one sample is evaluated to count activations.
    d : int
        Number of basis columns (tangent directions).
    itemsize : int
        Bytes per float of the working dtype.
    budget : int
        Working memory per chunk in bytes (default :data:`MEMORY_BUDGET_BYTES`).

    Returns
    -------
    int
        Between 1 and N.
    """
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
    r"""Compute the G-term, H-term and gradient factors at every β from one JR per chunk.

    Two chunked passes over the data (see the module docstring): all logits first (loss,
    entropy and the scales per β), then per chunk the projected Jacobian JR once and, for
    every :math:`\beta = \alpha^L/T`, the G rows and the H-term. Every d×d product is
    accumulated in float64.

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ.
    inputs, targets : torch.Tensor
        Data (N, …) and N integer class labels.
    basis : torch.Tensor
        R (P×d) of full column rank (:func:`~goldilocks_core.subspace.check_basis`).
    betas : sequence of float
        Positive finite inverse temperatures β.
    chunk_size : int, optional
        Samples per chunk (default: :func:`default_chunk_size`).
    dtype : torch.dtype, optional
        Working precision of JR and the H-term factors.
    method : {"auto", "layerwise", "hvp"}
        See :func:`build_network`.
    progress : bool
        Show a progress bar labelled ``desc``.
    desc : str
        The progress bar's label.

    Returns
    -------
    list of Projection
        One per β, in the order given.
    """
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
    r"""Compute JR ∈ R^{N×K×d}, the logit Jacobian of the unscaled network projected on ``basis``.

    Forward mode (``jvp`` vmapped over the d basis columns), chunked over samples. At scale
    α, the Jacobian of the α-scaled network is :math:`\alpha^{L-1} JR` (homogeneity); JR
    is the J of the G-term :math:`J^\top(\mathrm{diag}\,p - pp^\top)J` (Eq. 4), projected.

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ.
    inputs : torch.Tensor
        x, shape (N, …).
    basis : torch.Tensor
        R (P×d) of full column rank.
    chunk_size : int, optional
        Samples per forward pass (default: sized to a memory budget).
    dtype : torch.dtype, optional
        Working precision (default: float64 on the CPU, float32 on CUDA).
    method : {"auto", "layerwise", "hvp"}
        See :func:`build_network`.

    Returns
    -------
    torch.Tensor
        JR, shape (N, K, d), in ``dtype`` on the model's device.
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
