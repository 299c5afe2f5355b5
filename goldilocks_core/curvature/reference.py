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

__all__ = ["subspace_loss", "subspace_hessian", "dense_hessian"]


def subspace_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, basis: torch.Tensor, *,
                  alpha: float = 1.0, temperature: float = 1.0):
    """θ̂ ↦ ℓ(αθ + Rθ̂): the mean temperature cross-entropy (Eq. 1) on the affine subspace
    through the α-scaled parameters αθ spanned by the columns of R."""
    a, t = check_alpha(alpha), check_temperature(temperature)
    f = logits_function(model)
    theta = a * flat_parameters(model).to(basis.dtype)

    def loss(theta_hat: torch.Tensor) -> torch.Tensor:
        return cross_entropy(f(theta + basis @ theta_hat, inputs), targets, temperature=t)

    return loss


def subspace_hessian(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, basis: torch.Tensor, *,
                     alpha: float = 1.0, temperature: float = 1.0, vectorize: bool = True) -> torch.Tensor:
    """H_d = ∇²_θ̂ ℓ(αθ + Rθ̂) at θ̂ = 0 (d×d), by automatic differentiation of the loss.

    By the chain rule this equals RᵀH(αθ)R, the projected Hessian of §2.
    """
    loss = subspace_loss(model, inputs, targets, basis, alpha=alpha, temperature=temperature)
    zero = basis.new_zeros(basis.shape[1])
    return torch.autograd.functional.hessian(loss, zero, vectorize=vectorize)


def dense_hessian(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                  alpha: float = 1.0, temperature: float = 1.0) -> torch.Tensor:
    """The full P×P Hessian of the mean cross-entropy at αθ (feasible for P up to a few thousand)."""
    P = flat_parameters(model).numel()
    eye = torch.eye(P, dtype=next(model.parameters()).dtype)
    return subspace_hessian(model, inputs, targets, eye, alpha=alpha, temperature=temperature)
