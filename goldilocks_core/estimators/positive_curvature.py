"""Positive curvature Tr(H)/‖H‖_F (Eq. 2 of Vysogorets et al., 2024) in the full space.

Each Rademacher probe v costs one product Hv and gives both vᵀHv (Hutchinson 1989, an
unbiased sample of Tr H) and ‖Hv‖² (an unbiased sample of ‖H‖_F²). The ratio of means
R = mean(a) / √mean(b) is consistent (bias O(1/n)); its standard error is the delta
method with the sample covariance of (a, b):

    Var R ≈ (1/n) [σ_a²/B − A σ_ab/B² + A² σ_b²/(4B³)],   A = mean(a), B = mean(b).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._common import as_square_operator
from .hutchinson_1989 import hutchinson_samples

__all__ = ["PositiveCurvatureEstimate", "positive_curvature_estimate", "positive_curvature_exact"]


class PositiveCurvatureEstimate(NamedTuple):
    r"""An estimate of positive curvature Tr/‖·‖_F with its standard error and the estimates behind it.

    ``float(estimate)`` is its value.

    Parameters
    ----------
    value : float
        R = mean(vᵀAv)/√mean(‖Av‖²), an estimate of :math:`\mathrm{Tr}(A)/\lVert A\rVert_F` (Eq. 2).
    standard_error : float
        Delta-method standard error of R.
    trace, trace_standard_error : float
        The Hutchinson estimate of Tr(A) and its standard error.
    squared_frobenius, squared_frobenius_standard_error : float
        The estimate of ‖A‖_F² and its standard error.
    num_matvecs : int
        The operator products spent.
    """

    value: float
    standard_error: float
    trace: float
    trace_standard_error: float
    squared_frobenius: float
    squared_frobenius_standard_error: float
    num_matvecs: int

    def __float__(self) -> float:
        return float(self.value)


def positive_curvature_estimate(op, num_matvecs: int, *, generator=None, block_size: int = 16,
                                progress: bool = True) -> PositiveCurvatureEstimate:
    r"""Estimate Tr(A)/‖A‖_F of a symmetric operator from ``num_matvecs`` ≥ 2 shared Rademacher probes.

    Each probe gives a = vᵀAv and b = ‖Av‖²; the ratio of means
    :math:`R = \bar a/\sqrt{\bar b}` estimates Eq. 2, with the delta-method variance of the
    module docstring.

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric operator A.
    num_matvecs : int
        n ≥ 2 probes.
    generator : None, int, numpy or torch Generator
        Source of the probes.
    block_size : int
        Probes per ``matmat`` call.
    progress : bool
        Show a progress bar.

    Returns
    -------
    PositiveCurvatureEstimate
        NaN value and error for the zero operator.
    """
    a, b = hutchinson_samples(op, num_matvecs, generator=generator, block_size=block_size, progress=progress)
    n = a.size
    if n < 2:
        raise ValueError("positive_curvature_estimate needs num_matvecs ≥ 2 for a standard error")
    A, B = float(a.mean()), float(b.mean())
    cov = np.cov(np.stack([a, b]), ddof=1)
    if B <= 0:  # A v = 0 for every probe: the zero operator
        return PositiveCurvatureEstimate(float("nan"), float("nan"), A, float(np.sqrt(cov[0, 0] / n)), B,
                                         float(np.sqrt(cov[1, 1] / n)), n)
    value = A / np.sqrt(B)
    variance = (cov[0, 0] / B - A * cov[0, 1] / B**2 + A**2 * cov[1, 1] / (4 * B**3)) / n
    return PositiveCurvatureEstimate(
        float(value), float(np.sqrt(max(variance, 0.0))), A, float(np.sqrt(cov[0, 0] / n)),
        B, float(np.sqrt(cov[1, 1] / n)), n,
    )


def positive_curvature_exact(matrix) -> float:
    """Compute Tr(A)/‖A‖_F (Eq. 2) of a dense matrix, or of a small operator formed densely.

    Parameters
    ----------
    matrix : numpy.ndarray, LinearOperator or torch.Tensor
        A non-empty square matrix or operator.

    Returns
    -------
    float
        NaN for the zero matrix.
    """
    if not isinstance(matrix, np.ndarray):
        op = as_square_operator(matrix)
        matrix = op.matmat(np.eye(op.shape[0]))
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ValueError(f"expected a non-empty square matrix, got shape {matrix.shape}")
    norm = np.linalg.norm(matrix)
    return float(np.trace(matrix) / norm) if norm > 0 else float("nan")
