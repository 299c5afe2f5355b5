"""Cached, resumable experiments.

Long runs (the paper profile's sweeps over α, seeds and datasets) are split into
points; each point's result is stored on disk under a key made of its settings and a
fingerprint of the ``goldilocks_core`` sources, so that

* re-running a chapter reuses finished points and resumes an interrupted sweep, and
* any change to the package invalidates the cache (unlike Jupyter's execution cache,
  which ignores package changes).

The cache lives in ``$GOLDILOCKS_CACHE`` or ``<repo>/.cache/results`` (git-ignored).
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from ..progress import progress_bar

__all__ = ["cache_dir", "package_fingerprint", "cache_key", "cached", "cached_map"]

_PACKAGE = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """Where results are stored: ``$GOLDILOCKS_CACHE`` or ``<repo>/.cache/results``."""
    env = os.environ.get("GOLDILOCKS_CACHE")
    return Path(env) if env else _PACKAGE.parent / ".cache" / "results"


@lru_cache(maxsize=1)
def package_fingerprint() -> str:
    """SHA-256 (16 hex digits) of every ``.py`` file of ``goldilocks_core``."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def cache_key(name: str, settings: dict[str, Any]) -> str:
    """A file-name-safe key: ``name`` + hash of the settings and the package fingerprint."""
    payload = json.dumps({"settings": _jsonable(settings), "package": package_fingerprint()}, sort_keys=True)
    return f"{name}-{hashlib.sha256(payload.encode()).hexdigest()[:20]}"


def _atomic_pickle(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached(name: str, settings: dict[str, Any], compute: Callable[[], Any], *,
           enabled: bool = True, refresh: bool = False, directory: Path | None = None) -> Any:
    """``compute()`` once per (name, settings, package version); later calls load the result.

    ``enabled=False`` always computes and stores nothing; ``refresh=True`` recomputes.
    """
    if not enabled:
        return compute()
    path = Path(directory or cache_dir()) / f"{cache_key(name, settings)}.pkl"
    if path.is_file() and not refresh:
        with path.open("rb") as fh:
            return pickle.load(fh)
    result = compute()
    _atomic_pickle(result, path)
    return result


def cached_map(name: str, settings: dict[str, Any], compute: Callable[[Any], Any], items: Iterable[Any], *,
               enabled: bool = True, refresh: bool = False, directory: Path | None = None,
               progress: bool = True, desc: str | None = None) -> list[Any]:
    """``[compute(item) for item in items]`` with each item's result cached on its own.

    An interrupted run resumes where it stopped: finished items are loaded, the rest
    computed. Items must be representable in the key (numbers, strings, tuples).
    """
    items = list(items)
    results = []
    for item in progress_bar(items, enabled=progress, desc=desc or name):
        results.append(cached(name, {**settings, "item": item}, lambda: compute(item),
                              enabled=enabled, refresh=refresh, directory=directory))
    return results
