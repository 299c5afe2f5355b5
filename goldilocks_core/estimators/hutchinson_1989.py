"""Hutchinson's stochastic trace estimator and the matching squared-Frobenius estimator.

Hutchinson, M. F. (1989), *A stochastic estimator of the trace of the influence matrix for
Laplacian smoothing splines*, Comm. Statist. Simul. Comput. 18(3): for Rademacher probes v
(E vvᵀ = I), E[vᵀAv] = Tr(A), with per-probe variance 2(‖A‖_F² − Σ_i A_ii²). The same
probes give E‖Av‖² = Tr(AᵀA) = ‖A‖_F², the denominator of positive curvature (Eq. 2 of
Vysogorets et al., 2024). Standard errors are the sample standard deviation over probes
divided by √(number of probes).
"""
from __future__ import annotations

import numpy as np

from ._common import Estimate, Probes, apply_blocks, as_square_operator
from ..validation import check_count

__all__ = ["hutchinson_samples", "hutchinson_trace", "hutchinson_squared_frobenius"]


def _mean_and_error(samples: np.ndarray) -> tuple[float, float]:
    n = samples.size
    error = float(samples.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return float(samples.mean()), error


def hutchinson_samples(op, num_matvecs: int, *, generator=None, block_size: int = 16,
                       progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-probe vᵀAv and ‖Av‖² for ``num_matvecs`` Rademacher probes (one product each).

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A square operator A (a ``LinearOperator``, a dense array or tensor).
    num_matvecs : int
        n, the number of probes.
    generator : None, int, numpy or torch Generator
        Source of the probes.
    block_size : int
        Probes per ``matmat`` call.
    progress : bool
        Show a progress bar.

    Returns
    -------
    tuple of numpy.ndarray
        ``(quadratic, squared)``, each of length n: unbiased samples of Tr(A) and ‖A‖_F².
    """
    op = as_square_operator(op)
    num = check_count("num_matvecs", num_matvecs)
    probes = Probes(generator)
    dim = op.shape[0]
    quadratic, squared = [], []
    for V, AV in apply_blocks(op, num, block_size, lambda m: probes.rademacher(dim, m),
                              progress=progress, desc="Hutchinson"):
        quadratic.append(np.einsum("ij,ij->j", V, AV))
        squared.append(np.einsum("ij,ij->j", AV, AV))
    return np.concatenate(quadratic), np.concatenate(squared)


def hutchinson_trace(op, num_matvecs: int, *, generator=None, block_size: int = 16,
                     progress: bool = True) -> Estimate:
    r"""Estimate Tr(A) ≈ (1/n) Σ vᵢᵀAvᵢ with Rademacher vᵢ (Hutchinson 1989), n = ``num_matvecs``.

    :math:`\mathbb{E}[v^\top A v] = \mathrm{Tr}(A)` for E vvᵀ = I, with per-probe variance
    2(‖A‖_F² − Σ_i A_ii²).

    Parameters
    ----------
    op, num_matvecs, generator, block_size, progress
        As for :func:`hutchinson_samples`.

    Returns
    -------
    Estimate
        The mean, its standard error and n.
    """
    quadratic, _ = hutchinson_samples(op, num_matvecs, generator=generator, block_size=block_size,
                                      progress=progress)
    return Estimate(*_mean_and_error(quadratic), quadratic.size)


def hutchinson_squared_frobenius(op, num_matvecs: int, *, generator=None, block_size: int = 16,
                                 progress: bool = True) -> Estimate:
    r"""Estimate ‖A‖_F² ≈ (1/n) Σ ‖Avᵢ‖² with Rademacher vᵢ (E‖Av‖² = Tr(AᵀA)).

    The denominator of positive curvature :math:`\mathrm{Tr}(H)/\lVert H\rVert_F` (Eq. 2).

    Parameters
    ----------
    op, num_matvecs, generator, block_size, progress
        As for :func:`hutchinson_samples`.

    Returns
    -------
    Estimate
        The mean, its standard error and n.
    """
    _, squared = hutchinson_samples(op, num_matvecs, generator=generator, block_size=block_size,
                                    progress=progress)
    return Estimate(*_mean_and_error(squared), squared.size)
