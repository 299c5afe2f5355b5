"""Decoders of the raw file formats: IDX (Fashion-MNIST), the CIFAR-10 python tarball, SVHN .mat.

Each returns ``(images, labels)``: ``uint8`` images ``N×C×H×W`` and ``int64`` labels ``N``
as NumPy arrays.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["read_idx", "read_fashion_mnist", "read_cifar10", "read_svhn"]

# IDX type codes (http://yann.lecun.com/exdb/mnist/): byte 3 of the magic number.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX array (optionally gzip-compressed): magic ``00 00 <type> <ndim>``, big-endian dims."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX header says {dims} but the payload has {len(raw) - header} bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_fashion_mnist(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST IDX pair → ``uint8`` images ``N×1×28×28`` and ``int64`` labels."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"IDX images {images.shape} and labels {labels.shape} do not match")
    return np.ascontiguousarray(images[:, None].astype(np.uint8)), labels.astype(np.int64)


def read_cifar10(path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 python tarball → ``uint8`` images ``N×3×32×32`` and ``int64`` labels.

    ``train`` is ``data_batch_1`` … ``data_batch_5`` in order, ``test`` is ``test_batch``; each
    batch is a pickled dict with ``data`` (rows of 3072 bytes: the red, green, blue planes,
    each 32×32 row-major) and ``labels``. The tarball must pass its md5 check before it is read
    here (pickle executes code from untrusted files).
    """
    import pickle
    import tarfile

    members = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    with tarfile.open(path, "r:gz") as tar:
        by_name = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for member in members:
            if member not in by_name:
                raise ValueError(f"{path} has no member {member!r}: not the CIFAR-10 python tarball")
            with tar.extractfile(by_name[member]) as fh:
                batch = pickle.load(fh, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def read_svhn(path) -> tuple[np.ndarray, np.ndarray]:
    """SVHN cropped digits (.mat, format 2) → ``uint8`` images ``N×3×32×32`` and ``int64`` labels.

    The file holds ``X`` of shape 32×32×3×N and ``y`` of shape N×1 with the digit 0 labelled 10;
    labels are mapped ``10 → 0``.
    """
    from scipy.io import loadmat

    mat = loadmat(path, variable_names=["X", "y"])
    if "X" not in mat or "y" not in mat:
        raise ValueError(f"{path} has no 'X' and 'y' arrays: not an SVHN .mat file")
    x, y = mat["X"], mat["y"].reshape(-1)
    if x.ndim != 4 or x.shape[3] != y.shape[0]:
        raise ValueError(f"{path}: X {x.shape} and y {y.shape} do not match")
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1).astype(np.uint8))
    return images, (y.astype(np.int64) % 10)
