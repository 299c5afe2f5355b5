"""Argument checks shared by the package: one-line ``ValueError`` messages."""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = ["check_positive", "check_alpha", "check_temperature", "check_count", "check_inputs", "check_data",
           "check_label_range"]


def check_positive(name: str, value) -> float:
    """Return ``float(value)`` or raise ``ValueError`` unless it is finite and > 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return x


def check_alpha(alpha) -> float:
    """α, the scale of the parameters θ → αθ, must be > 0 (Eq. 5 needs α^L > 0)."""
    return check_positive("alpha", alpha)


def check_temperature(temperature) -> float:
    """T, the softmax temperature of Eq. 1, must be > 0."""
    return check_positive("temperature", temperature)


def check_count(name: str, value, minimum: int = 1) -> int:
    """Return ``int(value)``, or raise ``ValueError`` unless it is an integer ≥ ``minimum``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : int
        The count (``bool`` is refused).
    minimum : int
        The smallest allowed value.

    Returns
    -------
    int
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_inputs(inputs) -> torch.Tensor:
    """Inputs (N ≥ 1, …) as a floating-point tensor; ``ValueError`` when empty."""
    if not isinstance(inputs, torch.Tensor):
        try:
            inputs = torch.as_tensor(np.asarray(inputs))
        except (TypeError, ValueError):
            raise ValueError(f"inputs must be a tensor or array, got {type(inputs).__name__}") from None
    if inputs.ndim == 0 or inputs.shape[0] == 0:
        raise ValueError("empty data: inputs must have at least one sample along dimension 0")
    if not inputs.is_floating_point():
        inputs = inputs.to(torch.get_default_dtype())
    return inputs


def check_data(inputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, …) and integer targets (N,) as tensors; ``ValueError`` on mismatch."""
    inputs = check_inputs(inputs)
    if not isinstance(targets, torch.Tensor):
        try:
            targets = torch.as_tensor(np.asarray(targets))
        except (TypeError, ValueError):
            raise ValueError(f"targets must be a tensor or array, got {type(targets).__name__}") from None
    if targets.ndim != 1:
        raise ValueError(f"targets must be a 1-D vector of class indices, got shape {tuple(targets.shape)}")
    if targets.shape[0] != inputs.shape[0]:
        raise ValueError(f"inputs have {inputs.shape[0]} samples but targets have {targets.shape[0]}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise ValueError(f"targets must be integer class indices, got dtype {targets.dtype}")
    return inputs, targets.long()


def check_label_range(targets: torch.Tensor, K: int) -> None:
    """``ValueError`` unless every class label lies in [0, K − 1]."""
    lo, hi = int(targets.min()), int(targets.max())
    if lo < 0 or hi >= K:
        raise ValueError(f"targets must lie in [0, {K - 1}] for K={K} classes, got values in [{lo}, {hi}]")
