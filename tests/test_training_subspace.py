"""Training confined to random hyperplanes and spheres (goldilocks_core.training.subspace)."""
import math

import pytest
import torch

from goldilocks_core import models, training
from goldilocks_core.functional import flat_parameters
from goldilocks_core.training import subspace as S


def tiny(seed=0, widths=(6, 8, 5, 3)):
    g = torch.Generator().manual_seed(seed)
    model = models.mlp(list(widths), generator=g, dtype=torch.float64)
    x = torch.randn(40, widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, widths[-1], (40,), generator=g)
    return model, (x, y), (x[:20], y[:20])


def test_tangent_basis_is_orthonormal_and_orthogonal_to_the_direction():
    model, _, _ = tiny()
    direction, norm = S.unit_direction(model)
    assert norm == pytest.approx(float(flat_parameters(model).norm()))
    R = S.tangent_basis(direction, 7, generator=torch.Generator().manual_seed(1))
    assert R.shape == (direction.numel(), 7)
    assert torch.allclose(R.T @ R, torch.eye(7, dtype=torch.float64), atol=1e-12)
    assert float((R.T @ direction).abs().max()) < 1e-12
    again = S.tangent_basis(direction, 7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(R, again)


@pytest.mark.parametrize("args, message", [
    ((torch.zeros(5), 2), "nonzero"),
    ((torch.ones(5), 5), "at most P − 1"),
    ((torch.ones(5), 0), "d must be an integer >= 1"),
    ((torch.ones(2, 3), 1), "flat"),
])
def test_tangent_basis_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        S.tangent_basis(*args)


def test_surface_points_lie_on_their_surface():
    direction = torch.tensor([0.6, 0.8, 0.0], dtype=torch.float64)
    R = torch.tensor([[0.0], [0.0], [1.0]], dtype=torch.float64)
    u = torch.tensor([2.0], dtype=torch.float64)
    plane = S.surface_point(direction, R, 3.0, u, "hyperplane")
    assert torch.allclose(plane, torch.tensor([1.8, 2.4, 2.0], dtype=torch.float64))
    sphere = S.surface_point(direction, R, 3.0, u, "sphere")
    assert float(sphere.norm()) == pytest.approx(3.0)
    assert torch.allclose(sphere / sphere.norm(), plane / plane.norm())
    with pytest.raises(ValueError, match="unknown surface 'torus'"):
        S.surface_point(direction, R, 3.0, u, "torus")


def test_lr_rules():
    assert S.subspace_lr("fixed", 0.1, 100.0, 3) == 0.1
    assert S.subspace_lr("scaled", 0.1, 100.0, 3) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="unknown lr_rule"):
        S.subspace_lr("adaptive", 0.1, 1.0, 3)


def test_full_dimension_identity_basis_at_the_kaiming_radius_is_plain_gradient_descent():
    model, train, test = tiny()
    P = models.num_parameters(model)
    _, norm = S.unit_direction(model)
    res = S.train_subspace(model, train, test, radii=[norm], dims=P, base_lr=0.3, steps=6,
                           basis=torch.eye(P, dtype=torch.float64), progress=False)
    grid = training.train_networks(model, train, test, alphas=[1.0], base_lrs=[0.3], steps=6, log_every=6,
                                   progress=False)
    theta_gd = torch.cat([v.flatten() for v in grid.parameters[(1.0, 0.3)].values()])
    theta_sub = flat_parameters(model) + res.latent[0]
    assert torch.allclose(theta_sub, theta_gd, rtol=1e-10, atol=1e-12)
    last = res.frame.iloc[-1]
    gd_last = grid.frame.iloc[-1]
    assert last["train_loss"] == pytest.approx(gd_last["train_loss"], rel=1e-10)
    assert last["test_accuracy"] == pytest.approx(gd_last["test_accuracy"])


def test_grid_cells_rules_and_spheres():
    model, train, test = tiny()
    _, norm = S.unit_direction(model)
    res = S.train_subspace(model, train, test, radii=[0.5 * norm, norm, 2 * norm], dims=(2, 5), base_lr=0.1,
                           steps=4, surfaces=("hyperplane", "sphere"), lr_rules=("fixed", "scaled"),
                           progress=False, basis_seed=3)
    f = res.frame
    assert list(f.columns) == list(S.SUBSPACE_COLUMNS)
    assert len(f) == 2 * 3 * 2 * 2 * 2  # cells × (first, last step)
    assert set(f["step"]) == {0, 4}
    assert not f["diverged"].any() and f[["train_loss", "test_accuracy"]].notna().all().all()
    sphere = f[f["surface"] == "sphere"]
    assert (sphere["param_norm"] - sphere["radius"]).abs().max() < 1e-10
    plane = f[(f["surface"] == "hyperplane") & (f["step"] == 4)]
    assert (plane["param_norm"] >= plane["radius"] * (1 - 1e-12)).all()  # R ⊥ θ̂: never closer to 0
    scaled = f[f["lr_rule"] == "scaled"]
    assert (scaled["lr"] - 0.1 * scaled["alpha"] ** (2 - 3)).abs().max() < 1e-12
    assert (f["alpha"] - f["radius"] / norm).abs().max() < 1e-12
    assert [len(u) for u in res.latent] == [2, 2, 5, 5] * 3 * 2  # nested dims, in cell order
    start = f[f["step"] == 0]
    spread = start.groupby("radius")["train_loss"].agg(lambda v: v.max() - v.min())
    assert spread.max() < 1e-12  # every cell starts at r·θ̂


def test_a_cell_of_dimension_d_equals_a_run_with_only_that_dimension():
    model, train, test = tiny()
    _, norm = S.unit_direction(model)
    kw = dict(radii=[norm], base_lr=0.2, steps=3, basis_seed=5, progress=False)
    both = S.train_subspace(model, train, test, dims=(2, 4), **kw)
    alone = S.train_subspace(model, train, test, dims=(2,), basis=S.tangent_basis(
        S.unit_direction(model)[0], 4, generator=torch.Generator().manual_seed(5)), **kw)
    assert torch.allclose(both.latent[0], alone.latent[0], atol=1e-13)


def test_divergence_is_recorded_not_raised():
    model, train, test = tiny()
    _, norm = S.unit_direction(model)
    res = S.train_subspace(model, train, test, radii=[norm, 1000 * norm], dims=3, base_lr=1e6, steps=30,
                           progress=False)
    last = res.frame[res.frame["step"] == 30].set_index("radius")
    assert bool(last.loc[1000 * norm, "diverged"])
    assert math.isnan(last.loc[1000 * norm, "test_accuracy"])
    assert torch.isnan(res.latent[1]).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(radii=[]), "radii must not be empty"),
    (dict(radii=[-1.0]), "radii must be a positive"),
    (dict(dims=0), "dims must be an integer >= 1"),
    (dict(dims=10_000), "exceeds the number of parameters"),
    (dict(dims=(3, 3)), "dims has duplicates"),
    (dict(surfaces=("plane",)), "unknown surface 'plane'"),
    (dict(lr_rules=()), "lr_rules must not be empty"),
    (dict(steps=0), "steps must be an integer >= 1"),
    (dict(base_lr=0.0), "base_lr must be a positive"),
    (dict(basis=torch.zeros(103, 3)), "basis is all zero"),
    (dict(basis=torch.eye(103, 2, dtype=torch.float64)), "need a basis with as many columns"),
])
def test_bad_input_is_a_one_line_value_error(kwargs, message):
    model, train, test = tiny()
    args = dict(radii=[1.0], dims=3, base_lr=0.1, steps=2, progress=False) | kwargs
    with pytest.raises(ValueError, match=message) as err:
        S.train_subspace(model, train, test, **args)
    assert "\n" not in str(err.value)
