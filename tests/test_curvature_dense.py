"""The projected-Hessian engine against dense autograd references (float64, tiny nets).

The references form the full P×P Hessian of the loss of the *explicitly* α-scaled model
at temperature T, the G-term from dense Jacobians and the H-term from dense per-logit
Hessians, and only then project on the basis R.
"""
import math

import numpy as np
import pytest
import torch
from torch import nn

from goldilocks_core import models
from goldilocks_core.curvature import decompose, sweep_decompositions
from goldilocks_core.curvature.reference import dense_g_term
from goldilocks_core.functional import flat_parameters, logits_function
from goldilocks_core.models import scale_parameters
from goldilocks_core.subspace import random_basis

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

F64 = torch.float64
POINTS = [(1.0, 1.0), (0.3, 1.0), (2.5, 1.0), (1.0, 0.05), (1.7, 6.0), (0.5, 0.02)]


def tiny_mlp(seed=0):
    g = torch.Generator().manual_seed(seed)
    model = models.mlp([5, 4, 3, 3], generator=g, dtype=F64)
    x = torch.randn(6, 5, dtype=F64, generator=g)
    y = torch.randint(0, 3, (6,), generator=g)
    return model, x, y


def tiny_convnet(seed=0):
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(2, 3, 2, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(12, 3, bias=False),
    ).to(F64)
    models.kaiming_init_(model, generator=g)
    x = torch.randn(5, 1, 8, 8, dtype=F64, generator=g)
    y = torch.tensor([0, 2, 1, 1, 0])
    return model, x, y


NETS = {"mlp": tiny_mlp, "convnet": tiny_convnet}


def dense_reference(model, x, y, basis, alpha, temperature):
    """(RᵀH'R, RᵀG'R, RᵀH'_*R, Rᵀ∇ℓ) of the explicitly scaled model, all dense."""
    f = logits_function(model)
    theta = alpha * flat_parameters(model)
    N, T = x.shape[0], temperature

    def loss(t):
        return nn.functional.cross_entropy(f(t, x) / T, y)

    H = torch.autograd.functional.hessian(loss, theta, vectorize=True)
    grad = torch.autograd.functional.jacobian(loss, theta)
    G = dense_g_term(model, x, y, alpha=alpha, temperature=T)  # from dense logit Jacobians
    Hz = torch.func.hessian(lambda t: f(t, x))(theta)  # (N, K, P, P): dense per-logit Hessians
    p = torch.softmax(f(theta, x) / T, -1)
    resid = p - nn.functional.one_hot(y, p.shape[1]).to(F64)
    Hs = torch.einsum("nk,nkpq->pq", resid, Hz) / (N * T)
    R = basis
    return R.T @ H @ R, R.T @ G @ R, R.T @ Hs @ R, R.T @ grad


def rel(a, b):
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module", params=list(NETS))
def net_case(request):
    model, x, y = NETS[request.param]()
    P = models.num_parameters(model)
    basis = random_basis(P, 7, generator=torch.Generator().manual_seed(3))
    refs = {pt: dense_reference(model, x, y, basis, *pt) for pt in POINTS}
    return request.param, model, x, y, basis, refs


@pytest.mark.parametrize("method", ["layerwise", "hvp"])
def test_decompose_matches_dense_hessian_g_and_h_terms(net_case, method):
    name, model, x, y, basis, refs = net_case
    for (alpha, temperature), (H, G, Hs, grad) in refs.items():
        res = decompose(model, x, y, basis, alpha=alpha, temperature=temperature, method=method)
        assert res.hessian.dtype == F64
        assert rel(res.hessian, H) <= 1e-10, (name, alpha, temperature)
        assert rel(res.g_term, G) <= 1e-10, (name, alpha, temperature)
        assert rel(res.h_term, Hs) <= 1e-10, (name, alpha, temperature)
        assert rel(res.grad, grad) <= 1e-10
        # G + H-term = H, and the normalized matrices times their scales reproduce them
        assert rel(res.g_term + res.h_term, res.hessian) <= 1e-12
        assert rel(10**res.log10_g_term_scale * res.g_term_normalized, res.g_term) <= 1e-12


def test_sweep_reuses_one_jacobian_for_all_points_and_matches_dense(net_case):
    name, model, x, y, basis, refs = net_case
    alphas = [a for a, _ in refs]
    temps = [t for _, t in refs]
    decs = sweep_decompositions(model, x, y, basis, alphas=alphas, temperatures=temps, progress=False)
    for dec, (H, G, Hs, _) in zip(decs, refs.values()):
        assert rel(dec.hessian, H) <= 1e-10
        assert rel(dec.g_term, G) <= 1e-10
        assert rel(dec.h_term, Hs) <= 1e-10


def test_loss_and_entropy_match_the_scaled_model():
    model, x, y = tiny_mlp()
    basis = random_basis(models.num_parameters(model), 4, generator=torch.Generator().manual_seed(1))
    alpha, T = 1.9, 0.4
    res = decompose(model, x, y, basis, alpha=alpha, temperature=T)
    with torch.no_grad():
        z = scale_parameters(model, alpha)(x) / T
    assert math.isclose(res.loss, float(nn.functional.cross_entropy(z, y)), rel_tol=1e-12)
    p = torch.softmax(z, -1)
    assert math.isclose(res.mean_entropy, float(-(p * p.log()).sum(-1).mean()), rel_tol=1e-12)


@pytest.mark.parametrize("alpha", [0.2, 3.0])
def test_eq3_gradient_scales_as_inverse_alpha_at_tied_temperature(alpha):
    """Eq. 3: ∇_{θ'}ℓ = α⁻¹∇_θℓ at T = α^L (p' = p)."""
    model, x, y = tiny_mlp(1)
    basis = random_basis(models.num_parameters(model), 6, generator=torch.Generator().manual_seed(2))
    L = models.homogeneity_degree(model)
    base = decompose(model, x, y, basis)
    tied = decompose(model, x, y, basis, alpha=alpha, temperature=alpha**L)
    assert rel(tied.grad, base.grad / alpha) <= 1e-12
    # against autograd on explicitly scaled weights
    f = logits_function(model)
    theta = alpha * flat_parameters(model)
    g = torch.autograd.functional.jacobian(lambda t: nn.functional.cross_entropy(f(t, x) / alpha**L, y), theta)
    assert rel(tied.grad, basis.T @ g) <= 1e-10
    # and H' = α⁻² H (Eq. 5 with T = α^L)
    assert rel(tied.hessian, base.hessian / alpha**2) <= 1e-12


@pytest.mark.parametrize("alpha, temperature", [(0.05, 1.0), (4.0, 1.0), (3.0, 0.2), (0.3, 30.0)])
def test_eq5_against_explicitly_scaled_weights(alpha, temperature):
    """decompose(f_θ, α, T) equals decompose(f_{αθ}, 1, T): Eq. 5's prefactors are right."""
    model, x, y = tiny_convnet(2)
    basis = random_basis(models.num_parameters(model), 5, generator=torch.Generator().manual_seed(4))
    implicit = decompose(model, x, y, basis, alpha=alpha, temperature=temperature)
    explicit = decompose(scale_parameters(model, alpha), x, y, basis, temperature=temperature)
    for field in ("hessian", "g_term", "h_term", "grad"):
        assert rel(getattr(implicit, field), getattr(explicit, field)) <= 1e-10, field
    L = models.homogeneity_degree(model)
    beta = alpha**L / temperature
    assert math.isclose(implicit.beta, beta, rel_tol=1e-13)
    # Eq. 5 written out: H' = α^{2L−2}/T² G*(p') + α^{L−2}/T H*(p') with G*, H* from α = 1, T = 1/β
    unscaled = decompose(model, x, y, basis, alpha=1.0, temperature=1.0 / beta)
    g_star = unscaled.g_term / beta**2  # G-term at α=1, T=1/β is β² G*(p')
    h_star = unscaled.h_term / beta
    eq5 = alpha ** (2 * L - 2) / temperature**2 * g_star + alpha ** (L - 2) / temperature * h_star
    assert rel(implicit.hessian, eq5) <= 1e-10


@pytest.mark.parametrize("make", list(NETS.values()), ids=list(NETS))
@pytest.mark.parametrize("method", ["layerwise", "hvp"])
def test_full_space_h_term_has_zero_trace(make, method):
    """With R = I (d = P), Tr H-term = Σ_k r_k Tr ∇²z_k = 0: z is linear in each layer's weights."""
    model, x, y = make(5)
    P = models.num_parameters(model)
    res = decompose(model, x, y, torch.eye(P, dtype=F64), alpha=1.3, method=method)
    h = res.h_term_normalized
    assert h.norm() > 0
    assert abs(float(torch.trace(h))) <= 1e-12 * float(h.norm())


class Wrapped(nn.Module):
    """A classifier homogeneity_degree cannot inspect: needs degree= and the generic path."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_any_module_uses_the_generic_path():
    model, x, y = tiny_mlp(3)
    wrapped = Wrapped(model)
    basis = random_basis(models.num_parameters(model), 5, generator=torch.Generator().manual_seed(0))
    a = decompose(wrapped, x, y, basis, alpha=0.7, temperature=0.3)
    b = decompose(model, x, y, basis, alpha=0.7, temperature=0.3)
    assert rel(a.hessian, b.hessian) <= 1e-11
    with pytest.raises(ValueError, match="layer-wise"):
        decompose(wrapped, x, y, basis, method="layerwise")


def test_explicit_degree_for_a_model_homogeneity_degree_cannot_inspect():
    g = torch.Generator().manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 5, bias=False), nn.LeakyReLU(0.2), nn.Linear(5, 3, bias=False)).to(F64)
    models.kaiming_init_(model, generator=g)
    x = torch.randn(6, 4, dtype=F64, generator=g)
    y = torch.randint(0, 3, (6,), generator=g)
    basis = random_basis(models.num_parameters(model), 6, generator=g)
    with pytest.raises(ValueError, match="LeakyReLU"):
        decompose(model, x, y, basis, alpha=2.0)
    H1, _, _, _ = dense_reference(model, x, y, basis, 1.0, 0.7)  # at α = 1 no L is needed
    assert rel(decompose(model, x, y, basis, temperature=0.7).hessian, H1) <= 1e-10
    with pytest.raises(ValueError, match="degree"):
        decompose(model, x, y, basis, degree=0)
    H, G, Hs, _ = dense_reference(model, x, y, basis, 1.4, 0.7)
    for method in ("layerwise", "hvp"):
        res = decompose(model, x, y, basis, alpha=1.4, temperature=0.7, degree=2, method=method)
        assert rel(res.hessian, H) <= 1e-10 and rel(res.h_term, Hs) <= 1e-10


def test_a_degree_that_contradicts_the_model_is_refused():
    """Issue 9: decompose(net, …, alpha=2, degree=3) on an L = 2 MLP was silently 93 % off."""
    from goldilocks_core.curvature import sweep
    from goldilocks_core.estimators import hessian_operator, sharpness

    g = torch.Generator().manual_seed(5)
    model = models.mlp([4, 5, 3], generator=g, dtype=F64)  # L = 2
    x = torch.randn(6, 4, dtype=F64, generator=g)
    y = torch.randint(0, 3, (6,), generator=g)
    basis = random_basis(models.num_parameters(model), 4, generator=g)
    calls = [
        lambda: decompose(model, x, y, basis, alpha=2.0, degree=3),
        lambda: decompose(model, x, y, basis, degree=1),
        lambda: sweep_decompositions(model, x, y, basis, alphas=[2.0], degree=3, progress=False),
        lambda: sweep(model, x, y, basis, alphas=[2.0], degree=3, progress=False),
        lambda: hessian_operator(model, x, y, alpha=2.0, degree=3),
        lambda: hessian_operator(model, x, y, degree=3),
        lambda: sharpness(model, x, y, alpha=2.0, degree=3),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="degree=.* contradicts the model.*L=2"):
            call()
    right = decompose(model, x, y, basis, alpha=2.0, degree=2)
    assert right.degree == 2 and rel(right.hessian, decompose(model, x, y, basis, alpha=2.0).hessian) == 0
    assert hessian_operator(model, x, y, alpha=2.0, degree=np.int64(2)).degree == 2


@pytest.mark.parametrize("kind", ["sparse", "first_layer"])
def test_non_orthonormal_and_layer_restricted_bases(kind):
    """Nothing assumes RᵀR = I: the authors' sparse basis and a first-layer basis agree too."""
    model, x, y = tiny_mlp(6)
    P = models.num_parameters(model)
    g = torch.Generator().manual_seed(7)
    if kind == "sparse":
        basis = random_basis(P, 9, kind="sparse", generator=g)
    else:
        from goldilocks_core.subspace import layer_basis

        basis = layer_basis(model, 9, layers=[0], generator=g)
    H, G, Hs, _ = dense_reference(model, x, y, basis, 0.8, 0.5)
    res = decompose(model, x, y, basis, alpha=0.8, temperature=0.5)
    assert rel(res.hessian, H) <= 1e-10 and rel(res.g_term, G) <= 1e-10
    if kind == "first_layer":  # z is linear in W_1 alone: the H-term vanishes on that block
        assert float(Hs.norm()) <= 1e-13 * float(H.norm())
        assert float(res.h_term.norm()) <= 1e-13 * float(H.norm())
    else:
        assert rel(res.h_term, Hs) <= 1e-10


def test_projected_jacobian_matches_dense_jacobian_and_homogeneity():
    from goldilocks_core.curvature import projected_jacobian

    model, x, _ = tiny_convnet(8)
    P = models.num_parameters(model)
    basis = random_basis(P, 6, generator=torch.Generator().manual_seed(0))
    f = logits_function(model)
    theta = flat_parameters(model)
    J = torch.func.jacrev(lambda t: f(t, x))(theta)
    for method in ("layerwise", "hvp"):
        JR = projected_jacobian(model, x, basis, method=method, chunk_size=2)
        assert JR.shape == (x.shape[0], 3, 6)
        assert rel(JR, J @ basis) <= 1e-12
    # logit gradients of the α-scaled net are α^{L−1} times those of the unscaled one (§3)
    alpha, L = 3.0, models.homogeneity_degree(model)
    Ja = torch.func.jacrev(lambda t: f(t, x))(alpha * theta)
    assert rel(Ja @ basis, alpha ** (L - 1) * JR) <= 1e-12
