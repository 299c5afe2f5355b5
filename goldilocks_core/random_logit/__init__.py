"""The random logit model: analytic G-term, Γ_p, σ estimates and Fort & Ganguli's model.

* :mod:`.softmax_hessian` — diag(p) − ppᵀ in factored PSD form, Γ_p (Eq. 10), p(S, ε) and the
  limit 4(S − 1)/(S + 2) (Appendix C of Vysogorets, Dawid & Kempe, 2024);
* :mod:`.expected_g_term` — E_e G (Eq. 7), its positive curvature (Eq. 8), its spectrum (App. B);
* :mod:`.expected_gradient` — the expected gradient Σ_k c_k(Q̂_k − Q_k) and its norm (Eq. 9);
* :mod:`.sigmas` — σ_c², σ_e² from (projected) logit gradients JR, and JR itself;
* :mod:`.clustering` — q^SLSC, q^SL, q^DL (Fort & Ganguli 2019, Eq. 11–13);
* :mod:`.logit_gram` — the Gram matrix of a network's logit gradients over all its parameters;
* :mod:`.fort_ganguli_2019` — :class:`RandomLogitModel` (Fort & Ganguli 2019, §3–4).
"""
from .clustering import LogitGradientClustering, clustering_from_gram, logit_gradient_clustering
from .logit_gram import gram_statistics, logit_gradient_gram
from .expected_g_term import (
    ExpectedGSpectrum,
    expected_g_curvature,
    expected_g_eigenvalues,
    expected_g_term,
    expected_g_term_from_means,
)
from .expected_gradient import expected_gradient, expected_gradient_norm, expected_gradient_norm_exact, priors
from .fort_ganguli_2019 import FORT_GANGULI_SETTING, RandomLogitModel, growing_sigma_c
from ._checks import positive_curvature_of
from .sigmas import SigmaEstimate, estimate_sigmas, mean_geometry
from .softmax_hessian import (
    complement_probabilities,
    gamma_p,
    gamma_p_limit,
    mean_softmax_hessian,
    p_family,
    softmax_hessian,
    softmax_hessian_eigenvalues,
    softmax_hessian_factor,
)

__all__ = [
    "softmax_hessian",
    "softmax_hessian_factor",
    "mean_softmax_hessian",
    "softmax_hessian_eigenvalues",
    "complement_probabilities",
    "gamma_p",
    "p_family",
    "gamma_p_limit",
    "expected_g_term",
    "expected_g_term_from_means",
    "expected_g_curvature",
    "expected_g_eigenvalues",
    "ExpectedGSpectrum",
    "priors",
    "expected_gradient",
    "expected_gradient_norm",
    "expected_gradient_norm_exact",
    "estimate_sigmas",
    "SigmaEstimate",
    "mean_geometry",
    "positive_curvature_of",
    "logit_gradient_clustering",
    "LogitGradientClustering",
    "clustering_from_gram",
    "logit_gradient_gram",
    "gram_statistics",
    "RandomLogitModel",
    "growing_sigma_c",
    "FORT_GANGULI_SETTING",
]
