"""Positive curvature (Eq. 2), local convexity, spectral norm and λ_max."""
import math

import numpy as np
import pytest
import torch

from goldilocks_core.curvature import eigenvalues, lambda_max, local_convexity, positive_curvature, spectral_norm


def psd(rank, d=12, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    B = torch.randn(rank, d, generator=g, dtype=dtype)
    return B.T @ B


@pytest.mark.parametrize("rank", [1, 2, 5, 12])
def test_positive_curvature_of_psd_rank_r_lies_in_1_sqrt_r(rank):
    for seed in range(20):
        pc = float(positive_curvature(psd(rank, seed=seed)))
        assert 1 - 1e-12 <= pc <= math.sqrt(rank) + 1e-12
    # the bounds are attained: rank one, and r equal eigenvalues
    assert math.isclose(float(positive_curvature(psd(1))), 1.0, rel_tol=1e-12)
    eq = torch.diag(torch.tensor([1.0] * rank + [0.0] * (12 - rank), dtype=torch.float64))
    assert math.isclose(float(positive_curvature(eq)), math.sqrt(rank), rel_tol=1e-12)


def test_positive_curvature_matches_eigenvalue_formula_and_is_scale_invariant():
    g = torch.Generator().manual_seed(1)
    A = torch.randn(9, 9, generator=g, dtype=torch.float64)
    M = A + A.T
    lam = torch.linalg.eigvalsh(M)
    expected = float(lam.sum() / lam.square().sum().sqrt())
    assert math.isclose(float(positive_curvature(M)), expected, rel_tol=1e-12)
    assert math.isclose(float(positive_curvature(1e-200 * M)), expected, rel_tol=1e-12)
    assert math.isclose(float(positive_curvature(1e200 * M)), expected, rel_tol=1e-12)
    assert math.isclose(float(positive_curvature(-M)), -expected, rel_tol=1e-12)
    assert math.isnan(float(positive_curvature(torch.zeros(3, 3))))


def test_local_convexity_counts_positive_eigenvalues_with_a_relative_tolerance():
    M = torch.diag(torch.tensor([3.0, 1.0, -2.0, 0.0], dtype=torch.float64))
    assert float(local_convexity(M)) == 0.5
    # round-off zeros of a PSD rank-3 matrix are not counted as positive
    assert float(local_convexity(psd(3))) == 3 / 12
    assert float(local_convexity(psd(3), rtol=0.0)) >= 3 / 12
    assert float(local_convexity(torch.zeros(4, 4))) == 0.0
    tiny = torch.diag(torch.tensor([1.0, 1e-9, -1.0], dtype=torch.float64))
    assert float(local_convexity(tiny)) == 2 / 3
    assert float(local_convexity(tiny, rtol=1e-6)) == 1 / 3
    with pytest.raises(ValueError):
        local_convexity(tiny, rtol=-1)


def test_spectral_norm_and_lambda_max():
    M = torch.diag(torch.tensor([0.5, -4.0, 2.0], dtype=torch.float64))
    assert float(spectral_norm(M)) == 4.0
    assert float(lambda_max(M)) == 2.0
    assert float(lambda_max(-psd(2))) <= 1e-12


def test_batched_and_numpy_inputs():
    batch = torch.stack([psd(r, d=6, seed=r) for r in (1, 2, 3)])
    pcs = positive_curvature(batch)
    assert pcs.shape == (3,)
    for i in range(3):
        assert math.isclose(float(pcs[i]), float(positive_curvature(batch[i])), rel_tol=1e-12)
    lc = local_convexity(batch)
    assert torch.allclose(lc, torch.tensor([1, 2, 3], dtype=torch.float64) / 6)
    arr = batch.numpy()
    out = positive_curvature(arr)
    assert isinstance(out, np.ndarray) and np.allclose(out, pcs.numpy(), rtol=1e-12)
    single = spectral_norm(arr[0])
    assert isinstance(single, np.float64)
    assert eigenvalues(arr).shape == (3, 6)
    # asymmetric input is symmetrised
    A = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(eigenvalues(A), torch.tensor([0.0, 2.0], dtype=torch.float64))


def test_float32_and_bad_shapes():
    M = psd(4).float()
    assert positive_curvature(M).dtype == torch.float32
    assert math.isclose(float(local_convexity(M)), 4 / 12, rel_tol=1e-6)
    with pytest.raises(ValueError, match="square"):
        positive_curvature(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="square"):
        lambda_max(np.zeros(3))


def test_local_convexity_tolerance_follows_the_working_precision():
    """A float64 matrix accumulated from float32 factors: eigenvalues within d·ε_float32 are zero."""
    from goldilocks_core.curvature import zero_tolerance

    assert zero_tolerance(50) == 50 * torch.finfo(torch.float64).eps
    assert zero_tolerance(50, torch.float32) == 50 * torch.finfo(torch.float32).eps
    M = torch.diag(torch.tensor([1.0, 1e-8, -1e-8, -1.0], dtype=torch.float64))
    assert float(local_convexity(M)) == 0.5
    assert float(local_convexity(M, precision=torch.float32)) == 0.25
    assert float(local_convexity(M.float(), precision=torch.float64)) == 0.25  # the coarser dtype wins
    with pytest.raises(ValueError, match="precision"):
        local_convexity(M, precision=torch.int64)
