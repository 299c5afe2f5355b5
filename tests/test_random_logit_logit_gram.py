"""The Gram matrix of logit gradients over all parameters (empirical NTK) and F&G's q's from it."""
import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from goldilocks_core import models
from goldilocks_core.random_logit import (
    clustering_from_gram,
    gram_statistics,
    logit_gradient_clustering,
    logit_gradient_gram,
)

DT = torch.float64


def explicit_jacobian(net, x):
    params = {n: p.detach() for n, p in net.named_parameters()}
    jac = vmap(jacrev(lambda p, xi: functional_call(net, p, (xi[None],))[0]), in_dims=(None, 0))(params, x)
    return torch.cat([v.reshape(x.shape[0], v.shape[1], -1) for v in jac.values()], -1)


def nets():
    g = torch.Generator().manual_seed(0)
    yield models.mlp([12, 7, 5, 4], generator=g, dtype=DT, activation="tanh"), torch.randn(9, 12, generator=g, dtype=DT)
    yield models.lenet5(1, 16, 4, generator=g, dtype=DT), torch.randn(9, 1, 16, 16, generator=g, dtype=DT)
    conv = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, stride=2, dilation=1), nn.Tanh(), nn.Flatten(),
                         nn.Linear(48, 4)).to(DT)  # biases, padding and stride
    yield conv, torch.randn(9, 2, 8, 8, generator=g, dtype=DT)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_gram_equals_the_explicit_jacobian_gram(index):
    net, x = list(nets())[index]
    j = explicit_jacobian(net, x)
    expected = torch.einsum("mkp,nlp->mknl", j, j)
    got = logit_gradient_gram(net, x, chunk_size=4)  # two chunks and a remainder
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10 * expected.abs().max().item())
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0])
    ref = logit_gradient_clustering(j, y)
    for a, b in zip(clustering_from_gram(got, y), ref):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    stats = gram_statistics(got, y)
    assert stats["grad_norm"] == pytest.approx(j.norm(dim=-1).mean().item(), rel=1e-10)
    means = torch.stack([j[y == k, k].mean(0) for k in range(4)])
    assert stats["class_mean_norm"] == pytest.approx(means.norm(dim=1).mean().item(), rel=1e-10)


def test_clustering_from_gram_leaves_zero_gradients_out_like_the_jacobian_version():
    g = torch.Generator().manual_seed(1)
    j = torch.randn(8, 3, 20, generator=g, dtype=DT) + torch.randn(1, 3, 20, generator=g, dtype=DT)
    j[2, 1] = 0.0
    j[5] = 0.0
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    gram = torch.einsum("mkp,nlp->mknl", j, j)
    for a, b in zip(clustering_from_gram(gram, y), logit_gradient_clustering(j, y)):
        assert a == pytest.approx(b, rel=1e-10)


def test_bad_inputs_raise():
    net, x = next(nets())
    with pytest.raises(ValueError, match="chunk_size"):
        logit_gradient_gram(net, x, chunk_size=0)
    with pytest.raises(ValueError, match="inputs"):
        logit_gradient_gram(net, x[0])
    with pytest.raises(ValueError, match="not supported"):
        logit_gradient_gram(nn.Sequential(nn.Linear(12, 6), nn.LayerNorm(6), nn.Linear(6, 4)).to(DT), x)
    with pytest.raises(ValueError, match="N × K × N × K"):
        clustering_from_gram(torch.zeros(3, 2, 3), [0, 1, 0])
    with pytest.raises(ValueError, match="labels"):
        clustering_from_gram(torch.zeros(3, 2, 3, 2), [0, 1, 2])
    with pytest.raises(ValueError, match="labels"):
        gram_statistics(torch.zeros(3, 2, 3, 2), [0, 1])
