"""Drivers of chapter 4 and Appendices B–C (experiments.g_term_curvature, gradients, initialisations, expected_g)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from goldilocks_core import data
from goldilocks_core.curvature import sweep
from goldilocks_core.experiments import expected_g as EG
from goldilocks_core.experiments import g_term_curvature as GC
from goldilocks_core.experiments import gradients as GR
from goldilocks_core.experiments import initialisations as IN
from goldilocks_core.experiments import setup as SETUP
from goldilocks_core.experiments.setup import build
from goldilocks_core.losses import cross_entropy
from goldilocks_core.profiles import settings
from goldilocks_core.random_logit import (
    expected_g_eigenvalues,
    expected_g_term,
    gamma_p,
    gamma_p_limit,
    softmax_hessian_factor,
)
from goldilocks_core.subspace import random_basis

DT = torch.float64
TINY = {"name": "tiny", "arch": "mlp", "dataset": "digits", "widths": [64, 12, 10], "num_samples": 60}


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def tiny():
    return build(TINY, seed=0)


@pytest.fixture(scope="module")
def tiny_pl(tiny):
    return GC.projected_logits(tiny, 16, seed=0)


# ------------------------------------------------------------------- Fig. 3 and 4
def test_projected_logits_uses_an_independent_seeded_basis(tiny, tiny_pl):
    basis = random_basis(tiny.num_params, 16, generator=gen(SETUP.BASIS_SEED_OFFSET))
    expected = torch.einsum("nkp,pd->nkd", full_jacobian(tiny), basis)
    torch.testing.assert_close(tiny_pl.jacobian, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(tiny_pl.logits, tiny.model(tiny.inputs).detach())
    assert tiny_pl.degree == 2 and tiny_pl.num_params == tiny.num_params and tiny_pl.dim == 16
    sub = tiny_pl.restrict(10)
    assert sub.dim == 10 and torch.equal(sub.jacobian, tiny_pl.jacobian[..., :10])
    with pytest.raises(ValueError, match="exceeds"):
        tiny_pl.restrict(17)


def full_jacobian(setting):
    from torch.func import functional_call, jacrev, vmap

    params = {k: v.detach() for k, v in setting.model.named_parameters()}

    def f(p, x):
        return functional_call(setting.model, p, (x[None],))[0]

    jac = vmap(jacrev(f), in_dims=(None, 0))(params, setting.inputs)
    n = setting.inputs.shape[0]
    return torch.cat([jac[k].reshape(n, 10, -1) for k in params], -1)


def test_g_term_curvature_matches_the_curvature_engine(tiny, tiny_pl):
    alphas = [0.1, 1.0, 3.0, 30.0]
    basis = random_basis(tiny.num_params, 16, generator=gen(SETUP.BASIS_SEED_OFFSET))
    engine = sweep(tiny.model, tiny.inputs, tiny.targets, basis, alphas=alphas, progress=False)
    ours = GC.g_term_curvature(tiny_pl.jacobian, tiny_pl.logits, [a**2 for a in alphas])
    np.testing.assert_allclose(ours, engine["pc_g_term"].to_numpy(), rtol=1e-9)
    # and from the dense G-term itself at α = 1
    p = torch.softmax(tiny_pl.logits, -1)
    bj = softmax_hessian_factor(p) @ tiny_pl.jacobian
    g = torch.einsum("nkd,nke->de", bj, bj)
    assert ours[1] == pytest.approx((g.trace() / torch.linalg.matrix_norm(g)).item(), rel=1e-10)
    # chunking does not matter; far past the collapse the least confident sample alone is left
    # (App. D's pre-collapse plateau: curvature 1, computed in log space without underflow)
    np.testing.assert_allclose(GC.g_term_curvature(tiny_pl.jacobian, tiny_pl.logits, [1.0], chunk_size=7), ours[1:2])
    assert GC.g_term_curvature(tiny_pl.jacobian, tiny_pl.logits, [1e12])[0] == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="positive"):
        GC.g_term_curvature(tiny_pl.jacobian, tiny_pl.logits, [0.0])
    with pytest.raises(ValueError, match="N × K × d"):
        GC.g_term_curvature(tiny_pl.jacobian[0], tiny_pl.logits, [1.0])


def random_model_logits(n=400, k=10, d=40, sc2=0.02, se2=0.03, seed=0, scale=1.0):
    """Logit gradients drawn from the random model itself (orthogonal c_k), logits independent."""
    g = gen(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=DT))
    c = math.sqrt(d * sc2) * q[:, :k].T
    jac = c[None] + math.sqrt(se2) * torch.randn(n, k, d, generator=g, dtype=DT)
    logits = scale * torch.randn(n, k, generator=g, dtype=DT)
    targets = torch.arange(n) % k
    return GC.ProjectedLogits("random model", 0, jac, logits, targets, 1, 10_000)


def test_eq8_matches_the_true_curvature_when_the_random_model_holds():
    pl = random_model_logits()
    df = GC.curvature_vs_alpha(pl, [0.01, 0.5, 1.0, 2.0])
    assert list(df.columns) == ["name", "seed", "alpha", "beta", "mean_entropy", "gamma_p", "pc_g_term",
                                "eq8_label", "eq8_label_P", "eq8_all", "eq8_all_P", "eq7_means"]
    np.testing.assert_allclose(df["eq8_all"], df["pc_g_term"], rtol=0.05)
    # with d = P (10,000 ≫ 40) Eq. 8 is far off
    assert (df["eq8_all_P"] > 1.3 * df["pc_g_term"]).all()
    # near-uniform softmax: Γ_p = √(K − 1) = 3, entropy log K
    assert df["gamma_p"].iloc[0] == pytest.approx(3.0, rel=1e-3)
    assert df["mean_entropy"].iloc[0] == pytest.approx(math.log(10), rel=1e-3)
    assert (np.diff(df["mean_entropy"]) < 0).all()


def test_eq7_with_measured_means_explains_a_gap_from_unequal_correlated_means():
    """Class means neither orthogonal nor of equal length, isotropic residuals: Eq. 8 misses the
    true curvature, Eq. 7 with the measured means recovers it (the decomposition of Fig. 3's gap)."""
    n, k, d, se2 = 600, 10, 40, 0.03
    g = gen(5)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=DT))
    c = q[:, :k].T * torch.linspace(0.5, 1.5, k, dtype=DT)[:, None]  # unequal lengths
    c = c + 0.6 * c[0]  # correlated with the first mean
    jac = c[None] + math.sqrt(se2) * torch.randn(n, k, d, generator=g, dtype=DT)
    logits = 0.5 * torch.randn(n, k, generator=g, dtype=DT)
    pl = GC.ProjectedLogits("skewed means", 0, jac, logits, torch.arange(n) % k, 1, 10_000)
    df = GC.curvature_vs_alpha(pl, [0.01, 1.0])
    gap8 = ((df["eq8_label"] - df["pc_g_term"]) / df["pc_g_term"]).abs()
    gap7 = ((df["eq7_means"] - df["pc_g_term"]) / df["pc_g_term"]).abs()
    assert (gap8 > 0.05).all() and (gap7 < 0.2 * gap8).all()
    summary = GC._seed_summary(pl)
    assert summary["max_abs_cos_means"] > 0.3 and summary["norm_ratio_means"] > 1.5
    # with the random model's own means the two agree
    df = GC.curvature_vs_alpha(random_model_logits(), [0.01, 1.0])
    np.testing.assert_allclose(df["eq7_means"], df["eq8_label"], rtol=0.03)


def test_eq8_columns_are_nan_where_every_softmax_is_one_hot(tiny_pl):
    df = GC.curvature_vs_alpha(tiny_pl, [1.0, 1e6])
    assert np.isfinite(df.iloc[0][["gamma_p", "eq8_label", "eq8_all_P"]].astype(float)).all()
    assert df.iloc[1][["gamma_p", "eq8_label", "eq8_all", "eq8_label_P", "eq8_all_P"]].isna().all()
    with pytest.raises(ValueError, match="alphas"):
        GC.curvature_vs_alpha(tiny_pl, [])


def test_curvature_grows_with_the_subspace_dimension_under_the_random_model():
    pl = random_model_logits(d=120)
    df = GC.curvature_vs_dimension(pl, [10, 40, 120], [0.5])
    assert (np.diff(df["pc_g_term"]) > 0).all() and (np.diff(df["eq8"]) > 0).all()
    np.testing.assert_allclose(df["eq8"], df["pc_g_term"], rtol=0.08)
    with pytest.raises(ValueError):
        GC.curvature_vs_dimension(pl, [], [1.0])


def test_gamma_trajectories_and_monotonicity():
    z = torch.randn(7, 10, generator=gen(4), dtype=DT)
    alphas = np.logspace(-2, 2, 41)
    curves, avg = GC.gamma_trajectories(z, alphas)
    assert len(curves) == 7 * 41 and len(avg) == 41
    p = torch.softmax(3.0 * z, -1)
    row = curves[(curves["set"] == 2) & np.isclose(curves["alpha"], alphas[30])]
    assert row["gamma_inv2"].item() == pytest.approx(gamma_p(torch.softmax(alphas[30] * z[2], -1)).item() ** -2)
    assert avg["gamma_inv2"].iloc[30] == pytest.approx(gamma_p(torch.softmax(alphas[30] * z, -1)).item() ** -2)
    assert avg["gamma_inv2"].iloc[0] == pytest.approx(1 / 9, rel=1e-3)  # uniform: Γ² = K − 1
    del p
    mono = GC.monotone_in_entropy(curves)
    assert mono["monotone"].all() and (mono["spearman"] < -0.99).all()
    # a made-up non-monotone curve is caught
    bad = pd.DataFrame({"set": [0, 0, 0], "alpha": [1, 2, 3], "entropy": [2.0, 1.0, 0.5],
                        "gamma_inv2": [0.2, 0.5, 0.3]})
    assert not GC.monotone_in_entropy(bad)["monotone"].item()
    with pytest.raises(ValueError):
        GC.gamma_trajectories(z[0], alphas)


# ----------------------------------------------------------------------------- Fig. 5
def test_flat_gradient_and_class_means(tiny):
    model, x, y = tiny.model, tiny.inputs, tiny.targets
    g, q_hat = GR.flat_gradient(model, x, y)
    g7, q7 = GR.flat_gradient(model, x, y, chunk_size=7)
    model.zero_grad()
    cross_entropy(model(x), y).backward()
    ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    model.zero_grad()
    torch.testing.assert_close(g, ref)
    torch.testing.assert_close(g7, ref)
    torch.testing.assert_close(q_hat, torch.softmax(model(x).detach(), -1).mean(0))
    torch.testing.assert_close(q7, q_hat)
    jac = full_jacobian(tiny)  # (N, K, P)
    torch.testing.assert_close(GR.class_mean_gradients(model, x, y, 10), jac.mean(0))
    by_label = torch.stack([jac[y == k, k].mean(0) for k in range(10)])
    torch.testing.assert_close(GR.class_mean_gradients(model, x, y, 10, grouping="label", chunk_size=11), by_label)
    with pytest.raises(ValueError, match="grouping"):
        GR.class_mean_gradients(model, x, y, 10, grouping="class")


def test_draw_priors_and_fit_slope():
    priors, redraws = GR.draw_priors(50, 4, seed=1)
    assert priors.shape == (50, 4) and redraws == 0
    np.testing.assert_allclose(priors.sum(1), 1.0)
    again, _ = GR.draw_priors(50, 4, seed=1)
    np.testing.assert_array_equal(priors, again)
    capped, redraws = GR.draw_priors(50, 4, seed=1, counts=[30, 30, 30, 30], subset_size=60)
    assert redraws > 0
    assert all(max(data.counts_from_prior(q, 60)) <= 30 for q in capped)
    x = np.linspace(0.1, 1.0, 20)
    fit = GR.fit_slope(x, 3 * x + 0.5)
    assert fit["slope"] == pytest.approx(3.0) and fit["intercept"] == pytest.approx(0.5)
    assert fit["pearson"] == pytest.approx(1.0) and fit["slope_origin"] > 3.0
    with pytest.raises(ValueError):
        GR.fit_slope([1, 2], [1, 2])


def test_prior_sweep_on_a_tiny_network():
    setting = build({**TINY, "num_samples": None, "widths": [64, 8, 10]}, seed=1)
    df, summary = GR.prior_sweep(setting, 12, 50, seed=3, progress=False, chunk=5)
    assert len(df) == 12 and list(df["prior"]) == list(range(12))
    assert summary["exact_all"] == pytest.approx(math.sqrt(summary["printed_all"]))
    assert summary["printed_all"] == pytest.approx(summary["num_params"] * summary["sigma_c2_all"])
    # eq9_norm is ‖Σ_k c_k Δ_k‖ with the measured means: recompute one subset by hand
    priors, _ = GR.draw_priors(12, 10, seed=3, counts=torch.bincount(setting.targets).tolist(), subset_size=50)
    ds = data.Dataset(setting.inputs, setting.targets, 10, "tiny", "train")
    sub = data.subset_with_prior(ds, priors[4], 50, generator=gen(3 * 1_000_003 + 4))
    g, q_hat = GR.flat_gradient(setting.model, sub.inputs, sub.targets)
    delta = q_hat - torch.bincount(sub.targets, minlength=10).to(DT) / 50
    c = GR.class_mean_gradients(setting.model, setting.inputs, setting.targets, 10)
    assert df["eq9_norm"].iloc[4] == pytest.approx((delta @ c).norm().item(), rel=1e-9)
    assert df["grad_norm"].iloc[4] == pytest.approx(g.norm().item(), rel=1e-12)
    assert df["delta_norm"].iloc[4] == pytest.approx(delta.norm().item(), rel=1e-12)
    # label_norm: ‖Σ_k Q̂_k c_k^all − Q_k c_k^label‖, by hand
    q = torch.bincount(sub.targets, minlength=10).to(DT) / 50
    c_label = GR.class_mean_gradients(setting.model, setting.inputs, setting.targets, 10, grouping="label")
    assert df["label_norm"].iloc[4] == pytest.approx((q_hat @ c - q @ c_label).norm().item(), rel=1e-9)
    freq = torch.bincount(setting.targets, minlength=10).to(DT) / len(setting.targets)
    assert summary["label_norm_at_zero"] == pytest.approx((freq @ (c - c_label)).norm().item(), rel=1e-9)
    assert summary["median_grad_over_label"] == pytest.approx(
        float(np.median(df["grad_norm"] / df["label_norm"])))


def test_gradient_cosines_of_identical_and_different_sets():
    spec = {"arch": "mlp", "widths": [4, 6, 3], "dataset": "gaussian",
            "data_options": {"shape": [4], "num_classes": 3, "num_samples": 60}}
    same = {"dataset": "gaussian", "label": "A", "data_options": {"num_classes": 3, "seed": 5}}
    twin = {"dataset": "gaussian", "label": "B", "data_options": {"num_classes": 3, "seed": 5}}
    other = {"dataset": "gaussian", "label": "C", "data_options": {"num_classes": 3, "seed": 6}}
    pairs, per = GR.gradient_cosines(spec, [same, twin, other], 30, [0, 1], progress=False)
    assert len(pairs) == 6 and len(per) == 6
    ab = pairs[(pairs["a"] == "A") & (pairs["b"] == "B")]
    np.testing.assert_allclose(ab["cosine"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(ab["eq9_cosine"], 1.0, rtol=1e-12)
    ac = pairs[(pairs["a"] == "A") & (pairs["b"] == "C")]
    assert (ac["cosine"] < 1 - 1e-6).all() and (ac["cosine"].abs() <= 1).all()
    with pytest.raises(ValueError, match="expects"):
        GR.gradient_cosines(spec, [{"dataset": "digits"}], 30, [0], progress=False)


# ----------------------------------------------------------------------------- Fig. 6
def test_init_statistics_and_rank_correlations():
    spec = {"arch": "mlp", "widths": [64, 10, 10], "dataset": "digits", "num_samples": 40}
    df = IN.init_statistics(spec, [0, 1, 2, 3], d=12, chunk=3, progress=False)
    assert list(df["init"]) == [0, 1, 2, 3]
    assert ((df["pc_g_term"] >= 1) & (df["pc_g_term"] <= math.sqrt(12) + 1e-9)).all()
    assert ((df["mean_entropy"] > 0) & (df["mean_entropy"] < math.log(10))).all()
    assert df["grad_norm"].nunique() == 4
    rho = IN.rank_correlations(pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 4, 8, 9], "c": [4, 3, 2, 1]}), ["a", "b", "c"])
    assert rho.loc["a", "b"] == pytest.approx(1.0) and rho.loc["a", "c"] == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        IN.rank_correlations(df, ["loss"])


def test_clustering_on_a_random_subspace_approximates_the_full_space(tiny):
    """q^SLSC, q^SL, q^DL (F&G Eq. 11–13) of JR on a 200-dim subspace vs the full Jacobian."""
    from goldilocks_core.random_logit import logit_gradient_clustering

    full = logit_gradient_clustering(full_jacobian(tiny), tiny.targets)
    projected = GC.projected_logits(tiny, 200, seed=3)
    proj = logit_gradient_clustering(projected.jacobian, projected.targets)
    assert full.q_sl > 0.1  # the digits MLP's logit gradients do cluster
    for a, b in zip(full, proj):
        assert abs(a - b) < 0.05, (full, proj)


# --------------------------------------------------------------------------- App. B, C
@pytest.mark.parametrize("batch", [1, 3])
def test_monte_carlo_expected_g_converges_to_appendix_b(batch):
    k, d, sc2, se2 = 4, 12, 0.5, 0.3
    p = torch.softmax(torch.randn(batch, k, generator=gen(7), dtype=DT), -1)
    exact = expected_g_eigenvalues(p, sc2, se2, d).full()
    errs = []
    for m in (200, 20_000):
        mc = EG.monte_carlo_expected_g(p, sc2, se2, d, m, generator=gen(m), chunk=512)
        lam = torch.linalg.eigvalsh(mc).flip(0)
        errs.append(((lam - exact).abs() / exact).max().item())
    assert errs[1] < errs[0] and errs[1] < 0.03
    # without rotation the outliers sit in the first K coordinates (Eq. 7, second line)
    mc = EG.monte_carlo_expected_g(p, sc2, se2, d, 20_000, generator=gen(1), rotate=False)
    target = expected_g_term(p, sc2, se2, d)
    assert (torch.linalg.matrix_norm(mc - target) / torch.linalg.matrix_norm(target)).item() < 0.03


def test_gamma_limit_table():
    eps = [1e-2, 1e-5, 1e-8]
    table = EG.gamma_limit_table([2, 5, 10], eps, 10)
    assert len(table) == 9
    np.testing.assert_allclose(table["gamma2_closed"], table["gamma2_numeric"], rtol=1e-8)
    last = table[table["eps"] == 1e-8]
    np.testing.assert_allclose(last["gamma2_closed"], [gamma_p_limit(s) for s in (2, 5, 10)], rtol=1e-6)
    assert table[table["S"] == 10]["limit"].iloc[0] == pytest.approx(3.0)


# --------------------------------------------------------- the paper profile, end to end
def test_paper_profile_code_path_on_a_cifar_shaped_stand_in(tmp_path, monkeypatch):
    """Every figure driver with the paper profile's settings, on Gaussian 3×32×32 data, LeNet-5."""
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    gauss = {"shape": [3, 32, 32], "num_samples": 60, "seed": 0}
    lenet = {"name": "LeNet-5 (stand-in)", "arch": "lenet5", "dataset": "gaussian", "data_options": gauss}
    cfg = settings(
        "features", "paper", device="cpu",
        fig3_settings=[{**lenet, "num_samples": 10}], alphas=[0.1, 1.0, 10.0], subspace_dim=12, num_seeds=2,
        dims=[10, 12], dims_num_samples=10, gamma_num_logit_sets=6, gamma_alphas=[0.01, 1.0, 100.0],
        cosine_setting=lenet, cosine_num_samples=20, cosine_num_inits=2,
        cosine_datasets=[{"dataset": "gaussian", "label": "A", "data_options": {"seed": 1}},
                         {"dataset": "gaussian", "label": "Gaussian images"}],
        prior_setting={**lenet, "num_samples": None}, prior_num_priors=4, prior_subset_size=20,
        inits_setting={**lenet, "num_samples": 10}, num_inits=3,
    )
    assert cfg.cache is True and cfg.profile == "paper"
    curves, seeds = GC.fig3(cfg)
    assert len(curves) == 2 * 3 and len(seeds) == 2 and (seeds["num_params"] == 61_770).all()
    dims = GC.fig4_left(cfg)
    assert list(dims["d"].unique()) == [10, 12]
    g_curves, g_avg, logits = GC.fig4_right(cfg)
    assert logits.shape == (6, 10) and len(g_avg) == 3
    pairs, per = GR.fig5_left(cfg)
    assert len(pairs) == 2 and len(per) == 4
    df5, summary = GR.fig5_right(cfg)
    assert len(df5) == 4 and summary["num_params"] == 61_770
    d6 = IN.fig6(cfg)
    assert len(d6) == 3
    # the cache served a second run
    assert any(tmp_path.iterdir())
    again, _ = GC.fig3(cfg)
    pd.testing.assert_frame_equal(again, curves)
    # and the chapter's figures draw from these tables
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from goldilocks_core import plotting

    figures = [plotting.eq8_vs_alpha(curves), plotting.curvature_vs_dimension(dims),
               plotting.gamma_vs_entropy(g_curves, g_avg), plotting.gradient_cosines(pairs),
               plotting.gradient_vs_prior(df5, summary), plotting.init_statistics(d6),
               plotting.expected_g_spectrum(np.arange(5.0, 0, -1), np.arange(5.0, 0, -1)),
               plotting.gamma_limits(EG.gamma_limit_table([2, 3], [1e-3, 1e-2], 4))]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figures)
    plt.close("all")


# --------------------------------------------------- the results cache keys every setting
# Issue 9's reproductions: a cached run never serves another setting's table.
def test_cached_fig4_left_keys_the_basis_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    cfg = dict(settings("features", "quick", device="cpu", fig3_settings=[TINY], dims=[10, 12],
                        dims_num_samples=30, dims_alphas=[1.0, 10.0], num_seeds=1, cache=True))
    ortho = GC.fig4_left(cfg)
    sparse = GC.fig4_left(cfg | {"basis_kind": "sparse"})
    pd.testing.assert_frame_equal(sparse, GC.fig4_left(cfg | {"basis_kind": "sparse", "cache": False}))
    assert not sparse.equals(ortho)


def test_cached_init_statistics_keys_every_init(tmp_path, monkeypatch):
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    spec = {"arch": "mlp", "widths": [64, 6, 10], "dataset": "digits", "num_samples": 30}
    first = IN.init_statistics(spec, [0, 5, 9], d=10, cache=True, progress=False)
    second = IN.init_statistics(spec, [0, 3, 9], d=10, cache=True, progress=False)
    assert list(first["init"]) == [0, 5, 9] and list(second["init"]) == [0, 3, 9]


def test_cached_prior_sweep_keys_the_model_and_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    small = {**TINY, "num_samples": None, "widths": [64, 6, 10]}
    s0, s1 = build(small, seed=0), build(small, seed=1)  # another model
    s2 = type(s0)(s0.name, s0.model, s0.inputs.flip(0), s0.targets.flip(0), s0.num_classes)  # other data
    runs = [GR.prior_sweep(s, 3, 40, cache=True, progress=False)[0] for s in (s0, s1, s2)]
    for s, df in zip((s1, s2), runs[1:]):
        pd.testing.assert_frame_equal(df, GR.prior_sweep(s, 3, 40, progress=False)[0])
        assert not df.equals(runs[0])
