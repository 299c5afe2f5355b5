"""Curvature-vector products of the temperature cross-entropy, one chunk of data at a time.

Pure functions of a flat parameter vector θ built on :mod:`torch.func`. For logits
z = f(θ, x) ∈ R^K, inverse temperature β and one-hot targets y, the per-sample loss is
ℓ = −log σ(βz)_y and its Hessian splits as (Gauss–Newton, Eq. 4 of Vysogorets et al.,
2024, with the temperature folded in as in Eq. 5)

    ∇²_θ ℓ = β² Jᵀ (diag p − ppᵀ) J  +  β Σ_k (p − y)_k ∇²_θ z_k,      p = σ(βz),

the G-term plus the H-term. Every function here returns the *sum* over the chunk's
samples of the product with each column of ``V`` (shape ``(m, P)``, one vector per row);
the caller divides by N and applies α⁻² (see :mod:`.operators`).

* Hessian: forward-over-reverse, ``jvp`` of ``grad`` (Pearlmutter 1994).
* G-term: ``J v`` by ``jvp``, then the centred factor B = diag(√p)(I − 1pᵀ) of
  diag p − ppᵀ = BᵀB (Σ p = 1), then ``Jᵀ`` by ``vjp``: the product is JᵀBᵀBJv, so the
  operator is PSD by construction (never diag p − ppᵀ formed and multiplied).
* H-term: the Hessian-vector product of s(θ) = Σ (p − y)·z(θ) with p held fixed.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.func import grad, jvp, vjp, vmap

from ..losses import centred_factor_product, centred_factor_transpose_product

__all__ = ["loss_sum", "hessian_products", "g_term_products", "h_term_products", "probabilities_and_residuals"]

Logits = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _each_row(fn, V: torch.Tensor) -> torch.Tensor:
    """``fn`` applied to every row of ``V``: ``vmap`` for a block, a plain call for one row."""
    return fn(V[0]).unsqueeze(0) if V.shape[0] == 1 else vmap(fn)(V)


def loss_sum(logits: Logits, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """Compute Σ_i −log σ(β z_i)_{y_i}, the summed cross-entropy at inverse temperature β (Eq. 1).

    Parameters
    ----------
    logits : callable
        ``logits(theta, x)``.
    theta : torch.Tensor
        The flat parameters.
    x, y : torch.Tensor
        The chunk's inputs and integer labels.
    beta : float
        The inverse temperature β.

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    logp = torch.log_softmax(beta * logits(theta, x), dim=-1)
    return -logp.gather(-1, y.unsqueeze(-1)).sum()


def probabilities_and_residuals(z: torch.Tensor, y: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute p = σ(βz) via log-softmax and the logit gradient p − y (∇_z ℓ / β), both detached.

    Parameters
    ----------
    z : torch.Tensor
        Logits, (n, K).
    y : torch.Tensor
        n integer labels.
    beta : float
        The inverse temperature β.

    Returns
    -------
    tuple of torch.Tensor
        ``(p, p − y)``, each (n, K).
    """
    z = z.detach()
    p = torch.log_softmax(beta * z, dim=-1).exp()
    residual = p.clone()
    residual.scatter_add_(-1, y.unsqueeze(-1), -torch.ones_like(p[..., :1]))
    return p, residual


def hessian_products(logits: Logits, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                     V: torch.Tensor, beta: float) -> torch.Tensor:
    """Multiply the rows of ``V`` with Σ_i ∇²_θ ℓ_i (forward-over-reverse: ``jvp`` of ``grad``).

    Parameters
    ----------
    logits : callable
        ``logits(theta, x)``, the network as a pure function of its flat parameters.
    theta : torch.Tensor
        The flat parameters, length P.
    x : torch.Tensor
        The chunk's inputs.
    y : torch.Tensor
        The chunk's integer labels.
    V : torch.Tensor
        Vectors as rows, shape (m, P).
    beta : float
        The inverse temperature β.

    Returns
    -------
    torch.Tensor
        (m, P): the sum over the chunk's samples of the product with each row.
    """
    g = grad(lambda t: loss_sum(logits, t, x, y, beta))

    def hvp(v):
        return jvp(g, (theta,), (v,))[1]

    return _each_row(hvp, V)


def g_term_products(logits: Logits, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                    V: torch.Tensor, beta: float) -> torch.Tensor:
    r"""Multiply the rows of ``V`` with Σ_i β² J_iᵀ (diag p_i − p_i p_iᵀ) J_i, in the factored form BᵀB.

    :math:`\beta^2 J^\top(\mathrm{diag}\,p - pp^\top)J = (\beta BJ)^\top(\beta BJ)`: with
    u = J v, B u = √p ⊙ (u − pᵀu) and Bᵀ w = √p ⊙ w − p (√pᵀ w); both carry one β.

    Parameters
    ----------
    logits : callable
        ``logits(theta, x)``, the network as a pure function of its flat parameters.
    theta : torch.Tensor
        The flat parameters, length P.
    x : torch.Tensor
        The chunk's inputs.
    y : torch.Tensor
        The chunk's integer labels.
    V : torch.Tensor
        Vectors as rows, shape (m, P).
    beta : float
        The inverse temperature β.

    Returns
    -------
    torch.Tensor
        (m, P): the sum over the chunk's samples of the product with each row.
    """
    f = lambda t: logits(t, x)  # noqa: E731
    z, pullback = vjp(f, theta)
    p, _ = probabilities_and_residuals(z, y, beta)
    JV = _each_row(lambda v: jvp(f, (theta,), (v,))[1], V)  # (m, n, K)
    W = beta * centred_factor_product(p, JV)  # B J v
    X = beta * centred_factor_transpose_product(p, W)  # Bᵀ (B J v)
    return _each_row(lambda w: pullback(w)[0], X)


def h_term_products(logits: Logits, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                    V: torch.Tensor, beta: float) -> torch.Tensor:
    """Multiply the rows of ``V`` with Σ_i β Σ_k (p_i − y_i)_k ∇²_θ z_{ik}, holding p fixed.

    The Hessian-vector product of s(θ) = β Σ (p − y)·z with p held fixed.

    Parameters
    ----------
    logits : callable
        ``logits(theta, x)``, the network as a pure function of its flat parameters.
    theta : torch.Tensor
        The flat parameters, length P.
    x : torch.Tensor
        The chunk's inputs.
    y : torch.Tensor
        The chunk's integer labels.
    V : torch.Tensor
        Vectors as rows, shape (m, P).
    beta : float
        The inverse temperature β.

    Returns
    -------
    torch.Tensor
        (m, P): the sum over the chunk's samples of the product with each row.
    """
    with torch.no_grad():
        _, residual = probabilities_and_residuals(logits(theta, x), y, beta)
    coefficients = beta * residual
    g = grad(lambda t: (coefficients * logits(t, x)).sum())

    def hvp(v):
        return jvp(g, (theta,), (v,))[1]

    return _each_row(hvp, V)
