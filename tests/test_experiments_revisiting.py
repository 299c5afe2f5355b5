"""goldilocks_core.experiments.revisiting: chapter 3's numbers and claims, and the identities
that hold by construction (moved here from the book)."""
import math

import pandas as pd
import pytest

from goldilocks_core.curvature import alpha_grid
from goldilocks_core.experiments import revisiting as RV
from goldilocks_core.experiments import curves as C
from goldilocks_core.experiments import zone as Z
from goldilocks_core.profiles import settings

TINY = {"name": "tiny MLP, digits", "arch": "mlp", "widths": [64, 12, 8, 10], "dataset": "digits",
        "num_samples": 40}


@pytest.fixture(scope="module")
def tiny_cfg():
    return settings("revisiting", "offline", device="cpu", models=(TINY,), alphas=tuple(alpha_grid(-3, 3, 0.5)),
                    subspace_dim=6, num_seeds=2, identity_num_samples=10, identity_alphas=(0.3, 30.0),
                    identity_temperatures=(1.0, "alpha^L"))


@pytest.fixture(scope="module")
def tiny_runs(tiny_cfg):
    return Z.fig2(tiny_cfg), *Z.identity_checks(tiny_cfg)


def test_small_alpha_slopes_are_eq5_prefactors(tiny_runs):
    """‖G‖₂ ∝ α^{2L−2}, ‖H-term‖₂ ∝ α^{L−2} at small α: assemble applies Eq. 5's prefactors."""
    df = tiny_runs[0]
    m = df.groupby("alpha")[["log10_norm_g_term", "log10_norm_h_term"]].mean()
    L = int(df["degree"].iloc[0])
    assert C.loglog_slope(m.index, m["log10_norm_g_term"], x_max=10**-1.5) == pytest.approx(2 * L - 2, abs=0.02)
    assert C.loglog_slope(m.index, m["log10_norm_h_term"], x_max=10**-1.5) == pytest.approx(L - 2, abs=0.02)


def test_at_the_largest_alpha_the_hessian_is_its_h_term(tiny_runs):
    """The G-term, far below the H-term, vanishes exactly when the two are added (float64)."""
    df = tiny_runs[0]
    last = df[df["alpha"] == df["alpha"].max()]
    assert (last["pc_hessian"] == last["pc_h_term"]).all()
    assert (last["log10_norm_g_term"] < last["log10_norm_h_term"] - 20).all()


def _eq5_rows(**changes):
    base = {"err_engine_hessian": 1e-14, "err_engine_g_term": 1e-14, "err_engine_h_term": 1e-14,
            "err_formula_hessian": 1e-14, "err_formula_g_term": 1e-14, "err_formula_h_term": 1e-14,
            "err_engine_grad": 1e-14, "err_tied_hessian": math.nan, "beta": 1.0, "exponent_range": 5.0,
            "logit_scale": 2.0, "log10_norm_g_term": -1.0}
    rows = [dict(base), dict(base, beta=1e6, exponent_range=5e6, err_engine_g_term=1e-8, log10_norm_g_term=-1e6),
            dict(base, err_tied_hessian=1e-13)]
    for i, ch in changes.items():
        rows[int(i[1:])].update(ch)
    return pd.DataFrame(rows)


def test_eq5_summary_classifies_collapsed_g_term_errors():
    s = RV.eq5_summary(_eq5_rows(), rtol=1e-10)
    assert (s["num_points"], s["num_collapsed"]) == (3, 1)
    assert s["worst_not_collapsed"] == pytest.approx(1e-14) and s["worst_hessian_h_term_grad"] == pytest.approx(1e-14)
    # 1e-8 against 1e-10 + 100·ε·1e6·2 ≈ 4.4e-8: within the conditioning bound
    assert 0.1 < s["worst_g_term_over_bound"] < 1
    assert s["g_term_error_per_beta_z"] == pytest.approx(1e-8 / 2e6)
    assert s["worst_tied"] == pytest.approx(1e-13) and s["min_log10_norm_g_term"] == -1e6
    # a G-term error above the bound where the softmax has not collapsed
    bad = RV.eq5_summary(_eq5_rows(r0={"err_formula_g_term": 1e-6}), rtol=1e-10)
    assert bad["worst_g_term_over_bound"] > 1 and bad["worst_not_collapsed"] == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="eq5_errors"):
        RV.eq5_summary(pd.DataFrame({"beta": [1.0]}), rtol=1e-10)
    with pytest.raises(ValueError, match="rtol"):
        RV.eq5_summary(_eq5_rows(), rtol=0)


def test_claims_rows_on_a_tiny_run_and_a_row_that_differs(tiny_runs, tiny_cfg):
    df, grads, hess = tiny_runs
    rows = RV.claims_rows(grads, hess, df, tiny_cfg)
    assert len(rows) == 4 + 7
    by = {r.claim: r for r in rows}
    assert by["∇θ'ℓ = α⁻¹∇θℓ at T = α^L, explicit scaling vs Eq. 3"].verdict == "reproduces"
    assert by["Eq. 5: Hessian, H-term and gradient of explicitly scaled weights"].verdict == "reproduces"
    assert by["tiny MLP, digits: G-term plummets at large α"].verdict == "reproduces"
    # a G-term that does not collapse at large α: the claim differs
    flat = df.assign(log10_norm_g_term=df["log10_norm_h_term"] + 1.0)
    by = {r.claim: r for r in RV.claims_rows(grads, hess, flat, tiny_cfg)}
    assert by["tiny MLP, digits: G-term plummets at large α"].verdict == "differs"
    assert by["tiny MLP, digits: H-term dominates at small α"].verdict == "differs"
    # a wrong Eq. 3 error differs; a model marked not comparable
    worse = grads.assign(rel_error=1e-3)
    rows = RV.claims_rows(worse, hess, df, tiny_cfg, comparable={"tiny MLP, digits": False})
    assert rows[0].verdict == "differs" and all(r.verdict == "not comparable" for r in rows[4:])


def test_fig2_summary_and_zone_locations(tiny_runs):
    df = tiny_runs[0]
    s = RV.fig2_summary(df)
    assert list(s.index) == ["tiny MLP, digits"]
    row = s.iloc[0]
    assert (row.N, row.L, row.seeds) == (40, 3, 2)
    assert row.alpha_min == pytest.approx(1e-3) and row.alpha_max == pytest.approx(1e3)
    assert row.log10_gap_at_min < 0 and row.log10_gap_at_max < 0
    loc = RV.zone_locations(df)["tiny MLP, digits"]
    assert 0 <= loc.overlap <= 1 and loc.zone[0] < loc.peak_alpha < loc.zone[1]
    with pytest.raises(ValueError, match="no column"):
        RV.fig2_summary(df.drop(columns="pc_g_term"))


def test_tables_for_the_page(tiny_runs):
    df, grads, hess = tiny_runs
    g = RV.gradient_table(grads)
    assert list(g.columns) == ["model", "alpha", "temperature", "relative error"]
    assert set(g["relative error"]) <= {"< 1e-12", "0"}
    e = RV.eq5_table(hess)
    assert "engine hessian" in e.index and list(e.columns) == ["tiny MLP, digits"]
    z = RV.zone_table(RV.zone_locations(df))
    assert list(z["model"]) == ["tiny MLP, digits"] and 0 <= z["Jaccard"].iloc[0] <= 1
    with pytest.raises(ValueError, match="identity_checks"):
        RV.eq5_table(pd.DataFrame({"x": [1]}))
