"""Argument checks shared by the package: one-line ``ValueError`` messages."""
from __future__ import annotations

import math

__all__ = ["check_positive", "check_alpha", "check_temperature"]


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
