"""The vmapped training engine (goldilocks_core.training): §5 and App. E of Vysogorets et al. (2024)."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from goldilocks_core import models, training
from goldilocks_core.training import checkpoint as ckpt
from goldilocks_core.training.stream import StepData

D, K, N = 5, 3, 24
WIDTHS = [D, 7, 6, K]  # L = 3


def _model(seed=0):
    return models.mlp(WIDTHS, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g, dtype=torch.float64), torch.randint(0, K, (n,), generator=g)


TRAIN, TEST = _data(N, 1), _data(12, 2)
QUIET = dict(progress=False)


def _grid(**kw):
    args = dict(alphas=[0.5, 2.0], base_lrs=[0.05, 0.3], steps=8, log_every=1, **QUIET)
    args.update(kw)
    return training.train_grid(_model(), TRAIN, TEST, **args)


def _plain_gd(alpha, base_lr, steps, temperature=1.0):
    """Reference: the α-scaled nn.Module trained by a hand-written autograd loop."""
    net = models.scale_parameters(_model(), alpha)
    lr = base_lr * alpha ** (2 - 3)
    losses = []
    for _ in range(steps + 1):
        net.zero_grad()
        loss = nn.functional.cross_entropy(net(TRAIN[0]) / temperature, TRAIN[1])
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            for p in net.parameters():
                p -= lr * p.grad
    return np.array(losses)


def test_frame_columns_and_rows():
    df = _grid(log_every=3)
    for col in ("alpha", "base_lr", "step", "train_loss", "train_accuracy", "test_accuracy", "param_norm",
                "grad_norm", "cos_theta0", "cos_neg_grad", "zero_logit_fraction", "diverged"):
        assert col in df.columns
    assert len(df) == 4 * 4  # 4 cells × steps 0, 3, 6, 8
    assert sorted(df.step.unique()) == [0, 3, 6, 8]
    first = df[df.step == 0]
    np.testing.assert_allclose(first.cos_theta0, 1.0, rtol=1e-12)
    np.testing.assert_allclose(first.lr, first.base_lr * first.alpha ** (2 - 3))


def test_vmapped_grid_equals_each_cell_alone_and_a_plain_loop():
    df = _grid()
    for (a, b), cell in df.groupby(["alpha", "base_lr"]):
        alone = training.train_grid(_model(), TRAIN, TEST, alphas=[a], base_lrs=[b], steps=8, **QUIET)
        for col in training.METRICS:
            np.testing.assert_allclose(cell[col].to_numpy(), alone[col].to_numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(cell.train_loss.to_numpy(), _plain_gd(a, b, 8), rtol=1e-10)


def test_eq3_scaled_network_at_temperature_alpha_L_follows_the_unscaled_trajectory():
    """With p shared (T = α^L makes σ_T(f_αθ) = σ(f_θ)), η = η₀·α^(2−L)·T gives θ'_t = α θ_t (Eq. 3)."""
    eta0, steps = 0.2, 10
    base = training.train_networks(_model(), TRAIN, TEST, alphas=[1.0], base_lrs=[eta0], steps=steps, **QUIET)
    for alpha in (0.3, 7.0):
        T = alpha ** 3
        run = training.train_networks(_model(), TRAIN, TEST, alphas=[alpha], base_lrs=[eta0 * T], steps=steps,
                                      temperature=T, **QUIET)
        a, b = run.frame, base.frame
        for col in ("train_loss", "train_accuracy", "test_accuracy", "cos_theta0", "cos_neg_grad"):
            np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a.param_norm.to_numpy(), alpha * b.param_norm.to_numpy(), rtol=1e-10)
        final, ref = run.parameters[(alpha, eta0 * T)], base.parameters[(1.0, eta0)]
        for name in ref:
            torch.testing.assert_close(final[name], alpha * ref[name], rtol=1e-10, atol=1e-12)
        assert not np.allclose(b.train_loss.iloc[-1], b.train_loss.iloc[0])  # it did train


def _uso_step_reference(net, x, y, lr):
    """θ − η (1/N) Σ_n Σ_k (1/K − 1{y_n = k}) ∂z_nk/∂θ with the Jacobian formed explicitly."""
    from goldilocks_core.functional import flat_parameters, logits_function

    f, theta = logits_function(net), flat_parameters(net)
    J = torch.autograd.functional.jacobian(lambda t: f(t, x), theta)  # N×K×P
    coeff = 1.0 / K - nn.functional.one_hot(y, K).double()
    return theta - lr * torch.einsum("nk,nkp->p", coeff, J) / x.shape[0]


def _flat(params):
    return torch.cat([v.reshape(-1) for v in params.values()])


def test_uso_update_is_eq3_with_uniform_coefficients():
    lr = 0.1
    run = training.train_uso_networks(_model(), TRAIN, TEST, base_lrs=[lr], steps=1, **QUIET)
    expected = _uso_step_reference(_model(), *TRAIN, lr)
    torch.testing.assert_close(_flat(run.parameters[(1.0, lr)]), expected, rtol=1e-12, atol=1e-14)


def test_uso_equals_gradient_descent_of_a_network_whose_softmax_is_uniform():
    """With the last layer zero every logit is exactly 0, p = 1/K, and GD takes the USO step."""
    net = _model()
    with torch.no_grad():
        net[-1].weight[:] = 0.0
    gd = training.train_networks(net, TRAIN, TEST, alphas=[1.0], base_lrs=[0.1], steps=1, **QUIET)
    uso = training.train_uso_networks(net, TRAIN, TEST, base_lrs=[0.1], steps=1, **QUIET)
    torch.testing.assert_close(_flat(gd.parameters[(1.0, 0.1)]), _flat(uso.parameters[(1.0, 0.1)]),
                               rtol=1e-13, atol=1e-15)
    assert gd.frame.zero_logit_fraction.iloc[0] == 1.0


def test_uso_path_scales_exactly_with_alpha_and_small_alpha_networks_follow_it():
    eta0, steps = 0.5, 12
    uso = training.train_uso(_model(), TRAIN, TEST, alphas=[1.0, 1e-3], base_lrs=[eta0], steps=steps, **QUIET)
    one, small = uso[uso.alpha == 1.0], uso[uso.alpha == 1e-3]
    np.testing.assert_allclose(small.param_norm.to_numpy(), 1e-3 * one.param_norm.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(small.cos_theta0.to_numpy(), one.cos_theta0.to_numpy(), rtol=1e-10)
    # an α = 10⁻³ network (logits ~ 10⁻⁹, p ≈ 1/K) follows the USO path rescaled by α
    net = training.train_grid(_model(), TRAIN, TEST, alphas=[1e-3], base_lrs=[eta0], steps=steps, **QUIET)
    ratio = net.param_norm.to_numpy() / 1e-3 / one.param_norm.to_numpy()
    np.testing.assert_allclose(ratio[:9], 1.0, rtol=1e-6)
    assert abs(ratio[-1] - 1.0) > 1e-5  # … until ‖θ‖ grows enough for the softmax to leave uniform
    assert one.param_norm.iloc[-1] > one.param_norm.iloc[0]  # the divergence regime: ‖θ‖ grows


def test_divergence_in_one_cell_leaves_the_others_untouched():
    with_bad = _grid(alphas=[0.5, 2.0], base_lrs=[0.05, 1e300])
    without = _grid(alphas=[0.5, 2.0], base_lrs=[0.05])
    good = with_bad[with_bad.base_lr == 0.05].reset_index(drop=True)
    pd.testing.assert_frame_equal(good, without, check_exact=False, rtol=1e-12, atol=1e-14)
    bad = with_bad[with_bad.base_lr == 1e300]
    assert not bad[bad.step == 0].diverged.any()
    later = bad[bad.step >= 2]
    assert later.diverged.all() and later[list(training.METRICS)].isna().all().all()
    assert not good.diverged.any()
    # once diverged, always diverged
    for _, cell in bad.groupby("alpha"):
        d = cell.diverged.to_numpy()
        assert (np.diff(d.astype(int)) >= 0).all()


class _Killed(Exception):
    pass


@pytest.mark.parametrize("kill_after", [2, 5])
def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path, monkeypatch, kill_after):
    args = dict(alphas=[0.5, 2.0], base_lrs=[0.05, 0.3], steps=10, log_every=2, max_cells_per_chunk=2,
                checkpoint_every=3, **QUIET)
    clean = training.train_networks(_model(), TRAIN, TEST, **args)
    saves = {"n": 0}
    original = ckpt.CheckpointStore.save

    def dying_save(self, chunk, state):
        original(self, chunk, state)
        saves["n"] += 1
        if saves["n"] == kill_after:
            raise _Killed

    monkeypatch.setattr(ckpt.CheckpointStore, "save", dying_save)
    with pytest.raises(_Killed):
        training.train_networks(_model(), TRAIN, TEST, cache=tmp_path, **args)
    monkeypatch.setattr(ckpt.CheckpointStore, "save", original)
    resumed = training.train_networks(_model(), TRAIN, TEST, cache=tmp_path, **args)
    pd.testing.assert_frame_equal(resumed.frame, clean.frame, check_exact=False, rtol=1e-13, atol=1e-15)
    # chunk 0 saves at steps 3, 6, 9 and when done (4 saves): kill 2 → resumes chunk 0 at step 6;
    # kill 5 → chunk 0 finished (not recomputed), chunk 1 resumes at step 3
    assert resumed.resumed_from == ([6, 0] if kill_after == 2 else [11, 3])
    again = training.train_networks(_model(), TRAIN, TEST, cache=tmp_path, **args)
    assert again.resumed_from == [11, 11]
    pd.testing.assert_frame_equal(again.frame, clean.frame)
    for cell, params in clean.parameters.items():
        for name, v in params.items():
            torch.testing.assert_close(again.parameters[cell][name], v, rtol=1e-13, atol=1e-15)


def test_cache_key_depends_on_theta0_and_data(tmp_path):
    args = dict(alphas=[1.0], base_lrs=[0.1], steps=2, cache=tmp_path, **QUIET)
    training.train_grid(_model(0), TRAIN, TEST, **args)
    training.train_grid(_model(1), TRAIN, TEST, **args)
    training.train_grid(_model(0), _data(N, 5), TEST, **args)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 3
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("kwargs, match", [
    (dict(alphas=[0.0]), "alpha"), (dict(alphas=[-1.0]), "alpha"), (dict(base_lrs=[0.0]), "base_lr"),
    (dict(base_lrs=[-0.1]), "base_lr"), (dict(steps=0), "steps"), (dict(labels="shuffled"), "labels"),
    (dict(alphas=[]), "alpha"), (dict(steps=2.5), "steps"), (dict(batch_size=0), "batch_size"),
])
def test_bad_input_gives_a_one_line_error(kwargs, match):
    args = dict(alphas=[1.0], base_lrs=[0.1], steps=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as err:
        training.train_grid(_model(), TRAIN, TEST, **args)
    assert "\n" not in str(err.value)


def test_sgd_and_random_labels_share_draws_across_cells():
    for kw in (dict(batch_size=10), dict(labels="random"), dict(labels="redrawn", batch_size=7)):
        df = _grid(alphas=[1.0], base_lrs=[0.05, 0.3], steps=5, **kw)
        for b, cell in df.groupby("base_lr"):
            alone = _grid(alphas=[1.0], base_lrs=[b], steps=5, **kw)
            np.testing.assert_allclose(cell.train_loss.to_numpy(), alone.train_loss.to_numpy(), rtol=1e-10)
    stream = StepData(*TRAIN, K, labels="redrawn", batch_size=None, seed=3)
    assert not torch.equal(stream.targets(0), stream.targets(1))
    again = StepData(*TRAIN, K, labels="redrawn", batch_size=None, seed=3)
    assert torch.equal(stream.targets(4), again.targets(4))
    fixed = StepData(*TRAIN, K, labels="random", batch_size=None, seed=3)
    assert torch.equal(fixed.targets(0), fixed.targets(9)) and not torch.equal(fixed.targets(0), TRAIN[1])
    sgd = StepData(*TRAIN, K, labels="fixed", batch_size=10, seed=0)
    seen = torch.cat([sgd.batch(t)[1] for t in range(3)])  # one epoch: 10 + 10 + 4
    assert seen.numel() == N and torch.equal(seen.sort().values, TRAIN[1].sort().values)


def test_samples_per_pass_and_chunks_do_not_change_the_result():
    ref = _grid()
    np.testing.assert_allclose(_grid(samples_per_pass=7, max_cells_per_chunk=3).train_loss, ref.train_loss,
                               rtol=1e-12)


def test_initial_sharpness_is_the_spectral_norm_of_the_scaled_hessian():
    from goldilocks_core.functional import flat_parameters, logits_function

    alphas = [0.5, 3.0]
    sharp = training.initial_sharpness(_model(), TRAIN, alphas, tol=1e-10)
    f, theta = logits_function(_model()), flat_parameters(_model())
    for a, s in zip(alphas, sharp.sharpness):
        H = torch.autograd.functional.hessian(lambda t: nn.functional.cross_entropy(f(t, TRAIN[0]), TRAIN[1]),
                                              a * theta)
        assert s == pytest.approx(torch.linalg.eigvalsh(H).abs().max().item(), rel=1e-7)
    adm = training.admissibility(sharp, [0.1, 100.0], degree=3)
    assert len(adm) == 4
    np.testing.assert_allclose(adm.lr_sharpness, adm.lr * adm.sharpness)
    assert (adm.admissible == (adm.lr_sharpness < 2)).all()


def test_linear_probe_on_penultimate_features():
    net = _model()
    feats = training.penultimate_features(net, TRAIN[0])
    torch.testing.assert_close(torch.from_numpy(feats), net[:-1](TRAIN[0]))
    out = training.linear_probe(net, TRAIN, TEST)
    assert set(out) == {"train_accuracy", "test_accuracy"}
    assert 0.0 <= out["test_accuracy"] <= 1.0 and out["train_accuracy"] >= 1.0 / K
    trained = training.train_networks(net, TRAIN, TEST, alphas=[1.0], base_lrs=[0.3], steps=3, **QUIET)
    assert 0.0 <= training.linear_probe(trained.network(net, 1.0, 0.3), TRAIN, TEST)["test_accuracy"] <= 1.0


def test_a_grid_whose_cells_all_diverge_reports_nan_rows_and_stops():
    """Regression: with every cell diverged the engine used to run a step on an empty stack."""
    from goldilocks_core.experiments.setup import build

    s = build({"arch": "mlp", "dataset": "digits", "widths": [64, 12, 10], "num_samples": 40}, seed=0,
              dtype=torch.float32)
    df = training.train_grid(s.model, (s.inputs, s.targets), (s.inputs, s.targets), alphas=[1.0, 10.0],
                             base_lrs=[1e30], steps=8, log_every=2, progress=False)
    assert len(df) == 2 * 5 and df.groupby("alpha")["diverged"].last().all()
    assert df.loc[df["step"] == 8, "train_loss"].isna().all()
