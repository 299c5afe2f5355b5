"""Scale-invariant and scale-carrying summaries of a symmetric curvature matrix.

* :func:`positive_curvature` — Tr(M)/‖M‖_F, Eq. 2 of Vysogorets et al. (2024), the
  measure of Fort & Scherlis (2019). For a PSD matrix of rank r it lies in [1, √r].
* :func:`local_convexity` — the fraction of positive eigenvalues (Fort & Scherlis, 2019),
  eigenvalues within :func:`zero_tolerance` (d·ε of the working precision) counted as zero.
* :func:`spectral_norm` — ‖M‖₂ = max|λ|; :func:`lambda_max` — the largest eigenvalue
  (the authors' "spectral norm" plot uses λ_max).

Every function accepts a torch tensor or a numpy array of shape ``(..., d, d)`` (batched
over leading dimensions) and returns the same kind: a tensor of shape ``(...)`` for a
tensor, a numpy array (``np.float64`` scalar for a single matrix) for an array. Matrices
are symmetrised, (M + Mᵀ)/2, before any eigenvalue is taken.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["positive_curvature", "local_convexity", "zero_tolerance", "spectral_norm", "lambda_max",
           "eigenvalues"]


def _as_tensor(M):
    """(tensor, was_numpy); numpy arrays are viewed as float64 tensors."""
    if isinstance(M, torch.Tensor):
        t, was_numpy = M, False
    else:
        t, was_numpy = torch.from_numpy(np.asarray(M, dtype=np.float64)), True
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"expected square matrices of shape (..., d, d), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    return t, was_numpy


def _out(t: torch.Tensor, was_numpy: bool):
    if not was_numpy:
        return t
    a = t.detach().cpu().numpy()
    return np.float64(a) if a.ndim == 0 else a


def _symmetric(t: torch.Tensor) -> torch.Tensor:
    return 0.5 * (t + t.transpose(-1, -2))


def eigenvalues(M):
    """Return the eigenvalues of the symmetrised matrix, in ascending order.

    Parameters
    ----------
    M : torch.Tensor or numpy.ndarray
        Square matrices of shape (..., d, d); symmetrised as (M + Mᵀ)/2.

    Returns
    -------
    torch.Tensor or numpy.ndarray
        Shape (..., d), of the same kind as ``M``.
    """
    t, was_numpy = _as_tensor(M)
    return _out(torch.linalg.eigvalsh(_symmetric(t)), was_numpy)


def positive_curvature(M):
    r"""Compute the positive curvature Tr(M)/‖M‖_F of a symmetric matrix (Eq. 2).

    :math:`\mathrm{Tr}(M)/\lVert M\rVert_F = \sum_i\lambda_i/(\sum_i\lambda_i^2)^{1/2}`,
    the measure of Fort & Scherlis (2019); invariant to M → cM for c > 0. For a PSD matrix
    of rank r it lies in [1, √r]. It needs no eigenvalues; M is rescaled by max|M_ij|
    first, so tiny or huge entries (1e-200, 1e200) neither underflow nor overflow.

    Parameters
    ----------
    M : torch.Tensor or numpy.ndarray
        Square matrices of shape (..., d, d); symmetrised as (M + Mᵀ)/2.

    Returns
    -------
    torch.Tensor or numpy.ndarray
        Shape (...): a tensor for a tensor, a numpy array (``np.float64`` for a single
        matrix) for an array. NaN for the zero matrix (0/0).
    """
    t, was_numpy = _as_tensor(M)
    s = _symmetric(t)
    peak = s.abs().amax(dim=(-2, -1), keepdim=True)  # rescale first: no under/overflow in Σλ²
    s = s / torch.where(peak > 0, peak, torch.ones_like(peak))
    trace = torch.diagonal(s, dim1=-2, dim2=-1).sum(-1)
    return _out(trace / torch.linalg.matrix_norm(s, ord="fro"), was_numpy)


def zero_tolerance(d: int, precision: torch.dtype = torch.float64) -> float:
    """Return d·ε, the relative size |λ|/max|λ| at or below which an eigenvalue counts as zero.

    A d×d symmetric matrix whose entries carry relative errors ε (ε of ``precision``) has
    eigenvalues known to about d·ε·max|λ|: 1.1e-14 for d = 50 in float64, 6e-6 in float32.

    Parameters
    ----------
    d : int
        The matrix size.
    precision : torch.dtype
        The floating-point dtype whose machine ε applies.

    Returns
    -------
    float
        ``d * torch.finfo(precision).eps``. ``ValueError`` for a non-floating dtype.
    """
    if not isinstance(precision, torch.dtype) or not precision.is_floating_point:
        raise ValueError(f"precision must be a floating-point torch dtype, got {precision!r}")
    return d * torch.finfo(precision).eps


def local_convexity(M, rtol: float | None = None, *, precision: torch.dtype | None = None):
    """Compute the scale-invariant fraction of eigenvalues λ > rtol·max|λ| (Fort & Scherlis, 2019).

    Ties and zeros: an eigenvalue within ``rtol·max|λ|`` of zero counts as *not* positive,
    so a PSD matrix of rank r gives r/d despite round-off in its zero eigenvalues.

    Parameters
    ----------
    M : torch.Tensor or numpy.ndarray
        Square matrices of shape (..., d, d); symmetrised as (M + Mᵀ)/2.
    rtol : float, optional
        Relative tolerance ≥ 0. Default: :func:`zero_tolerance` d·ε of the coarser of the
        matrix's dtype and ``precision``.
    precision : torch.dtype, optional
        The dtype the matrix's factors were computed in (a float64 matrix accumulated from a
        float32 Jacobian: 6e-6 for d = 50; pure float64: 1.1e-14).

    Returns
    -------
    torch.Tensor or numpy.ndarray
        Shape (...), in [0, 1]; the zero matrix gives 0.
    """
    t, was_numpy = _as_tensor(M)
    lam = torch.linalg.eigvalsh(_symmetric(t))
    d = lam.shape[-1]
    if rtol is None:
        coarse = lam.dtype
        if precision is not None and zero_tolerance(1, precision) > zero_tolerance(1, coarse):
            coarse = precision
        tol = zero_tolerance(d, coarse)
    else:
        tol = float(rtol)
    if tol < 0:
        raise ValueError(f"rtol must be ≥ 0, got {rtol!r}")
    bound = tol * lam.abs().amax(-1, keepdim=True)
    return _out((lam > bound).sum(-1).to(lam.dtype) / d, was_numpy)


def spectral_norm(M):
    """Compute the spectral norm ‖M‖₂ = max_i |λ_i| of the symmetrised matrix.

    Parameters
    ----------
    M : torch.Tensor or numpy.ndarray
        Square matrices of shape (..., d, d).

    Returns
    -------
    torch.Tensor or numpy.ndarray
        Shape (...), of the same kind as ``M``.
    """
    t, was_numpy = _as_tensor(M)
    return _out(torch.linalg.eigvalsh(_symmetric(t)).abs().amax(-1), was_numpy)


def lambda_max(M):
    """Return the largest eigenvalue λ_max of the symmetrised matrix, which may be negative.

    The authors' "spectral norm" plot uses λ_max.

    Parameters
    ----------
    M : torch.Tensor or numpy.ndarray
        Square matrices of shape (..., d, d).

    Returns
    -------
    torch.Tensor or numpy.ndarray
        Shape (...), of the same kind as ``M``.
    """
    t, was_numpy = _as_tensor(M)
    return _out(torch.linalg.eigvalsh(_symmetric(t))[..., -1], was_numpy)
