"""Eq. 8 on a real network: which d — the subspace dimension or the parameter count P?

A bias-free 64-300-100-10 ReLU MLP (L = 3) on scikit-learn's digits. JR (N × K × d) comes from
forward-mode jvp's along an orthonormal R; the true projected G-term is
mean_n (B_n JR_n)ᵀ(B_n JR_n) with B = diag(√p)(I − 1pᵀ). α-scaling multiplies the logits by α^L
and JR by α^(L−1), so one JR serves every α (checked below).
"""
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from goldilocks_core.curvature import projected_jacobian
from goldilocks_core.functional import flat_parameters, logits_function
from goldilocks_core.models import mlp
from goldilocks_core.random_logit import (
    estimate_sigmas,
    expected_g_curvature,
    softmax_hessian_factor,
)
from goldilocks_core.random_logit import positive_curvature_of

DT = torch.float64
L = 3


def orthonormal_basis(p, d, generator):
    q, _ = torch.linalg.qr(torch.randn(p, d, generator=generator, dtype=DT))
    return q


def projected_g_term_curvature(jr, logits, alpha):
    """Tr/‖·‖_F of mean_n JR_nᵀ A(p_n) JR_n at scale α (logits α^L z; the α^(2L−2) factor drops out)."""
    p = torch.softmax(alpha**L * logits, dim=-1)
    bj = softmax_hessian_factor(p) @ jr  # (N, K, d)
    g = torch.einsum("nkd,nke->de", bj, bj) / jr.shape[0]
    return positive_curvature_of(g).item(), p


@pytest.fixture(scope="module")
def digits_setup():
    x, y = load_digits(return_X_y=True)
    g = torch.Generator().manual_seed(0)
    x = torch.tensor(x, dtype=DT)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    keep = torch.randperm(len(x), generator=g)[:512]
    x, y = x[keep], torch.tensor(y)[keep]
    model = mlp([64, 300, 100, 10], generator=g, dtype=DT)
    f = logits_function(model)
    theta = flat_parameters(model)
    basis = orthonormal_basis(theta.numel(), 100, g)
    jr = projected_jacobian(model, x, basis)  # JR by forward mode (checked against dense in test_curvature_dense)
    return f, theta, x, y, basis, jr, f(theta, x).detach()


def test_eq8_needs_the_subspace_dimension_not_p(digits_setup):
    _, theta, _, y, _, jr_all, logits = digits_setup
    big_p = theta.numel()  # 50,200
    d = 50
    jr = jr_all[:, :, :d]
    # true 5.85 / 5.51 at α = 0.3 / 1; Eq. 8 with d = 50: 5.95 / 5.65 (by label), 6.37 / 6.17 (all);
    # with d = P: 9.94 / 8.71 (by label), 13.32 / 11.67 (all)
    for grouping, tol in (("label", 0.05), ("all", 0.15)):
        est = estimate_sigmas(jr, y, grouping=grouping)
        for alpha in (0.3, 1.0):
            true, p = projected_g_term_curvature(jr, logits, alpha)
            with_d = expected_g_curvature(p, est.sigma_c2, est.sigma_e2, d).item()
            with_p = expected_g_curvature(p, est.sigma_c2, est.sigma_e2, big_p).item()
            err_d, err_p = abs(with_d - true) / true, abs(with_p - true) / true
            assert err_d < tol, (grouping, alpha, true, with_d)
            assert err_p > 0.5 and err_p > 4 * err_d, (grouping, alpha, true, with_p)


def test_curvature_grows_with_the_subspace_dimension_as_eq8_says(digits_setup):
    *_, y, _, jr_all, logits = digits_setup
    true, predicted = {}, {}
    for d in (20, 100):  # the first d columns of an orthonormal R span a d-dimensional subspace
        jr = jr_all[:, :, :d]
        est = estimate_sigmas(jr, y)
        true[d], p = projected_g_term_curvature(jr, logits, 0.3)
        predicted[d] = expected_g_curvature(p, est.sigma_c2, est.sigma_e2, d).item()
    assert true[100] > 1.5 * true[20]
    assert predicted[100] / predicted[20] == pytest.approx(true[100] / true[20], rel=0.05)
    # with d = P Eq. 8 would not depend on the subspace at all (σ's are per-coordinate)
    assert math.isfinite(predicted[20]) and np.isfinite(true[20])
