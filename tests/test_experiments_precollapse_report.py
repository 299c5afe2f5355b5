"""goldilocks_core.experiments.precollapse_report and precollapse's drivers: App. D's tables,
cache keys, the robustness loop over seeds and the claims table."""
import pytest

from goldilocks_core.curvature import alpha_grid
from goldilocks_core.experiments import precollapse as pc
from goldilocks_core.experiments import precollapse_report as R
from goldilocks_core.profiles import settings

TINY = {"name": "tiny MLP, digits", "arch": "mlp", "widths": [64, 16, 10], "dataset": "digits", "num_samples": 30}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = settings("appendix_d", "offline", device="cpu", model=TINY, alphas=tuple(alpha_grid(0, 3, 0.25)),
                   entropy_alphas=tuple(alpha_grid(0, 3, 0.5)), subspace_dim=6, num_images=2,
                   robustness_seeds=(1,), robustness_alphas=tuple(alpha_grid(0, 3, 0.5)), gram_chunk_size=8)
    exp = pc.experiment(cfg)
    return cfg, exp, pc.robustness(cfg, exp), R.float64_g_term(cfg, pc.setting_for(cfg))


def test_cache_keys_hold_every_setting_and_the_seed(tiny, tmp_path, monkeypatch):
    cfg, exp, robust, naive = tiny
    s = pc.setting_for(cfg)
    key = pc.cache_key(cfg, s, robust_seed=1)
    assert key["setting"] == "tiny MLP, digits" and key["robust_seed"] == 1 and key["alphas"] == cfg.alphas
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    cached_cfg = cfg.replace(cache=True)
    again = pc.robustness(cached_cfg, exp)
    assert len(list(tmp_path.rglob("*.pkl"))) == 1  # one sweep per extra seed
    assert again.equals(robust) and pc.robustness(cached_cfg, exp).equals(robust)


def test_robustness_one_row_per_seed(tiny):
    cfg, exp, robust, _ = tiny
    assert list(robust.index) == [0, 1] and robust.index.name == "seed"
    assert {"hessian_lo", "g_term_lo", "pc_hessian_closest_to_1"} <= set(robust.columns)
    assert robust.loc[0].equals(__import__("pandas").Series(pc.plateau_summary(
        exp.sweep, plateau_tol=cfg.plateau_tol, g_plateau_tol=cfg.g_plateau_tol), name=0))


def test_tables_and_claims(tiny):
    cfg, exp, robust, naive = tiny
    s = pc.setting_for(cfg)
    w = R.window_table(exp, s.model, s.inputs)
    assert {"α", "pc H", "pc G", "uncertain", "top share"} <= set(w.columns) and len(w) > 0
    e = R.eigen_table(exp)
    assert len(e) == 2 and "cos x_μ₀" in e.columns
    assert len(naive) == len(cfg.alphas) and naive["exactly_zero"].iloc[-1]
    f = R.float64_table(naive, 10.0)
    assert f["α"].min() >= 10 and f["largest runner-up p"].str.contains("e").all()
    rows = R.claims_rows(exp, robust, naive)
    assert len(rows) == 7
    by = {r.claim: r for r in rows}
    # the log-space engine keeps the G-term's curvature at 1: that row differs; the authors'
    # float64 formula gives exactly zero, so theirs reproduces
    assert by["then G-term curvature drops to 0 (log-space engine)"].verdict == "differs"
    assert by["then G-term curvature drops to 0 (authors' formula, float64)"].verdict == "reproduces"
    assert "exactly 0 from α" in by["then G-term curvature drops to 0 (authors' formula, float64)"].here


def test_sample_label_names_fashion_mnist_classes():
    class S:
        name, targets = "LeNet-300-100, Fashion-MNIST", [8, 3]
    assert R.sample_label(S, 0) == "#0 (bag)"
    S.name = "MLP, digits"
    assert R.sample_label(S, 1) == "#1 (3)"
