"""Hutch++: trace (and squared Frobenius norm) with a low-rank sketch plus Hutchinson.

Meyer, Musco, Musco & Woodruff (2021), *Hutch++: Optimal Stochastic Trace Estimation*,
SOSA, Algorithm 1. With m products: sketch S (P×k Rademacher, k ≈ m/3), Q = orth(AS);
then Tr(A) = Tr(QᵀAQ) + Tr((I−QQᵀ)A(I−QQᵀ)), the first term exact (k products), the
second by Hutchinson on the deflated matrix (the remaining products). Any orthonormal Q
keeps the estimate unbiased; a good Q (top eigenspace) removes most of the variance, so
Hutch++ wins on the bulk-plus-outliers spectra of loss Hessians.

For a symmetric A the same split gives ‖A‖_F² = Tr(A²) = ‖AQ‖_F² + ‖A(I−QQᵀ)‖_F², the
second term estimated by E‖A(I−QQᵀ)g‖².
"""
from __future__ import annotations

import numpy as np

from ._common import Estimate, Probes, apply_blocks, as_square_operator
from ..validation import check_count

__all__ = ["hutchpp_trace", "hutchpp_squared_frobenius"]


def _split(num: int) -> tuple[int, int]:
    """k sketch columns (used twice: AS and AQ) and the remaining Hutchinson probes."""
    k = num // 3
    return k, num - 2 * k


def _sketch(op, k: int, probes: Probes, block_size: int, progress: bool):
    dim = op.shape[0]
    S = probes.rademacher(dim, k)
    AS = np.concatenate([AV for _, AV in apply_blocks(op, k, block_size, _take(S), progress=progress,
                                                     desc="Hutch++ sketch")], axis=1)
    Q, _ = np.linalg.qr(AS)
    AQ = np.concatenate([AV for _, AV in apply_blocks(op, k, block_size, _take(Q), progress=progress,
                                                     desc="Hutch++ range")], axis=1)
    return Q, AQ


def _take(M: np.ndarray):
    """A ``draw(m)`` that hands out the next m columns of M."""
    state = {"start": 0}

    def draw(m):
        block = M[:, state["start"]:state["start"] + m]
        state["start"] += m
        return np.ascontiguousarray(block)

    return draw


def _deflated_samples(op, Q: np.ndarray, num: int, probes: Probes, block_size: int, progress: bool):
    """Per-probe gᵀ(I−QQᵀ)A(I−QQᵀ)g and ‖A(I−QQᵀ)g‖² for Rademacher g."""
    dim = op.shape[0]

    def draw(m):
        G = probes.rademacher(dim, m)
        return G - Q @ (Q.T @ G) if Q.size else G

    quadratic, squared = [], []
    for PG, APG in apply_blocks(op, num, block_size, draw, progress=progress, desc="Hutch++ residual"):
        if Q.size:
            APG_perp = APG - Q @ (Q.T @ APG)
        else:
            APG_perp = APG
        quadratic.append(np.einsum("ij,ij->j", PG, APG_perp))
        squared.append(np.einsum("ij,ij->j", APG, APG))
    return np.concatenate(quadratic), np.concatenate(squared)


def _estimate(exact: float, samples: np.ndarray, num: int) -> Estimate:
    error = float(samples.std(ddof=1) / np.sqrt(samples.size)) if samples.size > 1 else float("nan")
    return Estimate(exact + float(samples.mean()), error, num)


def hutchpp_trace(op, num_matvecs: int, *, generator=None, block_size: int = 16,
                  progress: bool = True) -> Estimate:
    r"""Estimate Tr(A) by Hutch++ (Meyer et al. 2021, Algorithm 1) with ``num_matvecs`` ≥ 3 products.

    :math:`\mathrm{Tr}(A) = \mathrm{Tr}(Q^\top A Q) + \mathrm{Tr}((I - QQ^\top)A(I - QQ^\top))`,
    the first term exact from a sketch Q = orth(AS), the second by Hutchinson. The standard
    error is that of the Hutchinson part (the sketch part is exact).

    Parameters
    ----------
    op : LinearOperator, array-like or torch.Tensor
        A square operator A.
    num_matvecs : int
        m ≥ 3 products: k ≈ m/3 sketch columns (used twice) and the rest for Hutchinson.
    generator : None, int, numpy or torch Generator
        Source of the probes.
    block_size : int
        Probes per ``matmat`` call.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Estimate
    """
    op = as_square_operator(op)
    num = check_count("num_matvecs", num_matvecs, minimum=3)
    probes = Probes(generator)
    k, rest = _split(num)
    Q, AQ = _sketch(op, k, probes, block_size, progress)
    quadratic, _ = _deflated_samples(op, Q, rest, probes, block_size, progress)
    return _estimate(float(np.einsum("ij,ij->", Q, AQ)), quadratic, num)


def hutchpp_squared_frobenius(op, num_matvecs: int, *, generator=None, block_size: int = 16,
                              progress: bool = True) -> Estimate:
    """Estimate ‖A‖_F² of a *symmetric* A by Hutch++: ‖AQ‖_F² exactly plus E‖A(I−QQᵀ)g‖².

    Parameters
    ----------
    op, num_matvecs, generator, block_size, progress
        As for :func:`hutchpp_trace`.

    Returns
    -------
    Estimate
    """
    op = as_square_operator(op)
    num = check_count("num_matvecs", num_matvecs, minimum=3)
    probes = Probes(generator)
    k, rest = _split(num)
    Q, AQ = _sketch(op, k, probes, block_size, progress)
    _, squared = _deflated_samples(op, Q, rest, probes, block_size, progress)
    return _estimate(float(np.sum(AQ * AQ)), squared, num)
