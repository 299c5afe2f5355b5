"""Synthetic datasets generated on the fly: three noisy rings in 2-D, Gaussian random images.

Both are reproducible from ``seed``; the train and test splits use independent streams
(``numpy.random.default_rng([seed, 0])`` and ``[seed, 1]``), so they never share samples.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["CIRCLE_RADII", "circles", "gaussian", "check_prior"]

# Radii of the three rings of the authors' 2-D demo.
CIRCLE_RADII = (0.33, 0.58, 0.78)
_SPLIT_STREAM = {"train": 0, "test": 1}


def _rng(seed: int, split: str) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([int(seed), _SPLIT_STREAM[split]])


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_prior(prior, num_classes: int) -> np.ndarray:
    """A class prior as a float64 array of length K, non-negative, summing to 1 (±1e-6)."""
    p = np.asarray(prior, dtype=np.float64).reshape(-1)
    if p.shape != (num_classes,):
        raise ValueError(f"prior must have {num_classes} entries (one per class), got {p.shape[0]}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"prior must be non-negative and sum to 1, got {p.tolist()}")
    return p / p.sum()


def circles(split: str = "train", *, num_samples: int = 600, noise: float = 0.02, seed: int = 0,
            radii: Sequence[float] = CIRCLE_RADII, dtype: torch.dtype = torch.float32
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on concentric rings, one class per ring: ``(inputs N×2, targets N)``.

    Sample μ has class k = its ring, angle φ ~ U[0, 2π) and radius r_k + noise·ε, ε ~ N(0, 1).
    Classes are balanced (counts differ by at most one) and shuffled.
    """
    n = _count("num_samples", num_samples)
    noise = float(noise)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")
    r = np.asarray(radii, dtype=np.float64).reshape(-1)
    if r.size < 2 or np.any(r <= 0):
        raise ValueError(f"radii must be at least two positive numbers, got {list(radii)!r}")
    rng = _rng(seed, split)
    labels = rng.permutation(np.arange(n) % r.size)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    radius = r[labels] + noise * rng.standard_normal(n)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return torch.from_numpy(points).to(dtype), torch.from_numpy(labels.astype(np.int64))


def gaussian(split: str = "train", *, shape: Sequence[int] = (1, 28, 28), num_classes: int = 10,
             prior=None, num_samples: int = 1000, seed: int = 0, dtype: torch.dtype = torch.float32
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """I.i.d. N(0, 1) inputs of the given ``shape`` with labels drawn from ``prior``.

    Labels are independent of the inputs (random labels): the class counts are multinomial
    with probabilities ``prior`` (uniform when ``None``).
    """
    n = _count("num_samples", num_samples)
    k = _count("num_classes", num_classes)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    dims = tuple(_count("every entry of shape", s) for s in shape)
    if not dims:
        raise ValueError("shape must have at least one dimension")
    p = np.full(k, 1.0 / k) if prior is None else check_prior(prior, k)
    rng = _rng(seed, split)
    labels = rng.choice(k, size=n, p=p)
    inputs = rng.standard_normal((n, *dims))
    return torch.from_numpy(inputs).to(dtype), torch.from_numpy(labels.astype(np.int64))
