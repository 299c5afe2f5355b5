"""Full-space curvature operators and stochastic estimators against dense float64 references."""
import numpy as np
import pytest
import torch
from torch import nn

from goldilocks_core import estimators as E
from goldilocks_core import models
from goldilocks_core.functional import flat_parameters, logits_function, parameter_slices
from goldilocks_core.losses import cross_entropy
from goldilocks_core.models import scale_parameters

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
trapezoid = getattr(np, "trapezoid", None) or np.trapz
TERMS = ("hessian", "g_term", "h_term")


# --------------------------------------------------------------------------- fixtures
def tiny_mlp(seed=0):
    g = torch.Generator().manual_seed(seed)
    return models.mlp([6, 5, 4, 3], generator=g, dtype=torch.float64)  # P = 62, L = 3


def tiny_lenet(seed=0):
    """LeNet-5-like: conv → ReLU → AvgPool → conv → ReLU → Flatten → FC → ReLU → FC, L = 4, P = 66."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(2, 3, 2, bias=False), nn.ReLU(), nn.Flatten(),
        nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 3, bias=False),
    ).to(torch.float64)
    return models.kaiming_init_(net, generator=g)


def data(model, n=9, seed=1):
    g = torch.Generator().manual_seed(seed)
    shape = (n, 6) if isinstance(model[1], nn.Linear) else (n, 1, 6, 6)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return x, y


@pytest.fixture(scope="module", params=["mlp", "lenet"])
def setting(request):
    model = tiny_mlp() if request.param == "mlp" else tiny_lenet()
    x, y = data(model)
    return model, x, y


def dense_terms(model, x, y, alpha=1.0, temperature=1.0):
    """Dense H, G-term and H-term of θ' ↦ mean CE(σ_T(f_θ'(x))) at θ' = αθ (explicit scaling)."""
    scaled = scale_parameters(model, alpha) if alpha != 1.0 else model
    f = logits_function(scaled)
    theta = flat_parameters(scaled)
    H = torch.autograd.functional.hessian(lambda t: cross_entropy(f(t, x), y, temperature), theta)
    J = torch.autograd.functional.jacobian(lambda t: f(t, x), theta)  # (N, K, P)
    with torch.no_grad():
        p = torch.softmax(f(theta, x) / temperature, dim=-1)
        r = p - nn.functional.one_hot(y, p.shape[-1]).to(p.dtype)
    M = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    G = torch.einsum("nkp,nkc,ncq->pq", J, M, J) / (temperature**2 * len(y))
    Hs = torch.autograd.functional.hessian(lambda t: (r * f(t, x)).sum() / (temperature * len(y)), theta)
    return H.numpy(), G.numpy(), Hs.numpy()


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


# --------------------------------------------------------------------------- operators
def test_operators_match_dense_autograd(setting):
    model, x, y = setting
    dense = dict(zip(TERMS, dense_terms(model, x, y)))
    P = models.num_parameters(model)
    V = np.random.default_rng(0).standard_normal((P, 3))
    for term in TERMS:
        op = E.hessian_operator(model, x, y, term=term)
        assert op.shape == (P, P) and op.num_params == P
        assert rel(op.matmat(V), dense[term] @ V) <= 1e-10, term
        assert rel(op.matvec(V[:, 0]), dense[term] @ V[:, 0]) <= 1e-10, term
        tv = op.torch_matvec(torch.from_numpy(V[:, 1]))
        assert isinstance(tv, torch.Tensor) and rel(tv.numpy(), dense[term] @ V[:, 1]) <= 1e-10


def test_gauss_newton_split_and_g_term_psd(setting):
    model, x, y = setting
    H, G, Hs = (E.hessian_operator(model, x, y, term=t).to_dense() for t in TERMS)
    assert rel(G + Hs, H) <= 1e-12
    assert np.abs(G - G.T).max() <= 1e-12 * np.abs(G).max()
    eig = np.linalg.eigvalsh((G + G.T) / 2)
    assert eig.min() >= -1e-12 * eig.max()
    assert eig.max() > 0
    assert np.abs(H - H.T).max() <= 1e-12 * np.abs(H).max()


def test_h_term_of_bias_free_relu_network_is_traceless(setting):
    model, x, y = setting
    op = E.h_term_operator(model, x, y)
    Hs = op.to_dense()
    assert abs(np.trace(Hs)) <= 1e-12 * np.linalg.norm(Hs)
    est = E.hutchinson_trace(op, 64, generator=0, progress=False)
    assert abs(est.value) <= 4 * est.standard_error
    # it is the trace that vanishes, not the matrix
    assert np.linalg.norm(Hs) > 1e-3 * np.linalg.norm(E.hessian_operator(model, x, y).to_dense())


def test_chunked_equals_unchunked(setting):
    model, x, y = setting
    V = np.random.default_rng(1).standard_normal((models.num_parameters(model), 2))
    for term in TERMS:
        whole = E.hessian_operator(model, x, y, term=term).matmat(V)
        chunked = E.hessian_operator(model, x, y, term=term, chunk_size=4).matmat(V)  # 4 + 4 + 1
        assert rel(chunked, whole) <= 1e-12, term


@pytest.mark.parametrize("alpha, temperature", [(0.3, 1.0), (2.5, 1.0), (2.5, 7.0), (0.5, 0.5**3)])
def test_alpha_scaled_operator_equals_explicitly_scaled_model(alpha, temperature):
    model = tiny_mlp()
    x, y = data(model)
    scaled = scale_parameters(model, alpha)
    dense = dict(zip(TERMS, dense_terms(model, x, y, alpha, temperature)))
    V = np.random.default_rng(2).standard_normal((62, 2))
    for term in TERMS:
        eq5 = E.hessian_operator(model, x, y, alpha=alpha, temperature=temperature, term=term).matmat(V)
        explicit = E.hessian_operator(scaled, x, y, temperature=temperature, term=term).matmat(V)
        assert rel(eq5, explicit) <= 1e-10, term
        assert rel(eq5, dense[term] @ V) <= 1e-10, term


def test_temperature_alpha_power_l_gives_alpha_squared_rescaling():
    """Eq. 5 with T = α^L: H' = α⁻² H, so positive curvature is unchanged."""
    model = tiny_mlp()
    x, y = data(model)
    H = E.hessian_operator(model, x, y).to_dense()
    for alpha in (1e-3, 10.0, 1e3):
        Ha = E.hessian_operator(model, x, y, alpha=alpha, temperature=alpha**3).to_dense()
        assert rel(Ha * alpha**2, H) <= 1e-10
        assert abs(E.positive_curvature_exact(Ha) - E.positive_curvature_exact(H)) <= 1e-10


def test_extreme_scales_stay_finite():
    model = tiny_lenet()
    x, y = data(model)
    v = np.ones(models.num_parameters(model))
    for kwargs in ({"alpha": 1e3}, {"alpha": 1e-3}, {"temperature": 1e-9}, {"alpha": 1e3, "temperature": 1e-9}):
        for term in TERMS:
            out = E.hessian_operator(model, x, y, term=term, **kwargs).matvec(v)
            assert np.all(np.isfinite(out)), (kwargs, term)
    # saturated softmax: the G-term vanishes
    assert np.abs(E.g_term_operator(model, x, y, temperature=1e-9).matvec(v)).max() == 0.0


def test_parameter_block_is_the_dense_block():
    model = tiny_mlp()
    x, y = data(model)
    H = E.hessian_operator(model, x, y).to_dense()
    slices = parameter_slices(model)
    for names in (["1"], ["1.weight", "5"]):
        op = E.hessian_operator(model, x, y, parameters=names)
        idx = np.concatenate([np.arange(slices[n].start, slices[n].stop) for n in op.parameter_names])
        assert op.num_params == idx.size
        assert rel(op.to_dense(), H[np.ix_(idx, idx)]) <= 1e-12


def test_functional_products_and_theta_override():
    model = tiny_mlp()
    x, y = data(model)
    v = torch.randn(62, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    H, G, Hs = dense_terms(model, x, y)
    assert rel(E.hessian_vector_product(model, x, y, v).numpy(), H @ v.numpy()) <= 1e-10
    assert rel(E.g_term_vector_product(model, x, y, v).numpy(), G @ v.numpy()) <= 1e-10
    assert rel(E.h_term_vector_product(model, x, y, v).numpy(), Hs @ v.numpy()) <= 1e-10
    from_numpy = E.hessian_operator(model, x.numpy(), y.numpy()).matvec(v.numpy())
    assert rel(from_numpy, H @ v.numpy()) <= 1e-10
    other = tiny_mlp(seed=5)
    at_other = E.hessian_operator(model, x, y, theta=flat_parameters(other)).to_dense()
    assert rel(at_other, E.hessian_operator(other, x, y).to_dense()) <= 1e-12


# --------------------------------------------------------------------------- estimators
@pytest.fixture(scope="module")
def hessian():
    model = tiny_mlp()
    x, y = data(model)
    op = E.hessian_operator(model, x, y)
    return op, op.to_dense()


def test_hutchinson_and_hutchpp_on_the_hessian(hessian):
    op, H = hessian
    trace, frob2 = np.trace(H), np.linalg.norm(H) ** 2
    for est, exact in (
        (E.hutchinson_trace(op, 400, generator=0, progress=False), trace),
        (E.hutchpp_trace(op, 90, generator=0, progress=False), trace),
        (E.hutchinson_squared_frobenius(op, 400, generator=0, progress=False), frob2),
        (E.hutchpp_squared_frobenius(op, 90, generator=0, progress=False), frob2),
    ):
        assert abs(est.value - exact) <= 4 * est.standard_error
        assert est.standard_error <= 0.1 * abs(exact)
    pc = E.positive_curvature_estimate(op, 400, generator=0, progress=False)
    exact = E.positive_curvature_exact(H)
    assert abs(pc.value - exact) <= 4 * pc.standard_error and pc.standard_error <= 0.1 * abs(exact)
    assert pc.num_matvecs == 400


def test_estimates_are_reproducible(hessian):
    op, _ = hessian
    a = E.hutchinson_trace(op, 8, generator=torch.Generator().manual_seed(4), progress=False)
    b = E.hutchinson_trace(op, 8, generator=torch.Generator().manual_seed(4), progress=False, block_size=3)
    c = E.hutchinson_trace(op, 8, generator=5, progress=False)
    assert a.value == b.value and c.value == E.hutchinson_trace(op, 8, generator=5, progress=False).value
    assert a.value != c.value


def test_hutchpp_beats_hutchinson_on_low_rank_plus_noise():
    rng = np.random.default_rng(0)
    P = 300
    U, _ = np.linalg.qr(rng.standard_normal((P, 10)))
    noise = rng.standard_normal((P, P)) * 0.01
    A = U @ np.diag(np.linspace(10, 100, 10)) @ U.T + (noise + noise.T) / 2
    exact = np.trace(A)
    err_h = [abs(E.hutchinson_trace(A, 60, generator=s, progress=False).value - exact) for s in range(20)]
    err_pp = [abs(E.hutchpp_trace(A, 60, generator=s, progress=False).value - exact) for s in range(20)]
    assert np.mean(err_pp) < 0.1 * np.mean(err_h)
    frob = np.linalg.norm(A) ** 2
    err_h = [abs(E.hutchinson_squared_frobenius(A, 60, generator=s, progress=False).value - frob) for s in range(20)]
    err_pp = [abs(E.hutchpp_squared_frobenius(A, 60, generator=s, progress=False).value - frob) for s in range(20)]
    assert np.mean(err_pp) < 0.1 * np.mean(err_h)


def test_lanczos_eigenvalues_match_dense(hessian):
    op, H = hessian
    ev = np.linalg.eigvalsh(H)
    top, vecs = E.top_eigenvalues(op, k=3, generator=0, return_eigenvectors=True)
    assert np.all(np.abs(top - ev[::-1][:3]) <= 1e-6 * abs(ev[-1]))
    assert rel(H @ vecs, vecs * top) <= 1e-6
    assert abs(E.bottom_eigenvalues(op, 1, generator=0)[0] - ev[0]) <= 1e-6 * abs(ev[0])
    assert abs(E.operator_norm(op, generator=0) - np.abs(ev).max()) <= 1e-6 * np.abs(ev).max()
    model = tiny_mlp()
    x, y = data(model)
    assert abs(E.sharpness(model, x, y, generator=0) - ev[-1]) <= 1e-6 * ev[-1]
    # own Lanczos with full reorthogonalisation: T = QᵀHQ and Q orthonormal
    res = E.lanczos(op, 20, generator=0, keep_basis=True)
    Q = res.basis
    T = np.diag(res.alphas) + np.diag(res.betas, 1) + np.diag(res.betas, -1)
    assert np.abs(Q.T @ Q - np.eye(20)).max() <= 1e-12
    assert rel(Q.T @ H @ Q, T) <= 1e-10
    assert abs(E.ritz_values(res)[-1] - ev[-1]) <= 1e-6 * ev[-1]


def test_sharpness_scales_as_eq5():
    model = tiny_mlp()
    x, y = data(model)
    s1 = E.sharpness(model, x, y, generator=0)
    s2 = E.sharpness(model, x, y, alpha=10.0, temperature=1e3, generator=0)
    assert abs(s2 * 100 - s1) <= 1e-8 * s1


def test_slq_density(hessian):
    op, H = hessian
    P = H.shape[0]
    ev = np.linalg.eigvalsh(H)
    sd = E.spectral_density(op, num_probes=12, lanczos_steps=25, generator=0, progress=False)
    assert abs(trapezoid(sd.density, sd.grid) - 1.0) <= 1e-6
    assert abs(sd.weights.sum() - 1.0) <= 1e-12
    assert sd.nodes.min() >= ev[0] - 1e-8 and sd.nodes.max() <= ev[-1] + 1e-8
    mean = float(sd.nodes @ sd.weights)
    assert abs(trapezoid(sd.grid * sd.density, sd.grid) - mean) <= 1e-6 * np.abs(ev).max()
    # Rademacher v/√P: E vᵀHv/P = Tr/P with per-probe variance 2(‖H‖_F² − Σ H_ii²)/P²
    se = np.sqrt(2 * (np.linalg.norm(H) ** 2 - np.sum(np.diag(H) ** 2)) / 12) / P
    assert abs(mean - np.trace(H) / P) <= 4 * se
    # Gauss quadrature is exact to degree 2m − 1: the second moment of one probe is ‖Hv‖²/P
    v = np.random.default_rng(7).choice([-1.0, 1.0], size=P)
    nodes, weights = E.slq_quadrature(op, num_probes=1, lanczos_steps=5, generator=np.random.default_rng(7),
                                      progress=False)
    assert abs(weights @ nodes**2 - np.sum((H @ v) ** 2) / P) <= 1e-10 * np.sum((H @ v) ** 2) / P
    # all P steps: the nodes are the eigenvalues
    full_nodes, full_weights = E.slq_quadrature(H, num_probes=1, lanczos_steps=P, generator=1, progress=False)
    keep = full_weights > 1e-10
    assert np.all(np.min(np.abs(full_nodes[keep][:, None] - ev[None, :]), axis=1) <= 1e-8 * np.abs(ev).max())


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_value_error(hessian):
    op, _ = hessian
    model = tiny_mlp()
    x, y = data(model)
    bad = [
        lambda: E.hessian_operator(model, x, y, alpha=0.0),
        lambda: E.hessian_operator(model, x, y, alpha=-1.0),
        lambda: E.hessian_operator(model, x, y, temperature=0.0),
        lambda: E.hessian_operator(model, x, y, temperature=float("nan")),
        lambda: E.hessian_operator(model, x, y, term="hessians"),
        lambda: E.hessian_operator(model, x, y, chunk_size=0),
        lambda: E.hessian_operator(model, x, y, alpha=2.0, degree=0),
        lambda: E.hessian_operator(model, x, y + 3),
        lambda: E.hessian_operator(model, x, y - 1),
        lambda: E.hessian_operator(model, x, y[:-1]),
        lambda: E.hessian_operator(model, x, y.double() + 0.5),
        lambda: E.hessian_operator(model, x[:0], y[:0]),
        lambda: E.hessian_operator(model, x, y, parameters="nope"),
        lambda: E.hessian_operator(nn.Sequential(nn.Linear(6, 3)).double(), x, y, alpha=2.0),
        lambda: op.matvec(np.ones(61)),
        lambda: op.torch_matvec(torch.ones(63, dtype=torch.float64)),
        lambda: op.matmat(np.ones((61, 2))),
        lambda: E.top_eigenvalues(op, k=62),
        lambda: E.top_eigenvalues(op, k=0),
        lambda: E.top_eigenvalues(op, k=1, which="XX"),
        lambda: E.hutchinson_trace(op, 0),
        lambda: E.hutchpp_trace(op, 2),
        lambda: E.positive_curvature_estimate(op, 1),
        lambda: E.hutchinson_trace(np.ones((3, 4)), 5),
        lambda: E.hutchinson_trace(op, 5, generator="seed"),
        lambda: E.spectral_density(op, num_probes=0),
        lambda: E.spectral_density(op, sigma=-1.0, num_probes=1, lanczos_steps=2),
        lambda: E.lanczos(op, 3, v0=np.zeros(62)),
    ]
    for i, call in enumerate(bad):
        with pytest.raises(ValueError):
            call()
            pytest.fail(f"case {i} did not raise")
