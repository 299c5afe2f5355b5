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

__all__ = ["GenericNetwork"]


class _State:
    __slots__ = ("jacobian", "x")

    def __init__(self, jacobian, x):
        self.jacobian, self.x = jacobian, x


class GenericNetwork:
    """Any classifier as f(θ, x); θ is a cast copy of the trainable parameters."""

    def __init__(self, model: nn.Module, *, dtype: torch.dtype, device: torch.device):
        self.model = model
        self.f = logits_function(model)
        self.theta = flat_parameters(model).to(device=device, dtype=dtype)
        self.num_params = self.theta.numel()
        self.dtype, self.device = dtype, device

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(self.theta, x)

    def basis_blocks(self, basis: torch.Tensor) -> list[torch.Tensor]:
        return [basis.T.contiguous()]  # (d, P)

    def prepare(self, x: torch.Tensor, blocks: list[torch.Tensor], *, h_term: bool = True) -> _State:
        f = lambda t: self.f(t, x)  # noqa: E731
        z_dot = vmap(lambda v: jvp(f, (self.theta,), (v,))[1])(blocks[0])  # (d, n, K)
        return _State(z_dot.permute(1, 2, 0).contiguous(), x)

    def h_term(self, state: _State, residuals: torch.Tensor, blocks: list[torch.Tensor]) -> torch.Tensor:
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
