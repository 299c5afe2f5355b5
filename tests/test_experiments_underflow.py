"""goldilocks_core.experiments.underflow: the authors' G-term formula in float64, and when it is 0."""
import math

import pandas as pd
import pytest
import torch

from goldilocks_core.curvature import decompose
from goldilocks_core.curvature.engine import projected_jacobian
from goldilocks_core.experiments import underflow as U
from goldilocks_core.experiments.setup import build
from goldilocks_core.subspace import random_basis

TINY = {"name": "tiny MLP", "arch": "mlp", "widths": [64, 12, 8, 10], "dataset": "digits", "num_samples": 30}


@pytest.fixture(scope="module")
def tiny():
    s = build(TINY, seed=0)
    R = random_basis(s.num_params, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return s, R


def test_naive_g_term_is_eq4_at_moderate_alpha(tiny):
    s, R = tiny
    J = projected_jacobian(s.model, s.inputs, R, dtype=torch.float64)
    z = s.model(s.inputs).detach()
    for a in (0.5, 2.0):
        G, nz = U.naive_g_term(J, z, a, 3, chunk_size=7)
        dec = decompose(s.model, s.inputs, s.targets, R, alpha=a, temperature=1.0, degree=3)
        ref = dec.g_term_normalized * 10**dec.log10_g_term_scale
        torch.testing.assert_close(G, ref, rtol=1e-9, atol=1e-12 * float(ref.abs().max()))
        assert nz == 30


def test_naive_g_term_is_exactly_zero_once_the_softmax_rounds_to_one_hot(tiny):
    s, R = tiny
    table = U.float64_g_term_sweep(s.model, s.inputs, R, [1.0, 10.0, 100.0, 1e4])
    assert list(table.columns) == ["alpha", "exactly_zero", "num_nonzero_samples", "max_runner_up", "max_abs",
                                   "pc_authors"]
    assert not table["exactly_zero"].iloc[0] and table["pc_authors"].iloc[0] > 1
    last = table.iloc[-1]
    assert last["exactly_zero"] and last["num_nonzero_samples"] == 0 and last["pc_authors"] == 0.0
    # the runner-up probability is still far above float64's smallest number: not p_k's underflow
    assert last["max_runner_up"] < 1e-16
    # the log-space engine keeps it non-zero there
    dec = decompose(s.model, s.inputs, s.targets, R, alpha=1e4, temperature=1.0, degree=3)
    assert float(dec.g_term_normalized.abs().max()) > 0 and math.isfinite(dec.log10_g_term_scale)


def test_first_exact_zero():
    t = pd.DataFrame({"alpha": [1.0, 2.0, 4.0, 8.0], "exactly_zero": [False, True, False, True]})
    assert U.first_exact_zero(t) == 8.0
    assert U.first_exact_zero(t.assign(exactly_zero=[False, False, True, True])) == 4.0
    assert math.isnan(U.first_exact_zero(t.assign(exactly_zero=False)))
    with pytest.raises(ValueError, match="columns"):
        U.first_exact_zero(t.drop(columns="exactly_zero"))
    with pytest.raises(ValueError, match="jacobian"):
        U.naive_g_term(torch.zeros(2, 3), torch.zeros(2, 3), 1.0, 3)
