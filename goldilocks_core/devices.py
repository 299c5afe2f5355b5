"""Choosing the device and the floating-point type for a computation."""
from __future__ import annotations

import torch

__all__ = ["resolve_device", "default_dtype", "torch_dtype"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}

_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU is an error.

    Accepts ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``/``None`` or a ``torch.device``.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: use one of {', '.join(_CHOICES)} (or 'cuda:N')") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={str(device)!r} was requested but no CUDA GPU is available to PyTorch "
            f"{torch.__version__}; use device='cpu' or 'auto'"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}: use one of {', '.join(_CHOICES)}")
    return dev


def default_dtype(device: torch.device | str) -> torch.dtype:
    """float64 on the CPU (curvature ratios need it); float32 on CUDA."""
    return torch.float64 if torch.device(device).type == "cpu" else torch.float32


def torch_dtype(value: str | torch.dtype) -> torch.dtype:
    """The floating-point type a profile names.

    Parameters
    ----------
    value : str or torch.dtype
        ``"float64"``, ``"float32"`` or a ``torch.dtype`` (returned as it is).

    Returns
    -------
    torch.dtype
        ``ValueError`` for any other name.
    """
    if isinstance(value, torch.dtype):
        return value
    try:
        return _DTYPES[str(value)]
    except KeyError:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {value!r}") from None
