"""Drivers, claims and figures of Chapter 5 and Appendix E (goldilocks_core.experiments.optimization)."""
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from goldilocks_core import plotting, training
from goldilocks_core.experiments import optimization as opt
from goldilocks_core.experiments.setup import build
from goldilocks_core.profiles import settings

matplotlib.use("Agg")

TINY = {"name": "tiny MLP", "arch": "mlp", "dataset": "digits", "widths": [64, 12, 10], "num_samples": 40}


def frame(cells, steps=(0, 5, 10)):
    """A synthetic training frame: ``cells`` maps (α, η₀) to per-step dicts of overrides."""
    rows = []
    for (a, b), spec in cells.items():
        for i, t in enumerate(steps):
            row = {"alpha": a, "base_lr": b, "lr": b / a, "step": t, "train_loss": 2.3, "train_accuracy": 0.1,
                   "test_accuracy": 0.1, "param_norm": 10.0 + t, "grad_norm": 1.0, "cos_theta0": 1.0,
                   "cos_neg_grad": 0.0, "zero_logit_fraction": 0.0, "diverged": False}
            row.update({k: (v[i] if isinstance(v, (list, tuple)) else v) for k, v in spec.items()})
            rows.append(row)
    return pd.DataFrame(rows)


GOOD = {"train_accuracy": (0.1, 0.6, 0.9), "test_accuracy": (0.1, 0.6, 0.85)}


def test_cell_summary_sorts_cells_into_the_regimes_of_fig7():
    f = frame({(1.0, 0.1): GOOD,
               (1.0, 1.0): {"diverged": (False, True, True), "train_accuracy": (0.1, np.nan, np.nan)},
               (1000.0, 0.1): {"train_accuracy": (0.1, 0.8, 1.0), "test_accuracy": (0.1, 0.6, 0.7)},
               (1000.0, 1.0): {"zero_logit_fraction": (0.0, 0.5, 0.9)},
               (0.01, 0.1): {},
               (10.0, 0.1): GOOD})
    s = opt.cell_summary(f, num_classes=10).set_index(["alpha", "base_lr"])["regime"]
    assert s[(1.0, 0.1)] == "trains normally" and s[(1.0, 1.0)] == "diverges"
    assert s[(1000.0, 0.1)] == "lazy" and s[(1000.0, 1.0)] == "zero logits"
    assert s[(0.01, 0.1)] == "does not train" and s[(10.0, 0.1)] == "trains normally"
    seen = opt.regimes_seen({"m": opt.cell_summary(f, num_classes=10)})
    assert seen["cells"].sum() == 6 and set(seen["side"]) == {"alpha < 1", "alpha = 1", "alpha > 1"}
    with pytest.raises(ValueError, match="empty"):
        opt.cell_summary(f.iloc[:0], num_classes=10)


def _results(staircase_slope: float, lenet5_trains_high: bool, steps: int = 100):
    """Synthetic fig8 output: the largest trainable η₀ at α < 1 is α^slope·0.1."""
    cells = {}
    lrs = [10.0 ** k for k in np.arange(-4, 0.01, 0.5)]
    for a in (0.01, 0.1, 1.0, 1000.0):
        limit = 0.1 * a ** staircase_slope if a < 1 else 0.1
        for b in lrs:
            if b <= limit * 1.0001:
                cells[(a, b)] = ({"train_accuracy": (0.1, 0.8, 1.0), "test_accuracy": (0.1, 0.6, 0.75)}
                                 if a == 1000.0 else GOOD)
            else:
                cells[(a, b)] = {"diverged": (False, True, True)}
    s1 = opt.cell_summary(frame(cells), num_classes=10)
    c5 = {(a, 0.01): (GOOD if (a <= 1.0 or lenet5_trains_high) else {"zero_logit_fraction": 0.9})
          for a in (0.3, 1.0, 3.0, 10.0)}
    s5 = opt.cell_summary(frame(c5), num_classes=10)
    return {"LeNet-300-100": {"summary": s1, "steps": steps, "num_classes": 10, "strip": (0.5, 20.0)},
            "LeNet-5": {"summary": s5, "steps": steps, "num_classes": 10, "strip": (0.8, 20.0)}}


def verdicts(rows):
    return {r.claim: r.verdict for r in rows}


def test_claims_rows_reproduce_on_a_paper_like_grid_and_differ_otherwise():
    cfg = settings("optimization", "quick")
    v = verdicts(opt.claims_rows(_results(1.0, False, steps=20000), cfg))
    assert list(v.values()) == ["reproduces"] * 5
    v = verdicts(opt.claims_rows(_results(0.0, True, steps=100), cfg))
    assert v["largest trainable η₀ grows ∝ α for α < 1 (staircase)"] == "differs"
    assert v["LeNet-300-100 at α = 1000 reaches 100% train accuracy"] == "not comparable"  # 100 steps
    assert v["LeNet-5 does not train above chance for α > 1.8"] == "differs"
    assert v["LeNet-5 fails to train inside its Goldilocks zone"] == "differs"
    st = opt.staircase(_results(1.0, False)["LeNet-300-100"]["summary"])
    assert np.allclose(st["max_trainable_base_lr"], [1e-3, 1e-2], rtol=1e-6)


def test_uso_agreement_measures_the_uniform_phase_only():
    uso = frame({(1.0, 0.1): {"param_norm": (1.0, 2.0, 4.0)}})
    paths = frame({(0.1, 0.1): {"param_norm": (0.1, 0.2, 0.5), "train_loss": (math.log(10), math.log(10), 2.0)},
                   (0.01, 0.1): {"param_norm": (0.01, 0.02, 0.04), "train_loss": math.log(10)}})
    paths["rescaled_norm"] = paths["param_norm"] / paths["alpha"]
    a = opt.uso_agreement(paths, uso, num_classes=10, uniform_tol=1e-3).set_index("alpha")
    assert a.loc[0.1, "uniform_steps"] == 2 and a.loc[0.1, "leaves_uniform_at"] == 10
    assert a.loc[0.1, "max_rel_difference"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(a.loc[0.01, "leaves_uniform_at"]) and a.loc[0.01, "uniform_steps"] == 3


def _appendix_inputs(agree: bool):
    uso = frame({(1.0, 0.1): {"param_norm": (1.0, 2.0, 4.0)}})
    paths = frame({(0.1, 0.1): {"param_norm": (0.1, 0.2, 0.4) if agree else (0.1, 0.3, 0.4),
                                "train_loss": math.log(10)}})
    paths["rescaled_norm"] = paths["param_norm"] / paths["alpha"]
    retrain = pd.DataFrame({"step": [0, 10], "train_error": [0.1, 0.4 if agree else 0.05]})
    probe = pd.DataFrame({"seed": 0, "alpha": [1.0, 1000.0], "trained_features": [0.8, 0.72],
                          "random_features": [0.7, 0.7]})
    lab = pd.concat([frame({(10.0, 0.1): {"zero_logit_fraction": (0, 0.2, z)}}).assign(labels=k)
                     for k, z in (("random", 0.1), ("redrawn", 0.6 if agree else 0.0))])
    return {"paths": paths, "uso": uso, "retrain": retrain, "num_classes": 10}, {"probe": probe, "labels": lab}


def test_appendix_e_claims_reproduce_and_differ():
    cfg = settings("appendix_e", "quick")
    v = verdicts(opt.appendix_e_claims_rows(*_appendix_inputs(True), cfg))
    assert set(v.values()) == {"reproduces"}
    v = verdicts(opt.appendix_e_claims_rows(*_appendix_inputs(False), cfg))
    assert list(v.values()) == ["differs", "differs", "reproduces", "differs"]


def test_figures_draw_from_synthetic_tables():
    import matplotlib.pyplot as plt

    res = _results(1.0, False)
    for r in res.values():
        s = r["summary"]
        r["admissibility"] = s[["alpha", "base_lr"]].assign(lr_sharpness=s["base_lr"] * 10,
                                                            admissible=s["base_lr"] * 10 < 2)
    seen = opt.regimes_seen({k: r["summary"] for k, r in res.items()})
    f9 = frame({(0.01, 0.1): GOOD, (1000.0, 0.1): GOOD})
    f11, f12 = _appendix_inputs(True)
    f12["zero"] = f12["labels"][f12["labels"]["labels"] == "random"]
    figs = [plotting.regime_taxonomy(seen), plotting.training_grid_figure(res), plotting.training_curves(f9),
            plotting.uso_figure(f11), plotting.probe_zero_figure(f12)]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
    plt.close("all")


def test_uso_snapshots_equal_single_runs():
    s = build(TINY, seed=0, dtype=torch.float64)
    data = (s.inputs, s.targets)
    snaps = training.uso_snapshots(s.model, data, data, base_lr=0.5, snapshots=(0, 2, 5), progress=False)
    one = training.train_uso_networks(s.model, data, data, base_lrs=[0.5], steps=5, progress=False)
    for n, v in one.parameters[(1.0, 0.5)].items():
        torch.testing.assert_close(snaps[5][n], v, rtol=1e-12, atol=1e-14)
    assert all(torch.equal(snaps[0][n], p) for n, p in s.model.named_parameters())
    with pytest.raises(ValueError, match="snapshots"):
        training.uso_snapshots(s.model, data, data, base_lr=0.5, snapshots=(-1,))


def test_fixed_budget_lanczos_sharpness_matches_arpack():
    s = build(TINY, seed=0, dtype=torch.float64)
    data = (s.inputs, s.targets)
    exact = training.initial_sharpness(s.model, data, [0.3, 1.0, 3.0])
    quick = training.initial_sharpness(s.model, data, [0.3, 1.0, 3.0], lanczos_steps=40)
    np.testing.assert_allclose(quick["sharpness"], exact["sharpness"], rtol=1e-3)
    with pytest.raises(ValueError, match="lanczos_steps"):
        training.initial_sharpness(s.model, data, [1.0], lanczos_steps=0)


# --------------------------------------------------------- offline and paper profiles on tiny stand-ins
def _tiny(profile, chapter, tmp_path, monkeypatch, **extra):
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    return settings(chapter, profile, device="cpu", **extra)


@pytest.mark.parametrize("profile", ["offline", "paper"])
def test_chapter5_code_path(profile, tmp_path, monkeypatch):
    gauss = {"name": "LeNet-5 (stand-in)", "arch": "lenet5", "dataset": "gaussian", "num_samples": 20,
             "data_options": {"shape": [1, 32, 32], "num_samples": 20, "seed": 0}}
    cfg = _tiny(profile, "optimization", tmp_path, monkeypatch, models=(TINY, gauss), steps=(3, 2),
                alphas=(0.01, 1.0, 1000.0), base_lrs=(0.01, 0.1), log_every=1, test_num_samples=20,
                zone_alphas=(0.1, 1.0, 10.0), zone_num_samples=20, subspace_dim=4, sharpness_num_samples=20,
                sharpness_lanczos_steps=5)
    res = opt.fig8(cfg)
    assert list(res) == ["tiny MLP", "LeNet-5 (stand-in)"]
    assert len(res["tiny MLP"]["summary"]) == 6 and len(res["tiny MLP"]["admissibility"]) == 6
    assert set(opt.fig9(res, cfg)["alpha"]) == {0.01, 1000.0}
    assert len(opt.claims_rows(res, cfg)) == 5
    assert (tmp_path.iterdir() and any(tmp_path.iterdir())) == (profile == "paper")


@pytest.mark.parametrize("profile", ["offline", "paper"])
def test_appendix_e_code_path(profile, tmp_path, monkeypatch):
    cfg = _tiny(profile, "appendix_e", tmp_path, monkeypatch, uso_model=TINY, probe_model=TINY,
                zero_model=TINY, test_num_samples=20, uso_alphas=(0.01, 0.1), uso_steps=4,
                uso_snapshots=(0, 2, 4), retrain_steps=2, log_every=1, probe_alphas=(1.0, 1000.0),
                probe_base_lrs=(0.1,), probe_steps=2, num_seeds=1, zero_alphas=(1.0, 10.0), zero_steps=2)
    f11 = opt.fig11(cfg)
    assert list(f11["retrain"]["step"]) == [0, 2, 4]
    f12 = opt.fig12(cfg)
    assert set(f12["labels"]["labels"]) == {"fixed", "random", "redrawn"} and len(f12["probe"]) == 2
    assert len(opt.appendix_e_claims_rows(f11, f12, cfg)) == 4
