"""Random subspace bases: orthonormal (QR), the authors' sparse basis, layer-restricted bases."""
import math

import pytest
import torch

from goldilocks_core import models
from goldilocks_core.subspace import check_basis, layer_basis, parameter_mask, random_basis


def test_orthonormal_basis_has_identity_gram_and_is_reproducible():
    R = random_basis(500, 20, generator=torch.Generator().manual_seed(0))
    assert R.shape == (500, 20) and R.dtype == torch.float64
    assert torch.allclose(R.T @ R, torch.eye(20, dtype=torch.float64), atol=1e-12, rtol=0)
    again = random_basis(500, 20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(R, again)
    other = random_basis(500, 20, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(R, other)
    square = random_basis(7, 7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(square @ square.T, torch.eye(7, dtype=torch.float64), atol=1e-12)


def test_sparse_basis_unit_columns_and_density():
    P, d = 40_000, 30
    R = random_basis(P, d, kind="sparse", generator=torch.Generator().manual_seed(2))
    assert torch.allclose(R.norm(dim=0), torch.ones(d, dtype=torch.float64), atol=1e-12, rtol=0)
    nonzero = R != 0
    density = nonzero.double().mean().item()
    assert abs(density - 1 / math.sqrt(P)) < 0.1 / math.sqrt(P)  # 1/√P = 0.005, ~6000 draws
    # entries are ±1/√(nnz of the column): equal magnitudes, both signs
    col = R[:, 0][nonzero[:, 0]]
    assert torch.allclose(col.abs(), torch.full_like(col, 1 / math.sqrt(col.numel())))
    assert (col > 0).any() and (col < 0).any()
    # not orthogonalised, yet nearly orthogonal for large P
    off = R.T @ R - torch.eye(d, dtype=torch.float64)
    assert off.abs().max() < 0.2


def test_sparse_basis_never_has_an_empty_column():
    R = random_basis(4, 4, kind="sparse", generator=torch.Generator().manual_seed(0))
    assert torch.allclose(R.norm(dim=0), torch.ones(4, dtype=torch.float64))


def test_dtype_and_device_arguments():
    R = random_basis(50, 3, dtype=torch.float32, device="cpu")
    assert R.dtype == torch.float32 and R.device.type == "cpu"


@pytest.mark.parametrize("P, d", [(10, 11), (10, 0), (10, -2), (0, 1)])
def test_bad_dimensions_raise(P, d):
    with pytest.raises(ValueError, match="d=|≥ 1|exceeds|num_params"):
        random_basis(P, d)


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="kind"):
        random_basis(10, 2, kind="gaussian")


def test_layer_basis_is_supported_on_the_first_layer_only():
    model = models.mlp([6, 5, 4, 3])
    P = models.num_parameters(model)
    R = layer_basis(model, 8, layers=[0], generator=torch.Generator().manual_seed(0))
    assert R.shape == (P, 8)
    first = 6 * 5
    assert torch.count_nonzero(R[first:]) == 0
    assert torch.allclose(R.T @ R, torch.eye(8, dtype=torch.float64), atol=1e-12)
    # names and masks select the same rows
    by_name = parameter_mask(model, ["1.weight"])
    by_module = parameter_mask(model, "1")
    assert torch.equal(by_name, by_module) and int(by_name.sum()) == first
    last = parameter_mask(model, [-1])
    assert int(last.sum()) == 4 * 3 and bool(last[-1])
    Rm = layer_basis(model, 3, mask=by_name, kind="sparse", generator=torch.Generator().manual_seed(1))
    assert torch.count_nonzero(Rm[first:]) == 0


def test_layer_basis_errors():
    model = models.mlp([6, 5, 3])
    with pytest.raises(ValueError, match="exceeds"):
        layer_basis(model, 31, layers=[0])
    with pytest.raises(ValueError, match="exactly one"):
        layer_basis(model, 2)
    with pytest.raises(ValueError, match="no parameter"):
        layer_basis(model, 2, layers=["nope"])
    with pytest.raises(ValueError, match="out of range"):
        layer_basis(model, 2, layers=[5])
    with pytest.raises(ValueError, match="boolean"):
        layer_basis(model, 2, mask=torch.ones(3, dtype=torch.bool))


def test_check_basis():
    R = random_basis(12, 3)
    assert check_basis(R, 12) is R
    with pytest.raises(ValueError, match="rows"):
        check_basis(R, 13)
    with pytest.raises(ValueError, match="shape"):
        check_basis(R[:, 0], 12)
    with pytest.raises(ValueError, match="non-finite"):
        check_basis(R * float("nan"), 12)


def test_check_basis_rejects_zero_and_rank_deficient_bases():
    """Issue 9: an all-zero or rank-deficient basis gave NaN silently; now a one-line ValueError."""
    R = random_basis(20, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="all zero"):
        check_basis(torch.zeros(20, 4), 20)
    with pytest.raises(ValueError, match="column 2 is zero"):
        check_basis(R * torch.tensor([1.0, 1.0, 0.0, 1.0], dtype=R.dtype), 20)
    with pytest.raises(ValueError, match="rank-deficient.*span about 3"):
        check_basis(R[:, [0, 1, 1, 2]], 20)
    mixed = R[:, :3] @ torch.randn(3, 4, dtype=R.dtype, generator=torch.Generator().manual_seed(1))
    for dtype in (torch.float64, torch.float32):
        with pytest.raises(ValueError, match="rank-deficient"):
            check_basis(mixed.to(dtype), 20)
    # full column rank passes whatever the column scales, kinds and dtypes
    sparse = random_basis(20, 4, kind="sparse", generator=torch.Generator().manual_seed(2))
    scaled = R * torch.tensor([1e-200, 1.0, 1e200, 3.0], dtype=R.dtype)
    for ok in (R.float(), scaled, sparse, random_basis(5, 5)):
        assert check_basis(ok, ok.shape[0]) is ok
