"""Generic projected Jacobian and H-term for any ``nn.Module`` classifier.

The model is used as a pure function z = f(θ, x) of its flat parameters
(:func:`goldilocks_core.functional.logits_function`):

* JR by forward mode: ``jvp`` of θ ↦ f(θ, x) along each basis column, ``vmap``-ed over
  the d columns (one pass; Eq. 4's Jacobian, projected).
* the H-term Rᵀ∇²s R of s(θ) = Σ_n Σ_k r_nk z_nk(θ) (r = p − y held fixed) by
  forward-over-reverse: ``jvp`` of ``grad(s)`` along each basis column, ``vmap``-ed over
  the columns (memory is bounded by the engine's sample chunks), then Rᵀ·.

This path makes no assumption on the architecture; :mod:`.layerwise` is faster for
bias-free sequential ReLU networks and is preferred for them by ``method="auto"``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import grad, jvp, vmap

from ..functional import flat_parameters, logits_function

__all__ = ["GenericNetwork", "GenericChunkState"]


class GenericChunkState:
    """The per-chunk quantities of :class:`GenericNetwork` shared by every β.

    Returned by :meth:`GenericNetwork.prepare` and read by :meth:`GenericNetwork.h_term`.

    Parameters
    ----------
    jacobian : torch.Tensor
        JR of the chunk, shape (n, K, d).
    x : torch.Tensor
        The chunk's inputs, kept for the H-term's Hessian-vector products.
    """
    __slots__ = ("jacobian", "x")

    def __init__(self, jacobian, x):
        self.jacobian, self.x = jacobian, x


class GenericNetwork:
    r"""Evaluate any classifier as a pure function f(θ, x) of a cast copy of its trainable parameters.

    The path of ``method="hvp"``: JR by forward mode and the H-term
    :math:`R^\top\nabla^2 s\,R` of :math:`s(\theta) = \sum_n\sum_k r_{nk} z_{nk}(\theta)`
    (r = p − y held fixed) by forward-over-reverse Hessian-vector products.

    Parameters
    ----------
    model : nn.Module
        The unscaled classifier (never modified).
    dtype : torch.dtype
        The working precision of θ and the Jacobian.
    device : torch.device
        Where θ and the computations live.
    """

    def __init__(self, model: nn.Module, *, dtype: torch.dtype, device: torch.device):
        self.model = model
        self.f = logits_function(model)
        self.theta = flat_parameters(model).to(device=device, dtype=dtype)
        self.num_params = self.theta.numel()
        self.dtype, self.device = dtype, device

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the logits z = f_θ(x) of the unscaled network.

        Parameters
        ----------
        x : torch.Tensor
            Inputs (n, …) in the working dtype.

        Returns
        -------
        torch.Tensor
            z, shape (n, K).
        """
        return self.f(self.theta, x)

    def basis_blocks(self, basis: torch.Tensor) -> list[torch.Tensor]:
        """Arrange the basis for this engine: one block Rᵀ of shape (d, P).

        Parameters
        ----------
        basis : torch.Tensor
            R, shape (P, d).

        Returns
        -------
        list of torch.Tensor
            ``[Rᵀ]``, contiguous.
        """
        return [basis.T.contiguous()]  # (d, P)

    def prepare(self, x: torch.Tensor, blocks: list[torch.Tensor], *, h_term: bool = True) -> GenericChunkState:
        """Compute JR of a chunk by forward mode (``jvp`` vmapped over the d basis columns).

        Parameters
        ----------
        x : torch.Tensor
            The chunk's inputs (n, …).
        blocks : list of torch.Tensor
            From :meth:`basis_blocks`.
        h_term : bool
            Unused here (the H-term needs only ``x``); kept for the interface of
            :meth:`LayeredNetwork.prepare <goldilocks_core.curvature.layerwise.LayeredNetwork.prepare>`.

        Returns
        -------
        GenericChunkState
            JR (n, K, d) and the inputs.
        """
        f = lambda t: self.f(t, x)  # noqa: E731
        z_dot = vmap(lambda v: jvp(f, (self.theta,), (v,))[1])(blocks[0])  # (d, n, K)
        return GenericChunkState(z_dot.permute(1, 2, 0).contiguous(), x)

    def h_term(self, state: GenericChunkState, residuals: torch.Tensor, blocks: list[torch.Tensor]) -> torch.Tensor:
        r"""Compute :math:`\sum_n\sum_k r_{nk} R^\top\nabla^2 z_{nk} R` over the chunk by forward-over-reverse.

        Parameters
        ----------
        state : GenericChunkState
            From :meth:`prepare`.
        residuals : torch.Tensor
            r (n, K), held fixed.
        blocks : list of torch.Tensor
            From :meth:`basis_blocks`.

        Returns
        -------
        torch.Tensor
            The symmetric d×d H-term of the chunk, float64.
        """
        x = state.x
        gs = grad(lambda t: (residuals * self.f(t, x)).sum())

        def hvp(v):
            return jvp(gs, (self.theta,), (v,))[1]

        Rt = blocks[0]
        R64 = self._float64_basis(Rt)
        H = vmap(hvp)(Rt).to(torch.float64) @ R64  # (d, d)
        return 0.5 * (H + H.T)

    def _float64_basis(self, Rt: torch.Tensor) -> torch.Tensor:
        """R (P×d) in float64, cast once per basis: the d×d products are accumulated in float64."""
        if Rt.dtype == torch.float64:
            return Rt.T
        cached = getattr(self, "_r64", None)
        if cached is None or cached[0] is not Rt:
            self._r64 = cached = (Rt, Rt.to(torch.float64).T)
        return cached[1]

    def floats_per_sample(self, example: torch.Tensor) -> int:
        """Count the activation entries of one sample over all leaf modules (for chunk sizing).

        Parameters
        ----------
        example : torch.Tensor
            At least one input sample; only the first is evaluated.

        Returns
        -------
        int
            At least 1.
        """
        total = 0

        def hook(_m, _i, out):
            nonlocal total
            if isinstance(out, torch.Tensor):
                total += out.numel()

        leaves = [m for m in self.model.modules() if not any(True for _ in m.children())]
        handles = [m.register_forward_hook(hook) for m in leaves]
        try:
            with torch.no_grad():
                self.f(self.theta, example[:1])
        finally:
            for h in handles:
                h.remove()
        return max(total, 1)
