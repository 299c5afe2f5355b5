"""Projected Jacobian and H-term of a layered, piecewise-multilinear network.

For a feed-forward stack of bias-free weight layers (``nn.Linear``, ``nn.ConvNd``) and
piecewise-linear parameter-free modules (ReLU, average/max pooling, flatten), the
logits z are, with the ReLU masks held fixed, *linear in each layer's weight W_l
separately* (the network is piecewise multilinear in (W_1, …, W_L)). Hence the Hessian
of s(θ) = Σ_n Σ_k r_nk z_nk(θ) (the H-term of Eq. 4 with r = p − y held fixed) has zero
diagonal blocks, and its projection onto directions v_i = R e_i splits by layer order:

    (Rᵀ∇²s R)_ij = A_ij + A_ji,   A_ij = Σ_{l'} ⟨g_{l'}, layer_{l'}(R_{l',j}, ȧ^{(i)}_{l'−1})⟩,

where g_{l'} = ∂s/∂h_{l'} is the cotangent at the output of weight layer l' (one
reverse pass), ȧ^{(i)}_{l'−1} is the forward-mode tangent, along v_i, of that layer's
input (it gathers every layer l < l'), and R_{l',j} is v_j's block for W_{l'}. A is
the "direction i below, direction j above" half of the reverse-over-forward product
Rᵀ∇²s R — the cotangent r pulled back through the tangent program only along its
W_{l'}·ȧ edges; the other half is its transpose by symmetry of the Hessian.

This turns the H-term at each β into one reverse pass plus one weight-gradient-shaped
contraction per layer above the first, reusing the tangents ȧ that the forward-mode
projected Jacobian JR (computed once per chunk) produces anyway. The first layer's
input x carries no tangent, so for an MLP, whose first layer holds most parameters, the
per-β cost is a small fraction of one Hessian-vector product loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call, jvp, vjp, vmap

from ..functional import parameter_slices

__all__ = ["LayeredNetwork", "ChunkState", "is_layered"]

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Parameter-free modules that are piecewise linear (zero second derivative a.e.).
_PIECEWISE_LINEAR = (
    nn.ReLU, nn.LeakyReLU, nn.Identity, nn.Flatten, nn.Unflatten,
    nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
)


def _leaves(module: nn.Module, prefix: str = ""):
    """(qualified name, module) of the leaves of nested ``nn.Sequential`` containers."""
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _leaves(child, f"{prefix}{name}.")
    else:
        yield prefix[:-1], module


def _unsupported_reason(model: nn.Module) -> str | None:
    if not isinstance(model, nn.Sequential):
        return f"{type(model).__name__} is not an nn.Sequential"
    for name, leaf in _leaves(model):
        if isinstance(leaf, _WEIGHT_LAYERS):
            if leaf.bias is not None:
                return f"layer {name!r} has a bias"
            extra = [n for n, _ in leaf.named_parameters() if n != "weight"]
            if extra:
                return f"layer {name!r} has parameters other than its weight"
        elif isinstance(leaf, _PIECEWISE_LINEAR):
            if any(True for _ in leaf.parameters()):
                return f"layer {name!r} has parameters"
        else:
            return f"layer {name!r} ({type(leaf).__name__}) is not a known piecewise-linear module"
    return None


def is_layered(model: nn.Module) -> bool:
    """Tell whether :class:`LayeredNetwork` supports ``model`` (otherwise the generic path is used).

    Parameters
    ----------
    model : nn.Module
        The network to inspect.

    Returns
    -------
    bool
        True for an ``nn.Sequential`` (nesting allowed) of bias-free ``Linear``/``ConvNd``
        layers and parameter-free piecewise-linear modules (ReLU, pooling, flatten, …).
    """
    return _unsupported_reason(model) is None


@dataclass
class ChunkState:
    """The per-chunk quantities of :class:`LayeredNetwork` shared by every β.

    Parameters
    ----------
    jacobian : torch.Tensor
        JR, shape (n, K, d).
    input_tangents : list of torch.Tensor
        ȧ^{(i)} at the inputs of the upper layers, each (d, n, …).
    outputs : list of torch.Tensor
        h_l of the upper layers (with their autograd graph).
    logits : torch.Tensor, optional
        z from the graph that ``outputs`` belong to.
    """

    jacobian: torch.Tensor  # JR, (n, K, d)
    input_tangents: list  # ȧ^{(i)} at the inputs of the upper layers, each (d, n, ...)
    outputs: list = field(default_factory=list)  # h_l of the upper layers (autograd graph)
    logits: torch.Tensor | None = None  # z from the graph that ``outputs`` belong to


class LayeredNetwork:
    """Evaluate a bias-free ``nn.Sequential`` as a pure function of its layer weights.

    The path of ``method="layerwise"`` (see the module docstring): the H-term at each β is one
    reverse pass plus one weight-gradient-shaped contraction per layer above the first.

    Parameters
    ----------
    model : nn.Module
        A bias-free sequential ReLU network (:func:`is_layered`); never modified, the weights
        are cast copies.
    dtype : torch.dtype
        The working precision.
    device : torch.device
        Where the weights and the computations live.

    Raises
    ------
    ValueError
        For an unsupported model, or one whose trainable parameters are not all layer weights.
    """

    def __init__(self, model: nn.Module, *, dtype: torch.dtype, device: torch.device):
        reason = _unsupported_reason(model)
        if reason is not None:
            raise ValueError(f"the layer-wise engine needs a bias-free sequential ReLU network: {reason}")
        slices = parameter_slices(model)
        self.steps: list[tuple[nn.Module, int | None, torch.Tensor | None]] = []
        self.weights: list[torch.Tensor] = []
        self.slices: list[slice] = []
        self.upper: list[int] = []  # trainable layers whose input depends on θ
        seen_trainable = False
        for name, leaf in _leaves(model):
            if isinstance(leaf, _WEIGHT_LAYERS):
                w = leaf.weight.detach().to(device=device, dtype=dtype)
                if leaf.weight.requires_grad:
                    index = len(self.weights)
                    self.weights.append(w)
                    self.slices.append(slices[f"{name}.weight"])
                    if seen_trainable:
                        self.upper.append(index)
                    seen_trainable = True
                    self.steps.append((leaf, index, None))
                else:
                    self.steps.append((leaf, None, w))
            else:
                self.steps.append((leaf, None, None))
        if not self.weights:
            raise ValueError("the model has no trainable weights")
        self.num_params = sum(s.stop - s.start for s in self.slices)
        if self.num_params != sum(p.numel() for p in model.parameters() if p.requires_grad):
            raise ValueError("the layer-wise engine needs every trainable parameter to be a layer weight")
        self.dtype, self.device = dtype, device

    # -- forward variants -------------------------------------------------------------
    def _apply(self, step, weights, a):
        leaf, index, const = step
        if index is not None:
            return functional_call(leaf, {"weight": weights[index]}, (a,))
        if const is not None:
            return functional_call(leaf, {"weight": const}, (a,))
        return leaf(a)

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
        a = x
        for step in self.steps:
            a = self._apply(step, self.weights, a)
        return a

    def _forward_with_inputs(self, weights, x):
        """(z, inputs of the upper layers)."""
        a, inputs = x, []
        upper = set(self.upper)
        for step in self.steps:
            if step[1] in upper:
                inputs.append(a)
            a = self._apply(step, weights, a)
        return a, tuple(inputs)

    def basis_blocks(self, basis: torch.Tensor) -> list[torch.Tensor]:
        """Split the basis columns into each trainable layer's block.

        Parameters
        ----------
        basis : torch.Tensor
            R, shape (P, d).

        Returns
        -------
        list of torch.Tensor
            One per trainable layer, shaped ``(d, *W_l.shape)``.
        """
        d = basis.shape[1]
        return [basis[s].T.reshape(d, *w.shape) for s, w in zip(self.slices, self.weights)]

    # -- per chunk ----------------------------------------------------------------------
    def prepare(self, x: torch.Tensor, blocks: list[torch.Tensor], *, h_term: bool = True) -> ChunkState:
        """Run the forward-mode pass along all d basis directions (vmapped ``jvp``), giving JR and ȧ.

        Parameters
        ----------
        x : torch.Tensor
            The chunk's inputs (n, …).
        blocks : list of torch.Tensor
            From :meth:`basis_blocks`.
        h_term : bool
            Also build the graph for the cotangents g_l of :meth:`h_term`.

        Returns
        -------
        ChunkState
            JR (n, K, d), the input tangents of the upper layers and, with ``h_term``, their
            outputs and the logits.
        """
        weights = tuple(self.weights)

        def tangent(*directions):
            return jvp(lambda *ws: self._forward_with_inputs(ws, x), weights, directions)[1]

        z_dot, inputs_dot = vmap(tangent)(*blocks)  # (d, n, K), [(d, n, ...)]
        state = ChunkState(jacobian=z_dot.permute(1, 2, 0).contiguous(), input_tangents=list(inputs_dot))
        if h_term and self.upper:
            upper = set(self.upper)
            with torch.no_grad():
                a = x
                first = None
                for pos, step in enumerate(self.steps):
                    a = self._apply(step, self.weights, a)
                    if step[1] in upper:
                        first = pos
                        break
            with torch.enable_grad():
                a = a.detach().requires_grad_(True)
                outputs = [a]
                for step in self.steps[first + 1:]:
                    a = self._apply(step, self.weights, a)
                    if step[1] in upper:
                        outputs.append(a)
            state.outputs, state.logits = outputs, a
        return state

    def h_term(self, state: ChunkState, residuals: torch.Tensor, blocks: list[torch.Tensor]) -> torch.Tensor:
        r"""Compute :math:`\sum_n\sum_k r_{nk} R^\top\nabla^2 z_{nk} R` over the chunk for fixed r.

        The contraction over each layer's parameters into the d×d matrix runs in float64
        whatever the working dtype (the factors are cast first; they are small).

        Parameters
        ----------
        state : ChunkState
            From :meth:`prepare` with ``h_term=True``.
        residuals : torch.Tensor
            r (n, K), held fixed.
        blocks : list of torch.Tensor
            From :meth:`basis_blocks`.

        Returns
        -------
        torch.Tensor
            The symmetric d×d H-term of the chunk, float64.
        """
        d = blocks[0].shape[0]
        A = torch.zeros(d, d, dtype=torch.float64, device=residuals.device)
        if not self.upper:  # a single weight layer: z is linear in θ
            return A
        cotangents = torch.autograd.grad(state.logits, state.outputs, grad_outputs=residuals,
                                         retain_graph=True)
        for index, g, a_dot in zip(self.upper, cotangents, state.input_tangents):
            weight_grads = self._weight_grads(index, g, a_dot)  # (d, *W.shape): row i ↔ direction i
            rows = weight_grads.reshape(d, -1).to(torch.float64)
            A += rows @ blocks[index].reshape(d, -1).to(torch.float64).T
        return A + A.T

    def _weight_grads(self, index: int, g: torch.Tensor, a_dot: torch.Tensor) -> torch.Tensor:
        """∂/∂W ⟨g, layer(W, ȧ^{(i)})⟩ for every direction i (the layer is linear in W)."""
        leaf = next(step[0] for step in self.steps if step[1] == index)
        if isinstance(leaf, nn.Linear):
            d, out, inp = a_dot.shape[0], g.shape[-1], a_dot.shape[-1]
            g2 = g.reshape(-1, out)
            a2 = a_dot.reshape(d, -1, inp)
            return torch.matmul(g2.T, a2)  # (out, m) @ (d, m, in): one batched GEMM
        w = self.weights[index]

        def one(a_i):
            return vjp(lambda W: functional_call(leaf, {"weight": W}, (a_i,)), w)[1](g)[0]

        return vmap(one)(a_dot)

    # -- memory planning ----------------------------------------------------------------
    def floats_per_sample(self, example: torch.Tensor) -> int:
        """Count the activation entries of one sample over all modules (for chunk sizing).

        Parameters
        ----------
        example : torch.Tensor
            At least one input sample; only the first is evaluated.

        Returns
        -------
        int
            At least 1.
        """
        a, total = example[:1], 0
        with torch.no_grad():
            for step in self.steps:
                a = self._apply(step, self.weights, a)
                total += a.numel()
        return max(total, 1)
