"""Datasets of the Goldilocks-zone book: bundled digits, synthetic sets, downloaded images.

    from goldilocks_core import data
    train = data.load("digits")                       # 1,437×1×8×8, standardised, offline
    test = data.load("digits", "test", image_size=32) # 360×1×32×32 for LeNet-5
    batch = data.balanced_subset(train, 500, generator=0)

Names: ``digits``, ``circles``, ``gaussian`` (no download) and ``fashion_mnist``, ``cifar10``,
``svhn`` (cache, system copy such as Debian's ``dataset-fashion-mnist``, official URL, mirror;
payload-md5-checked; see :mod:`goldilocks_core.data.download`). Names are matched ignoring case
and characters other than letters and digits (:func:`canonical_name`).
Importing this package is light: scikit-learn, SciPy, tqdm and urllib load on first use.
"""
from .dataset import Dataset
from .download import (
    ChecksumError,
    DownloadError,
    cache_root,
    canonical_name,
    describe,
    fetch,
    manifest,
    verify,
)
from .loaders import NAMES, OPTIONS, SPLITS, load, train_test
from .subsets import balanced_subset, counts_from_prior, subset_with_prior

__all__ = [
    "Dataset",
    "NAMES",
    "SPLITS",
    "OPTIONS",
    "load",
    "train_test",
    "balanced_subset",
    "subset_with_prior",
    "counts_from_prior",
    "describe",
    "fetch",
    "verify",
    "cache_root",
    "canonical_name",
    "manifest",
    "DownloadError",
    "ChecksumError",
]
