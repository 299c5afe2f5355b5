"""Shared helpers of the estimators: argument checks, random probes, operator coercion."""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from ..validation import check_count

__all__ = ["Estimate", "as_square_operator", "Probes", "apply_blocks"]


class Estimate(NamedTuple):
    """A Monte-Carlo estimate: its value, its standard error and the matrix-vector products spent.

    ``float(estimate)`` is its value.

    Parameters
    ----------
    value : float
        The estimate.
    standard_error : float
        The sample standard deviation over probes divided by √(number of probes); NaN for one probe.
    num_matvecs : int
        The operator products spent.
    """

    value: float
    standard_error: float
    num_matvecs: int

    def __float__(self) -> float:
        return float(self.value)


def as_square_operator(op) -> LinearOperator:
    """Coerce an operator, a dense array or a torch tensor to a square scipy ``LinearOperator``.

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        The operator or matrix.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        ``ValueError`` for anything else, a non-square or an empty operator.
    """
    if isinstance(op, torch.Tensor):
        op = op.detach().cpu().numpy()
    if not isinstance(op, LinearOperator):
        try:
            op = aslinearoperator(op)
        except (TypeError, ValueError):
            raise ValueError(f"expected a square LinearOperator or matrix, got {type(op).__name__}") from None
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(f"the operator must be square, got shape {op.shape}")
    if op.shape[0] == 0:
        raise ValueError("the operator is empty (dimension 0)")
    return op


class Probes:
    """Draw reproducible random probe blocks as (dim, m) float64 arrays.

    Parameters
    ----------
    generator : None, int, numpy.random.Generator or torch.Generator
        ``None`` (fresh entropy), an ``int`` seed, a numpy or a torch generator; the same
        generator state gives the same probes.
    """

    def __init__(self, generator=None):
        if isinstance(generator, torch.Generator):
            self._torch, self._numpy = generator, None
        elif generator is None or isinstance(generator, (numbers.Integral, np.random.Generator)):
            if isinstance(generator, bool):
                raise ValueError("generator must be None, an int seed, a numpy or a torch Generator")
            self._torch, self._numpy = None, np.random.default_rng(generator)
        else:
            raise ValueError(
                f"generator must be None, an int seed, a numpy or a torch Generator, got {type(generator).__name__}"
            )

    def rademacher(self, dim: int, m: int) -> np.ndarray:
        """Draw m independent Rademacher (±1) vectors as the columns of a (dim, m) array.

        Parameters
        ----------
        dim : int
            Vector length.
        m : int
            Number of vectors.

        Returns
        -------
        numpy.ndarray
            (dim, m) float64.
        """
        if self._torch is not None:
            bits = torch.randint(0, 2, (m, dim), generator=self._torch).numpy()
        else:
            bits = self._numpy.integers(0, 2, size=(m, dim))
        return np.ascontiguousarray((2.0 * bits - 1.0).T)

    def gaussian(self, dim: int, m: int = 1) -> np.ndarray:
        """Draw m independent standard normal vectors as the columns of a (dim, m) array.

        Parameters
        ----------
        dim : int
            Vector length.
        m : int
            Number of vectors.

        Returns
        -------
        numpy.ndarray
            (dim, m) float64.
        """
        if self._torch is not None:
            draws = torch.randn((m, dim), generator=self._torch, dtype=torch.float64).numpy()
        else:
            draws = self._numpy.standard_normal((m, dim))
        return np.ascontiguousarray(draws.T)


def apply_blocks(op: LinearOperator, num: int, block_size: int, draw, *, progress: bool, desc: str):
    """Yield (probes, op @ probes) for ``num`` probes drawn ``block_size`` at a time by ``draw(m)``.

    Parameters
    ----------
    op : LinearOperator
        A square operator.
    num : int
        Total number of probes.
    block_size : int
        Probes per ``matmat`` call.
    draw : callable
        ``draw(m)`` returns a (dim, m) array of probes.
    progress : bool
        Show a progress bar (only when there is more than one block).
    desc : str
        The progress bar's label.

    Yields
    ------
    tuple of numpy.ndarray
        ``(V, AV)``, both (dim, m) float64.
    """
    from ..progress import progress_bar

    block_size = check_count("block_size", block_size)
    sizes = [block_size] * (num // block_size) + ([num % block_size] if num % block_size else [])
    for m in progress_bar(sizes, enabled=progress and len(sizes) > 1, desc=desc):
        V = draw(m)
        AV = np.asarray(op.matmat(V), dtype=np.float64).reshape(V.shape[0], m)
        yield V, AV
