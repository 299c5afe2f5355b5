"""Full-space (d = P) curvature of the loss: matrix-free operators and stochastic estimators.

* :mod:`.operators` — H(α, T), its G-term and H-term (Eq. 4–5 of Vysogorets, Dawid, Kempe,
  ICML 2024) as ``scipy`` ``LinearOperator`` s with torch products (:mod:`.products`).
* :mod:`.hutchinson_1989`, :mod:`.hutchpp_meyer_2021` — traces and squared Frobenius norms;
  :mod:`.positive_curvature` — Tr(H)/‖H‖_F (Eq. 2) with a standard error.
* :mod:`.lanczos_1950` — extreme eigenvalues, spectral norm, sharpness λ_max(H).
* :mod:`.slq_ubaru_2017` — spectral density by stochastic Lanczos quadrature.

Every random draw comes from ``generator`` (``None``, an int seed, a numpy or a torch
Generator); progress bars respect ``TQDM_DISABLE=1``.
"""
from ._common import Estimate
from .hutchinson_1989 import hutchinson_samples, hutchinson_squared_frobenius, hutchinson_trace
from .hutchpp_meyer_2021 import hutchpp_squared_frobenius, hutchpp_trace
from .lanczos_1950 import (
    LanczosResult,
    bottom_eigenvalues,
    lanczos,
    ritz_values,
    sharpness,
    operator_norm,
    top_eigenvalues,
)
from .operators import (
    TERMS,
    CurvatureOperator,
    g_term_operator,
    g_term_vector_product,
    h_term_operator,
    h_term_vector_product,
    hessian_operator,
    hessian_vector_product,
)
from .positive_curvature import PositiveCurvatureEstimate, positive_curvature_estimate, positive_curvature_exact
from .slq_ubaru_2017 import (
    RitzValues,
    SLQResult,
    SpectralDensity,
    gaussian_density,
    slq,
    slq_quadrature,
    spectral_density,
    top_ritz_values,
)

__all__ = [
    "TERMS",
    "CurvatureOperator",
    "hessian_operator",
    "g_term_operator",
    "h_term_operator",
    "hessian_vector_product",
    "g_term_vector_product",
    "h_term_vector_product",
    "Estimate",
    "hutchinson_samples",
    "hutchinson_trace",
    "hutchinson_squared_frobenius",
    "hutchpp_trace",
    "hutchpp_squared_frobenius",
    "PositiveCurvatureEstimate",
    "positive_curvature_estimate",
    "positive_curvature_exact",
    "LanczosResult",
    "lanczos",
    "ritz_values",
    "top_eigenvalues",
    "bottom_eigenvalues",
    "operator_norm",
    "sharpness",
    "SpectralDensity",
    "slq_quadrature",
    "slq",
    "SLQResult",
    "RitzValues",
    "top_ritz_values",
    "gaussian_density",
    "spectral_density",
]
