"""The expected G-term under the random logit model: Eq. 7, Eq. 8 and Appendix B.

Vysogorets, Dawid & Kempe (2024), §4. Logit gradients are ∇_θ z_k(X^μ) = c_k + e_k^μ with
class means c_k (pairwise orthogonal, ‖c_k‖² = dσ_c²) and i.i.d. residuals
e_k^μ ~ N(0, σ_e² I_d). Writing J = C + E (K × d) and A(p) = diag(p) − ppᵀ,

    E_e G = Cᵀ A C + Tr(A) σ_e² I_d,       Tr(A) = 1 − ‖p‖²,                      (Eq. 7)

and in the orthonormal basis u_k = c_k/‖c_k‖ (completed to a basis of R^d) the first term is
the block dσ_c² A in the top-left K × K corner. Its positive curvature is (Eq. 8)

    Tr/‖·‖_F = √d (σ_c² + σ_e²) / √(σ_e⁴ + 2σ_e²σ_c² + dσ_c⁴ Γ_p⁻²),

and its spectrum is a bulk Tr(A)σ_e² of multiplicity d − K + 1 plus K − 1 outliers
Tr(A)σ_e² + dσ_c² λ̃_i (Appendix B). For a batch, A is the average (1/N)Σ_μ A(p^μ).

**Which d.** d is the dimension of the space the c_k live in — the number of coordinates over
which their squared length dσ_c² is spread — and σ_c², σ_e² are *per-coordinate* variances in
that space. On a random d-dimensional subspace with orthonormal basis R the logit gradients
are Rᵀc_k + Rᵀe_k^μ: per-coordinate variances are unchanged (‖Rᵀv‖² ≈ (d/P)‖v‖²) and the
class means are spread over the d subspace coordinates. So for the curvature of the projected
G-term H_d, d is the *subspace dimension*, not the parameter count P (which the authors'
notebook is said to pass, and which their Fig. 5 uses for Eq. 9). Measured on a bias-free 64-300-100-10 ReLU MLP at Kaiming
initialisation on scikit-learn's digits (512 samples, orthonormal R, d = 50;
tests/test_random_logit_network.py), with σ's from :func:`.estimate_sigmas` (grouping by
label / over all samples):

    α        true Tr/‖·‖_F of projected G     Eq. 8, d = 50     Eq. 8, d = P = 50,200
    ≤ 0.3    5.85                             5.95 / 6.37       9.94 / 13.32
    1        5.51                             5.65 / 6.17       8.71 / 11.67

and the true curvature grows with the subspace dimension as Eq. 8 with d = subspace dimension
says (d = 20, 50, 100: true 4.16, 5.85, 7.37; Eq. 8 4.26, 5.95, 7.42 by label), which d = P
cannot express. Even the full, unprojected G-term (P × P, 200 samples, another draw) has
curvature 10.1 at α = 0.3 where Eq. 8 with d = P and per-coordinate σ's gives 13.7: the
residuals of a real network are far from isotropic in R^P.

Eq. 8 assumes the softmax outputs independent of the logit gradients; once p is far from
uniform (α ≳ 2 above) a few uncertain samples dominate the G-term and Eq. 8 overestimates.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ._checks import as_float_tensor, check_dimension, check_probabilities, check_variance, positive_curvature_of
from .softmax_hessian import gamma_p, mean_softmax_hessian

__all__ = [
    "expected_g_term",
    "expected_g_term_from_means",
    "expected_g_curvature",
    "ExpectedGSpectrum",
    "expected_g_eigenvalues",
]


def _batch(p) -> torch.Tensor:
    """Probabilities as ``(..., N, K)``: a single vector is a batch of one."""
    p = check_probabilities(p)
    return p[None] if p.ndim == 1 else p


def _int_dimension(d, num_classes: int) -> int:
    t = check_dimension(d, num_classes)
    if t.ndim != 0:
        raise ValueError(f"d must be a single integer here, got shape {tuple(t.shape)}")
    return int(t.item())


def expected_g_term(p, sigma_c2, sigma_e2, d) -> torch.Tensor:
    r"""Form E_e G (Eq. 7, second line), the d × d matrix in the basis of the normalised class means.

    Coordinates 1…K are u_k = c_k/‖c_k‖ (class means pairwise orthogonal with ‖c_k‖² = dσ_c²);
    coordinates K+1…d complete them to an orthonormal basis of R^d. The matrix is

    :math:`d\sigma_c^2 \begin{bmatrix}\bar A & 0\\ 0 & 0\end{bmatrix} + \mathrm{Tr}(\bar A)\,\sigma_e^2 I_d`,
    :math:`\bar A = \frac1N\sum_\mu \mathrm{diag}(p^\mu) - p^\mu p^{\mu\top}`,

    with Tr(Ā) = 1 − mean‖p^μ‖². Any other orthonormal basis gives QᵀMQ with the same spectrum.

    Parameters
    ----------
    p : tensor or array-like
        ``(K,)`` or ``(..., N, K)`` probabilities.
    sigma_c2, sigma_e2 : float
        Per-coordinate variances ≥ 0 (scalars).
    d : int
        d ≥ K, the dimension the logit gradients live in (the subspace dimension for a
        projected Hessian — see the module docstring).

    Returns
    -------
    torch.Tensor
        ``(..., d, d)``.
    """
    p = _batch(p)
    k = p.shape[-1]
    dim = _int_dimension(d, k)
    sc2, se2 = check_variance("sigma_c2", sigma_c2), check_variance("sigma_e2", sigma_e2)
    if sc2.ndim or se2.ndim:
        raise ValueError("sigma_c2 and sigma_e2 must be scalars in expected_g_term")
    a_bar = mean_softmax_hessian(p)
    trace = a_bar.diagonal(dim1=-2, dim2=-1).sum(-1)
    out = torch.zeros(*a_bar.shape[:-2], dim, dim, dtype=p.dtype)
    out[..., :k, :k] = dim * sc2.to(p.dtype) * a_bar
    out = out + (trace * se2.to(p.dtype))[..., None, None] * torch.eye(dim, dtype=p.dtype)
    return out


def expected_g_term_from_means(p, class_means, sigma_e2) -> torch.Tensor:
    r"""Form E_e G = Cᵀ Ā C + Tr(Ā) σ_e² I_d (Eq. 7, first line) for given class means C (K × d).

    :math:`\mathbb{E}_e G = C^\top\bar A C + \mathrm{Tr}(\bar A)\,\sigma_e^2 I_d`. No
    orthogonality or equal-length assumption on the rows c_k of C; with orthogonal rows of
    squared length dσ_c² it is the matrix of :func:`expected_g_term` in the original basis.
    Built as a Gram matrix of the factor B(p^μ)C (PSD by construction) plus the bulk.

    Parameters
    ----------
    p : tensor or array-like
        ``(K,)`` or ``(..., N, K)`` probabilities.
    class_means : tensor or array-like
        C, K × d.
    sigma_e2 : float
        σ_e² ≥ 0 (a scalar).

    Returns
    -------
    torch.Tensor
        ``(..., d, d)``.
    """
    p = _batch(p)
    c = as_float_tensor(class_means, "class_means").to(p.dtype)
    if c.ndim != 2 or c.shape[0] != p.shape[-1]:
        raise ValueError(f"class_means must be K × d with K = {p.shape[-1]}, got shape {tuple(c.shape)}")
    se2 = check_variance("sigma_e2", sigma_e2)
    if se2.ndim:
        raise ValueError("sigma_e2 must be a scalar")
    a_bar = mean_softmax_hessian(p)
    lam, vec = torch.linalg.eigh(a_bar)
    root = (vec * lam.clamp_min(0).sqrt()[..., None, :]).transpose(-1, -2) @ c  # (…, K, d): Ā = FᵀF
    term = root.transpose(-1, -2) @ root
    trace = a_bar.diagonal(dim1=-2, dim2=-1).sum(-1)
    eye = torch.eye(c.shape[1], dtype=p.dtype)
    return 0.5 * (term + term.transpose(-1, -2)) + (trace * se2.to(p.dtype))[..., None, None] * eye


def expected_g_curvature(probs, sigma_c2, sigma_e2, d) -> torch.Tensor:
    r"""Compute the positive curvature Tr(E_e G)/‖E_e G‖_F of the expected G-term (Eq. 8).

    :math:`\dfrac{\sqrt d\,(\sigma_c^2 + \sigma_e^2)}{\sqrt{\sigma_e^4 + 2\sigma_e^2\sigma_c^2 + d\sigma_c^4\Gamma_p^{-2}}}`,
    with Γ_p that of the batch-average matrix (:func:`gamma_p`).

    Parameters
    ----------
    probs : tensor or array-like
        ``(K,)`` or ``(..., N, K)`` probabilities.
    sigma_c2, sigma_e2 : float or tensor
        Per-coordinate variances ≥ 0.
    d : int or tensor
        The dimension the logit gradients live in: the subspace dimension when σ's are
        estimated from projected logit gradients JR (see the module docstring for why not P).

    Returns
    -------
    torch.Tensor
        Everything broadcasts against the leading shape of ``probs`` (e.g. a sweep over α, or
        over d for Fig. 4 left). 0 where the matrix vanishes (one-hot p and σ_c² = 0, or Γ_p = 0).
    """
    p = _batch(probs)
    dim = check_dimension(d, p.shape[-1]).to(p.dtype)
    sc2 = check_variance("sigma_c2", sigma_c2).to(p.dtype)
    se2 = check_variance("sigma_e2", sigma_e2).to(p.dtype)
    gamma = gamma_p(p, average=True)
    # Multiply through by Γ so that one-hot p (Γ = 0) gives 0 instead of 0·∞.
    num = dim.sqrt() * (sc2 + se2) * gamma
    den = torch.sqrt(gamma**2 * (se2**2 + 2 * se2 * sc2) + dim * sc2**2)
    zero = den == 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, torch.ones_like(den), den))


class ExpectedGSpectrum(NamedTuple):
    """Eigenvalues of E_e G (Appendix B): K − 1 outliers and a bulk of multiplicity d − K + 1.

    Parameters
    ----------
    outliers : torch.Tensor
        ``(..., K-1)``, non-increasing: Tr(Ā)σ_e² + dσ_c² λ̃_i.
    bulk : torch.Tensor
        ``(...)``: Tr(Ā)σ_e² = (1 − ‖p‖²)σ_e² for one p.
    bulk_multiplicity : int
        d − K + 1.
    softmax_eigenvalues : torch.Tensor
        ``(..., K-1)``: λ̃_1 ≥ … ≥ λ̃_{K-1} of Ā.
    """

    outliers: torch.Tensor  # (..., K-1), non-increasing: Tr(Ā)σ_e² + dσ_c² λ̃_i
    bulk: torch.Tensor  # (...): Tr(Ā)σ_e² = (1 − ‖p‖²)σ_e² for one p
    bulk_multiplicity: int  # d − K + 1
    softmax_eigenvalues: torch.Tensor  # (..., K-1): λ̃_1 ≥ … ≥ λ̃_{K-1} of Ā

    def full(self) -> torch.Tensor:
        """List all d eigenvalues in non-increasing order.

        Returns
        -------
        torch.Tensor
            ``(..., d)``.
        """
        bulk = self.bulk[..., None].expand(*self.bulk.shape, self.bulk_multiplicity)
        return torch.cat([self.outliers, bulk], dim=-1)


def expected_g_eigenvalues(p, sigma_c2, sigma_e2, d) -> ExpectedGSpectrum:
    r"""Compute the "bi-level" spectrum of E_e G (Appendix B).

    :math:`\lambda_i = \mathrm{Tr}(\bar A)\sigma_e^2 + d\sigma_c^2\tilde\lambda_i` for
    i ≤ K − 1 and :math:`\lambda_i = \mathrm{Tr}(\bar A)\sigma_e^2` otherwise, where λ̃_i are
    the non-zero eigenvalues of Ā = mean diag(p) − ppᵀ (Tr(Ā) = 1 − ‖p‖² for one p). For
    uniform p all λ̃_i = 1/K, so the K − 1 outliers all equal (1 − 1/K)σ_e² + dσ_c²/K; App. B's
    "identically 1/K" refers to λ̃_i (the outliers in units of dσ_c², above the bulk).

    Parameters
    ----------
    p : tensor or array-like
        ``(K,)`` or ``(..., N, K)`` probabilities.
    sigma_c2, sigma_e2 : float
        Per-coordinate variances ≥ 0 (scalars).
    d : int
        d ≥ K.

    Returns
    -------
    ExpectedGSpectrum
    """
    p = _batch(p)
    k = p.shape[-1]
    dim = _int_dimension(d, k)
    sc2 = check_variance("sigma_c2", sigma_c2).to(p.dtype)
    se2 = check_variance("sigma_e2", sigma_e2).to(p.dtype)
    if sc2.ndim or se2.ndim:
        raise ValueError("sigma_c2 and sigma_e2 must be scalars in expected_g_eigenvalues")
    a_bar = mean_softmax_hessian(p)
    lam = torch.linalg.eigvalsh(a_bar).flip(-1)[..., : k - 1].clamp_min(0)
    trace = a_bar.diagonal(dim1=-2, dim2=-1).sum(-1)
    bulk = trace * se2
    outliers = bulk[..., None] + dim * sc2 * lam
    return ExpectedGSpectrum(outliers, bulk, dim - k + 1, lam)


def _curvature_of_expected_g_term(p, sigma_c2, sigma_e2, d) -> torch.Tensor:
    """Tr/‖·‖_F of the Eq. 7 matrix computed numerically (used to check Eq. 8)."""
    return positive_curvature_of(expected_g_term(p, sigma_c2, sigma_e2, d))
