"""Image preprocessing shared by the image datasets: [0, 1] scaling, bilinear resizing and
per-channel standardisation with statistics of the training split.

Order: ``x / scale`` (to [0, 1]) → optional bilinear resize to ``image_size × image_size`` →
optional centred zero padding to ``pad_to × pad_to`` →
``(x − mean_c) / std_c`` where ``mean_c``, ``std_c`` are the mean and the population standard
deviation (ddof = 0) of channel c over every pixel of every *training* image after the same
scaling and resizing. Train and test splits therefore share one affine map, and the training
split has exactly zero mean and unit variance per channel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["resize", "pad", "channel_statistics", "prepare_images"]

_CHUNK = 4096


def resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinear resize of ``N×C×H×W`` images to ``image_size × image_size`` (half-pixel
    centres, ``align_corners=False``; antialiased when shrinking)."""
    if tuple(images.shape[-2:]) == (image_size, image_size):
        return images
    shrink = image_size < max(images.shape[-2:])
    return F.interpolate(images, size=(image_size, image_size), mode="bilinear",
                         align_corners=False, antialias=shrink)


def pad(images: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad ``N×C×H×W`` images, centred, to ``size × size`` (28 → 32 adds 2 pixels a side,
    as LeNet-5 on MNIST-like images is usually fed); ``ValueError`` if they are larger."""
    h, w = images.shape[-2:]
    if h > size or w > size:
        raise ValueError(f"cannot pad {h}×{w} images to {size}×{size}")
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(images, (left, size - w - left, top, size - h - top))


def _scaled(chunk: torch.Tensor, scale: float, image_size: int | None, pad_to: int | None = None) -> torch.Tensor:
    x = chunk.to(torch.float64) / scale
    x = resize(x, image_size) if image_size else x
    return pad(x, pad_to) if pad_to else x


def channel_statistics(images: torch.Tensor, *, scale: float = 255.0, image_size: int | None = None,
                       pad_to: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (float64, length C) of ``images / scale`` after resizing and padding."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    count = 0
    for start in range(0, images.shape[0], _CHUNK):
        x = _scaled(images[start:start + _CHUNK], scale, image_size, pad_to)
        total += x.sum(dim=(0, 2, 3))
        total_sq += x.square().sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    var = (total_sq / count - mean.square()).clamp_min(0.0)
    std = var.sqrt()
    if bool((std == 0).any()):
        raise ValueError("a channel of the training images is constant: cannot standardise")
    return mean, std


def prepare_images(images: torch.Tensor, *, scale: float, image_size: int | None,
                   mean: torch.Tensor | None, std: torch.Tensor | None,
                   dtype: torch.dtype, pad_to: int | None = None) -> torch.Tensor:
    """``images / scale``, resized, zero-padded to ``pad_to``, standardised with ``mean``/``std``
    (if given), as ``dtype``.

    Computed in float64 chunk by chunk, then cast, so a uint8 set of 73k images never
    exists in float64 all at once.
    """
    n, c, h, w = images.shape
    size = (image_size, image_size) if image_size else (h, w)
    size = (pad_to, pad_to) if pad_to else size
    out = torch.empty((n, c, *size), dtype=dtype)
    for start in range(0, n, _CHUNK):
        x = _scaled(images[start:start + _CHUNK], scale, image_size, pad_to)
        if mean is not None:
            x = (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
        out[start:start + x.shape[0]] = x.to(dtype)
    return out
