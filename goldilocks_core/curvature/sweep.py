"""Curvature over grids of scale α and temperature T — Fig. 1 and Fig. 2 in one pass.

By Eq. 5 every sweep point (α, T) reduces to β = α^L/T: the G-term and H-term of the
unscaled network are computed once per distinct β from one projected Jacobian JR per
data chunk, and α only enters through the prefactor α⁻². So the α-sweep at T = 1 and
the T-sweep at α = 1 are the same curve of β, and T = α^L (β = 1) costs one point.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..validation import check_alpha, check_temperature
from .decomposition import Decomposition, assemble, inverse_temperature, resolve_degree
from .engine import accumulate

__all__ = ["sweep", "sweep_decompositions", "sweep_points", "alpha_grid", "TIED"]

TIED = "alpha^L"  # temperatures=TIED sets T = α^L (β = 1: every α in the zone, Fig. 1 middle)
_TIED_SPELLINGS = {"alpha^L", "alpha**L", "alpha^l", "alpha**l"}


def alpha_grid(lo: float = -3.0, hi: float = 3.0, step: float = 0.25) -> list[float]:
    """Return the scales 10^lo … 10^hi in exponent steps of ``step``.

    The defaults are the authors' 25-point grid 10⁻³ … 10³ (step 0.25 in the exponent).

    Parameters
    ----------
    lo, hi : float
        Exponents of the first and last value.
    step : float
        Exponent step.

    Returns
    -------
    list of float
        ``[10**lo, …, 10**hi]``.
    """
    n = int(round((hi - lo) / step)) + 1
    return [float(10.0**e) for e in np.linspace(lo, hi, n)]


def _as_list(name: str, value) -> list[float] | None:
    """Scalar → None (broadcast later); sequence/array → list of floats."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().reshape(-1).tolist() if value.ndim else float(value)
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise ValueError(f"{name} must not be empty")
        return [float(v) for v in value]
    return None


def _broadcast(**named) -> int:
    lengths = {k: len(v) for k, v in named.items() if isinstance(v, list)}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"sweep values must be scalars or sequences of one common length: {desc}")
    return next(iter(lengths.values()), 1)


def sweep_points(alphas=None, temperatures=1.0, betas=None, *, degree: int) -> list[tuple[float, float, float]]:
    r"""List the (α, T, β) of each sweep point, broadcasting scalars against sequences.

    Sequences are zipped (they must have one common length); scalars broadcast against them.

    Parameters
    ----------
    alphas : float or sequence of float, optional
        The scales α. ``None``: the authors' grid 10^(−3 … 3, step 0.25) (25 points), or
        α = 1 when ``betas`` is given.
    temperatures : float, sequence of float or "alpha^L"
        The temperatures T; ``"alpha^L"`` (:data:`TIED`) sets T = α^L, so β = 1.
    betas : float or sequence of float, optional
        Inverse temperatures :math:`\beta = \alpha^L/T` (Eq. 5) given directly; then
        T = α^L/β and ``temperatures`` must be left at its default.
    degree : int
        L, the homogeneity degree.

    Returns
    -------
    list of tuple of float
        ``(alpha, temperature, beta)`` per point. ``ValueError`` for empty or mismatched
        sequences, non-positive values, both ``temperatures`` and ``betas``, or a T outside
        the float64 range.
    """
    if alphas is None:
        alphas = 1.0 if betas is not None else alpha_grid()
    a_list = _as_list("alphas", alphas)
    tied = isinstance(temperatures, str)
    if tied and temperatures not in _TIED_SPELLINGS:
        raise ValueError(f"temperatures must be numbers or {TIED!r}, got {temperatures!r}")
    if betas is not None:
        if tied or _as_list("temperatures", temperatures) is not None or float(temperatures) != 1.0:
            raise ValueError("give either temperatures or betas, not both")
        b_list = _as_list("betas", betas)
        n = _broadcast(alphas=a_list, betas=b_list)
        a_vals = a_list or [alphas] * n
        b_vals = b_list or [betas] * n
        out = []
        for a, b in zip(a_vals, b_vals):
            a, b = check_alpha(a), _positive_beta(b)
            t = math.exp(degree * math.log(a) - math.log(b))
            if not 0 < t < math.inf:
                raise ValueError(f"T = α^L/β is outside the float64 range for α={a}, β={b}, L={degree}")
            out.append((a, t, b))
        return out
    t_list = None if tied else _as_list("temperatures", temperatures)
    n = _broadcast(alphas=a_list, temperatures=t_list)
    a_vals = a_list or [alphas] * n
    out = []
    for i, a in enumerate(a_vals):
        a = check_alpha(a)
        if tied:
            t = math.exp(degree * math.log(a))
        else:
            t = check_temperature(t_list[i] if t_list is not None else temperatures)
        out.append((a, t, 1.0 if tied else inverse_temperature(a, t, degree)))
    return out


def _positive_beta(b) -> float:
    try:
        b = float(b)
    except (TypeError, ValueError):
        raise ValueError(f"betas must be positive numbers, got {b!r}") from None
    if not (b > 0 and b < float("inf")):
        raise ValueError(f"betas must be positive finite numbers, got {b!r}")
    return b


def _unique(betas: Sequence[float], rtol: float = 1e-12) -> tuple[list[float], list[int]]:
    """Distinct β (to relative ``rtol``) and, per point, the index of its distinct β."""
    distinct: list[float] = []
    index = []
    for b in betas:
        for j, u in enumerate(distinct):
            if abs(b - u) <= rtol * max(abs(b), abs(u)):
                index.append(j)
                break
        else:
            index.append(len(distinct))
            distinct.append(b)
    return distinct, index


def sweep_decompositions(
    model: nn.Module,
    inputs,
    targets,
    basis: torch.Tensor,
    *,
    alphas=None,
    temperatures=1.0,
    betas=None,
    chunk_size: int | None = None,
    degree: int | None = None,
    dtype: torch.dtype | None = None,
    method: str = "auto",
    progress: bool = True,
) -> list[Decomposition]:
    """Compute one :class:`Decomposition` per sweep point, sharing one Jacobian pass.

    The arguments are those of :func:`sweep`; every distinct β = α^L/T costs one H-term
    pass, and points with the same β share it (Eq. 5).

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ.
    inputs, targets : torch.Tensor
        Data (N, …) and N integer class labels.
    basis : torch.Tensor
        R (P×d) of full column rank.
    alphas, temperatures, betas
        The sweep points (see :func:`sweep_points`).
    chunk_size, degree, dtype, method
        As in :func:`decompose`.
    progress : bool
        Show a progress bar (also off with ``TQDM_DISABLE=1``).

    Returns
    -------
    list of Decomposition
        One per point, in the order of :func:`sweep_points`.
    """
    L = resolve_degree(model, degree)
    points = sweep_points(alphas, temperatures, betas, degree=L)
    distinct, index = _unique([b for _, _, b in points])
    projections = accumulate(model, inputs, targets, basis, distinct, chunk_size=chunk_size, dtype=dtype,
                             method=method, progress=progress, desc="curvature sweep")
    n = inputs.shape[0] if hasattr(inputs, "shape") else len(inputs)
    return [assemble(projections[j], a, t, b, L, n) for (a, t, b), j in zip(points, index)]


def sweep(
    model: nn.Module,
    inputs,
    targets,
    basis: torch.Tensor,
    *,
    alphas=None,
    temperatures=1.0,
    betas=None,
    chunk_size: int | None = None,
    degree: int | None = None,
    dtype: torch.dtype | None = None,
    method: str = "auto",
    progress: bool = True,
) -> pd.DataFrame:
    r"""Tabulate positive curvature, local convexity and norms of H, G-term and H-term over (α, T).

    By Eq. 5 each point reduces to :math:`\beta = \alpha^L/T`: one projected Jacobian per
    data chunk serves all points, and each distinct β costs one H-term pass. Positive
    curvature is :math:`\mathrm{Tr}(H)/\lVert H\rVert_F` (Eq. 2).

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ.
    inputs, targets : torch.Tensor
        Data (N, …) and N integer class labels.
    basis : torch.Tensor
        R (P×d) of full column rank, e.g. :func:`goldilocks_core.subspace.random_basis`.
    alphas : float or sequence of float, optional
        Scales α (default: 10^(−3…3), 25 points), zipped with ``temperatures`` or ``betas``.
    temperatures : float, sequence of float or "alpha^L"
        T per point; ``"alpha^L"`` for T = α^L. Scalars broadcast.
    betas : float or sequence of float, optional
        β = α^L/T given directly; then T = α^L/β.
    chunk_size, degree, dtype, method
        As in :func:`decompose`.
    progress : bool
        Show a progress bar (also off with ``TQDM_DISABLE=1``).

    Returns
    -------
    pandas.DataFrame
        One row per point, columns: ``alpha, temperature, beta, log10_beta``;
        ``pc_{hessian,g_term,h_term}`` (Tr/‖·‖_F, Eq. 2), ``lc_*`` (fraction of positive
        eigenvalues), ``norm_*`` (max|λ| at the true scale, float64, may over/underflow),
        ``log10_norm_*`` (always finite unless the term is exactly 0), ``lmax_*`` (λ_max at
        the true scale); ``loss, mean_entropy, grad_norm, log10_grad_norm``.

    Examples
    --------
    Three scales of a two-layer ReLU network at T = 1:

    >>> import torch
    >>> from goldilocks_core.curvature import sweep
    >>> from goldilocks_core.models import mlp, num_parameters
    >>> from goldilocks_core.subspace import random_basis
    >>> g = torch.Generator().manual_seed(0)
    >>> model = mlp([4, 8, 3], generator=g, dtype=torch.float64)
    >>> x = torch.randn(32, 4, generator=g, dtype=torch.float64)
    >>> y = torch.randint(0, 3, (32,), generator=g)
    >>> R = random_basis(num_parameters(model), 5, generator=g)
    >>> table = sweep(model, x, y, R, alphas=[0.1, 1.0, 10.0], progress=False)
    >>> print(table[["alpha", "beta", "pc_hessian", "pc_g_term"]].round(3).to_string(index=False))
     alpha   beta  pc_hessian  pc_g_term
       0.1   0.01      -0.994      1.848
       1.0   1.00       1.439      1.686
      10.0 100.00       0.879      1.004
    """
    decs = sweep_decompositions(model, inputs, targets, basis, alphas=alphas, temperatures=temperatures,
                                betas=betas, chunk_size=chunk_size, degree=degree, dtype=dtype, method=method,
                                progress=progress)
    return pd.DataFrame([d.metrics() for d in decs])
