"""The Hessian of cross-entropy with respect to the logits, diag(p) − ppᵀ, and its curvature Γ_p.

Vysogorets, Dawid & Kempe (2024), Eq. 4 and Appendix C. The matrix A(p) = diag(p) − ppᵀ is
built in factored, centred form

    B(p) = diag(√p)(I − 1pᵀ),        A(p) = BᵀB,

so that it is a Gram matrix, PSD to rounding even when p is one-hot up to 1e-300. The
diagonal of B needs 1 − p_k; it is taken as Σ_{j≠k} p_j (exclusive prefix + suffix sums of
non-negative numbers), which keeps full relative accuracy where 1 − p_k would cancel.

Γ_p is the positive curvature Tr(A)/‖A‖_F (Eq. 2) of A(p); for a batch p^μ it is that of the
average matrix (1/N) Σ_μ A(p^μ) (§4, below Eq. 8). Appendix C studies the family p(S, ε)
and shows Γ_p² → 4(S − 1)/(S + 2) as ε → 0 (Eq. 11).
"""
from __future__ import annotations

import torch

from ..losses import _complement
from ..losses import centred_softmax_factor as _factor
from ._checks import as_float_tensor, check_probabilities

__all__ = [
    "complement_probabilities",
    "softmax_hessian_factor",
    "softmax_hessian",
    "mean_softmax_hessian",
    "softmax_hessian_eigenvalues",
    "gamma_p",
    "p_family",
    "gamma_p_limit",
]


def complement_probabilities(p) -> torch.Tensor:
    """Compute 1 − p_k as Σ_{j≠k} p_j (exclusive prefix plus suffix sums), in the shape of ``p``.

    Accurate to relative rounding even when p_k is within 1e-17 of one, where the
    subtraction 1 − p_k would return 0 or a wrong digit.

    Parameters
    ----------
    p : tensor or array-like
        Probability vectors ``(..., K)`` (checked and renormalised).

    Returns
    -------
    torch.Tensor
    """
    return _complement(check_probabilities(p))


def softmax_hessian_factor(p) -> torch.Tensor:
    r"""Form B(p) = diag(√p)(I − 1pᵀ), shape ``(..., K, K)``, with BᵀB = diag(p) − ppᵀ.

    Entries: B_kk = √p_k · Σ_{j≠k} p_j and B_kj = −√p_k p_j (k ≠ j). The G-term of
    Eq. 4 is then :math:`J^\top(\mathrm{diag}\,p - pp^\top)J = (BJ)^\top(BJ)` for a
    Jacobian J (K × d).

    Parameters
    ----------
    p : tensor or array-like
        Probability vectors ``(..., K)`` (checked and renormalised).

    Returns
    -------
    torch.Tensor
    """
    return _factor(check_probabilities(p))


def softmax_hessian(p) -> torch.Tensor:
    """Form diag(p) − ppᵀ = ∇²_z ℓ (Eq. 4) for a batch of probability vectors, ``(..., K) → (..., K, K)``.

    Formed as the Gram matrix BᵀB of :func:`softmax_hessian_factor` and symmetrised, so its
    smallest eigenvalue is ≥ −O(eps)·‖A‖ for every p, nearly one-hot ones included.

    Parameters
    ----------
    p : tensor or array-like
        Probability vectors ``(..., K)``.

    Returns
    -------
    torch.Tensor
    """
    factor = _factor(check_probabilities(p))
    gram = factor.transpose(-1, -2) @ factor
    return 0.5 * (gram + gram.transpose(-1, -2))


def mean_softmax_hessian(p) -> torch.Tensor:
    """Average diag(p^μ) − p^μ p^μᵀ over a batch of probabilities, ``(..., N, K) → (..., K, K)``.

    The average is a Gram matrix of the stacked factors B(p^μ)/√N (PSD by construction).

    Parameters
    ----------
    p : tensor or array-like
        ``(..., N, K)``; a single vector ``(K,)`` is treated as a batch of one.

    Returns
    -------
    torch.Tensor
    """
    p = check_probabilities(p)
    if p.ndim == 1:
        p = p[None]
    factor = _factor(p)  # (..., N, K, K)
    n, k = factor.shape[-3], factor.shape[-1]
    stacked = factor.reshape(*factor.shape[:-3], n * k, k)
    gram = stacked.transpose(-1, -2) @ stacked / n
    return 0.5 * (gram + gram.transpose(-1, -2))


def softmax_hessian_eigenvalues(p, *, average: bool = False) -> torch.Tensor:
    """Compute the eigenvalues λ̃_1 ≥ … ≥ λ̃_K (= 0) of diag(p) − ppᵀ, in non-increasing order.

    Appendix B: for one p they interlace with the sorted entries, p_(i) ≥ λ̃_i ≥ p_(i+1),
    because A is a rank-one downdate of diag(p).

    Parameters
    ----------
    p : tensor or array-like
        Probability vectors ``(..., K)``, or ``(..., N, K)`` with ``average``.
    average : bool
        Those of the batch average (1/N) Σ_μ diag(p^μ) − p^μp^μᵀ instead.

    Returns
    -------
    torch.Tensor
        ``(..., K)``.
    """
    matrix = mean_softmax_hessian(p) if average else softmax_hessian(p)
    return torch.linalg.eigvalsh(matrix).flip(-1)


def _gamma_closed_form(p: torch.Tensor) -> torch.Tensor:
    # Eq. 10 for the batch-averaged matrix Ā = diag(q) − M, q = mean p, M = mean ppᵀ:
    #   Γ² = (Σ_k Ā_kk)² / (Σ_k Ā_kk² + Σ_{k≠c} M_kc²),  Ā_kk = mean_μ p_k^μ (1 − p_k^μ).
    diag = (p * _complement(p)).mean(-2)  # (..., K), each ≥ 0, no cancellation
    outer = torch.einsum("...nk,...nc->...kc", p, p) / p.shape[-2]
    off = outer - torch.diag_embed(outer.diagonal(dim1=-2, dim2=-1))
    # |Ā_kc| ≤ max_k Ā_kk for a PSD matrix: divide by it so the squares cannot underflow.
    scale = diag.amax(-1, keepdim=True)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    d, o = diag / safe, off / safe[..., None]
    trace = d.sum(-1)
    fro = torch.sqrt((d**2).sum(-1) + (o**2).sum((-2, -1)))
    zero = scale[..., 0] == 0
    return torch.where(zero, torch.zeros_like(trace), trace / torch.where(zero, torch.ones_like(fro), fro))


def _gamma_numeric(p: torch.Tensor) -> torch.Tensor:
    # Σλ/√Σλ² from the eigenvalues of the (PSD, factored) average matrix.
    matrix = mean_softmax_hessian(p)
    scale = matrix.abs().amax(dim=(-2, -1), keepdim=True)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    lam = torch.linalg.eigvalsh(matrix / safe)
    norm = torch.linalg.vector_norm(lam, dim=-1)
    zero = scale[..., 0, 0] == 0
    return torch.where(zero, torch.zeros_like(norm), lam.sum(-1) / torch.where(zero, torch.ones_like(norm), norm))


def gamma_p(p, method: str = "closed_form", *, average: bool = True) -> torch.Tensor:
    r"""Compute Γ_p = Tr(A)/‖A‖_F, the positive curvature of A = diag(p) − ppᵀ (§4; Eq. 10 of App. C).

    :math:`\Gamma_p = \mathrm{Tr}(A)/\lVert A\rVert_F` with :math:`A = \mathrm{diag}\,p - pp^\top`.
    1 ≤ Γ_p ≤ √(K − 1) (rank K − 1 PSD); the maximum is reached at uniform p. Γ_p is
    undefined (0/0) for one-hot p, where A = 0; like the authors' code we return 0 there, the
    positive curvature of the zero matrix.

    Parameters
    ----------
    p : tensor or array-like
        ``(K,)`` or ``(..., N, K)`` probabilities.
    method : {"closed_form", "numeric"}
        ``"closed_form"`` — Eq. 10 from the entries (generalised to a batch through
        q = mean p and M = mean ppᵀ); ``"numeric"`` — Σλ/√Σλ² from the eigenvalues.
    average : bool
        With ``True`` (the paper's convention for a batch, §4 below Eq. 8) a tensor of
        shape ``(..., N, K)`` gives Γ of the average matrix (1/N) Σ_μ A(p^μ), shape ``(...)``;
        with ``False`` every vector gets its own Γ, shape ``p.shape[:-1]``.

    Returns
    -------
    torch.Tensor
        0-d for one vector or one batch.
    """
    p = check_probabilities(p)
    if p.ndim == 1 or not average:
        p = p[..., None, :]
    if method == "closed_form":
        return _gamma_closed_form(p)
    if method == "numeric":
        return _gamma_numeric(p)
    raise ValueError(f"method must be 'closed_form' or 'numeric', got {method!r}")


def p_family(S: int, eps, K: int) -> torch.Tensor:
    """Build the distributions p(S, ε) of Appendix C: p_k = ε for k < S, p_S = 1 − (S − 1)ε, 0 after.

    Parameters
    ----------
    S : int
        2 ≤ S ≤ K.
    eps : float or 1-D array-like
        0 < ε ≤ 1/(S − 1).
    K : int
        Number of classes.

    Returns
    -------
    torch.Tensor
        ``(K,)`` for a scalar ``eps``, ``(len(eps), K)`` for an array.
    """
    if isinstance(S, bool) or int(S) != S or isinstance(K, bool) or int(K) != K:
        raise ValueError(f"S and K must be integers, got S={S!r}, K={K!r}")
    S, K = int(S), int(K)
    if not 2 <= S <= K:
        raise ValueError(f"p(S, ε) needs 2 ≤ S ≤ K, got S={S}, K={K}")
    e = as_float_tensor(eps, "eps")
    if e.ndim > 1:
        raise ValueError(f"eps must be a scalar or a 1-D array, got shape {tuple(e.shape)}")
    if not torch.isfinite(e).all() or (e <= 0).any() or (e * (S - 1) > 1).any():
        raise ValueError(f"eps must lie in (0, 1/(S−1)] = (0, {1 / (S - 1):.3g}], got {eps!r}")
    out = torch.zeros(*e.shape, K, dtype=e.dtype)
    out[..., : S - 1] = e[..., None]
    out[..., S - 1] = 1 - (S - 1) * e
    return out


def gamma_p_limit(S, *, squared: bool = True):
    r"""Return lim_{ε→0} Γ²_{p(S,ε)} = 4(S − 1)/(S + 2) (Eq. 11), or its square root with ``squared=False``.

    :math:`\lim_{\varepsilon\to0}\Gamma_{p(S,\varepsilon)}^2 = 4(S - 1)/(S + 2)`. Eq. 11 states
    the limit of Γ_p², so that is the default: 3 for S = 10, 1 for S = 2 (Γ_p itself → √3 ≈
    1.732 and 1).

    Parameters
    ----------
    S : int or array-like of int
        S ≥ 2.
    squared : bool
        Return Γ_p² (default) or Γ_p.

    Returns
    -------
    float or torch.Tensor
        A float for a scalar S.
    """
    s = as_float_tensor(S, "S")
    if not torch.isfinite(s).all() or (s < 2).any() or (s != s.round()).any():
        raise ValueError(f"S must be an integer ≥ 2, got {S!r}")
    value = 4 * (s - 1) / (s + 2)
    value = value if squared else value.sqrt()
    return float(value) if value.ndim == 0 else value
