"""The Fort & Scherlis companion chapter: sphere Hessians, radii, drivers and claims rows."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.func import functional_call

from goldilocks_core import claims, models
from goldilocks_core.curvature import decompose
from goldilocks_core.experiments import fort_scherlis as fs
from goldilocks_core.experiments import fort_scherlis_report as rep
from goldilocks_core.functional import flat_parameters, unflatten
from goldilocks_core.losses import cross_entropy
from goldilocks_core.profiles import settings
from goldilocks_core.training.subspace import tangent_basis, unit_direction


def retraction_hessian(f, theta, U):
    """Hessian of v ↦ f(r(θ + Uv)/‖θ + Uv‖) at v = 0: the projective retraction is second order, so
    this is the Riemannian Hessian of f on the sphere of radius r = ‖θ‖ (Absil et al., Prop. 5.5.5)."""
    r = theta.norm()

    def pulled(v):
        w = theta + U @ v
        return f(r * w / w.norm())

    return torch.autograd.functional.hessian(pulled, torch.zeros(U.shape[1], dtype=theta.dtype))


def test_sphere_hessian_of_a_quadratic_equals_the_analytic_one():
    g = torch.Generator().manual_seed(0)
    n = 7
    A = torch.randn(n, n, generator=g, dtype=torch.float64)
    A = A + A.T
    b = torch.randn(n, generator=g, dtype=torch.float64)
    theta = 2.5 * torch.randn(n, generator=g, dtype=torch.float64)
    U = tangent_basis(theta, n - 1, generator=g)

    def f(t):
        return 0.5 * t @ A @ t + b @ t

    expected = retraction_hessian(f, theta, U)
    slope = float(theta @ (A @ theta + b))  # θ·∇f
    got = fs.sphere_hessian(U.T @ A @ U, slope, float(theta.norm()))
    assert torch.allclose(got, expected, atol=1e-10)
    # a Rayleigh quotient: on the unit sphere the Hessian of ½θᵀAθ at an eigenvector is A − λI there
    lam, vec = torch.linalg.eigh(A)
    U1 = tangent_basis(vec[:, 0], n - 1, generator=g)
    H1 = fs.sphere_hessian(U1.T @ A @ U1, float(lam[0]), 1.0)
    assert torch.allclose(torch.linalg.eigvalsh(H1), lam[1:] - lam[0], atol=1e-10)


def network(seed=0, widths=(5, 7, 6, 3), n=30):
    g = torch.Generator().manual_seed(seed)
    model = models.mlp(list(widths), generator=g, dtype=torch.float64)
    x = torch.randn(n, widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, widths[-1], (n,), generator=g)
    return model, x, y


def test_sphere_hessian_of_a_network_matches_autograd_on_the_sphere():
    model, x, y = network()
    model = models.scale_parameters(model, 1.7)
    theta = flat_parameters(model)
    direction, r = unit_direction(model)
    R = tangent_basis(direction, 6, generator=torch.Generator().manual_seed(2))

    def loss(t):
        return cross_entropy(functional_call(model, unflatten(model, t), (x,)), y)

    expected = retraction_hessian(loss, theta, R)
    plane = decompose(model, x, y, R).hessian
    with torch.no_grad():
        slope = fs.homogeneous_radial_slope(model(x), y, models.homogeneity_degree(model))
    got = fs.sphere_hessian(plane, slope, r)
    assert torch.allclose(got, expected, atol=1e-9 * float(expected.abs().max()) + 1e-12)


def test_radial_slope_by_forward_mode_equals_euler_and_finite_differences():
    model, x, y = network(1)
    with torch.no_grad():
        euler = fs.homogeneous_radial_slope(model(x), y, 3)
    jvp = fs.radial_slope(model, x, y)
    assert jvp == pytest.approx(euler, rel=1e-10)
    h = 1e-6
    plus, minus = (models.scale_parameters(model, 1 + s) for s in (h, -h))
    with torch.no_grad():
        fd = (cross_entropy(plus(x), y) - cross_entropy(minus(x), y)) / (2 * h)
    assert jvp == pytest.approx(float(fd), rel=1e-6)
    biased = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).double()
    with torch.no_grad():  # not homogeneous: forward mode still gives θ·∇ℓ
        theta = flat_parameters(biased)

        def at(t):
            return cross_entropy(functional_call(biased, unflatten(biased, t), (x,)), y)
        fd = (at(theta * (1 + h)) - at(theta * (1 - h))) / (2 * h)
    assert fs.radial_slope(biased, x, y) == pytest.approx(float(fd), rel=1e-6)


def test_homogeneous_slope_stays_finite_at_huge_logits():
    z = torch.tensor([[1e12, -1e12, 0.0], [0.0, 3e11, 1.0]], dtype=torch.float64)
    y = torch.tensor([1, 1])
    value = fs.homogeneous_radial_slope(z, y, 3)
    assert math.isfinite(value) and value == pytest.approx(3 * (2e12 + 0.0) / 2)


def test_init_radii_of_a_bias_free_mlp():
    model = models.mlp([784, 300, 100, 10])
    r = fs.init_radii(model)
    assert r["kaiming"] == pytest.approx(math.sqrt(2 * (300 + 100 + 10)))
    xavier = 784 * 300 * 2 / 1084 + 300 * 100 * 2 / 400 + 100 * 10 * 2 / 110
    assert r["xavier"] == pytest.approx(math.sqrt(xavier))
    drawn = float(flat_parameters(models.mlp([784, 300, 100, 10], generator=torch.Generator().manual_seed(0))).norm())
    assert drawn == pytest.approx(r["kaiming"], rel=0.01)
    assert fs.init_radii(models.lenet5())["kaiming"] == pytest.approx(math.sqrt(2 * (6 + 16 + 120 + 84 + 10)))
    with pytest.raises(ValueError, match="no Linear or Conv layer"):
        fs.init_radii(torch.nn.ReLU())


@pytest.mark.parametrize("call, message", [
    (lambda: fs.sphere_hessian(torch.zeros(2, 3), 1.0, 1.0), "square"),
    (lambda: fs.sphere_hessian(torch.zeros(2, 2), 1.0, 0.0), "radius must be positive"),
    (lambda: fs.sphere_hessian(torch.zeros(2, 2), math.nan, 1.0), "slope must be finite"),
    (lambda: fs.homogeneous_radial_slope(torch.zeros(3), torch.zeros(3), 2), "need logits"),
    (lambda: fs.homogeneous_radial_slope(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), 0), "degree"),
    (lambda: fs.mean_curves(pd.DataFrame({"surface": []}), "sphere"), "no column"),
    (lambda: rep.meets_zone("torus", 1.0, (0.5, 2.0)), "unknown surface"),
])
def test_bad_input_is_a_one_line_value_error(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


def test_meets_zone():
    zone = (2.0, 8.0)
    assert rep.meets_zone("hyperplane", 0.1, zone) and not rep.meets_zone("hyperplane", 9.0, zone)
    assert rep.meets_zone("sphere", 3.0, zone) and not rep.meets_zone("sphere", 1.0, zone)


@pytest.fixture(scope="module")
def offline_tiny():
    """The offline profile's code path (scikit-learn digits) on tiny sizes."""
    cfg = settings("fort_scherlis", "offline").replace(
        model={**settings("fort_scherlis", "offline").model, "num_samples": 60},
        train_model={**settings("fort_scherlis", "offline").train_model, "num_samples": 100},
        curvature_ratios=(0.01, 0.3, 1.0, 3.0, 1000.0), subspace_dim=4, num_seeds=2, train_ratios=(0.1, 1.0, 10.0),
        train_dims=(2, 6), steps=3, batch_size=50, test_num_samples=50, base_lr=1.0, cache=False)
    cfg = cfg | {"progress": False}
    return cfg, fs.curvature_vs_radius(cfg), fs.subspace_runs(cfg)


def test_offline_profile_path(offline_tiny):
    cfg, curv, runs = offline_tiny
    assert len(curv) == 2 * 5 * 2 and set(curv["surface"]) == {"hyperplane", "sphere"}
    assert curv[["pc", "lc", "trace", "lmax", "loss", "entropy", "shift"]].notna().all().all()  # no NaN at r = 1000 r_K
    assert np.isfinite(curv["pc"]).all() and curv["lc"].between(0, 1).all()
    assert set(curv.attrs["radii"]) == {"xavier", "kaiming"} and curv.attrs["degree"] == 3
    plane = curv[curv["surface"] == "hyperplane"].reset_index(drop=True)
    sphere = curv[curv["surface"] == "sphere"].reset_index(drop=True)
    assert np.allclose(plane["radius"], sphere["radius"]) and np.allclose(plane["loss"], sphere["loss"])
    assert runs["protocol"].nunique() == 2
    assert len(fs.final_accuracies(runs)) == (2 * 3 * 2) + 3
    ok = rep.success_table(runs, (0.5 * runs.attrs["radii"]["kaiming"], 2 * runs.attrs["radii"]["kaiming"]))
    best = ok.groupby("dim")["test_accuracy"].transform("max")
    assert np.allclose(ok["bar"], 0.1 + 0.5 * (best - 0.1)) and ok["success"].dtype == bool
    table = rep.accuracy_table(ok)
    assert table.shape == (5, 3) and max(len(line) for line in repr(table).splitlines()) <= 100
    rows = rep.claims_rows(curv, runs, cfg)
    assert len(rows) == 8 and all(r.verdict in claims.VERDICTS for r in rows)
    assert all(len(r.here) < 100 for r in rows)
    assert rep.substitutions(cfg).shape[1] == 2
    assert rep.setup_table(curv, cfg).shape == (1, 7)
    summary = rep.curvature_summary(curv, cfg)
    assert all(isinstance(v, float) and math.isfinite(v) for v in summary.values())
    assert summary["zone_lo"] <= summary["peak_radius"] <= summary["zone_hi"]
    t = rep.training_summary(ok)
    assert set(t) == {"diverged", "d_min", "best_dmin", "bar_dmin", "d_max", "best_dmax", "bar_dmax"}
    assert (t["d_min"], t["d_max"]) == (2, 6)
    data = rep.curvature_figure_data(curv, cfg)
    assert set(data["curves"]) == {(s, m) for s in ("hyperplane", "sphere") for m in ("pc", "lc")}


def synthetic(pc_plane, pc_sphere, ratios, *, lc=None, entropy=None):
    rows = []
    for seed in (0, 1):
        for i, q in enumerate(ratios):
            for surface, pc in (("hyperplane", pc_plane[i]), ("sphere", pc_sphere[i])):
                rows.append({"seed": seed, "ratio": q, "radius": 10.0 * q, "alpha": q, "surface": surface, "pc": pc,
                             "lc": (lc or [0.5] * len(ratios))[i], "loss": 1.0, "trace": 1.0, "lmax": 1.0,
                             "entropy": (entropy or [0.5] * len(ratios))[i], "shift": 0.0})
    df = pd.DataFrame(rows)
    df.attrs.update(radii={"xavier": 9.0, "kaiming": 10.0}, num_samples=10, num_params=5, degree=3)
    return df


def fake_runs(accuracies):
    """accuracies: {(protocol, surface, ratio): accuracy} at d = 5; K = 10."""
    rows = []
    for (protocol, surface, q), acc in accuracies.items():
        for step in (0, 10):
            rows.append({"protocol": protocol, "surface": surface, "radius": 10.0 * q, "ratio": q, "alpha": q,
                         "dim": 5, "lr_rule": "x", "lr": 1.0, "step": step, "train_loss": 1.0,
                         "train_accuracy": acc, "test_accuracy": 0.1 if step == 0 else acc,
                         "param_norm": 10.0 * q, "diverged": False})
    df = pd.DataFrame(rows)
    df.attrs.update(radii={"xavier": 9.0, "kaiming": 10.0}, num_classes=10, num_params=5, degree=3)
    return df


def test_claims_can_reproduce_and_can_differ():
    ratios = [0.01, 0.1, 1.0, 10.0, 100.0]
    cfg = {"zone_fraction": 0.5, "success_fraction": 0.5}
    curv = synthetic([0.1, 1.0, 4.0, 1.0, 0.0], [0.0, 0.5, 3.0, 0.5, -1.0], ratios,
                     lc=[0.5, 0.6, 0.9, 0.6, 0.5], entropy=[1.0, 0.95, 0.7, 0.2, 0.01])
    fixed, scaled = rep.FIXED, rep.SCALED
    good = {**{(fixed, "hyperplane", q): a for q, a in zip(ratios, [0.8, 0.8, 0.8, 0.1, 0.1])},
            **{(fixed, "sphere", q): a for q, a in zip(ratios, [0.1, 0.1, 0.8, 0.1, 0.1])},
            **{(scaled, "sphere", q): a for q, a in zip(ratios, [0.1, 0.1, 0.8, 0.7, 0.7])}}
    rows = rep.claims_rows(curv, fake_runs(good), cfg)
    assert [r.verdict for r in rows] == ["reproduces"] * 8
    bad = {**good, **{(fixed, "sphere", q): 0.8 for q in ratios}, **{(scaled, "sphere", 10.0): 0.1,
                                                                    (scaled, "sphere", 100.0): 0.1}}
    flat = synthetic([0.1] * 5, [0.1] * 5, ratios)
    rows = rep.claims_rows(flat, fake_runs(bad), cfg)
    verdicts = {r.claim: r.verdict for r in rows}
    assert verdicts["excess positive curvature in a shell of radii"] == "differs"
    assert verdicts["excess of positive eigenvalues in the zone"] == "differs"
    assert verdicts["the zone also shows on hyperspheres"] == "differs"
    assert verdicts["curvature follows softmax confidence"] == "differs"
    rows = rep.claims_rows(curv, fake_runs(bad), cfg)
    verdicts = {r.claim: r.verdict for r in rows}
    assert verdicts["hyperspheres train iff they meet the zone"] == "differs"
    assert verdicts["spheres beyond the zone still train"] == "differs"


def test_figures_draw_from_the_offline_path(offline_tiny):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from goldilocks_core import plotting

    cfg, curv, runs = offline_tiny
    data = rep.curvature_figure_data(curv, cfg)
    fig = plotting.radius_curvature_figure(**data)
    assert len(fig.axes) == 4
    plt.close(fig)
    fig = plotting.subspace_training_figure(**rep.training_figure_data(runs, data["zone"]))
    assert len(fig.axes) == 4
    plt.close(fig)


def test_paper_profile_code_path_on_a_tiny_stand_in(tmp_path, monkeypatch):
    """The notebook's calls under the paper profile (results cache on, float32 training, SGD batches,
    the full test split), with tiny stand-ins for its network and data and tiny sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from goldilocks_core import plotting

    monkeypatch.setenv("GOLDILOCKS_CACHE", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    mlp = {"name": "MLP (stand-in)", "arch": "mlp", "dataset": "digits", "widths": [64, 12, 10], "num_samples": 40}
    gauss = {"name": "MLP (Gaussian stand-in)", "arch": "mlp", "dataset": "gaussian", "widths": [64, 12, 10],
             "num_samples": None, "data_options": {"shape": [1, 8, 8], "num_samples": 40, "seed": 0}}
    cfg = settings("fort_scherlis", "paper", device="cpu", model=mlp, train_model=gauss,
                   curvature_ratios=(0.01, 0.3, 1.0, 3.0, 1000.0), subspace_dim=4, num_seeds=2,
                   train_ratios=(0.1, 1.0, 10.0), train_dims=(2, 6), steps=3, batch_size=20)
    assert cfg.profile == "paper" and cfg.cache and cfg.test_num_samples is None and cfg.train_dtype == "float32"
    assert cfg.base_lr == 30.0 and cfg.chunk_size is None
    assert rep.substitutions(cfg).shape == (5, 2)
    curv = fs.curvature_vs_radius(cfg)
    assert len(curv) == 2 * 5 * 2 and set(curv["surface"]) == {"hyperplane", "sphere"}
    assert {"seed", "ratio", "radius", "alpha", "pc", "lc", "trace", "lmax", "loss", "entropy", "shift"} <= set(curv)
    entries = sorted(tmp_path.glob("fort-scherlis-curvature-*.pkl"))
    assert len(entries) == 2  # one per seed
    setup = rep.setup_table(curv, cfg)
    assert setup.shape == (1, 7) and setup["N"].iloc[0] == 40 and setup["P"].iloc[0] == 64 * 12 + 12 * 10
    figures = [plotting.radius_curvature_figure(**rep.curvature_figure_data(curv, cfg))]
    c = rep.curvature_summary(curv, cfg)
    assert c["next_ratio"] == 10.0 and c["small_ratio"] == 0.1
    runs = fs.subspace_runs(cfg)
    assert runs["protocol"].nunique() == 2 and set(runs["step"]) == {0, 3}
    assert runs.attrs["num_classes"] == 10 and runs.attrs["degree"] == 2
    zone = fs.zone_interval(curv, fraction=cfg.zone_fraction)
    ok = rep.success_table(runs, zone, fraction=cfg.success_fraction)
    assert len(ok) == len(fs.final_accuracies(runs)) == (2 * 3 * 2) + 3
    assert rep.accuracy_table(ok).shape == (5, 3)
    figures.append(plotting.subspace_training_figure(**rep.training_figure_data(runs, zone)))
    t = rep.training_summary(ok)
    assert (t["d_min"], t["d_max"]) == (2, 6)
    rows = rep.claims_rows(curv, runs, cfg)
    table = claims.show("claims-fort-scherlis", rows, chapter="Related work: Fort & Scherlis", display=False)
    assert len(table.to_frame()) == 8 and all(r.verdict in claims.VERDICTS for r in rows)
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figures)
    plt.close("all")
    # a second run is served from the cache: no curvature is computed again
    monkeypatch.setattr(fs, "curvature_seed", lambda *a, **k: pytest.fail("recomputed a cached seed"))
    again = fs.curvature_vs_radius(cfg)
    pd.testing.assert_frame_equal(again, curv)
    assert again.attrs["radii"] == curv.attrs["radii"]
    assert sorted(tmp_path.glob("fort-scherlis-curvature-*.pkl")) == entries
