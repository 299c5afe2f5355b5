"""The dataset cache: where files live, md5 checks and atomic downloads.

Every downloadable file is listed with its md5 in ``manifest.json`` (next to this module;
``data/manifest.json`` in the repository is a link to it). A file is fetched by streaming it to
a temporary file inside the cache folder, checking its md5, and only then renaming it into place
(``os.replace``), so the cache never holds a partial or corrupt file under a final name.

Cache folder, first that applies: the ``root`` argument; ``$GOLDILOCKS_DATA``; ``<repo>/data``
when this package sits in a writable checkout of the repository; ``~/.cache/goldilocks``
(``$XDG_CACHE_HOME/goldilocks``). Each dataset has its own subfolder ``<cache>/<name>/``.

The download address of a file is ``<base>/<filename>`` where ``<base>`` is the ``mirror``
argument, else ``$GOLDILOCKS_MIRROR``, else the dataset's official ``base_url``. A mirror may be
``http(s)://`` or ``file://`` (a folder holding the files under their official names).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

__all__ = [
    "DownloadError",
    "ChecksumError",
    "manifest",
    "dataset_names",
    "dataset_spec",
    "cache_root",
    "dataset_dir",
    "file_url",
    "md5sum",
    "download_file",
    "ensure_file",
    "fetch",
    "verify",
    "describe",
]

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
_manifest_cache: dict | None = None


class DownloadError(ConnectionError):
    """A file could not be downloaded (offline, server down, HTTP error, interrupted)."""


class ChecksumError(RuntimeError):
    """A downloaded or cached file does not have the md5 the manifest records."""


def manifest() -> dict:
    """The parsed ``manifest.json`` (read once; tests may replace ``_manifest_cache``)."""
    global _manifest_cache
    if _manifest_cache is None:
        with open(MANIFEST_PATH, encoding="utf-8") as fh:
            _manifest_cache = json.load(fh)
    return _manifest_cache


def dataset_names() -> tuple[str, ...]:
    return tuple(manifest()["datasets"])


def dataset_spec(name: str) -> dict:
    """The manifest entry of ``name``; ``ValueError`` listing the known names otherwise."""
    specs = manifest()["datasets"]
    if name not in specs:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(specs)}")
    return specs[name]


def _repository_root() -> Path | None:
    """``<repo>`` when this package is the checkout's ``goldilocks_core`` (editable install)."""
    candidate = Path(__file__).resolve().parent.parent.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "goldilocks_core" / "__init__.py").is_file():
        return candidate
    return None


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``root``, ``$GOLDILOCKS_DATA``, ``<repo>/data`` or ``~/.cache/goldilocks``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GOLDILOCKS_DATA")
    if env:
        return Path(env).expanduser()
    repo = _repository_root()
    if repo is not None and _writable(repo / "data"):
        return repo / "data"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "goldilocks"


def dataset_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """``<cache>/<name>``, the folder of one dataset's files (not created here)."""
    return cache_root(root) / name


def file_url(name: str, filename: str, mirror: str | None = None) -> str:
    """Where ``filename`` of dataset ``name`` is downloaded from (``mirror`` overrides)."""
    spec = dataset_spec(name)
    base = mirror or os.environ.get("GOLDILOCKS_MIRROR") or spec.get("base_url")
    if not base:
        raise ValueError(f"dataset {name!r} has no files to download")
    return base.rstrip("/") + "/" + filename


def md5sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_hint(url: str, path: Path, md5: str) -> str:
    return (
        f"download {url} by hand and place it at {path} (md5 {md5}), "
        "or point $GOLDILOCKS_MIRROR (or mirror=) at a reachable copy"
    )


def download_file(url: str, path: str | os.PathLike, md5: str, *, timeout: float = 60.0,
                  chunk_size: int = 1 << 20) -> Path:
    """Stream ``url`` to ``path`` atomically, checking its md5.

    The bytes go to a hidden temporary file in ``path``'s folder; only a complete download
    with the expected md5 is renamed to ``path``. On any failure the temporary file is removed
    and :class:`DownloadError` (network, HTTP status, interrupted transfer) or
    :class:`ChecksumError` (wrong md5) is raised; an existing ``path`` is left untouched.
    """
    import http.client
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    from ..progress import progress_enabled

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5()
        received = 0
        expected_length = None
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": "goldilocks-core"})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    expected_length = int(length) if length and length.isdigit() else None
                    with tqdm(total=expected_length, unit="B", unit_scale=True, unit_divisor=1024,
                              desc=path.name, leave=False, disable=not progress_enabled()) as bar:
                        while True:
                            chunk = response.read(chunk_size)
                            if not chunk:
                                break
                            out.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
            except urllib.error.HTTPError as err:
                raise DownloadError(
                    f"could not download {url} to {path}: HTTP {err.code} {err.reason}; "
                    + _manual_hint(url, path, md5)
                ) from err
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
                reason = getattr(err, "reason", None) or err
                raise DownloadError(
                    f"could not download {url} to {path} ({type(err).__name__}: {reason}); "
                    "the machine may be offline or the server down; " + _manual_hint(url, path, md5)
                ) from err
        if expected_length is not None and received != expected_length:
            raise DownloadError(
                f"download of {url} was interrupted: received {received} of {expected_length} bytes; "
                "nothing was kept in the cache; try again, or " + _manual_hint(url, path, md5)
            )
        actual = digest.hexdigest()
        if actual != md5:
            raise ChecksumError(
                f"downloaded {url} has md5 {actual}, expected {md5}: corrupt or a different version; "
                f"it was deleted and nothing was kept at {path}"
            )
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    return path


def ensure_file(name: str, filename: str, *, root=None, download: bool = True,
                mirror: str | None = None) -> Path:
    """Path of a verified copy of ``filename`` of dataset ``name``, downloading it if allowed.

    A cached file with the wrong md5 is replaced by a fresh download (``download=True``) or
    reported with :class:`ChecksumError` (``download=False``). A missing file with
    ``download=False`` raises ``FileNotFoundError`` naming the path and the URL.
    """
    spec = dataset_spec(name)
    if filename not in spec.get("files", {}):
        raise ValueError(f"{filename!r} is not a file of dataset {name!r}")
    expected = spec["files"][filename]["md5"]
    path = dataset_dir(name, root) / filename
    url = file_url(name, filename, mirror)
    if path.is_file():
        actual = md5sum(path)
        if actual == expected:
            return path
        if not download:
            raise ChecksumError(
                f"cached file {path} has md5 {actual}, expected {expected} (corrupt or a different "
                f"version); delete it and download it again from {url} "
                f"(download=True, or `goldilocks data fetch {name}`)"
            )
    elif not download:
        raise FileNotFoundError(
            f"{path} is missing and download=False; get it from {url} (md5 {expected}) with "
            f"download=True or `goldilocks data fetch {name}`, or place the file there by hand"
        )
    return download_file(url, path, expected)


def fetch(name: str, root=None, *, mirror: str | None = None) -> list[Path]:
    """Download (if needed) and md5-verify every file of dataset ``name``; returns their paths.

    Bundled and synthetic datasets have no files: the result is empty.
    """
    spec = dataset_spec(name)
    return [ensure_file(name, f, root=root, download=True, mirror=mirror) for f in spec.get("files", {})]


def verify(root=None) -> list[str]:
    """One line per file in the manifest: ``ok <path>``, ``missing <path> …`` or ``BAD <path> …``."""
    lines = []
    for name, spec in manifest()["datasets"].items():
        for filename, info in spec.get("files", {}).items():
            path = dataset_dir(name, root) / filename
            if not path.is_file():
                lines.append(f"missing {path} (from {file_url(name, filename)})")
                continue
            actual = md5sum(path)
            if actual == info["md5"]:
                lines.append(f"ok {path}")
            else:
                lines.append(f"BAD {path}: md5 {actual}, expected {info['md5']}")
    return lines


def describe(root=None) -> list[str]:
    """One line per dataset: name, kind, source, and whether its files are cached (and where)."""
    lines = []
    specs = manifest()["datasets"]
    width = max(len(n) for n in specs)
    for name, spec in specs.items():
        files = spec.get("files", {})
        if not files:
            state = "always available (no download)"
        else:
            folder = dataset_dir(name, root)
            present = sum((folder / f).is_file() for f in files)
            word = "cached" if present == len(files) else "not cached"
            state = f"{word} ({present}/{len(files)} files in {folder}; from {spec['base_url']})"
        lines.append(f"{name:<{width}}  {spec['kind']:<9}  {spec['source']}: {state}")
    return lines
