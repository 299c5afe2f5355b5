"""The spectra driver of App. A and the SLQ it rests on: block SLQ, top eigenvalues, outlier counts,
H-term blocks."""
import numpy as np
import pytest
import torch
from torch import nn

from goldilocks_core import models
from goldilocks_core.estimators import RitzValues, hessian_operator, slq, slq_quadrature, top_ritz_values
from goldilocks_core.experiments import spectra as S
from goldilocks_core.experiments.setup import Setting

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
trapezoid = getattr(np, "trapezoid", None) or np.trapz


def tiny_setting(seed=0, n=24):
    g = torch.Generator().manual_seed(seed)
    net = models.mlp([8, 10, 6, 3], generator=g, dtype=torch.float64)  # P = 158, L = 3
    x = torch.randn(n, 8, generator=g, dtype=torch.float64)
    y = torch.arange(n) % 3
    return Setting("tiny", net, x, y, 3)


def spiked(dim=300, spikes=(10.0, 6.0, 4.0), seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((dim, dim))
    W = (W + W.T) / np.sqrt(2 * dim)  # Wigner, bulk edge ≈ 2
    U, _ = np.linalg.qr(rng.standard_normal((dim, len(spikes))))
    return W, W + U @ np.diag(spikes) @ U.T


def test_block_slq_draws_the_same_probes_and_nodes_as_one_probe_at_a_time():
    _, A = spiked()
    nodes, weights = slq_quadrature(A, num_probes=5, lanczos_steps=40, generator=3, progress=False)
    for block in (None, 2):
        r = slq(A, num_probes=5, lanczos_steps=40, generator=3, probe_block=block, progress=False)
        np.testing.assert_allclose(r.nodes, nodes, atol=1e-11)
        np.testing.assert_allclose(r.weights, weights, atol=1e-13)
        assert r.weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert len(r.ritz) == 5


def test_slq_stops_on_an_invariant_subspace():
    A = np.diag([0.0, 1.0, 2.0, 3.0])  # a Rademacher probe spans the whole space in 4 steps
    r = slq(A, num_probes=3, lanczos_steps=10, generator=0, progress=False)
    np.testing.assert_allclose(np.sort(r.nodes), np.repeat([0.0, 1.0, 2.0, 3.0], 3), atol=1e-12)
    np.testing.assert_allclose(r.weights, 1 / 12, atol=1e-12)  # (±1/2)² per node, / 3 probes
    zero = slq(np.zeros((5, 5)), num_probes=2, lanczos_steps=4, generator=0, progress=False)
    np.testing.assert_array_equal(zero.nodes, [0.0, 0.0])


def test_top_ritz_values_are_the_top_eigenvalues_of_a_spiked_matrix():
    _, A = spiked()
    exact = np.linalg.eigvalsh(A)[::-1]
    r = slq(A, num_probes=4, lanczos_steps=60, generator=1, progress=False)
    top = top_ritz_values(r.ritz, 5)
    np.testing.assert_allclose(top.values[:3], exact[:3], rtol=1e-10)
    assert np.all(top.values <= exact[:5] + 1e-10)  # interlacing: Ritz values are lower bounds
    assert np.all(np.abs(top.values - exact[:5]) <= top.residuals + 1e-10)
    short = top_ritz_values([RitzValues(np.array([2.0, 1.0]), np.zeros(2))], 4)
    assert np.isnan(short.values[2:]).all()


def test_count_outliers_on_a_constructed_bbp_spectrum():
    # Spikes θ above the Wigner threshold θ = 1 leave the bulk at θ + 1/θ; θ = 0.5 does not.
    W, A = spiked(dim=400, spikes=(6.0, 3.0, 0.5), seed=2)
    edge = np.abs(np.linalg.eigvalsh(W)).max()
    ev = np.linalg.eigvalsh(A)[::-1]
    assert ev[0] == pytest.approx(6 + 1 / 6, rel=0.02) and ev[1] == pytest.approx(3 + 1 / 3, rel=0.03)
    assert S.count_outliers(ev, edge, margin=0.1) == 2
    assert S.count_outliers(np.r_[ev[:5], np.nan], edge, margin=0.1) == 2
    assert S.count_outliers([3.0, 2.0, 1.0], 1.9) == 2
    assert S.count_outliers([3.0, 2.0, 1.0], 1.9, margin=0.1) == 1
    assert S.count_outliers([], 1.0) == 0
    with pytest.raises(ValueError, match="margin"):
        S.count_outliers([1.0], 1.0, margin=-0.1)
    with pytest.raises(ValueError, match="edge"):
        S.count_outliers([1.0], float("nan"))


@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_measure_spectra_matches_dense_eigenvalues(alpha):
    s = tiny_setting()
    (point,) = S.measure_spectra(s, [alpha], num_probes=6, lanczos_steps=60, num_top=4, progress=False)
    assert point.num_params == 158 and point.alpha == alpha
    dense = {t: hessian_operator(s.model, s.inputs, s.targets, alpha=alpha, term=t).to_dense() for t in S.TERMS}
    for term, spec in point.terms.items():
        ev = np.linalg.eigvalsh(dense[term])
        scale = np.abs(ev).max()
        np.testing.assert_allclose(spec.top.values[:3], ev[::-1][:3], atol=1e-8 * scale)
        assert spec.bottom == pytest.approx(ev[0], abs=1e-8 * scale)
        # SLQ's Hutchinson moments agree with the dense trace within 4 standard errors
        assert abs(spec.trace - np.trace(dense[term])) <= 4 * spec.trace_standard_error + 1e-9 * scale
        # every density integrates to ≈ 1 on the shared grid
        d = spec.density
        assert trapezoid(d.density, d.grid) == pytest.approx(1.0, abs=1e-6)
        assert d.weights.sum() == pytest.approx(1.0, abs=1e-12)
    h_term = np.linalg.eigvalsh(dense["h_term"])
    assert point.edge == pytest.approx(np.abs(h_term).max(), rel=1e-8)
    for term in ("hessian", "g_term"):
        ev = np.linalg.eigvalsh(dense[term])
        assert point.outliers[term] == min(4, int(np.sum(ev > 1.1 * point.edge)))
    # G-term PSD (its smallest Ritz value is ≥ −rounding) and Weyl: |λ_i(H) − λ_i(G)| ≤ ‖H-term‖₂
    assert point.terms["g_term"].bottom >= -1e-10 * point.terms["g_term"].spectral_norm
    gap = np.abs(point.terms["hessian"].top.values[:3] - point.terms["g_term"].top.values[:3])
    assert np.all(gap <= point.edge * (1 + 1e-8))


def test_measure_spectra_bad_input():
    s = tiny_setting()
    with pytest.raises(ValueError, match="alphas is empty"):
        S.measure_spectra(s, [], progress=False)
    with pytest.raises(ValueError, match="terms"):
        S.measure_spectra(s, [1.0], terms=["hessian", "laplacian"], progress=False)
    with pytest.raises(ValueError, match="alpha"):
        S.measure_spectra(s, [0.0], progress=False)
    with pytest.raises(ValueError, match="margin"):
        S.measure_spectra(s, [1.0], margin=-1, progress=False)


def test_h_term_diagonal_blocks_vanish_for_relu_but_not_tanh():
    s = tiny_setting()
    ratios = S.h_term_diagonal_blocks(s.model, s.inputs, s.targets, alpha=2.0)
    assert set(ratios) == {"1.weight", "3.weight", "5.weight"}
    assert max(ratios.values()) < 1e-12
    dense = hessian_operator(s.model, s.inputs, s.targets, term="h_term").to_dense()
    assert abs(np.trace(dense)) < 1e-12 * np.linalg.norm(dense)  # hence Tr(H-term) = 0
    g = torch.Generator().manual_seed(0)
    smooth = models.kaiming_init_(nn.Sequential(nn.Linear(8, 10, bias=False), nn.Tanh(),
                                                nn.Linear(10, 3, bias=False)).to(torch.float64), generator=g)
    ratios = S.h_term_diagonal_blocks(smooth, s.inputs, s.targets)
    assert ratios["0.weight"] > 1e-3


def test_bbp_limits_and_a_finite_spiked_wigner_matrix():
    theta = np.array([0.5, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(S.bbp_outlier(theta), [2.0, 2.0, 2.5, 4.25])
    np.testing.assert_allclose(S.bbp_overlap(theta), [0.0, 0.0, 0.75, 15 / 16])
    np.testing.assert_allclose(S.bbp_outlier(2 * theta, sigma=2.0), 2 * S.bbp_outlier(theta))
    top, overlap = S.spiked_wigner(500, [0.3, 3.0], seed=0)
    assert top[0] == pytest.approx(2.0, abs=0.1) and overlap[0] < 0.05  # swallowed by the bulk
    assert top[1] == pytest.approx(3 + 1 / 3, abs=0.25)  # O(dim^-1/2) fluctuations
    assert overlap[1] == pytest.approx(8 / 9, abs=0.05)
    with pytest.raises(ValueError, match="sigma"):
        S.bbp_outlier(1.0, sigma=0)


# ------------------------------------------------------------------ App. A: reading the spectra

def fake_point(alpha, h_top, g_top, hterm_top, hterm_bottom, margin=0.1, residuals=None):
    def term(name, top, bottom):
        top = np.asarray(top, dtype=float)
        res = np.zeros_like(top) if residuals is None else np.asarray(residuals, dtype=float)
        return S.TermSpectrum(name, None, RitzValues(top, res), bottom, 1.0, 0.1, 4.0, 0.1)
    terms = {"hessian": term("hessian", h_top, hterm_bottom), "g_term": term("g_term", g_top, 0.0),
             "h_term": term("h_term", hterm_top, hterm_bottom)}
    edge = max(abs(hterm_top[0]), abs(hterm_bottom))
    outliers = {t: S.count_outliers(terms[t].top.values, edge, margin=margin) for t in ("hessian", "g_term")}
    return S.SpectraPoint(alpha, 1.0, 100, terms, edge, margin, outliers)


def zone_points(K=3):
    g = np.array([40.0, 30.0, 3.0, 2.0, 1.0])  # K - 1 = 2 outliers, then a gap
    inside = fake_point(1.0, g + 0.5, g, [2.2, 2.0, 1.9], -2.1)
    small = fake_point(0.1, [0.2, 0.19], [0.01, 0.005], [0.2, 0.19], -0.2)
    large = fake_point(100.0, [5.0, 4.9], [0.0, 0.0], [5.0, 4.9], -5.0)
    return [small, inside, large]


def test_largest_gap_and_its_edge_cases():
    assert S.largest_gap([8.0, 4.0, 3.9, 1.0]) == (3, 3.9)
    j, ratio = S.largest_gap([0.0, 0.0])
    assert j == 0 and np.isnan(ratio)
    with pytest.raises(ValueError, match="n"):
        S.largest_gap([1.0, 0.5], n=1)


def test_outlier_convergence_and_shifts():
    p = fake_point(1.0, [40.0, 10.0, 3.0], [39.0, 9.5, 2.0], [2.5], -2.5, residuals=[1e-9, 1.0, 1e-12])
    assert p.outliers["hessian"] == 3
    assert S.outlier_convergence(p) == {"outliers": 3, "converged": 2, "far": 2, "far_converged": 1}
    np.testing.assert_allclose(S.outlier_shifts(p), [1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="term"):
        S.outlier_convergence(p, term="h_term")


def test_claims_rows_reproduce_on_a_zone_picture_and_differ_otherwise():
    rows = S.claims_rows(zone_points(), 3)
    assert [r.verdict for r in rows] == ["reproduces"] * len(rows) and len(rows) == 7
    # a G-term that never clears the bulk at α = 1, and an H-term that is not symmetric
    weak = fake_point(1.0, [2.3, 2.0, 1.0], [1.0, 0.5, 0.2], [2.2, 2.0], -0.5)
    rows = {r.claim: r.verdict for r in S.claims_rows([weak, zone_points()[0]], 3)}
    assert rows["G-term outliers dominate the H-term bulk"] == "differs"
    assert rows["H-term: a nearly symmetric bulk"] == "differs"
    assert rows["Hessian spectrum: a bulk plus a few outliers"] == "differs"
    with pytest.raises(ValueError, match="main_alpha"):
        S.claims_rows(zone_points(), 3, main_alpha=2.0)


def test_summary_frame_rounds_and_marks_a_zero_g_term():
    df = S.summary_frame(zone_points())
    assert list(df.index) == [0.1, 1.0, 100.0]
    assert df.loc[1.0, "outliers G"] == 3 and df.loc[100.0, "|G-term|_2"] == 0.0


def test_collapse_census_sees_an_exactly_zero_g_term_at_a_huge_scale():
    s = tiny_setting()
    warm = S.collapse_census(s, 1.0)
    assert warm["not_one_hot"] == s.inputs.shape[0] and warm["max_abs_gv"] > 0
    cold = S.collapse_census(s, 1e4)  # logits × 10^12: one-hot in float64
    assert cold["not_one_hot"] == 0 and cold["max_abs_gv"] == 0.0
    with pytest.raises(ValueError, match="alpha"):
        S.collapse_census(s, -1.0)


def test_appendix_a_offline_profile_code_path():
    from goldilocks_core.experiments.setup import build
    from goldilocks_core.profiles import settings

    cfg = settings("appendix_a", "offline", num_probes=2, lanczos_steps=6)
    s = build({**cfg.model, "num_samples": 20}, seed=0, dtype=torch.float64)
    points = S.measure_spectra(s, cfg.alphas, num_probes=cfg.num_probes, lanczos_steps=cfg.lanczos_steps,
                               num_top=cfg.num_top, margin=cfg.margin, progress=False)
    rows = S.claims_rows(points, s.num_classes, main_alpha=cfg.main_alpha)
    assert len(rows) == 5 + len(cfg.alphas) - 1
    assert S.summary_frame(points).shape[0] == len(cfg.alphas)
    assert S.collapse_census(s, max(cfg.alphas))["samples"] == 20


def test_appendix_a_driver_measures_every_alpha_of_the_settings():
    from goldilocks_core.profiles import settings

    cfg = settings("appendix_a", "offline", alphas=(0.5, 1.0), num_probes=2, lanczos_steps=6, num_top=3,
                   main_alpha=1.0, cache=False)
    points = S.appendix_a(cfg, tiny_setting())
    assert [p.alpha for p in points] == [0.5, 1.0]
    assert set(points[0].terms) == set(S.TERMS)
