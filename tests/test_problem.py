"""One curvature problem, two views: the projected decomposition and the full-space operators agree."""
import numpy as np
import pytest
import torch
from torch import nn

from goldilocks_core import models
from goldilocks_core.problem import CurvatureProblem
from goldilocks_core.subspace import random_basis

F64 = torch.float64


def tiny(dtype=F64, seed=0):
    g = torch.Generator().manual_seed(seed)
    net = models.mlp([6, 7, 5, 3], generator=g, dtype=dtype)  # L = 3
    x = torch.randn(20, 6, generator=g, dtype=dtype)
    y = torch.arange(20) % 3
    return net, x, y


def projected_operator(op, R):
    """Rᵀ(AR) through the operator's matmat (float64 numpy)."""
    R = R.double().numpy()
    return R.T @ op.matmat(R)


@pytest.mark.parametrize("alpha,temperature", [(1.0, 1.0), (2.5, 0.5), (0.3, 3.0)])
def test_the_two_views_agree_on_the_projected_hessian_and_its_terms(alpha, temperature):
    net, x, y = tiny()
    problem = CurvatureProblem(net, x, y, chunk_size=7)
    R = random_basis(models.num_parameters(net), 8, generator=torch.Generator().manual_seed(1), dtype=F64)
    dec = problem.projected(R, alpha=alpha, temperature=temperature)
    for term, matrix in (("hessian", dec.hessian), ("g_term", dec.g_term), ("h_term", dec.h_term)):
        full = projected_operator(problem.operator(alpha=alpha, temperature=temperature, term=term), R)
        ref = np.asarray(matrix, dtype=np.float64)
        assert np.linalg.norm(full - ref) <= 1e-10 * max(np.linalg.norm(ref), 1e-300), term


def test_one_rule_for_targets_degree_dtype_and_chunks():
    net, x, y = tiny()
    with pytest.raises(ValueError, match="integer"):
        CurvatureProblem(net, x, y.double())  # floats refused, as by both views
    with pytest.raises(ValueError, match="contradicts"):
        CurvatureProblem(net, x, y, degree=2)
    with pytest.raises(ValueError, match="chunk_size"):
        CurvatureProblem(net, x, y, chunk_size=0)
    with pytest.raises(ValueError, match="samples"):
        CurvatureProblem(net, x, y[:-1])
    problem = CurvatureProblem(net, x, y)
    assert problem.dtype == F64 and problem.degree_at(2.0) == 3
    op = problem.operator(alpha=2.0)
    assert op.degree == 3 and op.chunk_size == x.shape[0]


def test_a_float32_model_is_evaluated_in_the_problem_dtype():
    net32, x, y = tiny(dtype=torch.float32)
    net64 = models.mlp([6, 7, 5, 3], generator=torch.Generator().manual_seed(0), dtype=F64)
    net64.load_state_dict({k: v.double() for k, v in net32.state_dict().items()})
    R = random_basis(models.num_parameters(net32), 5, generator=torch.Generator().manual_seed(2), dtype=F64)
    a = projected_operator(CurvatureProblem(net32, x, y, dtype=F64).operator(alpha=1.5), R)
    b = projected_operator(CurvatureProblem(net64, x.double(), y).operator(alpha=1.5), R)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert next(net32.parameters()).dtype == torch.float32  # the user's model is not cast


def test_a_model_without_a_readable_degree_needs_one_only_away_from_alpha_one():
    g = torch.Generator().manual_seed(4)
    net = nn.Sequential(nn.Linear(4, 5, bias=False), nn.Tanh(), nn.Linear(5, 3, bias=False)).to(F64)
    x, y = torch.randn(6, 4, generator=g, dtype=F64), torch.arange(6) % 3
    problem = CurvatureProblem(net, x, y)
    R = random_basis(models.num_parameters(net), 4, generator=g, dtype=F64)
    dec = problem.projected(R)  # α = 1: fine
    full = projected_operator(problem.operator(), R)
    np.testing.assert_allclose(full, np.asarray(dec.hessian), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="homogeneous"):
        problem.operator(alpha=2.0)
