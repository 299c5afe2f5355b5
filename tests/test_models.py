import numpy as np
import pytest
import torch
from torch import nn

from goldilocks_core import models
from goldilocks_core.functional import flat_parameters, logits_function, unflatten
from goldilocks_core.losses import cross_entropy, probabilities, softmax_entropy
from goldilocks_core.models import scale_parameters


def test_parameter_counts_match_the_paper():
    assert models.num_parameters(models.lenet_300_100()) == 266_200
    assert models.num_parameters(models.lenet5(in_channels=3, image_size=32)) == 61_770


def test_homogeneity_degree():
    assert models.homogeneity_degree(models.lenet_300_100()) == 3
    assert models.homogeneity_degree(models.lenet5()) == 5
    assert models.homogeneity_degree(models.mlp([4, 3, 2])) == 2


def test_resolve_degree_reads_L_and_refuses_a_contradicting_degree():
    model = models.mlp([4, 3, 2])
    assert models.resolve_degree(model) == 2 and models.resolve_degree(model, 2) == 2
    assert models.resolve_degree(model, np.int64(2)) == 2
    with pytest.raises(ValueError, match="degree=3 contradicts the model.*L=2"):
        models.resolve_degree(model, 3)
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            models.resolve_degree(model, bad)
    hidden = nn.Sequential(nn.Linear(3, 2, bias=False), nn.LeakyReLU(0.1), nn.Linear(2, 2, bias=False))
    assert models.resolve_degree(hidden, 2) == 2  # L cannot be read: the caller's degree is trusted
    with pytest.raises(ValueError, match="LeakyReLU"):
        models.resolve_degree(hidden)


def test_homogeneity_degree_rejects_non_homogeneous():
    with pytest.raises(ValueError, match="bias"):
        models.homogeneity_degree(nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="Tanh"):
        models.homogeneity_degree(nn.Sequential(nn.Linear(3, 2, bias=False), nn.Tanh()))


@pytest.mark.parametrize("alpha", [1e-3, 0.37, 5.0, 1e3])
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda g: models.mlp([12, 9, 7, 4], generator=g, dtype=torch.float64), (5, 12)),
        (lambda g: models.lenet5(in_channels=2, image_size=20, num_classes=4, generator=g, dtype=torch.float64), (3, 2, 20, 20)),
    ],
)
def test_scaled_network_is_homogeneous(make, shape, alpha):
    g = torch.Generator().manual_seed(0)
    model = make(g)
    x = torch.randn(shape, dtype=torch.float64, generator=g)
    L = models.homogeneity_degree(model)
    expected = alpha**L * model(x)
    got = scale_parameters(model, alpha)(x)
    assert torch.allclose(got, expected, rtol=1e-12, atol=0)


def test_kaiming_scale_fan_in():
    g = torch.Generator().manual_seed(1)
    model = models.mlp([2000, 500, 10], generator=g, dtype=torch.float64)
    w = model[1].weight
    assert abs(w.std().item() - (2 / 2000) ** 0.5) < 0.01 * (2 / 2000) ** 0.5 * 5


def test_same_seed_same_network():
    a = models.lenet5(generator=torch.Generator().manual_seed(3))
    b = models.lenet5(generator=torch.Generator().manual_seed(3))
    assert torch.equal(flat_parameters(a), flat_parameters(b))


def test_functional_call_matches_module():
    model = models.mlp([6, 5, 3], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    theta = flat_parameters(model)
    x = torch.randn(4, 6, dtype=torch.float64)
    assert torch.allclose(logits_function(model)(theta, x), model(x))
    assert set(unflatten(model, theta)) == {n for n, _ in model.named_parameters()}
    with pytest.raises(ValueError, match="entries"):
        unflatten(model, theta[:-1])


def test_temperature_softmax_is_finite_at_extremes():
    z = torch.tensor([[1e3, -2e3, 5.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1, 2])
    for t in (1e-9, 1.0, 1e9):
        assert torch.isfinite(cross_entropy(z, y, temperature=t))
        assert torch.isfinite(softmax_entropy(z, temperature=t)).all()
        p = probabilities(z, temperature=t)
        assert torch.allclose(p.sum(-1), torch.ones(2, dtype=torch.float64))
    # uniform logits: loss and entropy equal log K
    assert torch.isclose(cross_entropy(z[1:], y[1:]), torch.log(torch.tensor(3.0, dtype=torch.float64)))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "x"])
def test_bad_alpha_and_temperature(bad):
    model = models.mlp([3, 2])
    with pytest.raises(ValueError, match="alpha"):
        scale_parameters(model, bad)
    with pytest.raises(ValueError, match="temperature"):
        cross_entropy(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), temperature=bad)


def test_homogeneity_error_detects_violations():
    g = torch.Generator().manual_seed(0)
    model = models.mlp([5, 4, 3], generator=g, dtype=torch.float64)
    x = torch.randn(6, 5, dtype=torch.float64, generator=g)
    errors = models.homogeneity_error(model, x, [0.01, 10.0])
    assert max(errors.values()) < 1e-13
    wrong = models.homogeneity_error(model, x, [10.0], degree=3)  # the true degree is 2
    assert wrong[10.0] > 0.5


@pytest.mark.parametrize("make, shape", [
    (lambda **kw: models.mlp([12, 7, 4], **kw), (3, 12)),
    (lambda **kw: models.lenet_300_100(12, 4, **kw), (3, 12)),
    (lambda **kw: models.lenet5(1, 16, 4, **kw), (3, 1, 16, 16)),
])
def test_tanh_activation_swaps_every_relu_and_keeps_the_draw(make, shape):
    relu = make(generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    tanh = make(generator=torch.Generator().manual_seed(3), dtype=torch.float64, activation="tanh")
    kinds = lambda net: [type(m).__name__ for m in net]  # noqa: E731
    assert kinds(tanh) == [k.replace("ReLU", "Tanh") for k in kinds(relu)] and "Tanh" in kinds(tanh)
    for a, b in zip(relu.parameters(), tanh.parameters()):
        assert torch.equal(a, b)
    x = torch.randn(*shape, dtype=torch.float64)
    assert not torch.allclose(relu(x), tanh(x))
    with pytest.raises(ValueError, match="not known to be positively homogeneous"):
        models.homogeneity_degree(tanh)
    with pytest.raises(ValueError, match="activation must be one of"):
        make(activation="gelu")


def test_build_model_reads_the_activation():
    from goldilocks_core.experiments.setup import build_model

    net = build_model({"arch": "mlp", "widths": [6, 5, 3], "activation": "tanh"}, in_shape=(6,), num_classes=3)
    assert any(isinstance(m, nn.Tanh) for m in net)
    assert not any(isinstance(m, nn.Tanh) for m in build_model({"arch": "mlp", "widths": [6, 5, 3]},
                                                                 in_shape=(6,), num_classes=3))
