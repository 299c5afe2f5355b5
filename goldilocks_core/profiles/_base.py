"""The base of every chapter's settings: a frozen dataclass that is also a read-only mapping."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from ..curvature.sweep import alpha_grid
from ._models import LENET5_CIFAR10, LENET_300_100_FASHION

__all__ = ["ChapterSettings", "SweepSettings"]


@dataclasses.dataclass(frozen=True)
class ChapterSettings(Mapping):
    """Settings every chapter has; subclasses add theirs, with the paper's values as defaults.

    ``profiles`` maps a profile name (``quick``, ``offline``) to the fields it overrides;
    the ``paper`` profile is the defaults themselves.
    """

    chapter: ClassVar[str] = ""
    profiles: ClassVar[dict[str, dict[str, Any]]] = {}

    profile: str = "paper"
    device: str = "auto"
    seed: int = 0

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every setting's name, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def build(cls, **values: Any) -> "ChapterSettings":
        """``cls(**values)``, with a one-line ``ValueError`` naming unknown settings."""
        known = cls.field_names()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r} for chapter {cls.chapter!r}; "
                             f"known: {', '.join(sorted(known))}")
        return cls(**values)

    def __getitem__(self, key: str) -> Any:
        if key not in self.field_names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self.field_names())

    def __len__(self) -> int:
        return len(self.field_names())

    def __or__(self, other: Mapping) -> dict[str, Any]:
        """``cfg | {"key": value}``: a plain dict with some settings replaced."""
        return {**dict(self), **dict(other)}

    def replace(self, **changes: Any) -> "ChapterSettings":
        """A copy with some settings changed (unknown names are an error)."""
        return type(self).build(**{**dict(self), **changes})


@dataclasses.dataclass(frozen=True)
class SweepSettings(ChapterSettings):
    """Settings of a chapter that sweeps α on random subspaces (Fig. 1, Fig. 2): the paper's
    models, its 25-point grid, d = 50 and three seeds."""

    models: tuple = (LENET_300_100_FASHION, LENET5_CIFAR10)
    alphas: tuple = tuple(alpha_grid())
    subspace_dim: int = 50
    num_seeds: int = 3
    basis_kind: str = "orthonormal"
    dtype: str = "float64"
    chunk_size: int | None = None
