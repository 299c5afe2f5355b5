"""The dataset cache: names, where files come from, payload checks, atomic copies and downloads.

Every file is listed in ``manifest.json`` (next to this module; ``data/manifest.json`` in the
repository is a link to it) with its published ``md5`` and, for gzip files, the ``payload_md5``
of the decompressed bytes it is verified by (see :mod:`goldilocks_core.data.checksums`).

Sources of a file, in order:

1. the cache folder: the ``root`` argument; ``$GOLDILOCKS_DATA``; ``<repo>/data`` when this
   package sits in a writable checkout; ``~/.cache/goldilocks`` (``$XDG_CACHE_HOME``). Each
   dataset has its own subfolder ``<cache>/<name>/``;
2. system locations, e.g. ``/usr/share/datasets/fashion-mnist`` of Debian's
   ``dataset-fashion-mnist`` (the manifest's ``system_dirs``; ``$GOLDILOCKS_SYSTEM_DATA``, a
   ``os.pathsep``-separated list of folders, replaces them for every dataset, empty for none);
   a verified file is copied into the cache;
3. the official URL ``<base_url>/<filename>`` (downloaded with pooch's HTTP/FTP downloaders);
4. the mirror: the ``mirror`` argument, else ``$GOLDILOCKS_MIRROR`` (``http(s)://`` or
   ``file://``, a folder holding the files under their official names).

Only 3 and 4 are downloads (``download=False`` skips them). Every copy goes through a locked
temporary file, is verified, then renamed into place, so the cache never holds a partial or
corrupt file under a final name; where each file came from is kept in ``<name>/sources.json``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from . import checksums
from .checksums import md5sum
from ..storage import atomic_file, remove_stale_parts, repository_root, writable

__all__ = [
    "DownloadError",
    "ChecksumError",
    "manifest",
    "dataset_names",
    "canonical_name",
    "dataset_spec",
    "cache_root",
    "dataset_dir",
    "system_dirs",
    "file_urls",
    "md5sum",
    "download_file",
    "ensure_file",
    "fetch",
    "verify",
    "describe",
]

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
SOURCES_FILE = "sources.json"
_manifest_cache: dict | None = None


class DownloadError(ConnectionError):
    """A file could not be downloaded (offline, server down, HTTP error, interrupted).

    Parameters
    ----------
    *args
        The message, as for :class:`ConnectionError`.
    """


class ChecksumError(RuntimeError):
    """A downloaded, copied or cached file does not hold the payload the manifest records.

    Parameters
    ----------
    *args
        The message, as for :class:`RuntimeError`.
    """


def manifest() -> dict:
    """Return the parsed ``manifest.json``, read once (tests may replace ``_manifest_cache``).

    Returns
    -------
    dict
        ``{"datasets": {name: spec}}``: per dataset its kind, source, files and md5s.
    """
    global _manifest_cache
    if _manifest_cache is None:
        with open(MANIFEST_PATH, encoding="utf-8") as fh:
            _manifest_cache = json.load(fh)
    return _manifest_cache


def dataset_names() -> tuple[str, ...]:
    return tuple(manifest()["datasets"])


def _spelling_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def canonical_name(name) -> str:
    """Return the registry name of ``name``, ignoring case and every non-alphanumeric character.

    ``"Fashion-MNIST"``, ``"fashion_mnist"``, ``"FashionMNIST"`` and ``"fashion mnist"`` all
    give ``"fashion_mnist"``; ``"CIFAR-10"`` gives ``"cifar10"``. The one spelling rule of
    :func:`~goldilocks_core.data.load`, :func:`fetch`, :func:`ensure_file` and the CLI.

    Parameters
    ----------
    name : str
        A dataset name in any spelling.

    Returns
    -------
    str
        The manifest's name. ``ValueError`` listing the known names otherwise.
    """
    if isinstance(name, str):
        key = _spelling_key(name)
        for known in dataset_names():
            if _spelling_key(known) == key:
                return known
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")


def dataset_spec(name: str) -> dict:
    """The manifest entry of ``name`` (any spelling); ``ValueError`` listing the known names."""
    return manifest()["datasets"][canonical_name(name)]


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """Return the cache folder: ``root``, ``$GOLDILOCKS_DATA``, ``<repo>/data`` or ``~/.cache/goldilocks``.

    Parameters
    ----------
    root : str or os.PathLike, optional
        An explicit folder, which wins.

    Returns
    -------
    pathlib.Path
        The first of the candidates that applies (``<repo>/data`` only when writable).
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GOLDILOCKS_DATA")
    if env:
        return Path(env).expanduser()
    repo = repository_root()
    if repo is not None and writable(repo / "data"):
        return repo / "data"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "goldilocks"


def dataset_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """``<cache>/<name>``, the folder of one dataset's files (not created here)."""
    return cache_root(root) / canonical_name(name)


def system_dirs(name: str) -> list[Path]:
    """Folders outside the cache that may hold the dataset's files (``$GOLDILOCKS_SYSTEM_DATA``)."""
    env = os.environ.get("GOLDILOCKS_SYSTEM_DATA")
    if env is not None:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path(p) for p in dataset_spec(name).get("system_dirs", [])]


def file_urls(name: str, filename: str, mirror: str | None = None) -> list[str]:
    """Download addresses of ``filename``, in order: the official URL, then the mirror."""
    spec = dataset_spec(name)
    bases = [spec.get("base_url"), mirror or os.environ.get("GOLDILOCKS_MIRROR")]
    urls = []
    for base in bases:
        url = base.rstrip("/") + "/" + filename if base else None
        if url and url not in urls:
            urls.append(url)
    if not urls:
        raise ValueError(f"dataset {canonical_name(name)!r} has no files to download")
    return urls


def _file_info(name: str, filename: str) -> dict:
    files = dataset_spec(name).get("files", {})
    if filename not in files:
        raise ValueError(f"{filename!r} is not a file of dataset {canonical_name(name)!r}")
    return files[filename]


def _expected(info: dict) -> str:
    return f"payload md5 {info['payload_md5']}" if info.get("payload_md5") else f"md5 {info['md5']}"


# ------------------------------------------------------------------------------ copying in

def _check_or_raise(tmp: Path, info: dict, origin: str, path: Path) -> None:
    problem = checksums.mismatch(tmp, info)
    if problem is not None:
        raise ChecksumError(f"{origin} has {problem}: corrupt or a different version; "
                            f"nothing was kept at {path}")


def _transfer(url: str, out, *, timeout: float, chunk_size: int) -> None:
    """Stream ``url`` into the open binary file ``out``.

    HTTP(S) and FTP go through pooch's downloaders (``requests``, a progress bar that
    ``TQDM_DISABLE=1`` silences); ``file://`` mirrors are read with ``urllib``. Every failure is
    a :class:`DownloadError` naming the URL.
    """
    from urllib.parse import urlsplit

    from ..progress import progress_enabled

    scheme = urlsplit(url).scheme
    if scheme in ("http", "https", "ftp"):
        import pooch
        import requests

        if scheme == "ftp":
            downloader = pooch.FTPDownloader(progressbar=progress_enabled(), timeout=timeout, chunk_size=chunk_size)
        else:
            downloader = pooch.HTTPDownloader(progressbar=progress_enabled(), timeout=timeout, chunk_size=chunk_size,
                                              headers={"User-Agent": "goldilocks-core"})
        try:
            downloader(url, out, None)
        except requests.exceptions.HTTPError as err:
            response = err.response
            raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}") from err
        except requests.exceptions.ChunkedEncodingError as err:
            raise DownloadError(f"{url}: interrupted transfer ({err})") from err
        except (requests.exceptions.RequestException, OSError, EOFError) as err:
            raise DownloadError(f"{url}: {type(err).__name__}: {err} (offline, or the server is down?)") from err
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(chunk_size), b""):
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"{url}: {type(err).__name__}: {reason}") from err


def download_file(url: str, path: str | os.PathLike, info: dict, *, timeout: float = 60.0,
                  chunk_size: int = 1 << 20) -> Path:
    """Stream ``url`` to ``path`` atomically and verify it against ``info`` (manifest entry).

    Parameters
    ----------
    url
        ``http(s)://``, ``ftp://`` (through pooch's downloaders) or ``file://``.
    path
        Where the file goes; it appears there only once complete and verified.
    info
        The manifest entry: ``md5`` of the file and, for gzip files, ``payload_md5`` of the
        decompressed bytes (:mod:`goldilocks_core.data.checksums`).

    Returns
    -------
    pathlib.Path
        ``path``. Raises :class:`DownloadError` (network, HTTP status, interrupted transfer) or
        :class:`ChecksumError` (wrong payload); then nothing is written and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as (out, tmp):
        _transfer(url, out, timeout=timeout, chunk_size=chunk_size)
        out.flush()
        _check_or_raise(tmp, info, f"downloaded {url}", path)
    return path


def _copy_file(source: Path, path: Path, info: dict) -> Path:
    """Copy a local ``source`` into the cache at ``path`` atomically, verified like a download."""
    import shutil

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as (out, tmp):
        with open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        _check_or_raise(tmp, info, f"system copy {source}", path)
    return path


def _record_source(folder: Path, filename: str, origin: str) -> None:
    """Note in ``<folder>/sources.json`` where ``filename`` came from (best effort)."""
    record = _read_sources(folder)
    record[filename] = origin
    try:
        with atomic_file(folder / SOURCES_FILE) as (out, _):
            out.write(json.dumps(record, indent=1, sort_keys=True).encode())
    except OSError:
        pass


def _read_sources(folder: Path) -> dict:
    try:
        with open(folder / SOURCES_FILE, encoding="utf-8") as fh:
            record = json.load(fh)
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}


def _remedies(name: str, path: Path, info: dict) -> str:
    spec = dataset_spec(name)
    options = []
    if spec.get("apt_package"):
        options.append(f"install the system copy (`apt-get install {spec['apt_package']}`)")
    options.append(f"download the file by hand and place it at {path} ({_expected(info)})")
    options.append("point $GOLDILOCKS_MIRROR (or mirror=) at a reachable copy")
    return "; remedies: " + ", or ".join(options)


def ensure_file(name: str, filename: str, *, root=None, download: bool = True,
                mirror: str | None = None) -> Path:
    """Path of a verified copy of ``filename`` of dataset ``name`` in the cache.

    Tries the sources in order (cache, system locations, official URL, mirror; see the module
    docstring); a cached file that fails its check is replaced. Leftover temporary files of a
    killed copy in the dataset's folder are removed first.

    Raises
    ------
    FileNotFoundError
        ``download=False`` and no verified copy in the cache or a system location.
    ChecksumError
        Every copy found or downloaded held the wrong payload (a ``RuntimeError``).
    DownloadError
        Every download failed (a ``ConnectionError``); the message lists each attempt and the
        remedies (for Fashion-MNIST: ``apt-get install dataset-fashion-mnist``).
    """
    name = canonical_name(name)
    info = _file_info(name, filename)
    folder = dataset_dir(name, root)
    path = folder / filename
    remove_stale_parts(folder)
    failures: list[Exception] = []
    if path.is_file():
        problem = checksums.mismatch(path, info)
        if problem is None:
            return path
        failures.append(ChecksumError(f"cached {path} has {problem}"))
    searched = []
    for system in system_dirs(name):
        source = system / filename
        if not source.is_file():
            searched.append(str(system))
            continue
        try:
            _copy_file(source, path, info)
        except ChecksumError as err:
            failures.append(err)
            continue
        _record_source(folder, filename, str(system))
        return path
    not_found = f"not in {', '.join(searched)}; " if searched else ""
    urls = file_urls(name, filename, mirror)
    if not download:
        if failures:
            raise ChecksumError(
                "; ".join(map(str, failures)) + f"; delete it and run `goldilocks data fetch {name}` "
                f"(or download=True) to get it again from {' or '.join(urls)}")
        raise FileNotFoundError(
            f"{path} is missing and download=False; {not_found}download=True or "
            f"`goldilocks data fetch {name}` gets it from {' or '.join(urls)}" + _remedies(name, path, info))
    for url in urls:
        try:
            download_file(url, path, info)
        except (DownloadError, ChecksumError) as err:
            failures.append(err)
            continue
        _record_source(folder, filename, url.rsplit("/", 1)[0] + "/")
        return path
    kind = ChecksumError if any(isinstance(e, ChecksumError) for e in failures) else DownloadError
    raise kind(f"could not get {filename} of {name} into {path}: {not_found}"
               + "; ".join(map(str, failures)) + _remedies(name, path, info))


def fetch(name: str, root=None, *, mirror: str | None = None) -> list[Path]:
    """Get (if needed) and verify every file of dataset ``name``.

    Bundled and synthetic datasets have no files: the result is empty.

    Parameters
    ----------
    name : str
        The dataset, in any spelling (:func:`canonical_name`).
    root : str or os.PathLike, optional
        The cache folder (default :func:`cache_root`).
    mirror : str, optional
        Base URL replacing the official one.

    Returns
    -------
    list of pathlib.Path
        The paths of the dataset's files. :class:`DownloadError` or :class:`ChecksumError`
        when a file cannot be obtained intact.
    """
    spec = dataset_spec(name)
    return [ensure_file(name, f, root=root, download=True, mirror=mirror) for f in spec.get("files", {})]


# ------------------------------------------------------------------------------ reports

def verify(root=None) -> list[str]:
    """Check every file in the manifest against its recorded md5, one report line per file.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The cache folder (default :func:`cache_root`).

    Returns
    -------
    list of str
        ``ok <path> …``, ``missing <path> …`` or ``BAD <path>: …``; a ``BAD`` line says what
        is wrong and what to do about it.
    """
    lines = []
    for name, spec in manifest()["datasets"].items():
        for filename, info in spec.get("files", {}).items():
            path = dataset_dir(name, root) / filename
            if not path.is_file():
                lines.append(f"missing {path} (get it with `goldilocks data fetch {name}`)")
                continue
            problem = checksums.mismatch(path, info)
            if problem is None:
                lines.append(f"ok {path} ({checksums.describe_match(path, info)})")
            else:
                lines.append(f"BAD {path}: {problem}; delete it and run `goldilocks data fetch {name}`")
    return lines


def _planned_source(name: str, spec: dict, missing: list[str]) -> str:
    for system in system_dirs(name):
        if all((system / f).is_file() for f in missing):
            return f"would come from the system copy in {system}"
    mirror = os.environ.get("GOLDILOCKS_MIRROR")
    plan = f"would be downloaded from {spec['base_url']}" + (f", then {mirror}" if mirror else "")
    if spec.get("apt_package"):
        plan += f"; offline: `apt-get install {spec['apt_package']}`"
    return plan


def describe(root=None) -> list[str]:
    """Describe each dataset in one line: name, kind, source, whether it is cached and where it came from.

    Parameters
    ----------
    root : str or os.PathLike, optional
        The cache folder (default :func:`cache_root`).

    Returns
    -------
    list of str
        One line per dataset of the manifest.
    """
    lines = []
    specs = manifest()["datasets"]
    width = max(len(n) for n in specs)
    for name, spec in specs.items():
        files = spec.get("files", {})
        if not files:
            state = "always available (no download)"
        else:
            folder = dataset_dir(name, root)
            missing = [f for f in files if not (folder / f).is_file()]
            count = f"{len(files) - len(missing)}/{len(files)} files in {folder}"
            if missing:
                state = f"not cached ({count}); {_planned_source(name, spec, missing)}"
            else:
                origins = sorted({_read_sources(folder).get(f, "placed by hand?") for f in files})
                state = f"cached ({count}; from {', '.join(origins)})"
        lines.append(f"{name:<{width}}  {spec['kind']:<9}  {spec['source']}: {state}")
    return lines
