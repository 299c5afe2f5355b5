"""Fort & Ganguli's random logit model: their setting's numbers and the four properties (their §4)."""
import math

import numpy as np
import pytest
import torch

from goldilocks_core.random_logit import FORT_GANGULI_SETTING, RandomLogitModel, growing_sigma_c
from goldilocks_core.random_logit import positive_curvature_of

DT = torch.float64


@pytest.fixture(scope="module")
def fg_model():
    return RandomLogitModel(**FORT_GANGULI_SETTING, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def fg_spectrum(fg_model):
    return fg_model.gradient_overlaps()


def test_setting_top_probability_and_clustering(fg_model):
    # F&G: "average highest predicted probability of p = 0.94" (the large-N mean for σ_z = 15, C = 10
    # is 0.929; this draw of N = 300 gives 0.927), q^SL = SNR/(SNR + 1) = 1/1.49 = 0.671
    assert fg_model.mean_top_probability() == pytest.approx(0.94, abs=0.02)
    assert fg_model.accuracy() == pytest.approx(0.95, abs=1 / 300)
    q = fg_model.clustering()
    assert q.q_sl == pytest.approx(1 / 1.49, abs=0.01)
    assert q.q_slsc == pytest.approx(1 / 1.49, abs=0.02)
    assert abs(q.q_dl) < 0.01


def test_hessian_bulk_plus_c_minus_one_outliers(fg_model, fg_spectrum):
    lam, _ = fg_spectrum
    c = FORT_GANGULI_SETTING["n_classes"]
    bulk_edge = torch.linalg.eigvalsh(fg_model.hessian("residuals"))[-1]
    assert int((lam > bulk_edge).sum()) == c - 1
    assert lam[c - 2] > 5 * lam[c - 1]  # a clear gap after the C − 1 outliers
    # the c–E cross terms dropped in Eq. 16 average out as 1/√N: the outliers barely move
    exact = torch.linalg.eigvalsh(fg_model.hessian("exact")).flip(0)
    torch.testing.assert_close(exact[: c - 1], lam[: c - 1], rtol=0.1, atol=0)
    assert lam.min() > -1e-15 * lam.max()  # PSD by construction


def test_gradient_confined_to_top_eigenvectors(fg_spectrum):
    _, cos2 = fg_spectrum
    assert cos2.sum().item() == pytest.approx(1.0, rel=1e-10)
    top10 = cos2[:10].sum().item()
    # F&G Fig. 6: "71% of the total gradient power lies in the top 10 eigenvectors (out of D = 1000)";
    # this draw gives 62%, eight draws 62–83% (mean 75%); uniformly spread power would be 1%.
    assert 0.5 < top10 < 0.9
    assert top10 > 20 * cos2[10:20].sum().item()


def test_sweep_non_monotonic_top_eigenvalue_and_falling_curvature():
    m = RandomLogitModel(150, 10, 200, sigma_z=1.0, sigma_c=1 / math.sqrt(200), sigma_e=0.7 / math.sqrt(200),
                         accuracy=0.95, generator=torch.Generator().manual_seed(1))
    sz = np.logspace(-3, 3, 13)
    df = m.sweep_sigma_z(sz, growing_sigma_c(sz, m.sigma_c), top_k=10)
    assert list(df.columns) == ["sigma_z", "sigma_c", "sigma_e", "top_eigenvalue", "positive_curvature",
                                "eq7_curvature", "eq8_curvature", "mean_top_probability", "mean_entropy",
                                "gradient_power_top_k"]
    np.testing.assert_allclose(df.sigma_e / df.sigma_c, 0.7)  # σ_c/σ_E kept constant
    top = df.top_eigenvalue.to_numpy()
    peak = int(np.argmax(top))
    assert 0 < peak < len(sz) - 1 and top[peak] > 1.1 * top[0] and top[peak] > 3 * top[-1]  # F&G Fig. 7
    curv = df.positive_curvature.to_numpy()
    assert curv[-1] < 0.6 * curv[0] and np.all(np.diff(curv[6:]) < 0)  # F&G Fig. 8: freezing lowers it
    assert np.all(np.diff(df.mean_top_probability) >= -1e-12) and df.mean_top_probability.iloc[0] < 0.11
    assert np.all(np.diff(df.mean_entropy) <= 1e-12)
    # vectorised sweep == the model rebuilt at each σ, on the same draws
    i = 8
    one = m.with_scales(sz[i], df.sigma_c[i], df.sigma_e[i])
    lam, cos2 = one.gradient_overlaps()
    assert df.top_eigenvalue[i] == pytest.approx(lam[0].item(), rel=1e-9)
    assert df.positive_curvature[i] == pytest.approx(one.positive_curvature(), rel=1e-9)
    assert df.gradient_power_top_k[i] == pytest.approx(cos2[:10].sum().item(), rel=1e-9)
    assert df.mean_top_probability[i] == pytest.approx(one.mean_top_probability(), rel=1e-12)
    # a sub-sweep gives the same rows (the Gram matrices of the draws are shared)
    small = m.sweep_sigma_z(sz[6:10], growing_sigma_c(sz[6:10], m.sigma_c))
    np.testing.assert_allclose(small.top_eigenvalue, df.top_eigenvalue[6:10], rtol=1e-10)


def test_sweep_matches_dense_hessians_on_hyperplanes_and_eq7():
    """Every column of the Gram-matrix sweep against the dense D × D construction."""
    from goldilocks_core.random_logit import expected_g_curvature, expected_g_term_from_means

    m = RandomLogitModel(40, 4, 30, sigma_z=1.0, sigma_c=0.3, sigma_e=0.2, accuracy=0.9,
                         generator=torch.Generator().manual_seed(5))
    bases = torch.linalg.qr(torch.randn(3, 30, 6, dtype=DT, generator=torch.Generator().manual_seed(6)))[0]
    sz = np.array([0.0, 0.5, 4.0, 60.0])
    df = m.sweep_sigma_z(sz, [0.3, 0.2, 0.4, 0.5], top_k=3, bases=bases)
    for i, z in enumerate(sz):
        one = m.with_scales(z, df.sigma_c[i], df.sigma_e[i])
        h, p = one.hessian(), one.probabilities()
        lam, cos2 = one.gradient_overlaps()
        assert df.top_eigenvalue[i] == pytest.approx(lam[0].item(), rel=1e-9)
        assert df.gradient_power_top_k[i] == pytest.approx(cos2[:3].sum().item(), rel=1e-9)
        assert df.positive_curvature[i] == pytest.approx(positive_curvature_of(h).item(), rel=1e-10)
        e7 = expected_g_term_from_means(p, one.class_means, one.sigma_e**2)
        assert df.eq7_curvature[i] == pytest.approx(positive_curvature_of(e7).item(), rel=1e-10)
        assert df.eq8_curvature[i] == pytest.approx(expected_g_curvature(p, one.sigma_c**2, one.sigma_e**2, 30).item())
        proj = positive_curvature_of(bases.transpose(1, 2) @ h @ bases).mean()
        assert df.positive_curvature_projected[i] == pytest.approx(proj.item(), rel=1e-10)
        e7r = torch.stack([positive_curvature_of(expected_g_term_from_means(p, one.class_means @ r, one.sigma_e**2))
                           for r in bases]).mean()
        assert df.eq7_curvature_projected[i] == pytest.approx(e7r.item(), rel=1e-10)
        assert df.eq8_curvature_projected[i] == pytest.approx(
            expected_g_curvature(p, one.sigma_c**2, one.sigma_e**2, 6).item())
    with pytest.raises(ValueError, match="bases"):
        m.sweep_sigma_z([1.0], bases=torch.zeros(29, 6, dtype=DT))
    with pytest.raises(ValueError, match="top_k"):
        m.sweep_sigma_z([1.0], top_k=4 * 41)


def test_growing_sigma_c_passes_through_their_setting():
    z = np.array([0.0, 1.5, 15.0, 150.0])
    sc = growing_sigma_c(z, 0.03)
    assert sc[2] == pytest.approx(0.03) and sc[0] == 0 and np.all(np.diff(sc) > 0)
    assert sc[3] / sc[2] == pytest.approx(10**0.25)
    np.testing.assert_allclose(growing_sigma_c(z, 0.03, power=0.0), 0.03)
    assert growing_sigma_c([2.0], 1.0, sigma_z_ref=2.0, power=3.0)[0] == pytest.approx(1.0)
    for bad in ({"power": -0.5}, {"sigma_z_ref": 0.0}):
        with pytest.raises(ValueError):
            growing_sigma_c(z, 0.03, **bad)
    with pytest.raises(ValueError):
        growing_sigma_c([-1.0], 0.03)


def test_model_pieces():
    m = RandomLogitModel(50, 4, 30, sigma_z=2.0, sigma_c=0.3, sigma_e=0.2, generator=torch.Generator().manual_seed(2))
    p = m.probabilities()
    torch.testing.assert_close(p.sum(-1), torch.ones(50, dtype=DT))
    j = m.logit_gradients()
    assert j.shape == (50, 4, 30)
    # Eq. 16 written out naively agrees with the factored construction
    a = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    c, e = m.class_means, m.residuals
    naive = c.T @ a.mean(0) @ c + torch.einsum("nkd,nkl,nle->de", e, a, e) / 50
    torch.testing.assert_close(m.hessian(), naive, rtol=1e-10, atol=1e-14)
    exact = torch.einsum("nkd,nkl,nle->de", j, a, j) / 50
    torch.testing.assert_close(m.hessian("exact"), exact, rtol=1e-10, atol=1e-14)
    y = torch.nn.functional.one_hot(m.labels, 4).to(DT)
    torch.testing.assert_close(m.gradient(), torch.einsum("nk,nkd->d", p - y, j) / 50)
    assert m.positive_curvature() == pytest.approx(positive_curvature_of(naive).item(), rel=1e-10)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        RandomLogitModel(10, 1, 5, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        RandomLogitModel(10, 3, 5, -1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        RandomLogitModel(10, 3, 5, 1.0, 1.0, 1.0, accuracy=1.5)
    m = RandomLogitModel(10, 3, 5, 1.0, 1.0, 1.0, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError):
        m.hessian("H-term")
    with pytest.raises(ValueError):
        m.sweep_sigma_z([1.0, 2.0], sigma_c=[1.0])
    with pytest.raises(ValueError):
        m.sweep_sigma_z([1.0, -2.0])
