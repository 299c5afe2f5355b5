"""The expected G-term (Eq. 7), its curvature (Eq. 8), spectrum (App. B), Eq. 9, σ estimates, clustering."""
import itertools
import math

import pytest
import torch

from goldilocks_core.random_logit import (
    RandomLogitModel,
    estimate_sigmas,
    expected_g_curvature,
    expected_g_eigenvalues,
    expected_g_term,
    expected_g_term_from_means,
    expected_gradient,
    expected_gradient_norm,
    expected_gradient_norm_exact,
    gamma_p,
    logit_gradient_clustering,
    priors,
    softmax_hessian_factor,
)
from goldilocks_core.random_logit import positive_curvature_of

DT = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def orthogonal_means(k, d, sigma_c2, seed=0):
    """K orthogonal rows of squared length dσ_c², and the completed orthonormal basis Q (d × d)."""
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen(seed), dtype=DT))
    return math.sqrt(d * sigma_c2) * q[:, :k].T, q


@pytest.mark.parametrize("batch", [1, 4])
def test_monte_carlo_converges_to_eq7(batch):
    k, d, sc2, se2 = 5, 30, 0.02, 0.05
    p = torch.softmax(1.5 * torch.randn(batch, k, generator=gen(1), dtype=DT), -1)
    c, q = orthogonal_means(k, d, sc2)
    target = expected_g_term_from_means(p, c, se2)
    # Eq. 7, second line, is the same matrix in the basis of the normalised class means
    torch.testing.assert_close(q @ expected_g_term(p, sc2, se2, d) @ q.T, target, rtol=1e-12, atol=1e-15)
    factor = softmax_hessian_factor(p)  # (batch, K, K)
    g = gen(2)
    errors = []
    for m in (100, 1_000, 10_000):
        e = math.sqrt(se2) * torch.randn(m, batch, k, d, generator=g, dtype=DT)
        bj = factor @ (c + e)  # J = C + E, G = (BJ)ᵀ(BJ) averaged over draws and samples
        mc = torch.einsum("mbkd,mbke->de", bj, bj) / (m * batch)
        errors.append((torch.linalg.matrix_norm(mc - target) / torch.linalg.matrix_norm(target)).item())
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < errors[0] / 4  # ~1/√M
    assert errors[2] < 0.03


def test_expected_g_term_structure():
    p = torch.softmax(torch.randn(3, 6, generator=gen(3), dtype=DT), -1)
    m = expected_g_term(p, 0.01, 0.02, 12)
    assert m.shape == (12, 12)
    a_bar = (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]).mean(0)
    bulk = (1 - (p**2).sum(-1).mean()) * 0.02
    torch.testing.assert_close(m[:6, :6], 12 * 0.01 * a_bar + bulk * torch.eye(6, dtype=DT))
    torch.testing.assert_close(m[6:, 6:], bulk * torch.eye(6, dtype=DT))
    assert m[:6, 6:].abs().max() == 0
    assert torch.linalg.eigvalsh(m).min() > 0


def test_eq8_equals_numeric_curvature_of_eq7():
    for (scale, n), (sc2, se2), d in itertools.product(
        [(0.01, 1), (1.0, 1), (3.0, 20), (30.0, 50)], [(1e-3, 2e-3), (0.5, 1e-4), (1e-4, 0.3)], [10, 50, 300]
    ):
        p = torch.softmax(scale * torch.randn(n, 10, generator=gen(n), dtype=DT), -1)
        numeric = positive_curvature_of(expected_g_term(p, sc2, se2, d))
        assert expected_g_curvature(p, sc2, se2, d).item() == pytest.approx(numeric.item(), rel=1e-10)


def test_eq8_vectorises_over_batches_and_dimensions():
    p = torch.softmax(torch.randn(7, 30, 10, generator=gen(4), dtype=DT) * torch.linspace(0.1, 10, 7, dtype=DT)[:, None, None], -1)
    values = expected_g_curvature(p, 1e-3, 3e-3, 50)
    assert values.shape == (7,)
    for i in range(7):
        assert values[i].item() == pytest.approx(expected_g_curvature(p[i], 1e-3, 3e-3, 50).item(), rel=1e-12)
    ds = torch.tensor([10, 20, 50, 100, 1000])
    by_d = expected_g_curvature(p[3], 1e-3, 3e-3, ds)
    assert by_d.shape == (5,) and (by_d.diff() > 0).all()  # larger d, larger curvature (Fig. 4 left)
    # d → ∞ limit: Γ_p (1 + σ_e²/σ_c²)
    big = expected_g_curvature(p[3], 1e-3, 3e-3, 10**12).item()
    assert big == pytest.approx(gamma_p(p[3]).item() * 4, rel=1e-5)


def test_eq8_at_one_hot_is_zero():
    p = torch.zeros(4, 10, dtype=DT)
    p[:, 3] = 1
    assert expected_g_curvature(p, 1e-3, 1e-3, 50).item() == 0.0
    assert expected_g_curvature(p, 0.0, 1e-3, 50).item() == 0.0


def test_appendix_b_spectrum():
    p = torch.softmax(2 * torch.randn(8, 10, generator=gen(5), dtype=DT), -1)
    sc2, se2, d = 2e-3, 1e-3, 40
    spec = expected_g_eigenvalues(p, sc2, se2, d)
    assert spec.outliers.shape == (9,) and spec.bulk_multiplicity == 31
    numeric = torch.linalg.eigvalsh(expected_g_term(p, sc2, se2, d)).flip(-1)
    torch.testing.assert_close(spec.full(), numeric, rtol=1e-12, atol=1e-17)
    assert spec.bulk.item() == pytest.approx((1 - (p**2).sum(-1).mean().item()) * se2, rel=1e-12)
    # uniform p: λ̃_i = 1/K, so all K − 1 outliers equal (1 − 1/K)σ_e² + dσ_c²/K
    k = 10
    uniform = torch.full((k,), 1 / k, dtype=DT)
    spec = expected_g_eigenvalues(uniform, sc2, se2, d)
    torch.testing.assert_close(spec.softmax_eigenvalues, torch.full((k - 1,), 1 / k, dtype=DT))
    torch.testing.assert_close(spec.outliers, torch.full((k - 1,), (1 - 1 / k) * se2 + d * sc2 / k, dtype=DT))
    assert spec.bulk.item() == pytest.approx((1 - 1 / k) * se2)


def test_eq9_expected_gradient_and_its_norm():
    k, d, sc2 = 10, 50, 1.2e-2
    c, _ = orthogonal_means(k, d, sc2, seed=6)
    probs = torch.softmax(torch.randn(100, k, generator=gen(7), dtype=DT), -1)
    labels = torch.randint(0, k, (100,), generator=gen(8))
    q_hat, q = priors(probs, labels)
    torch.testing.assert_close(q_hat, probs.mean(0))
    assert q.sum().item() == pytest.approx(1.0)
    # Eq. 9, first line, averaged over residual draws → Σ_k c_k (Q̂_k − Q_k)
    delta = probs - torch.nn.functional.one_hot(labels, k).to(DT)
    e = 0.01 * torch.randn(100, 100, k, d, generator=gen(9), dtype=DT)
    mc = (torch.einsum("nk,kd->d", delta, c) + torch.einsum("nk,mnkd->d", delta, e) / 100) / 100
    g = expected_gradient(c, q_hat, q)
    assert (torch.linalg.vector_norm(mc - g) / torch.linalg.vector_norm(g)).item() < 0.05
    # the exact norm √(dσ_c²)‖Q̂ − Q‖; the paper's dσ_c²‖Q̂ − Q‖ differs by the factor √(dσ_c²)
    norm = torch.linalg.vector_norm(g).item()
    exact = expected_gradient_norm_exact(q_hat, q, sc2, d).item()
    paper = expected_gradient_norm(q_hat, q, sc2, d).item()
    assert norm == pytest.approx(exact, rel=1e-12)
    assert paper == pytest.approx(exact * math.sqrt(d * sc2), rel=1e-12)
    assert abs(paper - norm) / norm > 0.1  # here dσ_c² = 0.6: the printed formula is off by √0.6
    # Gaussian (not orthogonal) c_k: E‖Σ c_k Δ_k‖² = dσ_c²‖Δ‖²
    cg = math.sqrt(sc2) * torch.randn(4000, k, d, generator=gen(10), dtype=DT)
    ms = (torch.einsum("k,mkd->md", q_hat - q, cg) ** 2).sum(-1).mean().sqrt().item()
    assert ms == pytest.approx(exact, rel=0.02)


def test_estimate_sigmas_recovers_the_random_model():
    m = RandomLogitModel(400, 10, 500, sigma_z=3.0, sigma_c=0.04, sigma_e=0.03, accuracy=0.9, generator=gen(11))
    est = estimate_sigmas(m.logit_gradients())
    assert est.dim == 500 and est.class_means.shape == (10, 500)
    assert est.sigma_c2 == pytest.approx(0.04**2, rel=0.05)
    assert est.sigma_e2 == pytest.approx(0.03**2, rel=0.01)
    assert est.snr == pytest.approx((0.04 / 0.03) ** 2, rel=0.06)
    by_label = estimate_sigmas(m.logit_gradients(), m.labels, grouping="label")
    assert by_label.sigma_c2 == pytest.approx(0.04**2, rel=0.05)
    # plug-in: c_k from the N_k ≈ 40 samples of class k inflates the residuals by ≈ 1 + 1/N_k
    assert by_label.sigma_e2 == pytest.approx(0.03**2, rel=0.04)


def brute_force_clustering(j, y):
    n, k, _ = j.shape

    def cos(a, b):
        na, nb = a.norm(), b.norm()
        return None if na == 0 or nb == 0 else float(a @ b / (na * nb))

    def mean(vals):
        vals = [v for v in vals if v is not None]
        return sum(vals) / len(vals) if vals else None

    slsc = mean(
        [mean([cos(j[a, c], j[b, c]) for a in range(n) for b in range(n) if a != b and y[a] == y[b] == c]) for c in range(k)]
    )
    sl = mean([mean([cos(j[a, c], j[b, c]) for a in range(n) for b in range(n) if a != b]) for c in range(k)])
    dl = mean(
        [
            mean([cos(j[a, c], j[b, e]) for a in range(n) for b in range(n) if a != b])
            for c in range(k)
            for e in range(k)
            if c != e
        ]
    )
    return slsc, sl, dl


def test_clustering_matches_brute_force():
    g = gen(12)
    j = torch.randn(1, 3, 5, generator=g, dtype=DT) + 0.7 * torch.randn(13, 3, 5, generator=g, dtype=DT)
    j[4, 1] = 0  # a zero gradient has no direction: left out of the pairs
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 1, 0])
    got = logit_gradient_clustering(j, y)
    want = brute_force_clustering(j, y)
    for a, b in zip(got, want):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-14)


def test_clustering_of_the_random_model():
    m = RandomLogitModel(200, 10, 2000, sigma_z=1.0, sigma_c=1.0, sigma_e=0.7, generator=gen(13))
    q = m.clustering()
    snr = 1 / 0.49
    assert q.q_sl == pytest.approx(snr / (snr + 1), abs=0.01)
    assert q.q_slsc == pytest.approx(snr / (snr + 1), abs=0.02)
    assert abs(q.q_dl) < 0.02


def test_bad_input_raises():
    p = torch.full((10,), 0.1, dtype=DT)
    with pytest.raises(ValueError):
        expected_g_term(p, -1e-3, 1e-3, 50)  # negative variance
    with pytest.raises(ValueError):
        expected_g_curvature(p, 1e-3, -1e-3, 50)
    with pytest.raises(ValueError):
        expected_g_curvature(p, 1e-3, 1e-3, 5)  # d < K
    with pytest.raises(ValueError):
        expected_g_eigenvalues(p, 1e-3, 1e-3, 9)
    with pytest.raises(ValueError):
        expected_g_curvature(p, 1e-3, 1e-3, 50.5)
    with pytest.raises(ValueError):
        expected_g_curvature(torch.full((10,), 0.11, dtype=DT), 1e-3, 1e-3, 50)  # sums to 1.1
    with pytest.raises(ValueError):
        expected_gradient_norm(p, torch.full((10,), 0.2, dtype=DT), 1e-3, 50)
    with pytest.raises(ValueError):
        expected_gradient_norm_exact(p, p, -1.0, 50)
    with pytest.raises(ValueError):
        estimate_sigmas(torch.randn(5, 10, dtype=DT))  # not N × K × d
    with pytest.raises(ValueError):
        estimate_sigmas(torch.randn(5, 3, 4, dtype=DT), torch.tensor([0, 0, 1, 1, 0]), grouping="label")  # class 2 missing
    with pytest.raises(ValueError):
        estimate_sigmas(torch.randn(5, 3, 4, dtype=DT), grouping="class")
    with pytest.raises(ValueError):
        logit_gradient_clustering(torch.randn(5, 3, 4, dtype=DT), torch.tensor([0, 1, 2, 3, 0]))  # label ≥ K


def test_mean_geometry_of_orthogonal_equal_and_skewed_means():
    from goldilocks_core.random_logit import mean_geometry

    eye = torch.eye(4, 6, dtype=torch.float64)
    assert mean_geometry(3 * eye) == {"max_abs_cos": 0.0, "norm_ratio": 1.0}
    skew = eye.clone()
    skew[1] = torch.tensor([1.0, 1.0, 0, 0, 0, 0], dtype=torch.float64)  # cos 1/√2 with row 0, length √2
    out = mean_geometry(skew)
    assert out["max_abs_cos"] == pytest.approx(2 ** -0.5) and out["norm_ratio"] == pytest.approx(2 ** 0.5)
    with pytest.raises(ValueError, match="K × d"):
        mean_geometry(torch.ones(5))
    with pytest.raises(ValueError, match="non-zero"):
        mean_geometry(torch.zeros(3, 4))
