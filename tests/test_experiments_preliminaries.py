"""goldilocks_core.experiments.preliminaries: chapter 2's models table, the split of Eq. 4 against
dense autograd, the curvature at α = 1, and its claims table."""
import pandas as pd
import pytest

from goldilocks_core.experiments import preliminaries as Pr
from goldilocks_core.profiles import settings
from goldilocks_core.profiles._models import LENET5_DIGITS32, MLP_DIGITS, subset

TINY_MLP = {**subset(MLP_DIGITS, 30), "widths": [64, 12, 8, 10], "name": "tiny MLP"}
TINY_LENET = {**subset(LENET5_DIGITS32, 20), "name": "tiny LeNet-5"}


def test_paper_lenet5_count_is_61770_not_the_papers_61170():
    assert Pr.paper_lenet5_params() == 61_770
    assert Pr.PAPER_LENET5_PARAMS == 61_170


def test_offline_code_path_model_table_split_and_curvature():
    cfg = settings("preliminaries", "offline", seed=0, device="cpu", models=(TINY_MLP, TINY_LENET),
                   subspace_dim=5, dense_check_points=((1.0, 1.0), (0.2, 3.0)))
    table = Pr.model_table(cfg)
    assert list(table["L"]) == [3, 5] and list(table["N"]) == [30, 20]
    assert (table["homogeneity_error"] < 1e-12).all()
    split = Pr.split_errors(cfg)
    assert len(split) == 2 and (split[["err_g_term", "err_h_term", "err_hessian"]] < 1e-10).all().all()
    curv, spectra = Pr.init_curvature(cfg)
    assert list(curv.index) == ["tiny MLP", "tiny LeNet-5"]
    assert set(spectra["tiny MLP"]) == {"hessian", "g_term", "h_term"}
    assert spectra["tiny MLP"]["hessian"].shape == (5,)
    rows = Pr.claims_rows(table, split, curv)
    assert len(rows) == 2 + 2 * 2


def _synthetic(pc=3.0, ratio=4.0, err=1e-14):
    split = pd.DataFrame({"err_g_term": [err, 1e-15], "err_h_term": [1e-15, 1e-15]})
    curv = pd.DataFrame({"pc_hessian": [pc], "g_over_h": [ratio]}, index=pd.Index(["net"], name="model"))
    return pd.DataFrame(), split, curv


def test_claims_rows_verdicts_on_synthetic_inputs():
    rows = {r.claim: r.verdict for r in Pr.claims_rows(*_synthetic(), lenet5_params=61_170)}
    assert set(rows.values()) == {"reproduces"}
    rows = Pr.claims_rows(*_synthetic(pc=0.2, ratio=0.5, err=1e-6), lenet5_params=61_770)
    assert [r.verdict for r in rows] == ["differs"] * 4


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="dense_check_widths"):
        Pr.split_errors({"seed": 0})


def test_init_spectra_returns_its_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from goldilocks_core import plotting

    fig = plotting.init_spectra({"net": {"hessian": np.array([2.0, 1.0, -0.5]), "g_term": np.array([2.0, 1.0, 0.0]),
                                         "h_term": np.array([0.1, 0.0, -0.5])}})
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)
