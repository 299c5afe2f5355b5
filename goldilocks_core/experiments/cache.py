"""Cached, resumable experiments.

Long runs (the paper profile's sweeps over α, seeds and datasets) are split into
points; each point's result is stored on disk under a key made of

* its **complete settings** (a chapter's whole ``cfg``, full lists of inits, …), hashed by
  content: arrays and tensors by their bytes, models by :func:`~.identity.model_identity`,
  data sets by :func:`~.identity.data_identity` (see :mod:`goldilocks_core.experiments.identity`),
* a fingerprint of the ``goldilocks_core`` sources and the torch / NumPy versions,

so that re-running a chapter reuses finished points and resumes an interrupted sweep, and
any change to a setting, the data or the package invalidates the cache (unlike Jupyter's
execution cache, which ignores package changes).

Entries are written atomically (temporary file in the same folder, fsync, rename; mode
0o666 minus the umask) and carry a SHA-256 of their bytes: a truncated or corrupt entry is
reported in one line on stderr, removed and recomputed. Temporary files that a killed write
left behind are removed on the next run. The folder's writability is checked before a point
is computed, and a failed write keeps the computed result (one line on stderr).

The cache lives in ``$GOLDILOCKS_CACHE``; else ``<repo>/.cache/results`` (git-ignored) when the
package runs from a writable source checkout; else ``$XDG_CACHE_HOME/goldilocks/results``
(``~/.cache/goldilocks/results``), never inside ``site-packages``.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from .. import storage
from ..storage import atomic_file, remove_stale_parts
from ..progress import progress_bar
from .identity import canonical

__all__ = ["cache_dir", "package_fingerprint", "cache_key", "cached", "cached_map", "result_settings"]

_PACKAGE = Path(__file__).resolve().parents[1]
_MAGIC = b"goldilocks-cache 2\n"
UI_SETTINGS = ("cache", "progress")  # settings that never change a result
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_swept: set[str] = set()


def cache_dir() -> Path:
    """Where results are stored: ``$GOLDILOCKS_CACHE``, ``<repo>/.cache/results`` in a writable
    source checkout, else ``$XDG_CACHE_HOME/goldilocks/results`` (``~/.cache/goldilocks/results``)."""
    env = os.environ.get("GOLDILOCKS_CACHE")
    if env:
        return Path(env).expanduser()
    repo = storage.repository_root()
    if repo is not None and storage.writable(repo / ".cache" / "results"):
        return repo / ".cache" / "results"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "goldilocks" / "results"


@lru_cache(maxsize=1)
def package_fingerprint() -> str:
    """SHA-256 (16 hex digits) of every ``.py`` file of ``goldilocks_core``."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def result_settings(cfg: Mapping[str, Any], exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A chapter's settings, or a function's arguments (``locals()`` on entry), without those that
    cannot change a result (``UI_SETTINGS``) and those in ``exclude`` (keyed per item)."""
    drop = set(UI_SETTINGS) | set(exclude)
    return {k: v for k, v in dict(cfg).items() if k not in drop}


def _key(name: str, canon: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"cache name must be letters, digits, '_', '.' or '-', got {name!r}")
    payload = json.dumps({"settings": canon, "package": package_fingerprint(), "torch": torch.__version__,
                          "numpy": np.__version__}, sort_keys=True)
    return f"{name}-{hashlib.sha256(payload.encode()).hexdigest()[:24]}"


def cache_key(name: str, settings: Mapping[str, Any]) -> str:
    """A file-name-safe key: ``name`` + SHA-256 of the full settings (by content, see
    :func:`~.identity.canonical`), the package fingerprint and the torch / NumPy versions."""
    return _key(name, canonical(settings))


# ------------------------------------------------------------------------------ files
def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _prepare(folder: Path) -> None:
    """Create ``folder``, check that a file can be written there, and sweep stale temporaries."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".writable.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise PermissionError(f"results cache folder {folder} is not writable ({_one_line(exc)}); set "
                              "$GOLDILOCKS_CACHE to a writable folder or turn the cache off") from None
    if str(folder) not in _swept:
        _swept.add(str(folder))
        remove_stale_parts(folder)


def _write(obj: Any, path: Path) -> None:
    """Pickle ``obj`` to ``path`` atomically (:func:`~goldilocks_core.storage.atomic_file`), behind
    a header holding the sha256 of the pickle so that a damaged entry is recognised."""
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    with atomic_file(path) as (fh, _):
        fh.write(_MAGIC + hashlib.sha256(blob).hexdigest().encode() + b"\n")
        fh.write(blob)


class _Unreadable(Exception):
    pass


def _read(path: Path) -> Any:
    """The object stored at ``path``; :class:`_Unreadable` if it is truncated or corrupt."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Unreadable(_one_line(exc)) from None
    head = len(_MAGIC) + 65
    if not data.startswith(_MAGIC) or len(data) < head or data[head - 1:head] != b"\n":
        raise _Unreadable("not a goldilocks cache entry or truncated header")
    blob = data[head:]
    if hashlib.sha256(blob).hexdigest().encode() != data[len(_MAGIC):head - 1]:
        raise _Unreadable("checksum mismatch: truncated or corrupt")
    try:
        return pickle.loads(blob)
    except Exception as exc:  # e.g. a class that no longer exists
        raise _Unreadable(_one_line(exc)) from None


def _lookup(path: Path, compute: Callable[[], Any], refresh: bool) -> Any:
    if path.is_file() and not refresh:
        try:
            return _read(path)
        except _Unreadable as why:
            print(f"goldilocks cache: removed unreadable entry {path} ({why}); recomputing", file=sys.stderr)
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass  # a folder we cannot write to is reported by _prepare
    _prepare(path.parent)
    result = compute()
    try:
        _write(result, path)
    except Exception as exc:
        print(f"goldilocks cache: could not store {path} ({_one_line(exc)}); the result is returned "
              "but not cached", file=sys.stderr)
    return result


def cached(name: str, settings: Mapping[str, Any], compute: Callable[[], Any], *,
           enabled: bool = True, refresh: bool = False, directory: Path | None = None) -> Any:
    """``compute()`` once per (name, settings, package version); later calls load the result.

    ``settings`` must hold everything the result depends on (a chapter's full ``cfg``, models,
    data sets: tensors and modules are keyed by content). ``enabled=False`` always computes and
    stores nothing; ``refresh=True`` recomputes. Raises ``PermissionError`` before computing
    when the cache folder cannot be written.
    """
    if not enabled:
        return compute()
    path = Path(directory or cache_dir()) / f"{_key(name, canonical(settings))}.pkl"
    return _lookup(path, compute, refresh)


def cached_map(name: str, settings: Mapping[str, Any], compute: Callable[[Any], Any], items: Iterable[Any], *,
               enabled: bool = True, refresh: bool = False, directory: Path | None = None,
               progress: bool = True, desc: str | None = None) -> list[Any]:
    """``[compute(item) for item in items]`` with each item's result cached on its own.

    An interrupted run resumes where it stopped: finished items are loaded, the rest
    computed. ``settings`` (hashed once) and every item are keyed by content, as in
    :func:`cached`.
    """
    items = list(items)
    if not enabled:
        return [compute(item) for item in progress_bar(items, enabled=progress, desc=desc or name)]
    base = canonical(settings)
    folder = Path(directory or cache_dir())
    results = []
    for item in progress_bar(items, enabled=progress, desc=desc or name):
        path = folder / f"{_key(name, {'settings': base, 'item': canonical(item)})}.pkl"
        results.append(_lookup(path, lambda: compute(item), refresh))
    return results
