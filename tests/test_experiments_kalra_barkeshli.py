"""Kalra & Barkeshli (2023): the uv model, early-training sharpness, critical constants, drivers."""
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")

from goldilocks_core import claims, models, plotting  # noqa: E402
from goldilocks_core.experiments import kalra_barkeshli as kb  # noqa: E402
from goldilocks_core.experiments import kalra_barkeshli_report as report  # noqa: E402
from goldilocks_core.profiles import settings  # noqa: E402
from goldilocks_core.training import early_sharpness as es  # noqa: E402
from goldilocks_core.training import uv_model as uv  # noqa: E402


# ------------------------------------------------------------------------------ the uv model
@pytest.mark.parametrize("width", [1, 3, 10])
def test_uv_spectrum_in_closed_form_matches_the_autograd_hessian(width):
    u, v = uv.sample_init(width, 4, generator=width)
    for a, b in zip(u, v):
        sim = uv.parameter_space(a, b, eta=0.1, steps=1)
        f, t = uv.observables(a, b)
        assert sim["trace"][0] == pytest.approx(t, rel=1e-12)
        assert sim["sharpness"][0] == pytest.approx(uv.sharpness(f, t, width), rel=1e-12)
        assert sim["frobenius"][0] ** 2 == pytest.approx(uv.frobenius_squared(f, t, width), rel=1e-12)


def test_uv_function_space_map_equals_gradient_descent_on_u_and_v():
    width, steps = 8, 15
    u, v = uv.sample_init(width, 1, generator=3)
    f0, t0 = uv.observables(u[0], v[0])
    lam0 = float(uv.sharpness(f0, t0, width))
    for c in (0.5, 1.5, 2.5, 3.5):  # sub-critical, reduction, catapults
        a = uv.function_space(f0, t0, c / lam0, width, steps)
        b = uv.parameter_space(u[0], v[0], c / lam0, steps)
        for key in ("f", "loss", "trace", "sharpness", "frobenius"):
            scale = np.max(np.abs(b[key]))
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-10 * scale, err_msg=f"{key} at c={c}")


def test_uv_one_step_is_the_gradient_step():
    rng = np.random.default_rng(0)
    u, v, w, eta = rng.normal(size=5), rng.normal(size=5), 5, 0.3
    f, t = uv.observables(u, v)
    u1, v1 = u - eta * f * v / np.sqrt(w), v - eta * f * u / np.sqrt(w)
    f1, t1 = uv.step(f, t, eta, w)
    assert (f1, t1) == pytest.approx(uv.observables(u1, v1), rel=1e-12)


def test_uv_phase_diagram_trace_scaling_diverges_above_four():
    cs = kb.c_grid(0.0, 3.0, 0.05)
    df = uv.phase_diagram([4, 256], cs, num_inits=20, steps=100, scale="trace", generator=1)
    assert set(df.columns) >= {"width", "init", "c_loss", "c_sharp", "c_max", "censored"}
    assert np.allclose(df["c_max"], 2.0 ** 2) and np.allclose(df["c_sharp"], df["c_max"])
    wide = df[df["width"] == 256]["c_loss"].mean()
    narrow = df[df["width"] == 4]["c_loss"].mean()
    assert 2.0 < wide < 2.1 < narrow


# ------------------------------------------------------------------------------ Lanczos
def test_lanczos_top_eigenpairs_of_known_matrices():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 12, 12, generator=g, dtype=torch.float64)
    A = A + A.transpose(1, 2)
    vals, vecs = es.top_hessian_eigenpairs(lambda V: torch.einsum("cij,cj->ci", A, V),
                                           torch.randn(4, 12, generator=g, dtype=torch.float64), 12)
    exact = torch.linalg.eigvalsh(A)[:, -1]
    torch.testing.assert_close(vals, exact)
    torch.testing.assert_close(torch.einsum("cij,cj->ci", A, vecs), exact[:, None] * vecs)


def test_lanczos_breakdown_keeps_negative_top_eigenvalues():
    A = torch.diag_embed(torch.tensor([[-1.0, -2.0, -3.0, -4.0], [3.0, 1.0, 0.0, 0.0]], dtype=torch.float64))
    starts = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    vals, _ = es.top_hessian_eigenpairs(lambda V: torch.einsum("cij,cj->ci", A, V), starts, 4)
    torch.testing.assert_close(vals, torch.tensor([-1.0, 3.0], dtype=torch.float64))


def test_sharpness_of_a_known_quadratic():
    """A bias-free linear map under MSE: H = I_K ⊗ XᵀX/(NK), constant in θ."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=g)
    net = models.constant_width_mlp(6, 5, 1, 3, dtype=torch.float64, generator=g)
    exact = torch.linalg.eigvalsh(x.T @ x)[-1] / (40 * 3)
    lam, _ = es.initial_eigenpairs(net, es.stack_flat([net]), x, y, loss="mse", steps=6)
    assert float(lam[0]) == pytest.approx(float(exact), rel=1e-10)
    cs = np.array([1.0, 3.0, 50.0])
    out = es.early_training(net, es.stack_flat([net] * 3), cs / float(lam[0]), x, y, loss="mse", steps=6,
                            warm_steps=3)
    alive = ~np.isnan(out.sharpness)
    np.testing.assert_allclose(out.sharpness[alive], float(exact), rtol=1e-8)
    assert np.all(np.diff(out.loss[0]) < 0)  # c < 2: monotone decrease
    assert out.loss[1].max() > out.loss[1, 0]  # c > 2 on a quadratic: the loss grows
    assert out.diverged.tolist() == [False, False, True] and out.diverged_step[2] >= 1


def test_cross_entropy_sharpness_matches_the_dense_hessian():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(30, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (30,), generator=g)
    net = models.constant_width_mlp(5, 6, 3, 4, dtype=torch.float64, generator=g)
    theta = es.stack_flat([net])
    from goldilocks_core.functional import logits_function

    f = logits_function(net)
    H = torch.func.hessian(lambda t: es.cell_loss(f(t, x), y, "xent"))(theta[0])
    lam, _ = es.initial_eigenpairs(net, theta, x, y, loss="xent", steps=40)
    assert float(lam[0]) == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-9)


# ------------------------------------------------------------------------------ critical constants
def _synthetic(cs, loss_from=None, sharp_from=None, diverge_from=None, steps=5, bump=1.2):
    M = len(cs)
    loss = np.tile(np.linspace(1.0, 0.5, steps + 1), (M, 1))
    sharp = np.tile(np.linspace(2.0, 1.0, steps + 1), (M, 1))
    div = np.zeros(M, dtype=bool)
    for m in range(M):
        if loss_from is not None and m >= loss_from:
            loss[m, 2] = bump * loss[m, 0]
        if sharp_from is not None and m >= sharp_from:
            sharp[m, 1] = bump * sharp[m, 0]
        if diverge_from is not None and m >= diverge_from:
            div[m] = True
            loss[m, 3:] = np.nan
            sharp[m, 3:] = np.nan
    return loss, sharp, div


def test_critical_constants_from_synthetic_trajectories():
    cs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    cc = es.critical_constants(cs, *_synthetic(cs, loss_from=2, sharp_from=3, diverge_from=5))
    assert cc == (3.0, 4.0, 5.0, False)
    cc = es.critical_constants(cs, *_synthetic(cs, loss_from=2, sharp_from=4))
    assert cc == (3.0, 5.0, 6.0, True)  # nothing diverged: c_max is the grid's end, censored
    cc = es.critical_constants(cs, *_synthetic(cs, diverge_from=3))
    assert cc == (3.0, 3.0, 3.0, False)  # no rise below c_max: the catapult phases are closed
    assert all(math.isnan(v) for v in es.critical_constants(cs, *_synthetic(cs, diverge_from=0))[:3])


def test_critical_constants_round_ratios_to_two_decimals_and_stop_at_the_first_divergence():
    cs = [1.0, 2.0, 3.0]
    small = es.critical_constants(cs, *_synthetic(cs, loss_from=0, sharp_from=0, bump=1.004))
    assert small.c_loss == 3.0 and small.c_sharp == 3.0
    large = es.critical_constants(cs, *_synthetic(cs, loss_from=0, sharp_from=0, bump=1.006))
    assert large.c_loss == 1.0 and large.c_sharp == 1.0
    loss, sharp, div = _synthetic(cs)
    div[1] = True  # c = 2 diverges, c = 3 does not: c_max stops at the first divergence
    assert es.critical_constants(cs, loss, sharp, div).c_max == 1.0


def test_constants_from_flags_is_vectorised():
    cs = np.array([1.0, 2.0, 4.0, 8.0])
    rng = np.random.default_rng(0)
    flags = rng.random((3, 5, 3, 4)) < 0.4
    c_loss, c_sharp, c_max, censored = es.constants_from_flags(cs, *flags)
    for i in range(5):
        for j in range(3):
            one = es.constants_from_flags(cs, flags[0, i, j], flags[1, i, j], flags[2, i, j])
            np.testing.assert_equal([c_loss[i, j], c_sharp[i, j], c_max[i, j], censored[i, j]], one)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("call, message", [
    (lambda: es.cell_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), "hinge"), "loss must be one of"),
    (lambda: es.top_hessian_eigenpairs(lambda V: V, torch.ones(2, 3), 4), "exceeds the dimension"),
    (lambda: es.top_hessian_eigenpairs(lambda V: V, torch.zeros(2, 3), 2), "non-zero"),
    (lambda: es.critical_constants([2.0, 1.0], np.ones((2, 3)), np.ones((2, 3)), [False, False]),
     "strictly increasing"),
    (lambda: es.critical_constants([1.0, 2.0], np.ones((2, 1)), np.ones((2, 1)), [False, False]), "T ≥ 1"),
    (lambda: es.stack_flat([]), "at least one model"),
    (lambda: uv.step(1.0, 2.0, 0.1, 0), "width must be a positive integer"),
    (lambda: uv.phase_diagram([4], [1.0, 2.0], scale="frobenius"), "scale must be one of"),
    (lambda: uv.parameter_space([1.0], [1.0, 2.0], 0.1, 3), "same length"),
    (lambda: models.constant_width_mlp(4, 8, 0), "depth must be a positive integer"),
    (lambda: models.constant_width_mlp(4, 8, 2, last_layer_variance=-1.0), "last_layer_variance"),
    (lambda: kb.c_grid(1.0, 0.0, 0.5), "x_min ≤ x_max"),
])
def test_bad_input_is_a_one_line_value_error(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


def test_early_training_checks_its_learning_rates():
    net = models.constant_width_mlp(3, 4, 2, 2, dtype=torch.float64)
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1])
    with pytest.raises(ValueError, match="one per cell"):
        es.early_training(net, es.stack_flat([net, net]), [0.1], x, y)


# ------------------------------------------------------------------------------ the network
def test_constant_width_mlp_initialisation_and_degree():
    net = models.constant_width_mlp(300, 400, 4, 10, generator=torch.Generator().manual_seed(0))
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linear] == [(400, 300), (400, 400), (400, 400), (10, 400)]
    assert all(m.bias is None for m in linear) and models.homogeneity_degree(net) == 4
    assert float(linear[1].weight.detach().var() * 400) == pytest.approx(2.0, rel=0.02)
    assert float(linear[-1].weight.detach().var() * 400) == pytest.approx(1.0, rel=0.05)


# ------------------------------------------------------------------------------ drivers (offline, tiny)
@pytest.fixture(scope="module")
def tiny():
    cfg = settings("kalra_barkeshli", "offline").replace(
        num_train=50, measure_samples=30, architectures=((2, 16), (2, 8), (3, 8)), xent_architectures=None,
        demo_architectures=((2, 8),), demo_xs=(0.0, 2.0), num_inits=2, steps=3, x_min=0.0, x_max=4.0,
        x_step=1.0, lanczos_steps=5, warm_steps=2, uv_widths=(2, 8, 32), uv_inits=5, uv_steps=20,
        uv_x_step=0.25, uv_demo_width=4, uv_demo_steps=4, cache=False)
    data = kb.load_data(cfg)
    return {"cfg": cfg, "data": data, "mse": kb.fcn_phase_diagram(cfg, "mse", data=data),
            "xent": kb.fcn_phase_diagram(cfg, "xent", data=data), "demo": kb.trajectory_demo(cfg, data=data),
            "uv": kb.uv_phase_diagrams(cfg), "check": kb.uv_check(cfg)}


def test_offline_profile_runs_on_digits(tiny):
    cfg, (train, measure) = tiny["cfg"], tiny["data"]
    assert cfg.dataset == "digits" and train.inputs.shape == (50, 64) and measure.inputs.shape == (30, 64)
    c = tiny["mse"]["constants"]
    assert len(c) == 3 * 2 and set(c["d_over_w"]) == {2 / 16, 2 / 8, 3 / 8}
    assert c[["c_loss", "c_sharp", "c_max"]].notna().all().all()
    t = tiny["mse"]["trajectories"]
    assert len(t) == 3 * 2 * 5 * 4 and (t.loc[t["step"] == 0, "loss_ratio"] == 1.0).all()
    s = kb.phase_summary(c)
    assert list(s["d_over_w"]) == sorted(s["d_over_w"]) and (s["inits"] == 2).all()
    assert set(tiny["demo"]["c"]) == {1.0, 4.0}
    assert tiny["demo"]["sharpness_ratio"].notna().any()


def test_offline_report_and_figures(tiny):
    m = report.fcn_numbers(tiny["mse"]["constants"], tiny["mse"]["trajectories"])
    x = report.fcn_numbers(tiny["xent"]["constants"], tiny["xent"]["trajectories"])
    assert m["dw_min"] == 2 / 16 and m["dw_max"] == 3 / 8 and 0.0 <= m["ordered"] <= 1.0
    rows = report.fcn_claims_rows(m, x)
    u = report.uv_numbers(tiny["uv"])
    rows += report.uv_claims_rows(u)
    assert all(r.verdict in claims.VERDICTS for r in rows) and len(rows) == 15
    assert u["w_min"] == 2 and u["w_max"] == 32
    assert tiny["check"]["max_rel_diff"] < 1e-10
    table = kb.substitutions(tiny["cfg"])
    assert list(table.columns) == ["aspect", "paper", "this page"] and "digits" in table.iloc[0, 2]
    assert table.map(len).max().max() <= 50  # pandas cuts longer cells in the HTML table
    shown = kb.phase_table(tiny["mse"]["constants"])
    assert list(shown["d/w"]) == ["1/8", "1/4", "3/8"] and "⟨c_loss⟩" in shown
    assert max(len(line) for line in repr(claims.ClaimsTable(rows, "kb")).splitlines()) <= 100
    figs = [plotting.early_trajectories(tiny["demo"]),
            plotting.early_phase_diagram({"MSE": kb.phase_summary(tiny["mse"]["constants"])}),
            plotting.uv_check_figure(tiny["check"]), plotting.uv_phase_figure(kb.uv_summary(tiny["uv"]))]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
    matplotlib.pyplot.close("all")


def test_profiles_of_the_chapter():
    paper = settings("kalra_barkeshli", "paper")
    assert paper.batch_size == 512 and paper.x_step == 0.1 and paper.num_inits == 10 and paper.steps == 10
    quick = settings("kalra_barkeshli", "quick")
    assert quick.dataset == "fashion_mnist" and 250 <= quick.num_train <= 1000
    assert isinstance(kb.substitutions(quick), pd.DataFrame)


def test_paper_profile_code_path_on_a_tiny_stand_in(tmp_path, monkeypatch):
    """The notebook's calls under the paper profile (SGD batches, a measurement subset of the training
    set, float64, no early stop of the sharpness tracking, PyTorch's own thread count), with scikit-learn's
    digits standing in for CIFAR-10 and tiny sizes."""
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    cfg = settings("kalra_barkeshli", "paper", device="cpu", dataset="digits", num_train=60, batch_size=20,
                   measure_samples=30, architectures=((2, 16), (2, 8), (3, 8)), demo_architectures=((2, 8),),
                   demo_xs=(0.0, 2.0), num_inits=2, steps=3, x_max=4.0, x_step=1.0, lanczos_steps=5, warm_steps=2,
                   uv_widths=(2, 8, 32), uv_inits=5, uv_steps=20, uv_x_step=0.25, uv_demo_width=4,
                   uv_demo_steps=4)
    assert cfg.profile == "paper" and cfg.dtype == "float64" and cfg.image_size is None
    assert cfg.xent_architectures is None and not cfg.until_rise and cfg.threads is None
    threads = torch.get_num_threads()
    table = kb.substitutions(cfg)
    assert list(table.columns) == ["aspect", "paper", "this page"] and "SGD, batch 20" in table.iloc[2, 2]
    data = kb.load_data(cfg)
    train, measure = data
    assert train.inputs.shape == (60, 64) and measure.inputs.shape == (30, 64)
    assert train.inputs.dtype == torch.float64 and train.inputs.device.type == "cpu"
    demo = kb.trajectory_demo(cfg, data=data)
    assert set(demo["c"]) == {1.0, 4.0} and len(demo) == 2 * 4
    figures = [plotting.early_trajectories(demo)]
    mse = kb.fcn_phase_diagram(cfg, "mse", data=data)
    xent = kb.fcn_phase_diagram(cfg, "xent", data=data)
    for out, loss in ((mse, "mse"), (xent, "xent")):  # xent_architectures None: the same architectures
        c, t = out["constants"], out["trajectories"]
        assert len(c) == 3 * 2 and set(c["d_over_w"]) == {2 / 16, 2 / 8, 3 / 8} and (c["loss"] == loss).all()
        assert {"lambda0", "c_loss", "c_sharp", "c_max", "censored"} <= set(c)
        assert len(t) == 3 * 2 * 5 * 4 and (t.loc[t["step"] == 0, "loss_ratio"] == 1.0).all()
    shown = kb.phase_table(mse["constants"])
    assert list(shown["d/w"]) == ["1/8", "1/4", "3/8"] and (shown["inits"] == 2).all()
    m = report.fcn_numbers(mse["constants"], mse["trajectories"])
    x = report.fcn_numbers(xent["constants"], xent["trajectories"])
    report.glue_numbers(m, "kb-mse")
    report.glue_numbers(x, "kb-xent")
    summaries = {"MSE": kb.phase_summary(mse["constants"]), "cross-entropy": kb.phase_summary(xent["constants"])}
    figures.append(plotting.early_phase_diagram(summaries))
    chapter = "Related work: Kalra & Barkeshli"
    fcn = claims.show("claims-kalra-barkeshli-fcn", report.fcn_claims_rows(m, x), chapter=chapter, display=False)
    check = kb.uv_check(cfg)
    assert check["width"] == 4 and len(check["frame"]) == 3 * 2 * 5 and check["max_rel_diff"] < 1e-10
    figures.append(plotting.uv_check_figure(check))
    uv_frame = kb.uv_phase_diagrams(cfg)
    assert set(uv_frame["scale"]) == set(uv.SCALES) and set(uv_frame["width"]) == {2, 8, 32}
    u = report.uv_numbers(uv_frame)
    report.glue_numbers(u, "kb-uv")
    figures.append(plotting.uv_phase_figure(kb.uv_summary(uv_frame)))
    uvt = claims.show("claims-kalra-barkeshli-uv", report.uv_claims_rows(u), chapter=chapter, display=False)
    rows = fcn.rows + uvt.rows
    assert len(rows) == 15 and all(r.verdict in claims.VERDICTS for r in rows)
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figures)
    matplotlib.pyplot.close("all")
    assert torch.get_num_threads() == threads
    # the paper profile caches each architecture's runs: 3 + 3 (MSE, cross-entropy) + 1 (demo)
    entries = sorted(tmp_path.glob("kalra-barkeshli-*.pkl"))
    assert len(entries) == 7


def test_phase_diagram_cache_resumes_per_architecture(tmp_path, monkeypatch):
    """A second run loads every architecture from the cache; with one entry lost (a run killed before
    it was written) only that architecture is computed again, and the tables are equal."""
    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    cfg = settings("kalra_barkeshli", "offline", device="cpu", num_train=40, measure_samples=20,
                   architectures=((2, 8), (3, 8)), num_inits=1, steps=2, x_max=2.0, x_step=1.0,
                   lanczos_steps=4, warm_steps=2)
    assert cfg.cache
    data = kb.load_data(cfg)
    first = kb.fcn_phase_diagram(cfg, "mse", data=data)
    entries = sorted(tmp_path.glob("kalra-barkeshli-phase-*.pkl"))
    assert len(entries) == 2
    computed = []
    original = kb.sweep_architecture

    def counting(depth, width, *args, **kwargs):
        computed.append((depth, width))
        return original(depth, width, *args, **kwargs)

    monkeypatch.setattr(kb, "sweep_architecture", counting)
    again = kb.fcn_phase_diagram(cfg, "mse", data=data)
    assert computed == []
    pd.testing.assert_frame_equal(first["constants"], again["constants"])
    pd.testing.assert_frame_equal(first["trajectories"], again["trajectories"])
    entries[0].unlink()
    resumed = kb.fcn_phase_diagram(cfg, "mse", data=data)
    assert len(computed) == 1
    pd.testing.assert_frame_equal(first["constants"], resumed["constants"])
    # another setting (one more step) is another entry, never the stored one
    longer = kb.fcn_phase_diagram(cfg.replace(steps=3), "mse", data=data)
    assert len(computed) == 3 and len(longer["trajectories"]) > len(first["trajectories"])
