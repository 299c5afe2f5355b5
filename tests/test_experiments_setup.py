import pytest
import torch

from goldilocks_core.experiments.setup import build


def test_build_mlp_on_digits_is_balanced_and_seeded():
    spec = {"name": "MLP", "arch": "mlp", "widths": [64, 30, 10], "dataset": "digits", "num_samples": 205}
    a = build(spec, seed=3)
    b = build(spec, seed=3)
    assert a.inputs.shape == (200, 1, 8, 8) and a.inputs.dtype == torch.float64
    assert torch.bincount(a.targets).tolist() == [20] * 10
    assert a.degree == 2 and a.num_params == 64 * 30 + 300
    assert torch.equal(a.inputs, b.inputs)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    c = build(spec, seed=4)
    assert not torch.equal(next(a.model.parameters()), next(c.model.parameters()))


def test_build_lenet5_on_resized_digits():
    spec = {"arch": "lenet5", "dataset": "digits", "image_size": 32, "num_samples": 20}
    s = build(spec, seed=0)
    assert s.inputs.shape == (20, 1, 32, 32) and s.degree == 5
    assert s.model(s.inputs).shape == (20, 10)


def test_unknown_arch():
    with pytest.raises(ValueError, match="unknown arch"):
        build({"arch": "resnet", "dataset": "digits", "num_samples": 10})
