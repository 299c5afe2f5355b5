"""``load(name, split)``: one entry point for every dataset of the book.

=============  ==========================================================================
name           what ``load`` returns
=============  ==========================================================================
digits         scikit-learn's bundled 8×8 digits (1,797 real images, 10 classes), N×1×8×8;
               stratified train/test split 1,437/360 (fixed seed); offline default.
circles        three noisy rings in 2-D (3 classes), N×2; synthetic.
gaussian       N(0, 1) images of any ``shape`` with labels drawn from a class ``prior``.
fashion_mnist  Zalando's Fashion-MNIST, N×1×28×28 (60,000 / 10,000), downloaded.
cifar10        CIFAR-10, N×3×32×32 (50,000 / 10,000), downloaded.
svhn           SVHN cropped digits, N×3×32×32 (73,257 / 26,032), downloaded, label 10 → 0.
=============  ==========================================================================

Images (digits and the downloaded sets) are scaled to [0, 1] (digits: /16, others: /255),
optionally resized (``image_size``, bilinear), then standardised per channel with the mean and
std of the *training split* (see :mod:`goldilocks_core.data.preprocess`); for digits, with one
channel, that is a single global mean and std. ``standardize=False`` keeps the [0, 1] values.
Loading a test split therefore also reads the training files (for the statistics).
"""
from __future__ import annotations

import numpy as np
import torch

from . import download as _dl
from . import readers, synthetic
from ..storage import atomic_file, remove_stale_parts
from .dataset import Dataset
from .preprocess import channel_statistics, prepare_images

__all__ = ["NAMES", "SPLITS", "OPTIONS", "load", "train_test"]

NAMES = ("digits", "circles", "gaussian", "fashion_mnist", "cifar10", "svhn")
SPLITS = ("train", "test")
_IMAGE_OPTIONS = ("image_size", "pad_to", "standardize")
OPTIONS: dict[str, tuple[str, ...]] = {
    "digits": _IMAGE_OPTIONS + ("test_size", "split_seed"),
    "circles": ("num_samples", "noise", "seed", "radii"),
    "gaussian": ("shape", "num_classes", "prior", "num_samples", "seed"),
    "fashion_mnist": _IMAGE_OPTIONS + ("mirror",),
    "cifar10": _IMAGE_OPTIONS + ("mirror",),
    "svhn": _IMAGE_OPTIONS + ("mirror",),
}
_DECODED_FORMAT = 1


_canonical_name = _dl.canonical_name  # the one spelling rule: case and '-', '_', ' ' … ignored


def _check_split(split) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
    return split


def _check_image_size(image_size, name: str = "image_size") -> int | None:
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {image_size!r}")
    return int(image_size)


# --------------------------------------------------------------------------------------------
# digits (bundled with scikit-learn)

def stratified_split(labels: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices; class c gets ≈ test_size·n_c/N test samples (largest
    remainder, so exactly ``test_size`` in all), drawn with ``numpy.random.default_rng(seed)``."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = test_size * counts / counts.sum()
    per_class = np.floor(exact).astype(np.int64)
    order = sorted(range(len(classes)), key=lambda i: (-(exact[i] - per_class[i]), i))
    for i in order[: test_size - int(per_class.sum())]:
        per_class[i] += 1
    rng = np.random.default_rng(seed)
    test = []
    for c, m in zip(classes, per_class):
        members = np.flatnonzero(labels == c)
        test.append(rng.permutation(members)[:m])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(labels.shape[0]), test_idx)
    return train_idx, test_idx


def _load_digits(split, *, dtype, root=None, download=True, image_size=None, pad_to=None, standardize=True,
                 test_size=360, split_seed=0):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float64)).unsqueeze(1)  # N×1×8×8, values 0…16
    labels = bunch.target.astype(np.int64)
    n = labels.shape[0]
    if isinstance(test_size, bool) or not isinstance(test_size, (int, np.integer)) or not 10 <= test_size <= n - 10:
        raise ValueError(f"test_size must be an integer in [10, {n - 10}], got {test_size!r}")
    if isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer)) or split_seed < 0:
        raise ValueError(f"split_seed must be a non-negative integer, got {split_seed!r}")
    train_idx, test_idx = stratified_split(labels, int(test_size), int(split_seed))
    idx = train_idx if split == "train" else test_idx
    mean = std = None
    if standardize:
        mean, std = channel_statistics(images[train_idx], scale=16.0, image_size=image_size, pad_to=pad_to)
    inputs = prepare_images(images[idx], scale=16.0, image_size=image_size, mean=mean, std=std, dtype=dtype,
                            pad_to=pad_to)
    return inputs, torch.from_numpy(labels[idx]), 10


# --------------------------------------------------------------------------------------------
# downloaded image sets

def _read_raw(name: str, paths: list, split: str):
    if name == "fashion_mnist":
        return readers.read_fashion_mnist(*paths)
    if name == "cifar10":
        return readers.read_cifar10(paths[0], split)
    return readers.read_svhn(paths[0])


def _save_atomic(path, blob) -> None:
    """Write the decoded cache next to the raw files; silently skipped where not writable."""
    try:
        remove_stale_parts(path.parent)
        with atomic_file(path) as (fh, _):
            torch.save(blob, fh)
    except OSError:
        pass


def decoded(name: str, split: str, *, root=None, download: bool = True, mirror=None):
    """``(uint8 images N×C×H×W, int64 labels)`` of a downloaded dataset's split.

    Decoding is cached in ``<cache>/<name>/<split>.decoded.pt``, tagged with the (payload) md5s
    of the raw files it came from; a tag that differs from the manifest's makes it stale.
    """
    spec = _dl.dataset_spec(name)
    files = spec["splits"][split]
    md5s = {f: spec["files"][f].get("payload_md5") or spec["files"][f]["md5"] for f in files}
    cache = _dl.dataset_dir(name, root) / f"{split}.decoded.pt"
    if cache.is_file():
        try:
            blob = torch.load(cache, weights_only=True)
            if blob.get("format") == _DECODED_FORMAT and blob.get("md5") == md5s:
                return blob["images"], blob["labels"]
        except Exception:  # an unreadable cache is rebuilt from the raw files
            pass
    paths = [_dl.ensure_file(name, f, root=root, download=download, mirror=mirror) for f in files]
    images, labels = _read_raw(name, paths, split)
    k = spec["num_classes"]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"{name}/{split}: labels outside [0, {k})")
    if tuple(images.shape[1:]) != tuple(spec["shape"]):
        raise ValueError(f"{name}/{split}: images of shape {images.shape[1:]}, expected {tuple(spec['shape'])}")
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    _save_atomic(cache, {"format": _DECODED_FORMAT, "md5": md5s, "images": images, "labels": labels})
    return images, labels


def _load_downloaded(name):
    def loader(split, *, dtype, root, download, image_size=None, pad_to=None, standardize=True, mirror=None):
        images, labels = decoded(name, split, root=root, download=download, mirror=mirror)
        mean = std = None
        if standardize:
            train = images if split == "train" else decoded(
                name, "train", root=root, download=download, mirror=mirror)[0]
            mean, std = channel_statistics(train, scale=255.0, image_size=image_size, pad_to=pad_to)
        inputs = prepare_images(images, scale=255.0, image_size=image_size, mean=mean, std=std, dtype=dtype,
                                pad_to=pad_to)
        return inputs, labels, _dl.dataset_spec(name)["num_classes"]
    return loader


# --------------------------------------------------------------------------------------------
# synthetic

def _load_circles(split, *, dtype, root=None, download=True, radii=synthetic.CIRCLE_RADII, **options):
    inputs, targets = synthetic.circles(split, dtype=dtype, radii=radii, **options)
    return inputs, targets, len(radii)


def _load_gaussian(split, *, dtype, root=None, download=True, num_classes=10, **options):
    inputs, targets = synthetic.gaussian(split, dtype=dtype, num_classes=num_classes, **options)
    return inputs, targets, int(num_classes)


_LOADERS = {
    "digits": _load_digits,
    "circles": _load_circles,
    "gaussian": _load_gaussian,
    "fashion_mnist": _load_downloaded("fashion_mnist"),
    "cifar10": _load_downloaded("cifar10"),
    "svhn": _load_downloaded("svhn"),
}


def load(name: str, split: str = "train", *, root=None, download: bool = True,
         dtype: torch.dtype = torch.float32, **options) -> Dataset:
    """Load one split of a dataset as a :class:`Dataset` of CPU tensors.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`; case and characters other than letters and digits are
        ignored (``"Fashion-MNIST"``; :func:`~goldilocks_core.data.canonical_name`).
    split : {"train", "test"}
        The split.
    root : str or os.PathLike, optional
        Cache folder (default ``$GOLDILOCKS_DATA``, else ``<repo>/data``, else
        ``~/.cache/goldilocks``); only the downloaded datasets use it. A file missing there
        is copied from a system location (Debian's ``/usr/share/datasets/fashion-mnist``)
        or downloaded; see :mod:`goldilocks_core.data.download`.
    download : bool
        Download missing or corrupt files (payload-md5-checked); ``False`` uses only the
        cache and system locations and raises ``FileNotFoundError`` otherwise.
    dtype : torch.dtype
        Floating dtype of ``inputs``.
    **options
        Per dataset (:data:`OPTIONS`):

        * digits: ``image_size`` (e.g. 32 for LeNet-5; bilinear), ``pad_to``, ``standardize=True``,
          ``test_size=360``, ``split_seed=0``.
        * circles: ``num_samples=600``, ``noise=0.02`` (std of the radial noise),
          ``seed=0``, ``radii=(0.33, 0.58, 0.78)``.
        * gaussian: ``shape=(1, 28, 28)``, ``num_classes=10``, ``prior=None`` (uniform),
          ``num_samples=1000``, ``seed=0``.
        * fashion_mnist, cifar10, svhn: ``image_size``, ``pad_to`` (e.g. 32: Fashion-MNIST
          zero-padded to 32×32 for LeNet-5), ``standardize=True``,
          ``mirror`` (base URL replacing the official one; also ``$GOLDILOCKS_MIRROR``).

    Returns
    -------
    Dataset
        ``inputs`` (N×C×H×W images or N×D points), ``int64`` ``targets``, ``num_classes``,
        the canonical ``name`` and the ``split``.

    Raises
    ------
    ValueError
        Unknown name, split, option or a bad option value.
    FileNotFoundError
        ``download=False`` and a file is not cached.
    DownloadError
        A ``ConnectionError``: the download failed (offline, HTTP error, cut off).
    ChecksumError
        A ``RuntimeError``: a downloaded, copied or cached file has the wrong payload md5.

    Examples
    --------
    The synthetic sets are generated on the fly (no download); ``load("digits")`` reads
    scikit-learn's bundled digits, also offline.

    >>> import torch
    >>> from goldilocks_core import data
    >>> rings = data.load("circles", num_samples=30, dtype=torch.float64)
    >>> rings
    Dataset(name='circles', split='train', inputs=30×2 float64, num_classes=3, device=cpu)
    >>> rings.class_counts().tolist()
    [10, 10, 10]
    >>> noise = data.load("Gaussian", "test", shape=(1, 8, 8), num_classes=4, num_samples=20)
    >>> noise.name, noise.sample_shape, noise.targets.shape
    ('gaussian', (1, 8, 8), torch.Size([20]))
    """
    key = _canonical_name(name)
    split = _check_split(split)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    unknown = sorted(set(options) - set(OPTIONS[key]))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for dataset {key!r}; "
            f"accepted: {', '.join(OPTIONS[key])}"
        )
    for option in ("image_size", "pad_to"):
        if option in options:
            options[option] = _check_image_size(options[option], option)
    inputs, targets, num_classes = _LOADERS[key](split, dtype=dtype, root=root, download=download, **options)
    return Dataset(inputs=inputs, targets=targets, num_classes=int(num_classes), name=key, split=split)


def train_test(name: str, **kwargs) -> tuple[Dataset, Dataset]:
    """Load both splits of a dataset: ``(load(name, "train", **kwargs), load(name, "test", **kwargs))``.

    Parameters
    ----------
    name : str
        As for :func:`load`.
    **kwargs
        Any other keyword of :func:`load`.

    Returns
    -------
    tuple of Dataset
        The training and the test split.
    """
    return load(name, "train", **kwargs), load(name, "test", **kwargs)
