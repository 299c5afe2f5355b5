import torch

from goldilocks_core import models
from goldilocks_core.curvature import decompose
from goldilocks_core.curvature.reference import dense_hessian, subspace_hessian
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
