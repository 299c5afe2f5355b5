"""diag(p) − ppᵀ, Γ_p and the p(S, ε) family (Vysogorets et al. 2024, Eq. 10–12, App. B–C)."""
import math

import pytest
import torch

from goldilocks_core.random_logit import (
    complement_probabilities,
    gamma_p,
    gamma_p_limit,
    mean_softmax_hessian,
    p_family,
    softmax_hessian,
    softmax_hessian_eigenvalues,
    softmax_hessian_factor,
)

DT = torch.float64


def random_probabilities(shape, scale=2.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(scale * torch.randn(*shape, generator=g, dtype=DT), dim=-1)


def test_softmax_hessian_matches_definition():
    p = random_probabilities((7, 6))
    a = softmax_hessian(p)
    expected = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    assert a.shape == (7, 6, 6)
    torch.testing.assert_close(a, expected, rtol=0, atol=1e-15)
    b = softmax_hessian_factor(p)
    torch.testing.assert_close(b.transpose(-1, -2) @ b, expected, rtol=0, atol=1e-15)
    torch.testing.assert_close(a, a.transpose(-1, -2), rtol=0, atol=0)


def test_softmax_hessian_psd_for_nearly_one_hot():
    # Logits of scale 10-1000 give p within 1e-300 of one-hot: the naive form breaks down.
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3000, 10, generator=g, dtype=DT) * torch.logspace(1, 3, 3000, dtype=DT)[:, None]
    p = torch.softmax(z, dim=-1)
    a = softmax_hessian(p)
    lam = torch.linalg.eigvalsh(a)
    scale = lam[:, -1].clamp_min(torch.finfo(DT).tiny)
    assert lam[:, 0].min() >= -1e-15
    assert (lam[:, 0] / scale).min() >= -1e-14
    naive = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    lam_naive = torch.linalg.eigvalsh(naive)
    assert (lam_naive[:, 0] / scale).min() < -1e-3  # the failure the factored form avoids


def test_complement_probabilities_keeps_relative_accuracy():
    eps = 1e-20
    p = torch.tensor([1 - 2 * eps, eps, eps], dtype=DT)  # 1 − 2e-20 rounds to 1.0 in float64
    s = complement_probabilities(p)
    assert s[0].item() == pytest.approx(2 * eps, rel=1e-14)
    a = softmax_hessian(p)
    assert a[0, 0].item() == pytest.approx(2 * eps, rel=1e-12)  # naive p(1−p) gives 0 here


def test_mean_softmax_hessian_is_the_average():
    p = random_probabilities((4, 9, 5))
    torch.testing.assert_close(mean_softmax_hessian(p), softmax_hessian(p).mean(-3), rtol=0, atol=1e-15)


@pytest.mark.parametrize("k", [2, 3, 10, 25])
def test_gamma_closed_form_equals_numeric(k):
    for scale in (0.1, 1.0, 5.0, 30.0):
        p = random_probabilities((6, 40, k), scale=scale, seed=k)
        torch.testing.assert_close(gamma_p(p), gamma_p(p, "numeric"), rtol=1e-10, atol=0)
        torch.testing.assert_close(
            gamma_p(p, average=False), gamma_p(p, "numeric", average=False), rtol=1e-10, atol=0
        )
    # Eq. 10 for one vector, written out term by term (naive, so only for moderate p)
    for q in random_probabilities((5, k), scale=1.0, seed=k + 1):
        num = (q.sum() - (q**2).sum()) ** 2
        den = ((q - q**2) ** 2).sum() + ((q[:, None] ** 2) * (q[None] ** 2)).sum() - (q**4).sum()
        assert gamma_p(q).item() ** 2 == pytest.approx((num / den).item(), rel=1e-10)


def test_gamma_range_and_maximum_at_uniform():
    for k in (2, 5, 10):
        p = random_probabilities((500, k), scale=3.0, seed=k)
        g = gamma_p(p, average=False)
        assert (g >= 1 - 1e-12).all() and (g <= math.sqrt(k - 1) + 1e-12).all()
        uniform = torch.full((k,), 1.0 / k, dtype=DT)
        assert gamma_p(uniform).item() == pytest.approx(math.sqrt(k - 1), rel=1e-14)
        if k > 2:  # for K = 2, A has rank one and Γ ≡ 1
            assert g.max() < math.sqrt(k - 1)
    # the batch convention averages the matrices, not the Γ's
    p = random_probabilities((30, 10), scale=4.0)
    manual = mean_softmax_hessian(p)
    assert gamma_p(p).item() == pytest.approx((manual.trace() / torch.linalg.matrix_norm(manual)).item(), rel=1e-12)
    assert gamma_p(p).item() != pytest.approx(gamma_p(p, average=False).mean().item(), rel=1e-3)


def test_gamma_of_one_hot_is_zero_by_convention():
    p = torch.zeros(4, dtype=DT)
    p[2] = 1
    assert gamma_p(p).item() == 0.0 and gamma_p(p, "numeric").item() == 0.0


@pytest.mark.parametrize("S", [2, 3, 5, 10])
def test_p_family_limit_eq11(S):
    limit = gamma_p_limit(S)
    assert limit == pytest.approx(4 * (S - 1) / (S + 2))
    eps = torch.tensor([1e-2, 1e-4, 1e-6, 1e-8, 1e-100], dtype=DT)
    p = p_family(S, eps, 10)
    assert p.shape == (5, 10)
    torch.testing.assert_close(p.sum(-1), torch.ones(5, dtype=DT), rtol=0, atol=1e-15)
    g2 = gamma_p(p, average=False) ** 2
    err = (g2 - limit).abs()
    if S > 2:
        assert (err[1:4] < err[0:3]).all()  # approaches the limit as ε → 0 ...
        assert (err[:4] / eps[:4]).max() < 10 * S  # ... at rate O(ε) (Eq. 11)
    assert err[-2:].max() < 1e-6
    torch.testing.assert_close(g2, gamma_p(p, "numeric", average=False) ** 2, rtol=1e-10, atol=0)


def test_gamma_limit_values():
    assert gamma_p_limit(10) == pytest.approx(3.0)
    assert gamma_p_limit(2) == pytest.approx(1.0)
    assert gamma_p_limit(10, squared=False) == pytest.approx(math.sqrt(3))
    eps = 1e-9
    assert gamma_p(p_family(10, eps, 10)).item() ** 2 == pytest.approx(3.0, abs=1e-6)
    assert gamma_p(p_family(2, eps, 10)).item() ** 2 == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("eps", [1e-2, 1e-5, 1e-12, 1e-250])
def test_p2_has_a_single_nonzero_eigenvalue_2eps(eps):
    lam = softmax_hessian_eigenvalues(p_family(2, eps, 10))
    assert lam[0].item() == pytest.approx(2 * eps, rel=2 * eps + 1e-13)  # exactly 2ε(1 − ε)
    assert lam[1:].abs().max().item() <= 1e-13 * 2 * eps


def test_interlacing_appendix_b():
    p = random_probabilities((200, 8), scale=2.5)
    lam = softmax_hessian_eigenvalues(p)  # (200, 8), non-increasing, last ≈ 0
    ps = p.sort(-1, descending=True).values
    tol = 1e-14
    assert (ps[:, :-1] + tol >= lam[:, :-1]).all()
    assert (lam[:, :-1] + tol >= ps[:, 1:]).all()
    assert lam[:, -1].abs().max() < 1e-15
    uniform = torch.full((6,), 1 / 6, dtype=DT)
    torch.testing.assert_close(softmax_hessian_eigenvalues(uniform)[:5], torch.full((5,), 1 / 6, dtype=DT))


@pytest.mark.parametrize(
    "bad",
    [
        [0.5, 0.4],  # sums to 0.9
        [0.7, 0.7, -0.4],  # negative entry
        [1.0],  # a single class
        [0.5, float("nan"), 0.5],
    ],
)
def test_bad_probabilities_raise(bad):
    with pytest.raises(ValueError):
        softmax_hessian(torch.tensor(bad, dtype=DT))
    with pytest.raises(ValueError):
        gamma_p(torch.tensor(bad, dtype=DT))


def test_bad_arguments_raise():
    p = random_probabilities((3, 4))
    with pytest.raises(ValueError):
        gamma_p(p, method="svd")
    with pytest.raises(ValueError):
        p_family(1, 0.1, 10)
    with pytest.raises(ValueError):
        p_family(11, 0.01, 10)
    with pytest.raises(ValueError):
        p_family(3, 0.6, 10)  # (S − 1)ε > 1
    with pytest.raises(ValueError):
        p_family(3, -1e-3, 10)
    with pytest.raises(ValueError):
        gamma_p_limit(1)
