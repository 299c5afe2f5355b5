"""Named settings for every chapter: ``quick`` (2-core CPU, minutes, offline data) and
``paper`` (the paper's datasets, grids and sizes, meant for a CUDA device).

A chapter's papermill ``parameters`` cell names a profile; :func:`settings` returns
that profile's values with explicit parameters overriding them::

    cfg = settings("preliminaries", profile, device=device, seed=seed)
    cfg.dataset, cfg.alphas, cfg.device  # attribute access

Parameters passed as ``None`` mean "use the profile's value".
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["PROFILE_NAMES", "CHAPTERS", "Settings", "settings", "alpha_grid"]

PROFILE_NAMES = ("quick", "paper")


def alpha_grid(lo: float = -3.0, hi: float = 3.0, step: float = 0.25) -> list[float]:
    """10^(lo … hi) in exponent steps of ``step`` (the authors' grid has 25 points)."""
    n = int(round((hi - lo) / step)) + 1
    return [float(10.0**e) for e in np.linspace(lo, hi, n)]


# Settings every chapter has.
_COMMON: dict[str, Any] = {"device": "auto", "seed": 0}

# chapter -> profile -> settings. Keep each chapter's block self-contained.
_CHAPTERS: dict[str, dict[str, dict[str, Any]]] = {
    "preliminaries": {
        "quick": {
            "dataset": "digits",
            "mlp_widths": [64, 300, 100, 10],
            "lenet_image_size": 32,
            "lenet_channels": 1,
            "num_samples": 512,
            "subspace_dim": 20,
            "dense_check_widths": [6, 5, 4, 3],
        },
        "paper": {
            "dataset": "fashion_mnist",
            "mlp_widths": [784, 300, 100, 10],
            "lenet_image_size": 32,
            "lenet_channels": 3,
            "num_samples": 60000,
            "subspace_dim": 50,
            "dense_check_widths": [6, 5, 4, 3],
        },
    },
}

CHAPTERS = tuple(_CHAPTERS)


class Settings(Mapping):
    """Read-only mapping of one chapter's settings with attribute access."""

    def __init__(self, values: dict[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}; known: {', '.join(sorted(self))}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Settings are read-only; pass overrides to settings()")

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"Settings({items})"


def settings(chapter: str, profile: str = "quick", **overrides: Any) -> Settings:
    """The settings of ``chapter`` under ``profile``, with non-``None`` overrides applied.

    Raises ``ValueError`` for an unknown chapter, profile or setting name.
    """
    if chapter not in _CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {', '.join(sorted(_CHAPTERS))}")
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILE_NAMES)}")
    values = {**_COMMON, **_CHAPTERS[chapter][profile]}
    for key, value in overrides.items():
        if key not in values:
            raise ValueError(
                f"unknown setting {key!r} for chapter {chapter!r}; known: {', '.join(sorted(values))}"
            )
        if value is not None:
            values[key] = value
    values["profile"] = profile
    return Settings(values)
