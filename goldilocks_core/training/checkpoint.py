"""Checkpoints of long training runs: one folder per run, one file per chunk of cells, atomic writes.

A run's folder is named by :func:`run_key` — a hash of every setting, of θ₀ and of the data content,
and of the sources of the code that computes the trajectory (this subpackage, the model, functional
and loss modules). A file is written to a temporary name in the same folder, flushed to disk
(``fsync``) and renamed over the final name (``os.replace``), so a kill never leaves a partial file
under a final name: a resumed run restarts from the last complete checkpoint of each chunk, and
finished chunks are never recomputed.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import torch

from ..storage import atomic_file

__all__ = ["tensor_digest", "engine_fingerprint", "run_key", "CheckpointStore"]

_PACKAGE = Path(__file__).resolve().parents[1]
_ENGINE_SOURCES = ("training/*.py", "functional.py", "losses.py", "models.py")


def tensor_digest(*tensors: torch.Tensor, digest=None) -> str:
    """Hash the dtypes, shapes and bytes of ``tensors`` with SHA-256 (16 hex digits).

    Parameters
    ----------
    *tensors : torch.Tensor
        Any tensors (copied to the CPU).
    digest : hashlib object, optional
        A running hash to update (default: a fresh SHA-256).

    Returns
    -------
    str
        The first 16 hex digits.
    """
    h = digest or hashlib.sha256()
    for t in tensors:
        t = t.detach().to("cpu").contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """Hash the sources a training trajectory depends on with SHA-256 (16 hex digits).

    Returns
    -------
    str
        Of this subpackage and the model, functional and loss modules.
    """
    h = hashlib.sha256()
    for pattern in _ENGINE_SOURCES:
        for path in sorted(_PACKAGE.glob(pattern)):
            h.update(str(path.relative_to(_PACKAGE)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_key(settings: dict) -> str:
    """Name a run's checkpoint folder ``train-<hash>`` of its settings and the engine's sources.

    Parameters
    ----------
    settings : dict
        Every setting of the run (JSON-encoded, ``repr`` for the rest).

    Returns
    -------
    str
        ``"train-"`` followed by 20 hex digits of SHA-256 over the settings and
        :func:`engine_fingerprint`.
    """
    payload = json.dumps({"settings": settings, "engine": engine_fingerprint()}, sort_keys=True, default=repr)
    return "train-" + hashlib.sha256(payload.encode()).hexdigest()[:20]


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` to ``path`` atomically (:func:`~goldilocks_core.storage.atomic_file`)."""
    with atomic_file(path) as (fh, _):
        torch.save(obj, fh)


class CheckpointStore:
    """Store the state of each chunk of a run as ``folder/<key>/chunk-<i>.pt``, written atomically.

    Parameters
    ----------
    folder : str or os.PathLike
        The cache folder (created if missing).
    key : str
        The run's name (:func:`run_key`).
    settings : dict, optional
        Written once to ``settings.json`` for reference.
    """

    def __init__(self, folder, key: str, settings: dict | None = None):
        self.path = Path(folder) / key
        self.path.mkdir(parents=True, exist_ok=True)
        if settings is not None and not (self.path / "settings.json").exists():
            text = json.dumps(settings, indent=1, sort_keys=True, default=repr)
            (self.path / "settings.json").write_text(text)

    def _file(self, chunk: int) -> Path:
        return self.path / f"chunk-{chunk:04d}.pt"

    def load(self, chunk: int) -> dict | None:
        """Return the last complete state of ``chunk``, or ``None``.

        Parameters
        ----------
        chunk : int
            The chunk's index.

        Returns
        -------
        dict or None
            Its cells' parameters, rows and step, on the CPU.
        """
        f = self._file(chunk)
        if not f.is_file():
            return None
        return torch.load(f, map_location="cpu", weights_only=True)

    def save(self, chunk: int, state: dict) -> None:
        """Write the state of ``chunk`` atomically (a kill never leaves a partial file).

        Parameters
        ----------
        chunk : int
            The chunk's index.
        state : dict
            Its cells' parameters, rows and step.
        """
        atomic_save(state, self._file(chunk))
