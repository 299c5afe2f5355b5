"""md5 checks of dataset files: of the file itself, and of its payload (the decompressed bytes).

A manifest entry holds ``md5`` (of the file as published, when known) and, for gzip files,
``payload_md5`` (of the decompressed bytes). A file with a ``payload_md5`` is verified by its
payload, so a re-compressed copy (Debian's ``dataset-fashion-mnist`` re-gzips the official files)
is accepted as long as the data are byte-identical; other files are verified by their ``md5``.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib

__all__ = ["md5sum", "payload_md5", "mismatch", "describe_match"]

_CHUNK = 1 << 20


def _digest(fh) -> str:
    digest = hashlib.md5()
    for chunk in iter(lambda: fh.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def md5sum(path: str | os.PathLike) -> str:
    """md5 of the file's bytes."""
    with open(path, "rb") as fh:
        return _digest(fh)


def payload_md5(path: str | os.PathLike) -> str | None:
    """md5 of the decompressed bytes of a gzip file; ``None`` when it is not valid gzip."""
    try:
        with gzip.open(path, "rb") as fh:
            return _digest(fh)
    except (OSError, EOFError, zlib.error):
        return None


def mismatch(path: str | os.PathLike, info: dict) -> str | None:
    """``None`` when ``path`` holds the file ``info`` describes, else why not (one phrase).

    Parameters
    ----------
    path : path-like
        The file to check.
    info : dict
        Its manifest entry: ``md5`` and, for gzip files, ``payload_md5``.

    Returns
    -------
    str or None
        ``None`` on a match; otherwise e.g. ``"payload md5 <actual>, expected <expected>"``.
    """
    if info.get("payload_md5"):
        actual = payload_md5(path)
        if actual == info["payload_md5"]:
            return None
        if actual is None:
            return f"not a readable gzip file (expected payload md5 {info['payload_md5']})"
        return f"payload md5 {actual}, expected {info['payload_md5']}"
    actual = md5sum(path)
    return None if actual == info["md5"] else f"md5 {actual}, expected {info['md5']}"


def describe_match(path: str | os.PathLike, info: dict) -> str:
    """For a verified file: ``"the published file"`` or ``"a re-compressed copy"`` (same payload)."""
    if not info.get("payload_md5") or md5sum(path) == info.get("md5"):
        return "the published file"
    return "a re-compressed copy, same payload"
