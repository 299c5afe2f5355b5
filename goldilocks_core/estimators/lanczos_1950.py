"""Extreme eigenvalues of a symmetric operator: the Lanczos iteration.

Lanczos, C. (1950), *An iteration method for the solution of the eigenvalue problem of
linear differential and integral operators*, J. Res. Nat. Bur. Standards 45. :func:`lanczos`
runs m steps with full reorthogonalisation (no ghost eigenvalues) and returns the
tridiagonal T_m = QᵀAQ; :func:`top_eigenvalues` wraps ARPACK's implicitly restarted Lanczos
(:func:`scipy.sparse.linalg.eigsh`, Lehoucq, Sorensen & Yang 1998) for converged extreme
eigenpairs. :func:`sharpness` is λ_max of the loss Hessian, the ‖H‖₂ of the stability bound
η < 2/‖H‖₂ in §5 of Vysogorets et al. (2024).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from ..validation import check_positive
from ._common import Probes, as_square_operator
from ..validation import check_count

__all__ = [
    "lanczos_block",
    "LanczosResult",
    "lanczos",
    "ritz_values",
    "top_eigenvalues",
    "bottom_eigenvalues",
    "operator_norm",
    "sharpness",
]

_WHICH = ("LA", "LM", "SA")


class LanczosResult(NamedTuple):
    """The tridiagonal T = tridiag(betas, alphas, betas) = QᵀAQ of a Lanczos run.

    Parameters
    ----------
    alphas : numpy.ndarray
        The diagonal of T, length m.
    betas : numpy.ndarray
        The off-diagonal of T, length m − 1.
    basis : numpy.ndarray or None
        Q (P×m) when kept, else ``None``.
    """

    alphas: np.ndarray
    betas: np.ndarray
    basis: np.ndarray | None


def lanczos(op, num_steps: int, *, v0=None, generator=None, keep_basis: bool = False,
            breakdown_tol: float = 1e-12) -> LanczosResult:
    """Run ``num_steps`` Lanczos steps from ``v0`` with full reorthogonalisation.

    Stops early on an invariant subspace (β_j ≤ ``breakdown_tol`` · the largest |α|, β
    seen), so ``len(alphas)`` may be < ``num_steps``. Every new vector is orthogonalised
    twice against all earlier ones (classical Gram–Schmidt, "twice is enough").

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric operator A.
    num_steps : int
        m, at most the dimension.
    v0 : array-like, optional
        A non-zero start vector (default: a Gaussian vector from ``generator``).
    generator : None, int, numpy or torch Generator
        Source of the default start vector.
    keep_basis : bool
        Keep Q in the result.
    breakdown_tol : float
        Relative threshold of an invariant subspace.

    Returns
    -------
    LanczosResult
    """
    op = as_square_operator(op)
    dim = op.shape[0]
    q = Probes(generator).gaussian(dim)[:, 0] if v0 is None else np.asarray(v0, dtype=np.float64).reshape(-1)
    if q.size != dim:
        raise ValueError(f"v0 must have length {dim}, got {q.size}")
    if not np.linalg.norm(q) > 0:
        raise ValueError("v0 must be a non-zero vector")
    ((result, _),) = lanczos_block(op, q[:, None], num_steps, keep_basis=keep_basis, breakdown_tol=breakdown_tol)
    return result


def lanczos_block(op, starts: np.ndarray, num_steps: int, *, keep_basis: bool = False,
                  breakdown_tol: float = 1e-12) -> list[tuple[LanczosResult, float]]:
    """Run independent Lanczos iterations from the columns of ``starts`` (P×b), advanced together.

    The recurrence of :func:`lanczos`, but each step applies the operator to all active runs
    in one ``matmat`` (b products for the price of one call).

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric operator A.
    starts : numpy.ndarray
        Start vectors as columns, P×b.
    num_steps : int
        Steps per run, at most the dimension.
    keep_basis : bool
        Keep each run's Q.
    breakdown_tol : float
        Relative threshold of an invariant subspace.

    Returns
    -------
    list of tuple
        Per run, its :class:`LanczosResult` and the norm of its last residual β_m (0 on
        breakdown), which bounds the Ritz residuals |β_m U_{m,j}|.
    """
    op = as_square_operator(op)
    V0 = np.asarray(starts, dtype=np.float64)
    dim, b = V0.shape
    if dim != op.shape[0]:
        raise ValueError(f"start vectors must have length {op.shape[0]}, got {dim}")
    m = min(check_count("num_steps", num_steps), dim)
    Q = np.zeros((b, m, dim))
    Q[:, 0, :] = (V0 / np.linalg.norm(V0, axis=0)).T
    alphas = np.zeros((b, m))
    betas = np.zeros((b, m))
    length = np.zeros(b, dtype=int)
    scale = np.zeros(b)
    active = np.ones(b, dtype=bool)
    for j in range(m):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        W = np.asarray(op.matmat(np.ascontiguousarray(Q[idx, j, :].T)), dtype=np.float64)
        W = np.ascontiguousarray(W.reshape(dim, idx.size).T)
        a = np.einsum("bd,bd->b", Q[idx, j, :], W)
        alphas[idx, j] = a
        for row, i in enumerate(idx):  # Gram–Schmidt against the run's own basis, twice
            basis = Q[i, : j + 1, :]
            for _ in range(2):
                W[row] -= (basis @ W[row]) @ basis
        beta = np.linalg.norm(W, axis=1)
        scale[idx] = np.maximum(scale[idx], np.maximum(np.abs(a), beta))
        length[idx] = j + 1
        breakdown = beta <= breakdown_tol * scale[idx]
        stop = breakdown | (j == m - 1)
        betas[idx, j] = np.where(breakdown, 0.0, beta)
        go = idx[~stop]
        if go.size:
            Q[go, j + 1, :] = W[~stop] / beta[~stop, None]
        active[idx[stop]] = False
    runs = []
    for i in range(b):
        k = length[i]
        basis = Q[i, :k, :].T.copy() if keep_basis else None
        runs.append((LanczosResult(alphas[i, :k].copy(), betas[i, : k - 1].copy(), basis), float(betas[i, k - 1])))
    return runs


def ritz_values(result: LanczosResult, return_vectors: bool = False):
    """Compute the eigenvalues (ascending) of the tridiagonal T, and optionally its eigenvectors.

    Parameters
    ----------
    result : LanczosResult
        A Lanczos run.
    return_vectors : bool
        Also return the eigenvectors U of T (columns).

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        The Ritz values, or ``(values, vectors)``.
    """
    if result.alphas.size == 1:
        values = result.alphas.copy()
        return (values, np.ones((1, 1))) if return_vectors else values
    return eigh_tridiagonal(result.alphas, result.betas, eigvals_only=not return_vectors)


def top_eigenvalues(op, k: int = 1, *, which: str = "LA", tol: float = 1e-10, maxiter: int | None = None,
                    ncv: int | None = None, return_eigenvectors: bool = False, generator=None):
    """Compute the k extreme eigenvalues of a symmetric operator by ARPACK Lanczos (``eigsh``).

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric operator of dimension P.
    k : int
        Number of eigenvalues, k < P.
    which : {"LA", "LM", "SA"}
        ``"LA"`` largest (returned in descending order), ``"LM"`` largest in magnitude
        (descending |λ|), ``"SA"`` smallest (ascending).
    tol : float
        ARPACK's relative accuracy of the Ritz values.
    maxiter, ncv : int, optional
        Passed to :func:`scipy.sparse.linalg.eigsh`.
    return_eigenvectors : bool
        Also return the eigenvectors.
    generator : None, int, numpy or torch Generator
        The start vector is drawn from it (reproducible).

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        The eigenvalues, or (eigenvalues, eigenvectors as columns). ``RuntimeError`` when
        ARPACK does not converge.
    """
    op = as_square_operator(op)
    dim = op.shape[0]
    k = check_count("k", k)
    if k >= dim:
        raise ValueError(f"k = {k} must be < P = {dim} (use a dense eigensolver for all eigenvalues)")
    if which not in _WHICH:
        raise ValueError(f"which must be one of {', '.join(_WHICH)}, got {which!r}")
    tol = check_positive("tol", tol)
    v0 = Probes(generator).gaussian(dim)[:, 0]
    try:
        values, vectors = eigsh(op, k=k, which=which, tol=tol, maxiter=maxiter, ncv=ncv, v0=v0)
    except ArpackNoConvergence as err:
        raise RuntimeError(f"Lanczos (ARPACK) did not converge to tol={tol:g}: {err}") from None
    if which == "SA":
        order = np.argsort(values)
    elif which == "LA":
        order = np.argsort(values)[::-1]
    else:
        order = np.argsort(np.abs(values))[::-1]
    values, vectors = values[order], vectors[:, order]
    return (values, vectors) if return_eigenvectors else values


def bottom_eigenvalues(op, k: int = 1, **kwargs):
    """Compute the k smallest eigenvalues, ascending (``top_eigenvalues`` with ``which="SA"``).

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric operator.
    k : int
        Number of eigenvalues.
    **kwargs
        Any other keyword of :func:`top_eigenvalues`.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        As for :func:`top_eigenvalues`.
    """
    return top_eigenvalues(op, k, which="SA", **kwargs)


def operator_norm(op, **kwargs) -> float:
    """Compute ‖A‖₂ = max |λ| of a symmetric operator by Lanczos (``which="LM"``).

    For small dense (batched) matrices use :func:`goldilocks_core.curvature.spectral_norm`.

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric operator.
    **kwargs
        Any keyword of :func:`top_eigenvalues` (``tol``, ``generator``, …).

    Returns
    -------
    float
    """
    return float(abs(top_eigenvalues(op, 1, which="LM", **kwargs)[0]))


def sharpness(model, inputs, targets, *, alpha: float = 1.0, temperature: float = 1.0,
              chunk_size: int | None = None, degree: int | None = None, tol: float = 1e-10,
              generator=None, **operator_kwargs) -> float:
    r"""Compute λ_max of the loss Hessian H(α, T) (Eq. 5) at the model's parameters.

    The quantity of the stability threshold :math:`\eta\lVert H\rVert_2 < 2` in §5 of
    Vysogorets et al. (2024) and of Kalra & Barkeshli (2023).

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ.
    inputs, targets : torch.Tensor
        The data of the loss.
    alpha, temperature : float
        α > 0 and T > 0.
    chunk_size : int, optional
        Samples per Hessian-vector pass.
    degree : int, optional
        L (default: read from the model).
    tol : float
        ARPACK's relative accuracy.
    generator : None, int, numpy or torch Generator
        Source of the start vector.
    **operator_kwargs
        Passed to :func:`~goldilocks_core.estimators.operators.hessian_operator`
        (``parameters``, ``theta``).

    Returns
    -------
    float
    """
    from .operators import hessian_operator

    op = hessian_operator(model, inputs, targets, alpha=alpha, temperature=temperature, chunk_size=chunk_size,
                          degree=degree, **operator_kwargs)
    if op.num_params == 1:
        return float(op.matvec(np.ones(1))[0])
    return float(top_eigenvalues(op, 1, which="LA", tol=tol, generator=generator)[0])
