"""Sweeps over α and T (Eq. 5: everything depends on β = α^L/T), numerics and validation."""
import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from goldilocks_core import models
from goldilocks_core.curvature import decompose, sweep, sweep_decompositions, sweep_points
from goldilocks_core.subspace import random_basis

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

F64 = torch.float64


@pytest.fixture(scope="module")
def mlp_case():
    g = torch.Generator().manual_seed(0)
    model = models.mlp([10, 16, 12, 4], generator=g, dtype=F64)
    x = torch.randn(40, 10, dtype=F64, generator=g)
    y = torch.randint(0, 4, (40,), generator=g)
    basis = random_basis(models.num_parameters(model), 12, generator=g)
    return model, x, y, basis


@pytest.fixture(scope="module")
def conv_case():
    g = torch.Generator().manual_seed(1)
    model = models.lenet5(in_channels=1, image_size=16, num_classes=4, generator=g, dtype=F64)
    x = torch.randn(12, 1, 16, 16, dtype=F64, generator=g)
    y = torch.randint(0, 4, (12,), generator=g)
    basis = random_basis(models.num_parameters(model), 10, generator=g)
    return model, x, y, basis


COLUMNS = [
    "alpha", "temperature", "beta", "log10_beta",
    "pc_hessian", "pc_g_term", "pc_h_term", "lc_hessian", "lc_g_term", "lc_h_term",
    "norm_hessian", "norm_g_term", "norm_h_term",
    "log10_norm_hessian", "log10_norm_g_term", "log10_norm_h_term",
    "lmax_hessian", "lmax_g_term", "lmax_h_term", "loss", "mean_entropy", "grad_norm", "log10_grad_norm",
]


def test_sweep_table_columns_and_default_grid(mlp_case):
    model, x, y, basis = mlp_case
    df = sweep(model, x, y, basis, progress=False)
    assert isinstance(df, pd.DataFrame) and list(df.columns) == COLUMNS
    assert len(df) == 25
    assert np.allclose(np.log10(df.alpha), np.linspace(-3, 3, 25))
    assert np.allclose(df.beta, df.alpha**3, rtol=1e-12)
    # the zone: positive curvature peaks at moderate α and vanishes at both ends (Fig. 1)
    peak = df.pc_hessian.idxmax()
    assert 0.1 <= df.alpha[peak] <= 10
    assert df.pc_hessian[peak] > 2 and abs(df.pc_hessian.iloc[0]) < 0.5 * df.pc_hessian[peak]
    assert (df.lc_g_term > 0).all() and ((df.lc_hessian >= 0) & (df.lc_hessian <= 1)).all()
    # norms: log10 columns agree with the true-scale ones where representable
    ok = df.norm_hessian > 0
    assert np.allclose(np.log10(df.norm_hessian[ok]), df.log10_norm_hessian[ok], rtol=0, atol=1e-9)


def test_tied_temperature_gives_a_flat_curve(mlp_case):
    """T = α^L ⇒ β = 1 at every α: positive curvature constant (Fig. 1 middle), H' = α⁻²H."""
    model, x, y, basis = mlp_case
    alphas = [1e-3, 0.05, 1.0, 30.0, 1e3]
    df = sweep(model, x, y, basis, alphas=alphas, temperatures="alpha^L", progress=False)
    assert np.allclose(df.beta, 1.0, rtol=1e-12)
    for col in ("pc_hessian", "pc_g_term", "pc_h_term", "lc_hessian", "loss", "mean_entropy"):
        v = df[col].to_numpy()
        assert np.all(np.abs(v - v[2]) <= 1e-6 * abs(v[2])), col
    assert np.allclose(df.log10_norm_hessian - df.log10_norm_hessian[2], -2 * np.log10(alphas), atol=1e-9)


def test_alpha_sweep_equals_temperature_sweep_at_matching_beta(conv_case):
    model, x, y, basis = conv_case
    L = models.homogeneity_degree(model)
    alphas = np.array([0.1, 0.4, 1.0, 2.5, 10.0])
    by_alpha = sweep(model, x, y, basis, alphas=alphas, temperatures=1.0, progress=False)
    by_temp = sweep(model, x, y, basis, alphas=1.0, temperatures=alphas ** (-L), progress=False)
    assert np.allclose(by_alpha.beta, by_temp.beta, rtol=1e-12)
    for col in ("pc_hessian", "pc_g_term", "pc_h_term", "lc_hessian", "lc_g_term", "loss", "mean_entropy"):
        assert np.allclose(by_alpha[col], by_temp[col], rtol=1e-10, atol=1e-12), col
    # norms differ by exactly the prefactor α⁻² (Eq. 5)
    assert np.allclose(by_alpha.log10_norm_g_term - by_temp.log10_norm_g_term, -2 * np.log10(alphas), atol=1e-9)
    # and betas= gives the same points directly
    by_beta = sweep(model, x, y, basis, betas=alphas**L, progress=False)
    assert np.allclose(by_beta.pc_hessian, by_alpha.pc_hessian, rtol=1e-10)
    assert np.allclose(by_beta.temperature, alphas ** (-L), rtol=1e-12)


def test_g_term_is_psd_from_beta_1e_minus_6_to_1e6(mlp_case):
    model, x, y, basis = mlp_case
    betas = np.logspace(-6, 6, 13)
    for dec in sweep_decompositions(model, x, y, basis, betas=betas, progress=False):
        for G in (dec.g_term, dec.g_term_normalized):
            lam = torch.linalg.eigvalsh(G)
            assert lam.min() >= -1e-12 * lam.abs().max(), dec.beta
        assert dec.g_term_normalized.abs().max() > 0
        # PSD of rank ≤ d: positive curvature in [1, √d] (§4)
        assert 1 - 1e-9 <= dec.pc_g_term <= math.sqrt(basis.shape[1]) + 1e-9


@pytest.mark.parametrize("alpha, temperature", [(1e3, 1.0), (1e-3, 1.0), (1.0, 1e-9), (1e3, 1e-9), (1e-3, 1e9)])
@pytest.mark.parametrize("case", ["mlp_case", "conv_case"])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_extreme_scales_stay_finite(case, alpha, temperature, dtype, request):
    model, x, y, basis = request.getfixturevalue(case)
    dec = decompose(model, x, y, basis, alpha=alpha, temperature=temperature, dtype=dtype)
    assert dec.precision == dtype
    row = dec.metrics()
    for name in ("hessian", "g_term", "h_term", "hessian_normalized", "g_term_normalized", "h_term_normalized",
                 "grad", "grad_normalized"):
        assert torch.isfinite(getattr(dec, name)).all(), name
    for key in ("pc_hessian", "pc_h_term", "lc_hessian", "loss", "mean_entropy", "log10_norm_hessian",
                "log10_norm_h_term", "log10_grad_norm", "norm_hessian"):
        assert math.isfinite(row[key]), key
    # even a collapsed softmax keeps an O(1) normalized G-term with a defined positive curvature
    assert math.isfinite(row["pc_g_term"]) and row["pc_g_term"] >= 1 - 1e-9
    assert math.isfinite(row["log10_norm_g_term"])
    lam = torch.linalg.eigvalsh(dec.g_term_normalized)  # PSD to float64 round-off in either precision
    assert lam.min() >= -1e-14 * lam.abs().max()


def test_collapsed_softmax_g_term_tends_to_rank_one(mlp_case):
    """As p → one-hot the G-term is dominated by one sample's runner-up class: pc → 1 (App. C)."""
    model, x, y, basis = mlp_case
    df = sweep(model, x, y, basis, betas=[1e3, 1e6], progress=False)
    assert abs(df.pc_g_term.iloc[-1] - 1) < 1e-6
    assert df.log10_norm_g_term.iloc[-1] < df.log10_norm_h_term.iloc[-1]  # outside the zone: ‖G‖ ≪ ‖H-term‖


def test_chunked_equals_unchunked(conv_case):
    model, x, y, basis = conv_case
    full = decompose(model, x, y, basis, alpha=0.7, chunk_size=x.shape[0])
    for chunk in (1, 5):
        part = decompose(model, x, y, basis, alpha=0.7, chunk_size=chunk)
        for name in ("hessian", "g_term", "h_term", "grad"):
            a, b = getattr(part, name), getattr(full, name)
            assert float((a - b).norm()) <= 1e-12 * float(b.norm()), (chunk, name)


@pytest.mark.parametrize("method", ["layerwise", "hvp"])
def test_float32_within_1e_4_of_float64(mlp_case, method):
    model, x, y, basis = mlp_case
    for alpha in (0.3, 1.0, 3.0):
        d64 = decompose(model, x, y, basis, alpha=alpha, method=method)
        d32 = decompose(model.float(), x.float(), y, basis.float(), alpha=alpha, dtype=torch.float32, method=method)
        model.double()
        assert d32.hessian.dtype == F64  # results are float64 whatever the working precision
        for name in ("hessian", "g_term", "h_term"):
            a, b = getattr(d32, name), getattr(d64, name)
            assert float((a - b).norm()) <= 1e-4 * float(b.norm()), (alpha, name)
        assert abs(d32.pc_hessian - d64.pc_hessian) <= 1e-4 * abs(d64.pc_hessian)


@pytest.mark.parametrize("method", ["layerwise", "hvp"])
def test_float32_g_term_stays_psd_and_local_convexity_matches_float64(mlp_case, method):
    """Issue 9: a float32 Gram product gave λ_min(G) ≈ −1e-8·‖G‖ and lc_g_term 0.5 against
    float64's 1/12 once the softmax collapses (α ≥ 10). The d×d products are now float64."""
    model, x, y, basis = mlp_case
    alphas = [3.0, 10.0, 30.0, 1e3]
    d64 = sweep_decompositions(model, x, y, basis, alphas=alphas, method=method, progress=False)
    d32 = sweep_decompositions(copy.deepcopy(model).float(), x.float(), y, basis.float(), alphas=alphas,
                               dtype=torch.float32, method=method, progress=False)
    for a, b in zip(d64, d32):
        assert b.g_term_normalized.dtype == b.h_term_normalized.dtype == F64
        lam = torch.linalg.eigvalsh(b.g_term_normalized)
        assert lam.min() >= -1e-14 * lam.abs().max(), b.alpha
        ra, rb = a.metrics(), b.metrics()
        for key in ("lc_g_term", "lc_h_term", "lc_hessian"):
            assert rb[key] == ra[key], (b.alpha, key)
    assert d64[1].metrics()["lc_g_term"] == 1 / 12  # collapsed: G-term of rank one
    assert [d.precision for d in d32] == [torch.float32] * 4 and d64[0].precision == F64


def test_h_term_is_accumulated_in_float64_from_float32_factors(mlp_case):
    from goldilocks_core.curvature.hvp import GenericNetwork
    from goldilocks_core.curvature.layerwise import LayeredNetwork
    from goldilocks_core.curvature.softmax_weights import normalised_residuals

    model, x, y, basis = mlp_case
    r = normalised_residuals(model(x), y, 1.0, 0.0, dtype=torch.float32)
    for kind in (LayeredNetwork, GenericNetwork):
        net = kind(model, dtype=torch.float32, device=torch.device("cpu"))
        blocks = net.basis_blocks(basis.float())
        state = net.prepare(x.float(), blocks)
        assert net.h_term(state, r, blocks).dtype == F64, kind.__name__


def test_float64_model_in_float32_working_precision(mlp_case):
    model, x, y, basis = mlp_case
    d64 = decompose(model, x, y, basis)
    d32 = decompose(model, x, y, basis, dtype=torch.float32)
    assert float((d32.hessian - d64.hessian).norm()) <= 1e-4 * float(d64.hessian.norm())
    assert next(model.parameters()).dtype == F64  # the model itself is untouched


def test_decomposition_properties(mlp_case):
    model, x, y, basis = mlp_case
    dec = decompose(model, x, y, basis, alpha=0.5, temperature=2.0)
    assert math.isclose(dec.beta, 0.5**3 / 2.0, rel_tol=1e-13)
    row = dec.metrics()
    assert row["pc_hessian"] == dec.pc_hessian == dec.positive_curvature
    assert math.isclose(row["grad_norm"], float(dec.grad.norm()), rel_tol=1e-10)
    assert math.isclose(row["norm_g_term"], float(torch.linalg.eigvalsh(dec.g_term).abs().max()), rel_tol=1e-10)
    assert math.isclose(row["lmax_h_term"], float(torch.linalg.eigvalsh(dec.h_term)[-1]), rel_tol=1e-10)
    assert "pc_hessian" in repr(dec)


def test_sweep_points_broadcasting():
    pts = sweep_points([0.5, 2.0], 3.0, degree=2)
    assert [(a, t) for a, t, _ in pts] == [(0.5, 3.0), (2.0, 3.0)]
    assert math.isclose(pts[0][2], 0.25 / 3.0)
    pts = sweep_points(2.0, [1.0, 4.0], degree=2)
    assert [b for *_, b in pts] == pytest.approx([4.0, 1.0])
    pts = sweep_points(None, 1.0, [10.0, 0.1], degree=3)
    assert [a for a, *_ in pts] == [1.0, 1.0] and [t for _, t, _ in pts] == pytest.approx([0.1, 10.0])
    with pytest.raises(ValueError, match="common length"):
        sweep_points([1.0, 2.0], [1.0, 2.0, 3.0], degree=2)
    with pytest.raises(ValueError, match="either temperatures or betas"):
        sweep_points(1.0, 2.0, [1.0], degree=2)
    with pytest.raises(ValueError, match="alpha\\^L"):
        sweep_points(1.0, "alpha", degree=2)
    with pytest.raises(ValueError, match="empty"):
        sweep_points([], 1.0, degree=2)


def test_progress_bar_respects_tqdm_disable(mlp_case, monkeypatch, capsys):
    model, x, y, basis = mlp_case
    monkeypatch.setenv("TQDM_DISABLE", "1")
    sweep(model, x[:5], y[:5], basis, alphas=[1.0, 2.0], progress=True)
    assert "curvature sweep" not in capsys.readouterr().err
    monkeypatch.setenv("TQDM_DISABLE", "0")
    sweep(model, x[:5], y[:5], basis, alphas=[1.0, 2.0], progress=True)
    assert "curvature sweep" in capsys.readouterr().err


def test_bad_input_raises_clear_value_errors(mlp_case):
    model, x, y, basis = mlp_case
    with pytest.raises(ValueError, match="alpha"):
        decompose(model, x, y, basis, alpha=0.0)
    with pytest.raises(ValueError, match="alpha"):
        sweep(model, x, y, basis, alphas=[1.0, -1.0], progress=False)
    with pytest.raises(ValueError, match="temperature"):
        decompose(model, x, y, basis, temperature=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        sweep(model, x, y, basis, alphas=1.0, temperatures=[1.0, 0.0], progress=False)
    with pytest.raises(ValueError, match="rows"):
        decompose(model, x, y, basis[:-1])
    with pytest.raises(ValueError, match="d=|exceeds"):
        random_basis(models.num_parameters(model), models.num_parameters(model) + 1)
    with pytest.raises(ValueError, match="targets must lie in"):
        decompose(model, x, torch.full_like(y, 4), basis)
    with pytest.raises(ValueError, match="targets must lie in"):
        decompose(model, x, torch.full_like(y, -1), basis)
    with pytest.raises(ValueError, match="empty"):
        decompose(model, x[:0], y[:0], basis)
    with pytest.raises(ValueError, match="samples"):
        decompose(model, x, y[:-1], basis)
    with pytest.raises(ValueError, match="integer"):
        decompose(model, x, y.double(), basis)
    with pytest.raises(ValueError, match="chunk_size"):
        decompose(model, x, y, basis, chunk_size=0)
    with pytest.raises(ValueError, match="method"):
        decompose(model, x, y, basis, method="dense")
    with pytest.raises(ValueError, match="K ≥ 2"):
        one_class = nn.Sequential(nn.Linear(10, 1, bias=False)).to(F64)
        decompose(one_class, x, torch.zeros_like(y), random_basis(10, 2))
    with pytest.raises(ValueError, match="float64 range"):
        decompose(model, x, y, basis, alpha=1e300)
    with pytest.raises(ValueError, match="all zero"):  # issue 9: gave NaN
        decompose(model, x, y, torch.zeros_like(basis))
    with pytest.raises(ValueError, match="rank-deficient"):
        sweep(model, x, y, torch.cat([basis, basis[:, :1]], dim=1), alphas=[1.0], progress=False)


def test_numpy_inputs_are_accepted(mlp_case):
    model, x, y, basis = mlp_case
    a = decompose(model, x.numpy(), y.numpy(), basis)
    b = decompose(model, x, y, basis)
    assert torch.allclose(a.hessian, b.hessian, rtol=1e-13, atol=0)


def test_layerwise_and_generic_paths_agree_on_lenet5(conv_case):
    model, x, y, basis = conv_case
    x, y = x[:6], y[:6]
    a = sweep_decompositions(model, x, y, basis, alphas=[0.5, 2.0], method="layerwise", progress=False)
    b = sweep_decompositions(model, x, y, basis, alphas=[0.5, 2.0], method="hvp", chunk_size=4, progress=False)
    for da, db in zip(a, b):
        for name in ("hessian", "g_term", "h_term", "grad"):
            u, v = getattr(da, name), getattr(db, name)
            assert float((u - v).norm()) <= 1e-10 * float(v.norm()), name
