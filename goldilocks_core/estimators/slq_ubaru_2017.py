"""Spectral density by stochastic Lanczos quadrature (SLQ).

Ubaru, Chen & Saad (2017), *Fast estimation of tr(f(A)) via stochastic Lanczos quadrature*,
SIAM J. Matrix Anal. Appl. 38(4); as used for Hessian spectra by Ghorbani, Krishnan & Xiao
(2019). For a probe v (‖v‖ = 1), m Lanczos steps give T_m = U diag(θ) Uᵀ and the Gauss
quadrature vᵀ f(A) v ≈ Σ_j τ_j f(θ_j) with nodes θ_j and weights τ_j = U_{1j}², exact for
polynomials of degree ≤ 2m − 1. Averaging over probes estimates (1/P) Tr f(A), i.e. the
spectral density φ(t) = (1/P) Σ_i δ(t − λ_i); replacing δ by a Gaussian of width σ gives a
smooth density that integrates to 1 (the bulk + outlier pictures of App. A of Vysogorets
et al., 2024). The density's mean is the probes' average Rayleigh quotient ≈ Tr(A)/P.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..progress import progress_bar
from ..validation import check_positive
from ._common import Probes, as_square_operator, check_count
from .lanczos_1950 import lanczos_block, ritz_values

__all__ = ["SpectralDensity", "slq_quadrature", "gaussian_density", "spectral_density"]


class SpectralDensity(NamedTuple):
    """φ on ``grid``, and the quadrature ``nodes`` and ``weights`` (all probes; Σ weights = 1)."""

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float


def slq_quadrature(op, *, num_probes: int = 10, lanczos_steps: int = 80, generator=None,
                   probe_block: int = 1, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-quadrature nodes and weights of ``num_probes`` normalised Rademacher probes.

    Returns two 1-D arrays (all probes concatenated); the weights of each probe sum to
    1/``num_probes``, so Σ w f(node) ≈ (1/P) Tr f(A). ``probe_block`` probes advance together
    (:func:`lanczos_block`, one ``matmat`` per step); memory grows as probe_block·steps·P.
    """
    op = as_square_operator(op)
    num_probes = check_count("num_probes", num_probes)
    steps = check_count("lanczos_steps", lanczos_steps)
    block = check_count("probe_block", probe_block)
    probes = Probes(generator)
    V = np.concatenate([probes.rademacher(op.shape[0], 1) for _ in range(num_probes)], axis=1)
    nodes, weights = [], []
    starts = range(0, num_probes, block)
    for start in progress_bar(starts, enabled=progress and len(starts) > 1, desc="SLQ"):
        for result, _ in lanczos_block(op, V[:, start:start + block], steps):
            theta, U = ritz_values(result, return_vectors=True)
            nodes.append(theta)
            weights.append(U[0, :] ** 2 / num_probes)
    return np.concatenate(nodes), np.concatenate(weights)


def gaussian_density(nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """Σ_j w_j N(t; node_j, σ²) on ``grid`` (Gaussian broadening of the quadrature)."""
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
    """Smoothed spectral density of a symmetric operator by SLQ (Ubaru, Chen & Saad 2017).

    ``sigma`` defaults to 1/500 of the span of the nodes; ``grid`` defaults to
    ``num_points`` points covering the nodes with 6σ margins, so the density integrates to
    ≈ 1 on it (e.g. ``np.trapezoid(density, grid)``).
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
