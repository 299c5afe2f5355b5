"""Random d-dimensional subspaces of parameter space (§2 of Vysogorets et al., 2024).

The projected Hessian H_d = RᵀHR (Fort & Scherlis, 2019) is the Hessian of
θ̂ ↦ ℓ(θ + Rθ̂) at θ̂ = 0 for a basis R ∈ R^{P×d}. Two kinds of basis:

* ``"orthonormal"`` (default, as §2 assumes): the Q factor of the QR decomposition of a
  P×d Gaussian matrix, sign-fixed so that it is Haar distributed; RᵀR = I.
* ``"sparse"`` (the authors' code): every entry is ±1 with probability 1/√P and 0
  otherwise; each column is then normalised to unit norm. Columns are *not*
  orthogonalised (nearly orthogonal for large P). An all-zero column is redrawn.

:func:`layer_basis` restricts a basis to a subset of the parameters (zero rows
elsewhere), e.g. the first layer's weights for the App. D analysis.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .devices import default_dtype
from .functional import parameter_slices

__all__ = ["random_basis", "layer_basis", "parameter_mask", "check_basis", "BASIS_KINDS",
           "RANK_CHECK_MAX_DIM"]

BASIS_KINDS = ("orthonormal", "sparse")


def _check_dim(num_params, d) -> tuple[int, int]:
    try:
        P, dd = int(num_params), int(d)
    except (TypeError, ValueError):
        raise ValueError(f"num_params and d must be integers, got {num_params!r} and {d!r}") from None
    if P != num_params or dd != d:
        raise ValueError(f"num_params and d must be integers, got {num_params!r} and {d!r}")
    if P <= 0:
        raise ValueError(f"num_params must be ≥ 1, got {P}")
    if dd <= 0:
        raise ValueError(f"subspace dimension d must be ≥ 1, got {dd}")
    if dd > P:
        raise ValueError(f"subspace dimension d={dd} exceeds the number of parameters P={P}")
    return P, dd


def random_basis(
    num_params: int,
    d: int,
    *,
    kind: str = "orthonormal",
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""Draw a random basis R ∈ R^{P×d} of a d-dimensional subspace of R^P (P = ``num_params``).

    The projected Hessian :math:`H_d = R^\top H R` (§2) is taken on its columns. Random
    draws are made on the CPU with ``generator`` (reproducible across devices), then moved to
    ``device``.

    Parameters
    ----------
    num_params : int
        P, the number of trainable parameters (:func:`goldilocks_core.models.num_parameters`).
    d : int
        The subspace dimension, 1 ≤ d ≤ P.
    kind : {"orthonormal", "sparse"}
        ``"orthonormal"``: the sign-fixed Q factor of the QR decomposition of a Gaussian
        matrix (Haar distributed, RᵀR = I). ``"sparse"``: the authors' basis, entries ±1
        w.p. 1/√P, unit-norm columns (not orthogonalised).
    generator : torch.Generator, optional
        Source of randomness.
    dtype : torch.dtype, optional
        Default float64 on the CPU and float32 on CUDA.
    device : torch.device or str, optional
        Default the CPU.

    Returns
    -------
    torch.Tensor
        R, shape (P, d). ``ValueError`` for d ≤ 0, d > P or an unknown kind.

    Examples
    --------
    >>> import torch
    >>> from goldilocks_core.subspace import random_basis
    >>> R = random_basis(100, 5, generator=torch.Generator().manual_seed(0))
    >>> tuple(R.shape), R.dtype
    ((100, 5), torch.float64)
    >>> torch.allclose(R.T @ R, torch.eye(5, dtype=torch.float64))
    True
    >>> S = random_basis(100, 5, kind="sparse", generator=torch.Generator().manual_seed(0))
    >>> S.norm(dim=0).round(decimals=6).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    P, d = _check_dim(num_params, d)
    device = torch.device("cpu" if device is None else device)
    dtype = default_dtype(device) if dtype is None else dtype
    if kind == "orthonormal":
        g = torch.randn(P, d, generator=generator, dtype=torch.float64)
        q, r = torch.linalg.qr(g, mode="reduced")
        signs = torch.sign(torch.diagonal(r))
        signs[signs == 0] = 1.0
        basis = q * signs
    elif kind == "sparse":
        density = 1.0 / math.sqrt(P)
        basis = torch.empty(P, d, dtype=torch.float64)
        for j in range(d):
            while True:  # redraw the (rare for large P) all-zero column
                keep = torch.rand(P, generator=generator, dtype=torch.float64) < density
                if keep.any():
                    break
            sign = torch.randint(0, 2, (P,), generator=generator, dtype=torch.int64) * 2 - 1
            col = keep.to(torch.float64) * sign
            basis[:, j] = col / col.norm()
    else:
        raise ValueError(f"unknown basis kind {kind!r}; choose one of: {', '.join(BASIS_KINDS)}")
    return basis.to(device=device, dtype=dtype)


def parameter_mask(model: nn.Module, layers: Sequence[int | str]) -> torch.Tensor:
    """Build a boolean mask over the flat θ (trainable parameters) selecting ``layers``.

    Parameters
    ----------
    model : nn.Module
        The network.
    layers : int, str or sequence of int or str
        Each entry is an int (index among the trainable parameter tensors, in
        ``named_parameters`` order; 0 is the first layer's weight of a bias-free network,
        negative indices count from the end), a parameter name (``"1.weight"``) or a module
        name (``"1"``: all of that module's parameters).

    Returns
    -------
    torch.Tensor
        Boolean, length P, on the CPU. ``ValueError`` for an empty selection, an index out
        of range or an unknown name.
    """
    slices = parameter_slices(model)
    names = list(slices)
    if not names:
        raise ValueError("the model has no trainable parameters")
    P = slices[names[-1]].stop
    mask = torch.zeros(P, dtype=torch.bool)
    if isinstance(layers, (str, int)):
        layers = [layers]
    if len(layers) == 0:
        raise ValueError("layers must name at least one parameter tensor or module")
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, str)):
            raise ValueError(f"layers entries must be ints or names, got {layer!r}")
        if isinstance(layer, int):
            if not -len(names) <= layer < len(names):
                raise ValueError(f"layer index {layer} out of range for {len(names)} parameter tensors")
            chosen = [names[layer]]
        elif layer in slices:
            chosen = [layer]
        else:
            chosen = [n for n in names if n.startswith(layer + ".")]
            if not chosen:
                raise ValueError(f"no parameter or module named {layer!r}; parameters: {', '.join(names)}")
        for name in chosen:
            mask[slices[name]] = True
    return mask


def layer_basis(
    model: nn.Module,
    d: int,
    *,
    layers: Sequence[int | str] | None = None,
    mask: torch.Tensor | None = None,
    kind: str = "orthonormal",
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw a random basis (P×d) supported on chosen parameters only, with zero rows elsewhere.

    The basis on the support is :func:`random_basis` of the support size, so d must not
    exceed it; e.g. ``layers=[0]`` restricts it to the first layer's weight, as App. D needs.

    Parameters
    ----------
    model : nn.Module
        The network (P trainable parameters).
    d : int
        The subspace dimension.
    layers : int, str or sequence of int or str, optional
        The support, as for :func:`parameter_mask`.
    mask : torch.Tensor, optional
        The support as a boolean vector of length P. Give exactly one of ``layers`` and ``mask``.
    kind, generator
        As for :func:`random_basis`.
    dtype : torch.dtype, optional
        Default float64 on the CPU and float32 on CUDA.
    device : torch.device or str, optional
        Default: the model's device.

    Returns
    -------
    torch.Tensor
        R, shape (P, d).
    """
    if (layers is None) == (mask is None):
        raise ValueError("give exactly one of layers= or mask=")
    P = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if mask is None:
        mask = parameter_mask(model, layers)
    else:
        mask = torch.as_tensor(mask)
        if mask.dtype != torch.bool or mask.ndim != 1 or mask.numel() != P:
            raise ValueError(f"mask must be a boolean vector of length P={P}, got {mask.dtype} of shape {tuple(mask.shape)}")
        mask = mask.cpu()
    support = int(mask.sum())
    if support == 0:
        raise ValueError("the mask selects no parameters")
    if device is None:
        first = next((p for p in model.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    sub = random_basis(support, d, kind=kind, generator=generator, dtype=torch.float64)
    basis = torch.zeros(P, sub.shape[1], dtype=torch.float64)
    basis[mask] = sub
    device = torch.device(device)
    return basis.to(device=device, dtype=default_dtype(device) if dtype is None else dtype)


RANK_CHECK_MAX_DIM = 512  # bases with more columns are checked for zero columns only
_ROWS_PER_STEP = 65536


def _column_gram(basis: torch.Tensor, peaks: torch.Tensor) -> torch.Tensor:
    """Gram matrix of the unit-normalised columns of R, in float64, over row blocks.

    Columns are first divided by their largest entry (``peaks``), so that no column's
    squared norm under- or overflows.
    """
    d = basis.shape[1]
    gram = torch.zeros(d, d, dtype=torch.float64, device=basis.device)
    for i in range(0, basis.shape[0], _ROWS_PER_STEP):
        block = basis[i:i + _ROWS_PER_STEP].to(torch.float64) / peaks
        gram += block.T @ block
    scale = gram.diagonal().sqrt()
    return gram / scale[:, None] / scale[None, :]


def check_basis(basis, num_params: int) -> torch.Tensor:
    """Validate a basis R: a finite floating-point (P, d) tensor, 1 ≤ d ≤ P, of full column rank.

    Parameters
    ----------
    basis : torch.Tensor
        R ∈ R^{P×d}, the directions of the projected Hessian RᵀHR (§2).
    num_params : int
        P, the number of trainable parameters.

    Returns
    -------
    torch.Tensor
        ``basis`` itself. ``ValueError`` (one line) for a wrong type, shape or dtype,
        non-finite entries, a zero column (an all-zero basis included), or — for
        d ≤ ``RANK_CHECK_MAX_DIM`` — linearly dependent columns: the Gram matrix of the
        unit-normalised columns, formed in float64, has λ_min ≤ d·max(ε², ε_float64)·λ_max
        with ε of the basis's dtype (columns independent to about √ε of that precision).
    """
    if not isinstance(basis, torch.Tensor):
        raise ValueError(f"basis must be a torch tensor of shape (P, d), got {type(basis).__name__}")
    if basis.ndim != 2:
        raise ValueError(f"basis must have shape (P, d), got shape {tuple(basis.shape)}")
    if basis.shape[0] != num_params:
        raise ValueError(f"basis has {basis.shape[0]} rows but the model has P={num_params} trainable parameters")
    if basis.shape[1] < 1:
        raise ValueError("basis has no columns (d = 0)")
    if basis.shape[1] > num_params:
        raise ValueError(f"basis has d={basis.shape[1]} columns, more than P={num_params}")
    if not basis.is_floating_point():
        raise ValueError(f"basis must be floating point, got {basis.dtype}")
    if not torch.isfinite(basis).all():
        raise ValueError("basis has non-finite entries")
    d = basis.shape[1]
    peaks = basis.abs().amax(dim=0).to(torch.float64)
    zero = (peaks == 0).nonzero().flatten().tolist()
    if len(zero) == d:
        raise ValueError("basis is all zero: its columns must span a d-dimensional subspace")
    if zero:
        raise ValueError(f"basis column {zero[0]} is zero ({len(zero)} of d={d} columns are): "
                         "the columns must be linearly independent")
    if 1 < d <= RANK_CHECK_MAX_DIM:
        lam = torch.linalg.eigvalsh(_column_gram(basis, peaks))
        eps = torch.finfo(basis.dtype).eps
        tol = d * max(eps * eps, torch.finfo(torch.float64).eps) * float(lam[-1])
        if float(lam[0]) <= tol:
            rank = int((lam > tol).sum())
            ratio = (max(float(lam[0]), 0.0) / float(lam[-1])) ** 0.5
            raise ValueError(f"basis is rank-deficient: its d={d} columns span about {rank} dimensions "
                             f"(σ_min/σ_max = {ratio:.1e}); use linearly independent columns, "
                             "e.g. random_basis")
    return basis
