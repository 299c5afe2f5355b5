import torch

from goldilocks_core import models
from goldilocks_core.curvature import decompose
import pytest

from goldilocks_core.curvature.reference import dense_g_term, dense_h_term, dense_hessian, subspace_hessian
from goldilocks_core.functional import flat_parameters, logits_function
from goldilocks_core.subspace import random_basis


def test_subspace_hessian_is_the_projected_dense_hessian_and_the_engine_agrees():
    g = torch.Generator().manual_seed(0)
    net = models.mlp([6, 5, 4, 3], generator=g, dtype=torch.float64)
    x = torch.randn(7, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (7,), generator=g)
    R = random_basis(models.num_parameters(net), 4, generator=g, dtype=torch.float64)
    for alpha, temperature in [(1.0, 1.0), (0.3, 2.0), (4.0, 0.5)]:
        H = dense_hessian(net, x, y, alpha=alpha, temperature=temperature)
        Hd = subspace_hessian(net, x, y, R, alpha=alpha, temperature=temperature)
        engine = decompose(net, x, y, R, alpha=alpha, temperature=temperature).hessian
        scale = Hd.abs().max()
        assert torch.allclose(Hd, R.T @ H @ R, atol=1e-12 * scale, rtol=0)
        assert torch.allclose(engine.to(Hd.dtype), Hd, atol=1e-10 * scale, rtol=0)
        # not a tautology: a different point gives a different matrix
        assert not torch.allclose(Hd, subspace_hessian(net, x, y, R, alpha=2 * alpha, temperature=temperature))


def test_dense_split_matches_per_logit_hessians_and_the_engine_term_by_term():
    g = torch.Generator().manual_seed(1)
    net = models.mlp([5, 4, 3, 3], generator=g, dtype=torch.float64)
    x = torch.randn(6, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (6,), generator=g)
    R = random_basis(models.num_parameters(net), 5, generator=g, dtype=torch.float64)
    f = logits_function(net)
    for alpha, temperature in [(1.0, 1.0), (0.5, 3.0), (2.0, 0.2)]:
        G = dense_g_term(net, x, y, alpha=alpha, temperature=temperature)
        Hs = dense_h_term(net, x, y, alpha=alpha, temperature=temperature)
        theta = alpha * flat_parameters(net)
        p = torch.softmax(f(theta, x) / temperature, -1)
        Hz = torch.func.hessian(lambda t: f(t, x))(theta)  # independent: per-logit Hessians
        resid = p - torch.nn.functional.one_hot(y, 3).to(torch.float64)
        Hs_ref = torch.einsum("nk,nkpq->pq", resid, Hz) / (x.shape[0] * temperature)
        assert torch.allclose(Hs, Hs_ref, atol=1e-10 * Hs_ref.abs().max(), rtol=0)
        dec = decompose(net, x, y, R, alpha=alpha, temperature=temperature)
        for mine, ref in ((dec.g_term, R.T @ G @ R), (dec.h_term, R.T @ Hs @ R)):
            assert float((mine - ref).norm() / ref.norm()) < 1e-10


def test_dense_g_term_refuses_bad_temperature():
    net = models.mlp([3, 2, 2], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError):
        dense_g_term(net, torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, dtype=torch.long), temperature=0.0)
