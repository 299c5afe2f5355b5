"""Projected Hessians of α-scaled homogeneous networks and their Gauss–Newton split.

Vysogorets, Dawid, Kempe (ICML 2024), §2–3, Eq. 2–5. For a homogeneous network
f_{αθ} = α^L f_θ with softmax temperature T and β = α^L/T,

    RᵀH'R = α⁻²β² [RᵀG*(p)R + β⁻¹ RᵀH*(p)R],   p = σ(βz),  z = f_θ(x)   (Eq. 5)

with the G-term G*(p) = Jᵀ(diag p − ppᵀ)J and H-term H*(p) = Σ_k (p − y)_k ∇²z_k of the
unscaled network. The engine computes the projected Jacobian JR once per data chunk by
forward mode, the G-term from it in centred factored form BᵀB (PSD by construction) for
every β, and the H-term per β — by a layer-wise reverse pass for bias-free sequential
ReLU networks (:mod:`.layerwise`) or by forward-over-reverse Hessian-vector products for
any other classifier (:mod:`.hvp`). Scales are carried in log space, so nothing
overflows at α = 10³ or T = 10⁻⁹.

Public API:

* :func:`decompose` → :class:`Decomposition` (one (α, T) point, with matrices);
* :func:`sweep` → ``pandas.DataFrame`` (many points, metrics only);
  :func:`sweep_decompositions` → list of :class:`Decomposition`;
* :func:`projected_jacobian` → JR (N×K×d);
* metrics: :func:`positive_curvature` (Eq. 2), :func:`local_convexity` (tolerance
  :func:`zero_tolerance`),
  :func:`spectral_norm`, :func:`lambda_max`, :func:`eigenvalues`.
"""
from .decomposition import Decomposition, decompose, inverse_temperature
from .engine import METHODS, projected_jacobian
from .metrics import (eigenvalues, lambda_max, local_convexity, positive_curvature, spectral_norm,
                      zero_tolerance)
from .sweep import TIED, alpha_grid, sweep, sweep_decompositions, sweep_points

__all__ = [
    "Decomposition", "decompose", "sweep", "sweep_decompositions", "sweep_points", "TIED", "alpha_grid",
    "projected_jacobian", "inverse_temperature", "METHODS",
    "positive_curvature", "local_convexity", "zero_tolerance", "spectral_norm", "lambda_max", "eigenvalues",
]
