"""goldilocks_core.experiments.zone: the drivers of chapters 1 and 3 and their curve analysis."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from goldilocks_core.experiments import curves as C
from goldilocks_core.experiments import zone as Z
from goldilocks_core.experiments.setup import build
from goldilocks_core.curvature import alpha_grid
from goldilocks_core.profiles import settings
from goldilocks_core.subspace import random_basis

TINY = {"name": "tiny MLP", "arch": "mlp", "widths": [64, 12, 8, 10], "dataset": "digits", "num_samples": 40}


@pytest.fixture(scope="module")
def tiny_sweeps():
    return Z.run_seed(TINY, 0, alphas=alpha_grid(-2, 2, 1.0), subspace_dim=6, sweeps=Z.SWEEPS)


# ------------------------------------------------------------------------ pure functions
def test_temperature_grid_is_the_alpha_grid_to_the_power_L():
    np.testing.assert_allclose(Z.temperature_grid(alpha_grid(), 3), alpha_grid(-9, 9, 0.75), rtol=1e-12)
    with pytest.raises(ValueError, match="degree"):
        Z.temperature_grid([1.0], 0)
    with pytest.raises(ValueError, match="alpha"):
        Z.temperature_grid([1.0, -2.0], 3)


def test_intervals_where_interpolates_crossings_in_log_x():
    x = [0.01, 0.1, 1.0, 10.0, 100.0]
    f = [-1.0, 1.0, 1.0, -1.0, -3.0]
    ((lo, hi),) = C.intervals_where(x, f)
    assert lo == pytest.approx(10**-1.5) and hi == pytest.approx(10**0.5)
    # linear x: the crossing between 1 and 10 is at 5.5
    assert C.intervals_where(x, f, log=False)[0][1] == pytest.approx(5.5)
    # two pieces, one reaching the grid's end; none at all
    assert C.intervals_where(x, [1.0, -1.0, -1.0, 1.0, 2.0]) == [(0.01, pytest.approx(10**-1.5)),
                                                                  (pytest.approx(10**0.5), 100.0)]
    assert C.intervals_where(x, [-1.0] * 5) == []
    with pytest.raises(ValueError, match="increasing"):
        C.intervals_where([1.0, 0.5], [1.0, 1.0])


def test_half_peak_interval_of_a_tent_in_log_alpha():
    x = alpha_grid(-3, 3, 0.5)
    y = np.maximum(0.0, 4.0 - 2.0 * np.abs(np.log10(x)))  # peak 4 at α = 1, half height at |log α| = 1
    lo, hi = C.half_peak_interval(x, y)
    assert lo == pytest.approx(0.1) and hi == pytest.approx(10.0)
    assert C.peak(x, y) == (pytest.approx(1.0), 4.0)
    with pytest.raises(ValueError, match="fraction"):
        C.half_peak_interval(x, y, fraction=1.5)


def test_interval_overlap_is_a_jaccard_index_in_log_length():
    assert C.interval_overlap((0.1, 10.0), (0.1, 10.0)) == pytest.approx(1.0)
    assert C.interval_overlap((0.1, 1.0), (10.0, 100.0)) == 0.0
    assert C.interval_overlap((0.1, 10.0), (1.0, 100.0)) == pytest.approx(1 / 3)
    assert C.interval_overlap((0.0, 1.0), (0.5, 2.0), log=False) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="lo ≤ hi"):
        C.interval_overlap((2.0, 1.0), (1.0, 3.0))


def test_locate_zone_compares_the_curvature_zone_with_the_norm_strip():
    x = np.array(alpha_grid(-3, 3, 0.5))
    la = np.log10(x)
    pc = np.maximum(0.0, 4.0 - 2.0 * np.abs(la))
    lg = 4 * la  # ‖G‖ ∝ α^4 …
    lg[la > 1] = -1e6  # … until the softmax collapses above α = 10
    lh = la - 1.5  # ‖H‖ ∝ α: G wins on [10^-0.5, 10]
    loc = C.locate_zone(x, pc, lg, lh)
    assert loc.peak_alpha == pytest.approx(1.0) and loc.peak_value == pytest.approx(4.0)
    assert loc.zone == (pytest.approx(0.1), pytest.approx(10.0))
    assert len(loc.strips) == 1 and loc.strip[0] == pytest.approx(10**-0.5)
    assert 10.0 <= loc.strip[1] < 10**1.5 and loc.peak_in_strip
    assert 0.5 < loc.overlap < 1.0
    # a strip far from the zone: no overlap, the peak outside
    far = C.locate_zone(x, pc, lh + 10 * (la > 2), lh + 5)
    assert far.overlap == 0.0 and not far.peak_in_strip


def test_loglog_slope_recovers_a_power_law_on_its_range():
    x = np.array(alpha_grid(-3, 3, 0.5))
    ly = np.where(x < 1, 4 * np.log10(x) - 2, 0.5)  # slope 4 below 1, flat above
    assert C.loglog_slope(x, ly, x_max=0.1) == pytest.approx(4.0)
    assert C.loglog_slope(x, ly, x_min=1.0) == pytest.approx(0.0, abs=1e-12)
    assert C.loglog_slope(x, ly) < 4.0
    with pytest.raises(ValueError, match="fewer than 2"):
        C.loglog_slope(x, ly, x_max=1e-3)


def test_error_bound_is_a_coarse_power_of_ten():
    assert C.error_bound(3e-16) == "< 1e-12" and C.error_bound(0.0) == "0"
    assert C.error_bound(1.45e-11) == "< 1e-10" and C.error_bound(1.8e-7) == "< 1e-06"
    assert C.error_bound(0.3) == "< 1e+00" and C.error_bound(25.0) == "< 1e+02"
    assert C.error_bound(2e-9, floor=1e-8) == "< 1e-08"
    with pytest.raises(ValueError):
        C.error_bound(-1.0)


def test_relative_spread_and_seed_band():
    assert C.relative_spread([2.0, 2.0, 2.0]) == 0.0
    assert C.relative_spread([1.0, 3.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        C.relative_spread([1.0, -1.0])
    df = pd.DataFrame({"model": "m", "sweep": "alpha", "seed": [0, 1, 0, 1], "alpha": [1.0, 1.0, 2.0, 2.0],
                       "pc_hessian": [1.0, 3.0, 5.0, 5.0]})
    band = C.seed_band(df, "pc_hessian")
    assert band["mean"].tolist() == [2.0, 5.0] and band["min"].tolist() == [1.0, 5.0]
    assert band["max"].tolist() == [3.0, 5.0] and band["count"].tolist() == [2, 2]
    with pytest.raises(ValueError, match="no column"):
        C.seed_band(df, "pc_nothing")


# -------------------------------------------------------------------------- measurements
def test_run_seed_three_rays_of_fig1(tiny_sweeps):
    df = tiny_sweeps
    assert sorted(df["sweep"].unique()) == sorted(Z.SWEEPS)
    assert (df["model"] == "tiny MLP").all() and (df["seed"] == 0).all() and (df["degree"] == 3).all()
    alpha, temp, tied = (df[df["sweep"] == s].reset_index(drop=True) for s in ("alpha", "temperature", "tied"))
    # β = 1/T of the T-sweep at α = 1 are the α-sweep's β = α^L, in reverse order
    temp = temp.iloc[::-1].reset_index(drop=True)
    np.testing.assert_allclose(temp["beta"], alpha["beta"], rtol=1e-12)
    np.testing.assert_allclose(temp["pc_hessian"], alpha["pc_hessian"], rtol=1e-10)
    # T = α^L on explicitly scaled weights: one curve (Fig. 1 middle), equal to α = 1, T = 1
    assert C.relative_spread(tied["pc_hessian"]) < 1e-10
    at_one = alpha.loc[np.isclose(alpha["alpha"], 1.0), "pc_hessian"].item()
    assert tied["pc_hessian"].iloc[0] == pytest.approx(at_one, rel=1e-10)
    # and the Hessian itself scales as α⁻² (Eq. 5 with T = α^L)
    np.testing.assert_allclose(tied["log10_norm_hessian"] + 2 * np.log10(tied["alpha"]),
                               tied["log10_norm_hessian"].iloc[2], atol=1e-10)
    # without the tie the curve is not flat: the zone exists
    assert alpha["pc_hessian"].max() - alpha["pc_hessian"].min() > 0.5
    # G-term PSD at every point (Eq. 4)
    assert (df["g_term_min_eig_ratio"].dropna() > -1e-10).all()


def test_run_seed_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sweeps"):
        Z.run_seed(TINY, 0, alphas=[1.0], subspace_dim=4, sweeps=("beta",))
    with pytest.raises(ValueError, match="alphas must not be empty"):
        Z.run_seed(TINY, 0, alphas=[], subspace_dim=4)
    with pytest.raises(ValueError, match="dtype"):
        Z.run_seed(TINY, 0, alphas=[1.0], subspace_dim=4, dtype="float16")


def test_gradient_identity_eq3_holds_for_homogeneous_nets_and_fails_with_biases():
    s = build(TINY, seed=1)
    errs = Z.gradient_identity_errors(s.model, s.inputs, s.targets, [0.01, 0.5, 20.0])
    assert (errs["rel_error"] < 1e-12).all()
    np.testing.assert_allclose(errs["grad_norm_scaled"] * errs["alpha"], errs["grad_norm_scaled"].iloc[0] * 0.01,
                               rtol=1e-12)
    g = torch.Generator().manual_seed(0)
    biased = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10)).double()
    with torch.no_grad():
        for p in biased.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3)
    bad = Z.gradient_identity_errors(biased, s.inputs, s.targets, [0.5], degree=2)
    assert bad["rel_error"].iloc[0] > 1e-3


def test_eq5_errors_explicit_scaling_matches_engine_and_formula():
    s = build({**TINY, "num_samples": 30}, seed=2)
    R = random_basis(s.num_params, 5, generator=torch.Generator().manual_seed(5))
    e = Z.eq5_errors(s.model, s.inputs, s.targets, R, [0.05, 2.0], [0.5, 1.0, "alpha^L"])
    assert len(e) == 6 and e["tied"].sum() == 2
    cols = [c for c in e.columns if c.startswith("err_") and c != "err_tied_hessian"]
    assert (e[cols] < 1e-10).all().all()
    assert (e.loc[e["tied"], "err_tied_hessian"] < 1e-12).all() and e.loc[~e["tied"], "err_tied_hessian"].isna().all()
    np.testing.assert_allclose(e["beta"], e["alpha"] ** 3 / e["temperature"], rtol=1e-12)
    with pytest.raises(ValueError, match="temperatures"):
        Z.eq5_errors(s.model, s.inputs, s.targets, R, [1.0], ["alpha^2"])


def test_eq5_detects_a_wrong_degree():
    """Eq. 5 with the wrong L disagrees with explicit scaling: the check can fail. A degree that
    contradicts an inspectable model is refused, so the model here hides its L: LeakyReLU keeps
    it homogeneous (L = 3), but homogeneity_degree does not know that module."""
    s = build({**TINY, "num_samples": 20}, seed=3)
    R = random_basis(s.num_params, 4, generator=torch.Generator().manual_seed(6))
    with pytest.raises(ValueError, match="contradicts"):
        Z.eq5_errors(s.model, s.inputs, s.targets, R, [2.0], [1.0], degree=2)
    hidden = nn.Sequential(*[nn.LeakyReLU(0.1) if isinstance(m, nn.ReLU) else m for m in s.model])
    e = Z.eq5_errors(hidden, s.inputs, s.targets, R, [2.0], [1.0], degree=2)
    assert e["err_engine_hessian"].iloc[0] > 1e-3
    e = Z.eq5_errors(hidden, s.inputs, s.targets, R, [2.0], [1.0], degree=3)
    assert e["err_engine_hessian"].iloc[0] < 1e-10


# ------------------------------------------------------------------------ the results cache
def test_cached_zone_sweeps_key_the_data_and_reuse_finished_seeds(tmp_path, monkeypatch):
    from goldilocks_core.experiments import setup

    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    runs = []
    real_run_seed = Z.run_seed

    def run_seed(spec, seed, **kwargs):
        runs.append(seed)
        return real_run_seed(spec, seed, **kwargs)

    monkeypatch.setattr(Z, "run_seed", run_seed)
    cfg = dict(settings("zone", "quick", device="cpu", models=[TINY], alphas=[0.5, 2.0], subspace_dim=4,
                        num_seeds=1, cache=True))
    first = Z.fig2(cfg)
    more = Z.fig2(cfg | {"num_seeds": 2})  # only the new seed is computed
    assert runs == [0, 1] and more[more["seed"] == 0].reset_index(drop=True).equals(first)
    # the same settings on other data (e.g. a re-downloaded, different file) are recomputed
    real_load = setup.data.load

    def other_data(*args, **kwargs):
        ds = real_load(*args, **kwargs)
        return type(ds)(ds.inputs.flip(0), ds.targets.flip(0), ds.num_classes, ds.name, ds.split)

    monkeypatch.setattr(setup.data, "load", other_data)
    monkeypatch.setattr(setup, "_SOURCE_IDS", {})  # a new session: what it remembers is gone
    monkeypatch.setattr(setup, "_PREPARED", type(setup._PREPARED)())
    again = Z.fig2(cfg)
    assert runs == [0, 1, 0]
    pd.testing.assert_frame_equal(again, Z.fig2(cfg | {"cache": False}))
    assert not again.equals(first)


# ------------------------------------------------------ the paper profile, end to end
@pytest.mark.slow
def test_paper_profiles_code_path_on_gaussian_stand_ins(tmp_path, monkeypatch):
    """fig1, fig2 and identity_checks with the paper profiles' settings on Fashion-MNIST- and
    CIFAR-shaped Gaussian data (LeNet-300-100 and LeNet-5), three α, small d, the cache on."""
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    paper = settings("revisiting", "paper")
    stand_ins = []
    for spec, shape in zip(paper.models, ([1, 28, 28], [3, 32, 32])):
        stand_ins.append({**spec, "name": spec["name"] + " (stand-in)", "dataset": "gaussian", "num_samples": None,
                          "data_options": {"shape": shape, "num_samples": 60, "seed": 0}})
    stand_ins = [{**s, "num_samples": 20} for s in stand_ins]  # balanced: 2 per class
    common = dict(device="cpu", models=stand_ins, alphas=[0.1, 1.0, 10.0], subspace_dim=6)
    cfg1 = settings("zone", "paper", num_seeds=1, **common)
    cfg3 = settings("revisiting", "paper", num_seeds=2, identity_num_samples=10, identity_alphas=[3.0],
                    identity_temperatures=[1.0, "alpha^L"], **common)
    assert cfg1.cache is True and cfg3.cache is True and cfg3.profile == "paper"
    assert [m["arch"] for m in cfg1.models] == ["lenet_300_100", "lenet5"]

    fig1 = Z.fig1(cfg1)
    assert len(fig1) == 2 * 3 * 3  # models × rays × α
    assert set(fig1["num_params"]) == {266_200, 61_770} and set(fig1["degree"]) == {3, 5}
    tied = fig1[fig1["sweep"] == "tied"]
    assert tied.groupby("model")["pc_hessian"].agg(C.relative_spread).max() < 1e-8

    fig2 = Z.fig2(cfg3)
    assert len(fig2) == 2 * 2 * 3 and (fig2["sweep"] == "alpha").all() and set(fig2["seed"]) == {0, 1}
    grads, hess = Z.identity_checks(cfg3)
    assert len(grads) == 2 and len(hess) == 2 * 2
    assert (grads["rel_error"] < 1e-10).all()
    assert (hess["err_engine_h_term"] < 1e-10).all()

    # the notebooks' analysis and figures on the paper profiles' tables (two models)
    import matplotlib

    matplotlib.use("Agg")
    from goldilocks_core import plotting

    mean = fig2.groupby(["model", "alpha"], sort=False, as_index=False)[
        ["pc_hessian", "log10_norm_g_term", "log10_norm_h_term"]].mean()
    strips = {}
    for model, curve in mean.groupby("model", sort=False):
        loc = C.locate_zone(curve["alpha"], curve["pc_hessian"], curve["log10_norm_g_term"], curve["log10_norm_h_term"])
        strips[model] = loc.strips
    assert len(plotting.gauss_newton_figure(fig2, strips=strips).axes) == 4
    assert len(plotting.zone_figure(fig1, num_seeds=1).axes) == 6

    # the cache served the second run
    assert len(list(tmp_path.rglob("*.pkl"))) == 2 * 1 + 2 * 2
    pd.testing.assert_frame_equal(Z.fig2(cfg3), fig2)


def test_a_spec_can_keep_fewer_seeds():
    spec = {**TINY, "name": "tiny MLP, one seed", "num_seeds": 1}
    cfg = {"models": [TINY, spec], "alphas": [0.1, 1.0], "subspace_dim": 4, "num_seeds": 2, "seed": 0,
           "progress": False}
    seeds = Z.fig2(cfg).groupby("model")["seed"].unique().map(list).to_dict()
    assert seeds == {"tiny MLP": [0, 1], "tiny MLP, one seed": [0]}


# ------------------------------------------------------------- Fig. 1's claims (chapter 1)
def _fig1_table(pc_alpha, lc_alpha, tied_pc, pc_temp=None):
    """A synthetic fig1 table on α ∈ 10^{-2..2} (L = 1, so T = α): one model, one seed."""
    alphas = [0.01, 0.1, 1.0, 10.0, 100.0]
    pc_temp = pc_alpha[::-1] if pc_temp is None else pc_temp
    rows = []
    for a, pc, lc in zip(alphas, pc_alpha, lc_alpha):
        rows.append({"sweep": "alpha", "alpha": a, "temperature": 1.0, "pc_hessian": pc, "lc_hessian": lc})
    for a, pc in zip(alphas, pc_temp):
        rows.append({"sweep": "temperature", "alpha": 1.0, "temperature": a, "pc_hessian": pc, "lc_hessian": 0.5})
    for a, pc in zip(alphas[::2], tied_pc):
        rows.append({"sweep": "tied", "alpha": a, "temperature": a, "pc_hessian": pc, "lc_hessian": 0.7})
    df = pd.DataFrame(rows)
    df["model"], df["seed"] = "net", 0
    return df


def test_fig1_claims_rows_reproduce_on_a_zone_and_differ_off_it():
    from goldilocks_core.experiments import fig1 as F

    cfg = {"end_fraction": 0.1, "tied_rtol": 1e-6}
    good = _fig1_table([0.05, 1.0, 4.0, 1.5, -0.1], [0.5, 0.6, 0.75, 0.6, 0.5], [4.0, 4.0, 4.0])
    assert [r.verdict for r in F.claims_rows(good, cfg)] == ["reproduces"] * 5
    assert F.zones(good)["net"][0] < 1.0 < F.zones(good)["net"][1]
    # peak at α = 10, large ends, a tied ray that moves, T-peak at T = 100, flat local convexity
    bad = _fig1_table([1.0, 1.0, 2.0, 4.0, 1.0], [0.5, 0.5, 0.52, 0.5, 0.5], [4.0, 3.0, 4.0],
                      pc_temp=[0.0, 0.1, 1.0, 2.0, 4.0])
    assert [r.verdict for r in F.claims_rows(bad, cfg)] == ["differs"] * 5
    table = F.per_seed(good)
    assert list(table.index) == ["0.01", "0.1", "1", "10", "100"]


def test_tied_every_subsamples_the_tied_ray_only():
    cfg = {"models": [TINY], "alphas": alpha_grid(-2, 2, 1.0), "subspace_dim": 4, "num_seeds": 1,
           "tied_every": 2, "progress": False}
    df = Z.fig1(cfg)
    assert sorted(df.loc[df["sweep"] == "tied", "alpha"]) == pytest.approx([0.01, 1.0, 100.0])
    assert (df["sweep"] == "alpha").sum() == 5
    with pytest.raises(ValueError, match="tied_every"):
        Z.fig1({**cfg, "tied_every": 0})
