"""Spectral density by stochastic Lanczos quadrature (SLQ).

Ubaru, Chen & Saad (2017), *Fast estimation of tr(f(A)) via stochastic Lanczos quadrature*,
SIAM J. Matrix Anal. Appl. 38(4); as used for Hessian spectra by Ghorbani, Krishnan & Xiao
(2019). For a probe v (‖v‖ = 1), m Lanczos steps give T_m = U diag(θ) Uᵀ and the Gauss
quadrature vᵀ f(A) v ≈ Σ_j τ_j f(θ_j) with nodes θ_j and weights τ_j = U_{1j}², exact for
polynomials of degree ≤ 2m − 1. Averaging over probes estimates (1/P) Tr f(A), i.e. the
spectral density φ(t) = (1/P) Σ_i δ(t − λ_i); replacing δ by a Gaussian of width σ gives a
smooth density that integrates to 1 (the bulk + outlier pictures of App. A of Vysogorets
et al., 2024). The density's mean is the probes' average Rayleigh quotient ≈ Tr(A)/P.

One pass gives more than the density (:func:`slq`): each probe's Ritz values with their
residual bounds |β_m U_{m,j}| (extreme eigenvalues for free) and the Hutchinson samples
P·T₁₁ and P·(T₁₁² + T₁₂²) of Tr(A) and ‖A‖_F².
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ..progress import progress_bar
from ..validation import check_positive
from ._common import Probes, as_square_operator
from ..validation import check_count
from .lanczos_1950 import lanczos_block, ritz_values

__all__ = ["SpectralDensity", "RitzValues", "SLQResult", "slq", "slq_quadrature", "top_ritz_values",
           "gaussian_density", "spectral_density"]


class SpectralDensity(NamedTuple):
    """A smoothed spectral density φ on a grid, with the quadrature behind it.

    Parameters
    ----------
    grid : numpy.ndarray
        The points t.
    density : numpy.ndarray
        φ(t) on ``grid``.
    nodes, weights : numpy.ndarray
        The quadrature nodes and weights of all probes (Σ weights = 1).
    sigma : float
        The width of the Gaussian broadening.
    """

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float


class RitzValues(NamedTuple):
    """Ritz values of one Lanczos run (descending) and their residual bounds ‖Ay − θy‖.

    Parameters
    ----------
    values : numpy.ndarray
        The Ritz values θ, descending.
    residuals : numpy.ndarray
        |β_m U_{m,j}| per value.
    """

    values: np.ndarray
    residuals: np.ndarray


class SLQResult(NamedTuple):
    """The result of one SLQ pass: quadrature, each probe's Ritz values, and trace estimates.

    Parameters
    ----------
    nodes, weights : numpy.ndarray
        Quadrature nodes and weights of all probes (Σ weights = 1).
    ritz : list of RitzValues
        Each probe's Ritz values.
    dim : int
        The operator's size P.
    trace, trace_standard_error : float
        The Hutchinson estimate of Tr(A) read off the tridiagonals, with its standard error
        over probes.
    squared_frobenius, squared_frobenius_standard_error : float
        The same for ‖A‖_F².
    """

    nodes: np.ndarray
    weights: np.ndarray
    ritz: list[RitzValues]
    dim: int
    trace: float
    trace_standard_error: float
    squared_frobenius: float
    squared_frobenius_standard_error: float


def _moments(run_alphas: list[np.ndarray], run_betas: list[np.ndarray], dim: int):
    """Per-probe Hutchinson samples from each tridiagonal: P·T₁₁ and P·(T₁₁² + T₁₂²)."""
    a1 = np.array([a[0] for a in run_alphas])
    b1 = np.array([b[0] if b.size else 0.0 for b in run_betas])
    tr, f2 = dim * a1, dim * (a1**2 + b1**2)
    n = tr.size
    se = (lambda x: float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"))
    return float(tr.mean()), se(tr), float(f2.mean()), se(f2)


def slq(op, *, num_probes: int = 10, lanczos_steps: int = 80, generator=None, probe_block: int | None = None,
        progress: bool = True) -> SLQResult:
    r"""Run stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017), probes advanced in blocks.

    For a probe v (‖v‖ = 1), m Lanczos steps give the Gauss quadrature
    :math:`v^\top f(A) v \approx \sum_j \tau_j f(\theta_j)`, :math:`\tau_j = U_{1j}^2`; averaged
    over probes it estimates :math:`\frac1P\mathrm{Tr}\,f(A)`.

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric P × P operator.
    num_probes : int
        Normalised Rademacher probes drawn from ``generator`` (in this order, whatever the
        block size).
    lanczos_steps : int
        Lanczos steps per probe.
    generator : None, int, numpy or torch Generator
        Source of the probes.
    probe_block : int, optional
        Probes advanced together, one ``matmat`` per step (default: all); memory grows as
        probe_block·steps·P.
    progress : bool
        Show a progress bar.

    Returns
    -------
    SLQResult
        Nodes θ_j and weights τ_j = U_{1j}²/num_probes, so Σ τ f(θ) ≈ (1/P) Tr f(A); every
        probe's Ritz values (descending) with residual bounds; Tr(A) and ‖A‖_F² estimates.
    """
    op = as_square_operator(op)
    num_probes = check_count("num_probes", num_probes)
    steps = check_count("lanczos_steps", lanczos_steps)
    block = num_probes if probe_block is None else check_count("probe_block", probe_block)
    dim = op.shape[0]
    probes = Probes(generator)
    V = np.concatenate([probes.rademacher(dim, 1) for _ in range(num_probes)], axis=1)
    nodes, weights, ritz, alphas, betas = [], [], [], [], []
    starts = range(0, num_probes, block)
    for start in progress_bar(starts, enabled=progress and len(starts) > 1, desc="SLQ"):
        for result, last in lanczos_block(op, V[:, start:start + block], steps):
            theta, U = ritz_values(result, return_vectors=True)
            nodes.append(theta)
            weights.append(U[0, :] ** 2 / num_probes)
            order = np.argsort(theta)[::-1]
            ritz.append(RitzValues(theta[order], np.abs(last * U[-1, order])))
            alphas.append(result.alphas)
            betas.append(result.betas)
    return SLQResult(np.concatenate(nodes), np.concatenate(weights), ritz, dim, *_moments(alphas, betas, dim))


def slq_quadrature(op, *, num_probes: int = 10, lanczos_steps: int = 80, generator=None,
                   probe_block: int = 1, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Compute the Gauss-quadrature nodes and weights of ``num_probes`` normalised Rademacher probes.

    The nodes and weights of :func:`slq`.

    Parameters
    ----------
    op, num_probes, lanczos_steps, generator, progress
        As for :func:`slq`.
    probe_block : int
        Probes advanced together.

    Returns
    -------
    tuple of numpy.ndarray
        Two 1-D arrays (all probes concatenated); the weights of each probe sum to
        1/``num_probes``, so Σ w f(node) ≈ (1/P) Tr f(A).
    """
    result = slq(op, num_probes=num_probes, lanczos_steps=lanczos_steps, generator=generator,
                 probe_block=probe_block, progress=progress)
    return result.nodes, result.weights


def top_ritz_values(ritz: Sequence[RitzValues], k: int) -> RitzValues:
    """Estimate the k largest eigenvalues as the best Ritz lower bounds over several Lanczos runs.

    By Cauchy interlacing the j-th largest Ritz value of any run is ≤ λ_j, so the maximum
    over runs is the sharpest lower bound; its residual bounds |λ − θ| for the nearest
    eigenvalue λ.

    Parameters
    ----------
    ritz : sequence of RitzValues
        The runs (e.g. ``SLQResult.ritz``).
    k : int
        Number of eigenvalues.

    Returns
    -------
    RitzValues
        k values, descending; ranks that a short run does not reach are ``nan``.
    """
    k = check_count("k", k)
    values = np.full((len(ritz), k), -np.inf)
    residuals = np.full((len(ritz), k), np.inf)
    for i, r in enumerate(ritz):
        n = min(k, r.values.size)
        values[i, :n], residuals[i, :n] = r.values[:n], r.residuals[:n]
    best = np.argmax(values, axis=0)
    top = values[best, np.arange(k)]
    res = residuals[best, np.arange(k)]
    missing = ~np.isfinite(top)
    top[missing], res[missing] = np.nan, np.nan
    return RitzValues(top, res)


def gaussian_density(nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """Broaden the quadrature into Σ_j w_j N(t; node_j, σ²) on ``grid``.

    Parameters
    ----------
    nodes, weights : numpy.ndarray
        Quadrature nodes and weights.
    grid : array-like
        The points t.
    sigma : float
        σ > 0.

    Returns
    -------
    numpy.ndarray
        The density on ``grid``.
    """
    sigma = check_positive("sigma", sigma)
    grid = np.asarray(grid, dtype=np.float64)
    out = np.zeros_like(grid)
    for start in range(0, nodes.size, 256):  # bounded memory: grid × 256 at a time
        d = (grid[:, None] - nodes[None, start:start + 256]) / sigma
        out += np.exp(-0.5 * d**2) @ weights[start:start + 256]
    return out / (sigma * np.sqrt(2.0 * np.pi))


def spectral_density(op, *, num_probes: int = 10, lanczos_steps: int = 80, grid=None,
                     sigma: float | None = None, num_points: int = 2000, generator=None,
                     progress: bool = True) -> SpectralDensity:
    r"""Estimate the smoothed spectral density of a symmetric operator by SLQ (Ubaru, Chen & Saad 2017).

    :math:`\phi(t) = \frac1P\sum_i \delta(t - \lambda_i)` with δ replaced by a Gaussian of width σ.

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A symmetric P × P operator.
    num_probes, lanczos_steps, generator, progress
        As for :func:`slq`.
    grid : array-like, optional
        Default ``num_points`` points covering the nodes with 6σ margins, so the density
        integrates to ≈ 1 on it (e.g. ``np.trapezoid(density, grid)``).
    sigma : float, optional
        Default 1/500 of the span of the nodes.
    num_points : int
        Size of the default grid.

    Returns
    -------
    SpectralDensity
    """
    nodes, weights = slq_quadrature(op, num_probes=num_probes, lanczos_steps=lanczos_steps, generator=generator,
                                    progress=progress)
    lo, hi = float(nodes.min()), float(nodes.max())
    if sigma is None:
        span = hi - lo
        sigma = span / 500 if span > 0 else max(abs(hi), 1.0) * 1e-3
    sigma = check_positive("sigma", sigma)
    if grid is None:
        grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, check_count("num_points", num_points, minimum=2))
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"grid must be a 1-D array of at least 2 points, got shape {grid.shape}")
    return SpectralDensity(grid, gaussian_density(nodes, weights, grid, sigma), nodes, weights, float(sigma))
