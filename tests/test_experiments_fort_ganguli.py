"""Drivers and report of the chapter on Fort & Ganguli (2019): the random logit model and the
clustering of logit gradients on networks."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from goldilocks_core import claims as C
from goldilocks_core.experiments import fort_ganguli as FG
from goldilocks_core.experiments import fort_ganguli_report as R
from goldilocks_core.profiles import settings
from goldilocks_core.profiles._models import LENET5_DIGITS32, MLP_DIGITS, subset
from goldilocks_core.random_logit import RandomLogitModel, growing_sigma_c

SMALL = {"n_samples": 80, "n_classes": 5, "dim": 300, "sigma_z": 5.0, "accuracy": 0.9}


# ----------------------------------------------------------------------- the random model
def test_properties_and_power_small():
    out = FG.fort_ganguli_properties(**SMALL, seed=2)
    assert out["num_outliers"] == 4  # C − 1: P̄ has rank C − 1
    assert np.all(np.diff(out["eigenvalues"]) <= 0)
    assert np.sum(out["overlaps"]) == pytest.approx(1.0)
    assert out["top_k"] == 5 and out["power_top_k"] == pytest.approx(out["overlaps"][:5].sum())
    assert out["q_sl_predicted"] == pytest.approx(1 / 1.49)
    assert out["clustering"].q_sl == pytest.approx(out["q_sl_predicted"], abs=0.05)
    assert 0.5 < out["power_top_k"] <= 1.0 and out["accuracy"] == pytest.approx(0.9, abs=1 / 80)
    power = FG.fort_ganguli_power([2, 3], **SMALL)
    assert power.dtype == np.float64 and power[0] == pytest.approx(out["power_top_k"], rel=1e-12)
    assert power[1] != power[0]
    with pytest.raises(ValueError):
        FG.fort_ganguli_properties(**SMALL, seed=-1)


def test_one_sweep_serves_every_coupling():
    """λ_max under σ_c ∝ σ_z^a from the fixed-σ_c sweep equals a sweep run with that σ_c."""
    z = np.array([0.01, 0.3, 3.0, 30.0, 300.0])
    sweep = FG.fort_ganguli_sweep(z, **{k: v for k, v in SMALL.items() if k != "sigma_z"}, seed=1)
    coupled = FG.coupled_top_eigenvalue(sweep, [0.0, 0.25, 1.0], sigma_z_ref=5.0)
    assert list(coupled.columns) == ["power", "sigma_z", "sigma_c", "top_eigenvalue"] and len(coupled) == 15
    model = RandomLogitModel(80, 5, 300, 1.0, 1 / math.sqrt(300), 0.7 / math.sqrt(300), accuracy=0.9,
                             generator=torch.Generator().manual_seed(1))
    for a in (0.25, 1.0):
        direct = model.sweep_sigma_z(z, growing_sigma_c(z, 1 / math.sqrt(300), sigma_z_ref=5.0, power=a))
        np.testing.assert_allclose(coupled[coupled.power == a]["top_eigenvalue"], direct["top_eigenvalue"],
                                   rtol=1e-9)
        # Tr(H)/‖H‖ does not depend on σ_c at fixed σ_c/σ_E
        np.testing.assert_allclose(direct["positive_curvature"], sweep["positive_curvature"], rtol=1e-9)
    np.testing.assert_allclose(coupled[coupled.power == 0.0]["top_eigenvalue"], sweep["top_eigenvalue"])
    peaks = FG.peak_table(coupled)
    assert list(peaks["power"]) == [0.0, 0.25, 1.0]
    assert not peaks["interior"].iloc[0] and peaks["peak_sigma_z"].iloc[0] == 0.01  # fixed σ_c: only falls
    assert peaks["interior"].iloc[1] and peaks["rise"].iloc[1] > 1 and peaks["fall"].iloc[1] > 1
    assert not peaks["interior"].iloc[2] and peaks["peak_sigma_z"].iloc[2] == 300.0  # a > 1/2: keeps rising


def test_sweep_on_hyperplanes_has_the_projected_columns():
    sweep = FG.fort_ganguli_sweep([0.1, 10.0], n_samples=30, n_classes=4, dim=40, seed=0, num_bases=2,
                                  basis_dim=5)
    assert {"positive_curvature_projected", "eq7_curvature_projected", "eq8_curvature_projected"} <= set(sweep)
    assert (sweep["positive_curvature_projected"] <= math.sqrt(5) + 1e-12).all()
    with pytest.raises(ValueError, match="basis_dim"):
        FG.fort_ganguli_sweep([1.0], n_samples=30, n_classes=4, dim=40, num_bases=1, basis_dim=0)


# ------------------------------------------------------------------------------ networks
@pytest.fixture(scope="module")
def digits_rows():
    spec = subset(MLP_DIGITS, 50, widths=[64, 20, 10])
    return FG.network_clustering(spec, activation="tanh", seed=0, num_measure=30, steps=5, base_lr=0.1)


def test_network_clustering_rows(digits_rows):
    df = pd.DataFrame(digits_rows)
    assert list(df["stage"]) == ["init", "trained"] and (df["activation"] == "tanh").all()
    assert (df["num_params"] == 64 * 20 + 20 * 10).all() and (df["num_train"] == 50).all()
    assert (df[["q_slsc", "q_sl", "logit_std", "grad_norm", "class_mean_norm"]] > 0).all().all()
    assert (df["q_dl"].abs() < 0.5).all() and df["train_accuracy"].between(0, 1).all()
    assert not np.isclose(df["q_sl"].iloc[0], df["q_sl"].iloc[1])  # training changed the network


def test_coupling_exponents_and_the_chosen_power():
    table = pd.DataFrame({"network": ["a"] * 4, "activation": ["relu", "relu", "tanh", "tanh"],
                          "stage": ["init", "trained"] * 2, "logit_std": [1.0, math.e, 1.0, 1.0],
                          "class_mean_norm": [2.0, 2.0 * math.exp(0.3), 1.0, 2.0]})
    ex = FG.coupling_exponents(table)
    assert ex["exponent"].iloc[0] == pytest.approx(0.3) and math.isnan(ex["exponent"].iloc[1])
    cfg = {"sigma_c_power": None}
    assert FG.chosen_power(cfg, ex) == pytest.approx(0.3)
    assert FG.chosen_power({"sigma_c_power": 0.25}, ex) == 0.25
    assert FG.chosen_power(cfg, ex.assign(exponent=[-0.2, float("nan")])) == 0.0
    with pytest.raises(ValueError, match="no finite exponent"):
        FG.chosen_power(cfg, ex.assign(exponent=[float("nan")] * 2))


def test_offline_profile_code_path_on_tiny_sizes():
    """The notebook's calls under the offline profile (digits, synthetic), at tiny sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from goldilocks_core import plotting

    cfg = settings("fort_ganguli", "offline").replace(
        model={**SMALL, "n_samples": 40, "dim": 60, "sigma_c": 1 / math.sqrt(60), "sigma_e": 0.7 / math.sqrt(60),
               "accuracy": 0.95},
        top_k=5, num_seeds=2, sweep_sigma_z=(0.01, 1.0, 100.0), num_bases=2, basis_dim=5,
        networks=(subset(MLP_DIGITS, 40, widths=[64, 16, 10]), subset(LENET5_DIGITS32, 20)),
        num_measure=20, train_steps=2)
    assert cfg.profile == "offline" and cfg.networks[1]["dataset"] == "digits"
    table = FG.fig1(cfg)
    assert len(table) == 8 and set(table["activation"]) == {"relu", "tanh"}
    exponents = FG.coupling_exponents(table)
    out = FG.model_figures(cfg, FG.chosen_power(cfg, exponents))
    assert len(out["powers"]) == 2 and out["powers"][0] == out["properties"]["power_top_k"]
    assert len(out["sweep"]) == 3 and out["power"] in set(out["coupled"]["power"])
    # the report
    numbers = {**R.network_numbers(table, exponents), **R.model_numbers(out)}
    assert all(isinstance(v, float) for v in numbers.values())
    assert numbers["fg-outliers"] == 4.0
    rows = (R.claims_clustering(table) + R.claims_model(out["properties"], out["powers"])
            + R.claims_sweep(out["sweep"], out["peaks"], out["power"]) + R.claims_eq8(out["sweep"]))
    assert len(rows) == 6 + 4 + 3 + 2 and all(isinstance(r, C.Claim) for r in rows)
    assert {r.verdict for r in rows} <= {"reproduces", "differs"}
    for frame in (R.substitutions(cfg, out["power"]), R.network_table(table), R.exponent_table(exponents),
                  R.curvature_table(out["sweep"], [1e-3, 1.0, 100.0]), R.peaks_display(out["peaks"])):
        assert isinstance(frame, pd.DataFrame) and len(frame)
    figures = [plotting.fort_ganguli_clustering(table), plotting.fort_ganguli_spectrum(out["properties"]),
               plotting.fort_ganguli_sweep(out)]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figures)
    plt.close("all")


# ---------------------------------------------------------------------------- the report
def _table(q_slsc=0.5, q_sl=0.3, q_dl=0.01, grow=1.5):
    rows = []
    for net in ("A", "B"):
        for act in ("relu", "tanh"):
            for stage, f in (("init", 1.0), ("trained", grow)):
                rows.append({"network": net, "activation": act, "stage": stage, "q_slsc": q_slsc, "q_sl": q_sl,
                             "q_dl": q_dl, "train_accuracy": 0.9, "logit_std": f, "grad_norm": f,
                             "class_mean_norm": f})
    return pd.DataFrame(rows)


def test_clustering_claims_can_fail():
    ok = [r.verdict for r in R.claims_clustering(_table(q_slsc=0.7, q_sl=0.6))]
    assert ok == ["reproduces"] * 6
    bad = [r.verdict for r in R.claims_clustering(_table(q_slsc=0.2, q_sl=0.3, q_dl=0.08, grow=0.9))]
    assert bad == ["differs"] * 6
    assert R.claims_clustering(_table(q_sl=0.3))[3].verdict == "differs"  # q^SL far from 0.67


def test_model_and_sweep_claims_follow_their_criteria():
    props = FG.fort_ganguli_properties(n_samples=300, n_classes=10, dim=200, sigma_z=15.0, seed=0)
    rows = R.claims_model(props, [0.71, 0.95])
    assert [r.verdict for r in rows][2] == "reproduces"  # C − 1 outliers
    assert rows[3].verdict == "differs"  # mean 83 % is more than 10 points from 71 %
    z = np.array([0.1, 1.0, 10.0, 100.0])
    sweep = pd.DataFrame({"sigma_z": z, "positive_curvature": [4.0, 4.0, 3.5, 3.0],
                          "positive_curvature_projected": [2.5, 2.4, 2.6, 2.3],
                          "eq8_curvature": [4.1, 4.1, 3.6, 3.2], "eq8_curvature_projected": [3.0] * 4})
    peaks = pd.DataFrame({"power": [0.0, 0.2], "peak_sigma_z": [0.1, 1.0], "interior": [False, True],
                          "rise": [1.0, 3.0], "fall": [9.0, 2.0]})
    verdicts = [r.verdict for r in R.claims_sweep(sweep, peaks, 0.2)]
    assert verdicts == ["reproduces", "reproduces", "differs"]
    assert R.claims_sweep(sweep, peaks, 0.0)[0].verdict == "differs"
    assert [r.verdict for r in R.claims_eq8(sweep)] == ["reproduces", "differs"]


def test_substitutions_of_the_paper_profile_and_the_profile_classes():
    paper, quick = settings("fort_ganguli", "paper"), settings("fort_ganguli", "quick")
    assert paper.model["sigma_c"] == pytest.approx(1 / math.sqrt(1000)) and paper.basis_dim == 10
    assert len(paper.sweep_sigma_z) == 21 and paper.sweep_sigma_z[0] == pytest.approx(1e-3)
    table = R.substitutions(quick)
    assert list(table.columns) == ["item", "Fort & Ganguli", "this page"] and len(table) == 8
    assert "measured on the networks" in table["this page"].iloc[3]
    assert "σ_z^0.25" in R.substitutions(quick.replace(sigma_c_power=0.25))["this page"].iloc[3]
    assert "fg_setting" not in settings("features", "paper").field_names()


def test_paper_profile_code_path_on_a_tiny_stand_in(tmp_path, monkeypatch):
    """The notebook's calls under the paper profile (cache on, its dtype, σ_c law measured on the
    networks, hyperplanes), with tiny stand-ins for its networks and data and tiny sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from goldilocks_core import plotting

    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    mlp = {"name": "MLP (stand-in)", "arch": "mlp", "dataset": "digits", "widths": [64, 12, 10], "num_samples": 40}
    lenet5 = {"name": "LeNet-5 (stand-in)", "arch": "lenet5", "dataset": "gaussian", "num_samples": 20,
              "data_options": {"shape": [1, 32, 32], "num_samples": 100, "seed": 0}}
    paper = settings("fort_ganguli", "paper")
    cfg = settings("fort_ganguli", "paper", device="cpu",
                   model={**paper.model, "n_samples": 40, "dim": 60, "sigma_c": 1 / math.sqrt(60),
                          "sigma_e": 0.7 / math.sqrt(60)},
                   num_seeds=2, sweep_sigma_z=(1e-3, 0.1, 10.0, 100.0), num_bases=2,
                   networks=(mlp, lenet5), num_measure=20, train_steps=2)
    assert cfg.profile == "paper" and cfg.cache and cfg.sigma_c_power is None and cfg.train_dtype == "float32"
    assert cfg.activations == ("relu", "tanh") and cfg.top_k == cfg.basis_dim == cfg.model["n_classes"] == 10
    CHAPTER = "Related work: Fort & Ganguli"
    assert len(R.substitutions(cfg)) == 8
    table = FG.fig1(cfg)
    assert list(table["network"].unique()) == ["MLP (stand-in)", "LeNet-5 (stand-in)"]
    assert len(table) == 2 * 2 * 2 and (table["num_train"] == [40] * 4 + [20] * 4).all()
    assert (table["steps"] == 2).all()
    entries = sorted(tmp_path.glob("fort-ganguli-fig1-*.pkl"))
    assert len(entries) == 4  # one per (network, activation)
    exponents = FG.coupling_exponents(table)
    assert list(exponents.columns) == ["network", "activation", "exponent"] and len(exponents) == 4
    assert all(isinstance(v, float) for v in R.network_numbers(table, exponents).values())
    assert R.network_table(table).shape == (8, 7)
    figures = [plotting.fort_ganguli_clustering(table)]
    assert R.exponent_table(exponents).shape == (4, 1)
    rows = R.claims_clustering(table)
    shown = C.show("claims-fort-ganguli-clustering", rows, chapter=CHAPTER, display=False)
    assert len(shown.to_frame()) == 2 + 4
    power = FG.chosen_power(cfg, exponents)
    assert power >= 0.0
    out = FG.model_figures(cfg, power)
    numbers = R.model_numbers(out)
    assert len(out["properties"]["eigenvalues"]) == 60 and len(out["powers"]) == numbers["fg-power-n"] == 2
    figures.append(plotting.fort_ganguli_spectrum(out["properties"]))
    rows += R.claims_model(out["properties"], out["powers"])
    assert len(R.peaks_display(out["peaks"])) == len({0.0, 0.25, 0.5, 0.75, power})
    figures.append(plotting.fort_ganguli_sweep(out))
    rows += R.claims_sweep(out["sweep"], out["peaks"], out["power"])
    curv = R.curvature_table(out["sweep"], [1e-3, 1.0, 10.0, 100.0])
    assert "model (d)" in curv and len(curv) == 4
    rows += R.claims_eq8(out["sweep"])
    assert len(out["sweep"]) == 4 and len(rows) == 6 + 4 + 3 + 2
    assert {r.verdict for r in rows} <= {"reproduces", "differs"}
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figures)
    plt.close("all")
    # a second run is served from the cache: the networks are not trained again
    monkeypatch.setattr(FG, "network_clustering", lambda *a, **k: pytest.fail("fig1 recomputed a cached point"))
    pd.testing.assert_frame_equal(FG.fig1(cfg), table)
    assert sorted(tmp_path.glob("fort-ganguli-fig1-*.pkl")) == entries
