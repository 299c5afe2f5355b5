"""Argument checks of the training engine: one-line ``ValueError`` messages."""
from __future__ import annotations


import torch

from ..validation import check_count, check_positive

__all__ = ["LABELS", "RULES", "check_values", "check_count", "check_labels", "check_dataset"]

LABELS = ("fixed", "random", "redrawn")
RULES = ("softmax", "uniform")


def check_values(name: str, values) -> tuple[float, ...]:
    """Validate a non-empty sequence of positive finite floats (α or η₀), refusing duplicates.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    values : float or sequence of float
        A single number is one value.

    Returns
    -------
    tuple of float
        ``ValueError`` for an empty sequence, a non-positive or non-finite value or duplicates.
    """
    if isinstance(values, (int, float)):
        values = [values]
    try:
        out = tuple(check_positive(name, v) for v in values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive numbers, got {values!r}") from None
    if not out:
        raise ValueError(f"{name} must not be empty")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} has duplicate values: {list(out)}")
    return out


def check_labels(labels) -> str:
    """Validate the label mode, one of ``LABELS``.

    Parameters
    ----------
    labels : str
        ``"fixed"``, ``"random"`` or ``"redrawn"``.

    Returns
    -------
    str
        ``labels`` itself; ``ValueError`` otherwise.
    """
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {', '.join(map(repr, LABELS))}, got {labels!r}")
    return labels


def check_dataset(name: str, data):
    """Return ``(inputs, targets, num_classes)`` of a :class:`~goldilocks_core.data.Dataset` or a tuple.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    data : Dataset or tuple
        A record with ``inputs`` and ``targets``, or an ``(inputs, targets)`` or
        ``(inputs, targets, num_classes)`` sequence.

    Returns
    -------
    tuple
        Float inputs N×…, ``int64`` targets N, and K (default: the largest label + 1).
    """
    if hasattr(data, "inputs") and hasattr(data, "targets"):
        x, y, k = data.inputs, data.targets, getattr(data, "num_classes", None)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y = data[0], data[1]
        k = data[2] if len(data) == 3 else None
    else:
        raise ValueError(f"{name} must be a Dataset or an (inputs, targets) pair, got {type(data).__name__}")
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if not x.is_floating_point() or x.ndim < 2 or y.ndim != 1 or y.shape[0] != x.shape[0] or y.numel() == 0:
        raise ValueError(f"{name}: need float inputs N×… and N integer targets, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    k = int(y.max()) + 1 if k is None else int(k)
    return x, y.long(), k
