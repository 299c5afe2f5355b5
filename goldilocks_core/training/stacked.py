"""Many copies of one network trained as one: stacked parameters and a vmapped loss-and-gradient.

A grid cell c holds its own parameters θ_c; the cells' tensors are stacked along a leading axis
(``{name: C×shape}``) and :func:`torch.func.vmap` of :func:`torch.func.functional_call` evaluates
all C networks on the same inputs in one call, so each layer becomes one batched matrix product
instead of C small ones.

The update direction of a cell is the gradient of

* ``rule="softmax"``: the mean cross-entropy ℓ = −log σ_T(z)_y (Eq. 1) — plain gradient descent;
  by Eq. 3 its gradient is (1/T) Σ_k (p_k − 1{y = k}) ∂z_k/∂θ;
* ``rule="uniform"``: s = (1/T) mean_n Σ_k (1/K − 1{y_n = k}) z_nk — Eq. 3 with p replaced by the
  uniform softmax output whatever the prediction: the USO model of App. E.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from ..losses import cross_entropy

__all__ = ["stack_parameters", "cell_parameters", "StackedNetwork"]


def stack_parameters(model: nn.Module, scales, *, device=None, dtype=None) -> dict[str, torch.Tensor]:
    """Stack the model's trainable parameters per cell, cell c holding scales[c]·θ.

    Parameters
    ----------
    model : nn.Module
        θ, the unscaled network.
    scales : sequence of float
        One scale α per cell.
    device, dtype
        Of the stacked tensors (default: those of each parameter); scaled in float64 first.

    Returns
    -------
    dict of str to torch.Tensor
        ``{name: C×shape}``.
    """
    s = torch.as_tensor(list(scales), dtype=torch.float64)
    out = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            q = p.detach().to(device=device, dtype=torch.float64)
            view = s.to(q.device).view(-1, *([1] * q.ndim))
            out[name] = (view * q.unsqueeze(0)).to(dtype or p.dtype).contiguous()
    return out


def cell_parameters(stacked: dict[str, torch.Tensor], c: int) -> dict[str, torch.Tensor]:
    """Return the parameters of cell ``c`` of a stack.

    Parameters
    ----------
    stacked : dict of str to torch.Tensor
        ``{name: C×shape}``.
    c : int
        The cell index.

    Returns
    -------
    dict of str to torch.Tensor
        ``{name: shape}`` views.
    """
    return {n: v[c] for n, v in stacked.items()}


def _chunks(x: torch.Tensor, size: int | None):
    if size is None or size >= x.shape[0]:
        return [(0, x.shape[0])]
    return [(i, min(i + size, x.shape[0])) for i in range(0, x.shape[0], size)]


class StackedNetwork:
    """Evaluate the model as a pure function of stacked parameters, all cells in one vmapped call.

    Gradients over a batch split into passes are accumulated (Σ over passes of the per-pass sums,
    divided by the batch size), so they equal the one-pass gradient up to rounding.

    Parameters
    ----------
    model : nn.Module
        The architecture (its buffers are shared by all cells).
    rule : {"softmax", "uniform"}
        ``"softmax"``: the gradient of the mean cross-entropy (Eq. 1); ``"uniform"``: the
        USO objective of App. E (Eq. 3 with p = 1/K).
    temperature : float
        T of Eq. 1.
    samples_per_pass : int, optional
        Bounds memory: samples per vmapped forward/backward.
    device, dtype
        Where the buffers are moved and the floating dtype they are cast to.
    """

    def __init__(self, model: nn.Module, *, rule: str = "softmax", temperature: float = 1.0,
                 samples_per_pass: int | None = None, device=None, dtype=None):
        self.model, self.rule, self.temperature = model, rule, float(temperature)
        self.samples_per_pass = samples_per_pass
        self.buffers = {n: b.to(device=device, dtype=dtype if b.is_floating_point() else None)
                        for n, b in model.named_buffers()}

        def objective(params, x, y, n_total):
            z = functional_call(model, (params, self.buffers), (x,))
            if rule == "uniform":
                coeff = 1.0 / z.shape[-1] - nn.functional.one_hot(y, z.shape[-1]).to(z.dtype)
                s = (coeff * z).sum() / (self.temperature * n_total)
            else:
                s = cross_entropy(z, y, self.temperature, reduction="sum") / n_total
            return s, z

        def logits(params, x):
            return functional_call(model, (params, self.buffers), (x,))

        self._grad = vmap(grad_and_value(objective, has_aux=True), in_dims=(0, None, None, None))
        self._logits = vmap(logits, in_dims=(0, None))

    def gradient(self, params: dict, x: torch.Tensor, y: torch.Tensor):
        """Compute per cell the gradient of the rule's objective, its value and the logits.

        Parameters
        ----------
        params : dict of str to torch.Tensor
            Stacked parameters ``{name: C×shape}``.
        x : torch.Tensor
            Inputs (N, …).
        y : torch.Tensor
            N integer labels.

        Returns
        -------
        tuple
            ``(grads, value, logits)``: ``{name: C×shape}``, shape (C,) and z (C×N×K).
        """
        n = x.shape[0]
        grads, values, zs = None, 0.0, []
        for a, b in _chunks(x, self.samples_per_pass):
            g, (v, z) = self._grad(params, x[a:b], y[a:b], n)
            grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
            values = values + v
            zs.append(z)
        return grads, values, zs[0] if len(zs) == 1 else torch.cat(zs, 1)

    @torch.no_grad()
    def logits(self, params: dict, x: torch.Tensor) -> torch.Tensor:
        """Compute z = f_θc(x) for every cell, without a graph.

        Parameters
        ----------
        params : dict of str to torch.Tensor
            Stacked parameters ``{name: C×shape}``.
        x : torch.Tensor
            Inputs (N, …).

        Returns
        -------
        torch.Tensor
            C×N×K.
        """
        return torch.cat([self._logits(params, x[a:b]) for a, b in _chunks(x, self.samples_per_pass)], 1)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Compute the mean cross-entropy at temperature T of each cell (Eq. 1).

        Parameters
        ----------
        logits : torch.Tensor
            C×N×K.
        y : torch.Tensor
            N integer labels.

        Returns
        -------
        torch.Tensor
            Shape (C,).
        """
        return vmap(lambda z: cross_entropy(z, y, self.temperature))(logits)
