"""Tables and claims rows of chapter 4 (goldilocks_core.experiments.features_report)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from goldilocks_core import plotting
from goldilocks_core.experiments import expected_g as EG
from goldilocks_core.experiments import features_report as R
from goldilocks_core.profiles import settings


def curves(gap_low=0.05, gap_high=0.05, gap_p=0.5):
    rows = []
    for seed in range(3):
        for a in (0.01, 0.1, 1.0, 3.0, 10.0, 100.0):
            true = 5.0 if a <= 1 else 3.0
            g = gap_low if a <= 1 else gap_high
            rows.append({"name": "net", "seed": seed, "alpha": a, "mean_entropy": 2.0, "pc_g_term": true,
                         "eq8_label": true * (1 + g), "eq8_label_P": true * (1 + gap_p),
                         "eq7_means": true * (1 + g / 4)})
    return pd.DataFrame(rows)


def verdicts(rows):
    return [r.verdict for r in rows]


def test_claims_fig3_reproduces_and_differs():
    rows = R.claims_fig3(curves())
    assert verdicts(rows) == ["reproduces", "reproduces", "differs"]
    rows = R.claims_fig3(curves(gap_low=0.12, gap_high=0.5, gap_p=0.05))
    assert verdicts(rows) == ["differs", "differs", "reproduces"]


def test_fig3_table_and_gap_decomposition():
    c = curves(gap_low=0.2)
    table = R.fig3_table(c, [0.01, 1.0])
    assert list(table["α"]) == [0.01, 1.0] and table["Eq. 8 (d)"].iloc[0] == pytest.approx(6.0)
    seeds = pd.DataFrame({"name": ["net"] * 3, "max_abs_cos_means": [0.4, 0.5, 0.45],
                          "norm_ratio_means": [1.4, 1.5, 1.45]})
    dec = R.gap_decomposition(c, seeds).iloc[0]
    assert dec["explained"] == pytest.approx(0.75) and dec["max |cos(c_k, c_l)|"] == pytest.approx(0.45)


def test_claims_fig4():
    dims = pd.DataFrame({"d": [10, 50, 10, 50], "alpha": [0.1, 0.1, 1.0, 1.0], "pc_g_term": [2.0, 3.0, 2.0, 3.0],
                         "eq8": [2.1, 3.1, 2.1, 3.1]})
    mono = pd.DataFrame({"set": [0, 1], "monotone": [True, True], "spearman": [-1.0, -1.0]})
    assert verdicts(R.claims_fig4(dims, mono)) == ["reproduces"] * 3
    dims.loc[1, "pc_g_term"] = 1.5  # falls with d at α = 0.1, and Eq. 8 is 2× off there
    mono.loc[1, "monotone"] = False
    assert verdicts(R.claims_fig4(dims, mono)) == ["differs"] * 3


def test_claims_fig5():
    pairs = pd.DataFrame({"init": [0, 0], "a": ["x", "x"], "b": ["y", "z"], "cosine": [0.8, 0.75],
                          "eq9_cosine": [0.9, 0.9]})
    summary = {"slope_origin": 10.0, "pearson": 0.95, "printed_all": 100.0, "exact_all": 11.0}
    assert verdicts(R.claims_fig5(pairs, summary)) == ["reproduces", "reproduces", "differs", "reproduces"]
    pairs.loc[1, "cosine"] = 0.4
    assert verdicts(R.claims_fig5(pairs, {**summary, "pearson": 0.5}))[:2] == ["differs", "differs"]
    assert len(R.cosine_table(pairs)) == 2


def test_claims_fig6():
    cols = ["mean_entropy", "pc_hessian", "loss", "grad_norm"]
    rho = pd.DataFrame(np.eye(4), index=cols, columns=cols)
    rho.loc["mean_entropy", "pc_hessian"] = 0.9
    rho.loc["mean_entropy", "loss"] = -0.7
    rho.loc["mean_entropy", "grad_norm"] = -0.3
    rho.loc["pc_hessian", "loss"] = 0.6
    assert verdicts(R.claims_fig6(rho)) == ["reproduces", "reproduces", "differs", "differs"]


def test_curvature_vs_dimension_labels_several_y_ticks():
    dims = pd.DataFrame({"d": [10, 20, 50, 100] * 2, "alpha": [0.1] * 4 + [1.0] * 4,
                         "pc_g_term": [2.5, 3.2, 4.1, 4.6, 2.4, 3.0, 3.9, 4.4],
                         "eq8": [2.6, 3.3, 4.2, 4.8, 2.5, 3.1, 4.0, 4.5]})
    fig = plotting.curvature_vs_dimension(dims)
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    labelled = [t for t in ax.yaxis.get_major_ticks() if t.label1.get_text() and lo <= t.get_loc() <= hi]
    assert len(labelled) >= 3
    matplotlib.pyplot.close(fig)


def test_notebooks_and_tests_import_no_private_random_logit_module():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [*root.joinpath("book").glob("*.ipynb"), *root.joinpath("tests").glob("*.py")]
    offenders = [f.name for f in files if "random_logit._" in f.read_text(encoding="utf-8")
                 and f.name != Path(__file__).name]
    assert offenders == []


def test_monte_carlo_spectrum_z_scores_and_appendix_b_claims():
    import torch

    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(10, generator=g, dtype=torch.float64), -1)
    df, mc = EG.monte_carlo_spectrum(p, 1.0, 0.5, 20, 400, num_batches=8, generator=g)
    assert mc.shape == (20, 20)
    assert list(df["kind"]) == ["outlier"] * 9 + ["bulk"]
    assert df["z"].abs().max() < 5 and (df["std_error"] > 0).all()
    assert list(df["multiplicity"]) == [1] * 9 + [11]
    uniform, _ = EG.monte_carlo_spectrum(torch.full((10,), 0.1, dtype=torch.float64), 1.0, 0.5, 20, 400,
                                        num_batches=4, generator=g)
    assert list(uniform["kind"]) == ["outlier", "bulk"] and list(uniform["multiplicity"]) == [9, 11]
    assert R.claims_appendix_b({"p": df})[0].verdict == "reproduces"
    wrong = df.assign(z=(df["monte_carlo"] - 1.05 * df["formula"]) / df["std_error"])
    assert R.claims_appendix_b({"p": wrong})[0].verdict == "differs"
    with pytest.raises(ValueError, match="class_means"):
        EG.monte_carlo_expected_g(p, 1.0, 0.5, 20, 4, class_means=torch.zeros(3, 3))


def test_appendix_c_claims():

    table = EG.gamma_limit_table(range(2, 11), [1e-9, 1e-3], 10)
    assert R.claims_appendix_c(table, 1 - 1e-9, 1e-9)[0].verdict == "reproduces"
    rows = R.claims_appendix_c(table.assign(gamma2_closed=table["limit"] * 1.01), 1.1, 1e-9)
    assert [r.verdict for r in rows] == ["differs", "differs"]


def test_appendix_b_driver_runs_three_cases():

    out = EG.appendix_b(settings("appendix_b", "quick").replace(num_draws=200, subspace_dim=12))
    assert list(out) == ["random p", "uniform p", "batch of 8"]
    assert out["uniform p"]["formula"].shape == (12,) and len(out["random p"]["table"]) == 10


def test_gamma_plateau_figure_draws_the_curve_and_levels():
    fig = plotting.gamma_plateau([1.72, 0.02, 0.0, -3.0, -3.2, -3.5, -4.0, -4.1, -4.5, -5.0])
    ax = fig.axes[0]
    y = ax.lines[0].get_ydata()
    assert len(ax.lines) == 3 and y[-1] == pytest.approx(1.0, abs=2e-3)
    matplotlib.pyplot.close(fig)
