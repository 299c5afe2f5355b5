"""Where the package keeps files, and how it writes them: atomically, readable by the group,
with clean-up of what a killed writer left behind. One home for the dataset cache
(:mod:`goldilocks_core.data`), the results cache (:mod:`goldilocks_core.experiments.cache`) and
training checkpoints (:mod:`goldilocks_core.training`).

:func:`atomic_file` writes to a hidden ``.<name>.<random>.part`` file next to the target, holds
an exclusive ``flock`` on it while writing, then fsyncs, makes it readable as the umask allows
(``mkstemp`` creates it 0600) and renames it into place. A process killed mid-write leaves its
``.part`` file unlocked: :func:`remove_stale_parts` (run before each write into a folder)
deletes exactly those, never one a live writer still holds. Without ``fcntl`` (Windows) a
leftover is removed once it is a day old.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None

__all__ = ["atomic_file", "remove_stale_parts", "repository_root", "writable", "umask"]

TEMPORARY_SUFFIXES = (".part", ".tmp")
_UNLOCKED_MAX_AGE_S = 86400.0  # only where locks are unavailable


def umask() -> int:
    """The process umask, read without changing it where Linux shows it, else set and restored."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def repository_root() -> Path | None:
    """``<repo>`` when this package is a source checkout's ``goldilocks_core`` (editable install),
    else ``None`` (an ordinary install: caches must not default to site-packages)."""
    candidate = Path(__file__).resolve().parent.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "goldilocks_core" / "__init__.py").is_file():
        return candidate
    return None


def writable(folder: Path) -> bool:
    """Whether ``folder`` (or the nearest existing folder above it) can be written to."""
    probe = Path(folder)
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike):
    """Context manager yielding ``(file, tmp_path)``; ``path`` appears only if the block succeeds.

    Check the temporary file inside the block (flush first) and raise to discard it.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(name)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(fd, "wb") as fh:
            yield fh, tmp
            fh.flush()
            os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~umask())
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_folder(path.parent)


def _abandoned(path: Path) -> bool:
    if fcntl is None:
        return time.time() - path.stat().st_mtime > _UNLOCKED_MAX_AGE_S
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live writer holds it
    finally:
        os.close(fd)
    return True


def remove_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Delete the ``.*.part`` / ``.*.tmp`` files in ``folder`` that no live process is writing.

    Returns
    -------
    list of Path
        The files removed (empty when ``folder`` does not exist).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for candidate in sorted(folder.glob(".*")):
        if candidate.suffix not in TEMPORARY_SUFFIXES or not candidate.is_file():
            continue
        try:
            if _abandoned(candidate):
                candidate.unlink()
                removed.append(candidate)
        except OSError:  # vanished meanwhile, or not ours to delete: leave it
            continue
    return removed
