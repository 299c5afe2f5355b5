"""Dense reference Hessians, straight from the definitions (small networks only).

These are the slow, obviously-correct computations that the engine is checked against
(chapter 2, tests, benchmarks): automatic differentiation of the loss itself, with no
Gauss–Newton split, no Eq. 5 and no chunking.
"""
from __future__ import annotations

import torch
from torch import nn

from ..functional import flat_parameters, logits_function
from ..losses import cross_entropy
from ..validation import check_alpha, check_temperature

__all__ = ["subspace_loss", "subspace_hessian", "dense_hessian", "dense_g_term", "dense_h_term"]


def subspace_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, basis: torch.Tensor, *,
                  alpha: float = 1.0, temperature: float = 1.0):
    """Build θ̂ ↦ ℓ(αθ + Rθ̂), the mean temperature cross-entropy on an affine subspace.

    The loss of Eq. 1 on the subspace through the α-scaled parameters αθ spanned by the
    columns of R.

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ.
    inputs, targets : torch.Tensor
        The N samples and their labels.
    basis : torch.Tensor
        R, shape (P, d); its dtype is that of the computation.
    alpha, temperature : float
        The scale α of the weights and the softmax temperature T.

    Returns
    -------
    callable
        ``loss(theta_hat)`` of a vector of length d, returning a scalar tensor.
    """
    a, t = check_alpha(alpha), check_temperature(temperature)
    f = logits_function(model)
    theta = a * flat_parameters(model).to(basis.dtype)

    def loss(theta_hat: torch.Tensor) -> torch.Tensor:
        return cross_entropy(f(theta + basis @ theta_hat, inputs), targets, temperature=t)

    return loss


def subspace_hessian(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, basis: torch.Tensor, *,
                     alpha: float = 1.0, temperature: float = 1.0, vectorize: bool = True) -> torch.Tensor:
    """Compute H_d = ∇²_θ̂ ℓ(αθ + Rθ̂) at θ̂ = 0 by automatic differentiation of the loss.

    By the chain rule this equals RᵀH(αθ)R, the projected Hessian of §2.

    Parameters
    ----------
    model, inputs, targets, basis, alpha, temperature
        As for :func:`subspace_loss`.
    vectorize : bool
        Passed to :func:`torch.autograd.functional.hessian`.

    Returns
    -------
    torch.Tensor
        The d×d projected Hessian.
    """
    loss = subspace_loss(model, inputs, targets, basis, alpha=alpha, temperature=temperature)
    zero = basis.new_zeros(basis.shape[1])
    return torch.autograd.functional.hessian(loss, zero, vectorize=vectorize)


def dense_hessian(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                  alpha: float = 1.0, temperature: float = 1.0) -> torch.Tensor:
    """Compute the full P×P Hessian of the mean cross-entropy at αθ, for P up to a few thousand.

    Parameters
    ----------
    model : nn.Module
        A small network.
    inputs, targets : torch.Tensor
        The N samples and their labels.
    alpha, temperature : float
        The scale of the weights and the softmax temperature T.

    Returns
    -------
    torch.Tensor
        H, shape (P, P), in the model's dtype.
    """
    P = flat_parameters(model).numel()
    eye = torch.eye(P, dtype=next(model.parameters()).dtype)
    return subspace_hessian(model, inputs, targets, eye, alpha=alpha, temperature=temperature)


def dense_g_term(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                 alpha: float = 1.0, temperature: float = 1.0) -> torch.Tensor:
    r"""Compute the full P×P G-term of Eq. 4 at αθ from dense autograd logit Jacobians.

    Parameters
    ----------
    model : nn.Module
        A small network (P up to a few thousand).
    inputs, targets : torch.Tensor
        The N samples and their labels.
    alpha, temperature : float
        The scale of the weights and the softmax temperature T.

    Returns
    -------
    torch.Tensor
        :math:`G = \frac{1}{NT^2}\sum_n J_n^\top(\mathrm{diag}\,p_n - p_np_n^\top)J_n`
        (Eq. 4), with J_n the K×P Jacobian of the logits of the explicitly α-scaled network
        and p_n = σ_T(f_{αθ}(x_n)).
    """
    del targets  # the G-term does not depend on the labels
    a, t = check_alpha(alpha), check_temperature(temperature)
    f = logits_function(model)
    theta = a * flat_parameters(model)
    J = torch.func.jacrev(lambda th: f(th, inputs))(theta)  # (N, K, P)
    with torch.no_grad():
        p = torch.softmax(f(theta, inputs) / t, dim=-1)
    A = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)  # diag p − ppᵀ per sample
    return torch.einsum("nkp,nkc,ncq->pq", J, A, J) / (inputs.shape[0] * t**2)


def dense_h_term(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                 alpha: float = 1.0, temperature: float = 1.0) -> torch.Tensor:
    r"""Compute the full P×P H-term of Eq. 4 at αθ as :func:`dense_hessian` minus :func:`dense_g_term`.

    Parameters
    ----------
    model, inputs, targets, alpha, temperature
        As for :func:`dense_g_term`.

    Returns
    -------
    torch.Tensor
        :math:`\frac{1}{NT}\sum_n\sum_k (p_{nk} - y_{nk})\nabla^2 z_{nk}` (Eq. 4), computed as
        the dense Hessian of the loss minus the dense G-term (no per-logit Hessians, no
        Gauss–Newton engine).
    """
    kw = {"alpha": alpha, "temperature": temperature}
    return dense_hessian(model, inputs, targets, **kw) - dense_g_term(model, inputs, targets, **kw)
