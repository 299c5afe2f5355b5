"""Pure functions of a flat parameter vector, in the spirit of ``torch.func``.

The curvature code works with θ ∈ R^P as one flat tensor; these helpers turn a
``nn.Module`` into ``logits(θ, x)`` through :func:`torch.func.functional_call`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["flat_parameters", "unflatten", "logits_function", "parameter_slices", "logits_in_chunks"]


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """Concatenate all trainable parameters into θ, in ``named_parameters`` order (detached).

    Parameters
    ----------
    model : nn.Module
        The network.

    Returns
    -------
    torch.Tensor
        θ, length P.
    """
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def parameter_slices(model: nn.Module) -> dict[str, slice]:
    """Locate each named parameter inside the flat vector θ.

    Parameters
    ----------
    model : nn.Module
        The network.

    Returns
    -------
    dict of str to slice
        ``{name: slice}`` for the trainable parameters, in ``named_parameters`` order.
    """
    out, start = {}, 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            out[name] = slice(start, start + p.numel())
            start += p.numel()
    return out


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat θ back into a ``{name: tensor}`` dict shaped like the model's parameters.

    Parameters
    ----------
    model : nn.Module
        The network whose parameter shapes apply.
    theta : torch.Tensor
        θ, length P.

    Returns
    -------
    dict of str to torch.Tensor
        Views into ``theta``. ``ValueError`` if its length is not P.
    """
    shapes = {n: p.shape for n, p in model.named_parameters() if p.requires_grad}
    slices = parameter_slices(model)
    if theta.numel() != sum(s.stop - s.start for s in slices.values()):
        raise ValueError(f"theta has {theta.numel()} entries, the model has {flat_parameters(model).numel()} parameters")
    return {n: theta[s].view(shapes[n]) for n, s in slices.items()}


def logits_function(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Turn the model into a pure function ``f(θ, x) -> logits`` of its flat parameters.

    Parameters
    ----------
    model : nn.Module
        The network (its buffers are held fixed).

    Returns
    -------
    callable
        ``f(theta, x)`` through :func:`torch.func.functional_call`.
    """
    buffers = dict(model.named_buffers())

    def f(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, ({**unflatten(model, theta)}, buffers), (x,))

    return f


def logits_in_chunks(f: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, chunk_size: int, *,
                     device: torch.device | str | None = None, dtype: torch.dtype | None = None,
                     out_dtype: torch.dtype | None = None, out_device: torch.device | str | None = None
                     ) -> torch.Tensor:
    """z = f(x) for every sample, ``chunk_size`` samples at a time and without a graph.

    Parameters
    ----------
    f
        The network (a module or any ``x -> logits`` callable).
    inputs
        x, shape ``(N, ...)``.
    chunk_size
        Samples per forward pass (bounds the activations' memory).
    device, dtype
        Where and in which dtype each chunk of inputs is evaluated (default: as given).
    out_dtype, out_device
        Cast and move each chunk's logits (default: as ``f`` returns them).

    Returns
    -------
    torch.Tensor
        The logits of all N samples, ``(N, K)``.
    """
    parts = []
    with torch.no_grad():
        for i in range(0, inputs.shape[0], chunk_size):
            x = inputs[i:i + chunk_size]
            if device is not None or dtype is not None:
                x = x.to(device=device, dtype=dtype)
            z = f(x)
            if out_dtype is not None or out_device is not None:
                z = z.to(device=out_device, dtype=out_dtype)
            parts.append(z)
    return torch.cat(parts)
