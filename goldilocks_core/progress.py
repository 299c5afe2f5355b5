"""Progress bars that respect ``TQDM_DISABLE`` even when a caller asks for one."""
from __future__ import annotations

import os
from typing import Iterable, TypeVar

from tqdm import tqdm

__all__ = ["progress_bar", "progress_enabled"]

T = TypeVar("T")


def progress_enabled(requested: bool = True) -> bool:
    """``requested``, unless the environment sets ``TQDM_DISABLE`` to a true value."""
    flag = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return bool(requested) and flag in ("", "0", "false", "no")


def progress_bar(iterable: Iterable[T], *, enabled: bool = True, **kwargs) -> Iterable[T]:
    """``tqdm(iterable)`` when enabled (see :func:`progress_enabled`), else ``iterable`` itself."""
    if not progress_enabled(enabled):
        return iterable
    # tqdm reads TQDM_* variables once, at import: decide here and pass the decision explicitly
    return tqdm(iterable, leave=False, disable=False, **kwargs)
