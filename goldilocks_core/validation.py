"""Argument checks shared by the package: one-line ``ValueError`` messages."""
from __future__ import annotations

import numbers

import math

__all__ = ["check_positive", "check_alpha", "check_temperature", "check_count"]


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
    """``int(value)`` or ``ValueError`` unless it is an integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value}")
    return int(value)
