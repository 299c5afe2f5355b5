"""Reproducible subsets: class-balanced batches and batches with a prescribed class prior.

The paper's Fig 6 uses one balanced batch (n/K samples of every class); its Fig 5 varies the
dataset prior Q (Eq. 9) by drawing class counts from a chosen prior.
"""
from __future__ import annotations

import numpy as np
import torch

from .dataset import Dataset
from .synthetic import check_prior

__all__ = ["counts_from_prior", "balanced_subset", "subset_with_prior"]


def _generator(generator) -> torch.Generator | None:
    """A ``torch.Generator``, an int seed (a fresh CPU generator) or None (torch's global RNG)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise ValueError(f"generator must be a torch.Generator, an int seed or None, got {generator!r}")


def counts_from_prior(prior, n: int) -> list[int]:
    """Return the class counts summing to ``n`` closest to ``n·prior``.

    Largest-remainder rounding, ties to the lower class index.

    Parameters
    ----------
    prior : array-like of float
        Class probabilities, length K.
    n : int
        The total.

    Returns
    -------
    list of int
        K counts summing to ``n``.
    """
    p = np.asarray(prior, dtype=np.float64)
    exact = p * n
    counts = np.floor(exact).astype(np.int64)
    remainder = exact - counts
    order = sorted(range(len(p)), key=lambda k: (-remainder[k], k))
    for k in order[: n - int(counts.sum())]:
        counts[k] += 1
    return counts.tolist()


def _draw(data: Dataset, counts: list[int], generator) -> Dataset:
    gen = _generator(generator)
    targets = data.targets.cpu()
    chosen = []
    for k, m in enumerate(counts):
        if m == 0:
            continue
        members = (targets == k).nonzero().flatten()
        if members.numel() < m:
            raise ValueError(
                f"class {k} of {data.name}/{data.split} has {members.numel()} samples, {m} were requested"
            )
        chosen.append(members[torch.randperm(members.numel(), generator=gen)[:m]])
    indices = torch.cat(chosen) if chosen else torch.empty(0, dtype=torch.long)
    indices = indices[torch.randperm(indices.numel(), generator=gen)]
    return data.subset(indices)


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def balanced_subset(data: Dataset, n: int, *, generator=None) -> Dataset:
    """Draw ``n`` samples, exactly ``n / K`` from each of the K classes, without replacement and shuffled.

    The balanced batch of the paper's Fig. 6.

    Parameters
    ----------
    data : Dataset
        The dataset to draw from.
    n : int
        Number of samples, a multiple of K.
    generator : torch.Generator, int or None
        A generator, an int seed (a fresh CPU generator) or None (torch's global RNG).

    Returns
    -------
    Dataset
        ``ValueError`` if ``n`` is not a multiple of K or a class has too few samples.
    """
    n = _check_n(n)
    k = data.num_classes
    if n % k:
        raise ValueError(f"n = {n} is not a multiple of the {k} classes of {data.name}")
    return _draw(data, [n // k] * k, generator)


def subset_with_prior(data: Dataset, prior, n: int, *, generator=None) -> Dataset:
    """Draw ``n`` samples whose class counts follow ``prior``, without replacement and shuffled.

    The counts are rounded by :func:`counts_from_prior`; the paper's Fig. 5 varies the
    dataset prior Q (Eq. 9) this way.

    Parameters
    ----------
    data : Dataset
        The dataset to draw from.
    prior : array-like of float
        Length K, non-negative, summing to 1.
    n : int
        Number of samples.
    generator : torch.Generator, int or None
        As for :func:`balanced_subset`.

    Returns
    -------
    Dataset
    """
    n = _check_n(n)
    p = check_prior(prior, data.num_classes)
    return _draw(data, counts_from_prior(p, n), generator)
