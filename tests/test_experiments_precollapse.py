"""App. D (the pre-collapse regime): plateau detection, entropies, first-layer eigenvectors."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from goldilocks_core import losses, models
from goldilocks_core.experiments import first_layer as fl
from goldilocks_core.experiments import precollapse as pc
from goldilocks_core.experiments.setup import build
from goldilocks_core.profiles import settings


def tiny_mlp(seed=0, widths=(12, 7, 5, 4), n=9):
    g = torch.Generator().manual_seed(seed)
    net = models.mlp(list(widths), generator=g, dtype=torch.float64)
    x = torch.randn(n, widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, widths[-1], (n,), generator=g)
    return net, x, y


def dense_first_layer_jacobians(net, x):
    """J^μ = ∂z^μ/∂W₁ for every sample, (N, K, hidden·input), by plain autograd."""
    W = net[1].weight
    out = []
    for xi in x:
        def f(w):
            return torch.func.functional_call(net, {**dict(net.named_parameters()), "1.weight": w}, (xi[None],))[0]
        out.append(torch.autograd.functional.jacobian(f, W.detach()).reshape(-1, W.numel()))
    return torch.stack(out)


# ---------------------------------------------------------------------------------------------- plateau

def table(alphas, values, column="pc_hessian"):
    return pd.DataFrame({"alpha": alphas, column: values})


def test_find_plateau_longest_run_sorted_by_alpha():
    a = [1, 2, 3, 4, 5, 6, 7, 8]
    v = [3.0, 1.02, 2.0, 1.01, 0.99, 1.04, 0.3, 1.0]
    # shuffled rows: the plateau is found on the α-sorted table
    order = [7, 2, 0, 5, 1, 4, 6, 3]
    p = pc.find_plateau(table([a[i] for i in order], [v[i] for i in order]), tol=0.05)
    assert (p.alpha_lo, p.alpha_hi, p.num_points) == (4, 6, 3)
    assert math.isclose(p.alpha_mid, math.sqrt(24)) and math.isclose(p.decades, math.log10(1.5))
    assert "[4, 6]" in str(p)
    tight = pc.find_plateau(table(a, v), tol=0.015)  # runs {1.01, 0.99} (2 points) and {1.0} (1 point)
    assert (tight.alpha_lo, tight.alpha_hi) == (4, 5)
    assert pc.find_plateau(table(a, v), tol=0.015, min_points=3) is None


def test_find_plateau_ties_pick_smallest_alpha_and_level():
    p = pc.find_plateau(table([1, 2, 3, 4, 5], [2.0, 2.01, 0.0, 1.99, 2.0]), level=2.0, tol=0.05)
    assert (p.alpha_lo, p.alpha_hi) == (1, 2)


def test_find_plateau_bad_input():
    with pytest.raises(ValueError, match="no column"):
        pc.find_plateau(table([1, 2], [1, 1]), column="pc_g_term")
    with pytest.raises(ValueError, match="DataFrame"):
        pc.find_plateau({"alpha": [1]})
    with pytest.raises(ValueError, match="tol"):
        pc.find_plateau(table([1, 2], [1, 1]), tol=0)
    with pytest.raises(ValueError, match="min_points"):
        pc.find_plateau(table([1, 2], [1, 1]), min_points=0)
    with pytest.raises(ValueError, match="empty"):
        pc.find_plateau(table([], []))


def test_reference_alpha_and_image_alphas():
    t = pd.DataFrame({"alpha": [1, 10, 100, 1000], "pc_g_term": [3.0, 1.5, 1.04, 1.0]})
    assert pc.reference_alpha(t) == 100
    plateau = pc.Plateau("pc_hessian", 1.0, 0.05, 10.0, 1000.0, 1, 4)
    assert pc.reference_alpha(t, plateau) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="never comes within"):
        pc.reference_alpha(t.assign(pc_g_term=[3.0, 2, 2, 2]))
    got = pc.image_alphas(100.0, 3, 2.0)
    assert got == pytest.approx([1.0, 10.0, 100.0])
    assert pc.image_alphas(5.0, 1) == [5.0]
    with pytest.raises(ValueError, match="num"):
        pc.image_alphas(5.0, 0)
    with pytest.raises(ValueError, match="alpha"):
        pc.image_alphas(-1.0)


# ---------------------------------------------------------------------------------------------- entropies

def test_sample_entropies_match_the_scaled_network():
    net, x, _ = tiny_mlp()
    alphas = [0.3, 1.0, 4.0]
    H = pc.sample_entropies(net, x, alphas, chunk_size=4)
    assert H.shape == (3, 9)
    for a, row in zip(alphas, H):
        scaled = models.scale_parameters(net, a)
        with torch.no_grad():
            ref = losses.softmax_entropy(scaled(x))
        np.testing.assert_allclose(row, ref.numpy(), rtol=1e-10, atol=1e-13)
    # extreme scales stay finite and ordered: one-hot at α = 10³
    H = pc.sample_entropies(net, x, [1e-3, 1e3])
    assert np.isfinite(H).all()
    np.testing.assert_allclose(H[0], math.log(4), rtol=1e-6)
    assert H[1].max() < 1e-12


def test_entropy_collapse_table():
    H = np.array([[0.5, 0.2, 0.9, 0.0], [0.0, 0.002, 0.0005, 0.0]])
    t = pc.entropy_collapse(H, [1.0, 2.0], top=2, threshold=1e-3)
    assert list(t.columns) == ["alpha", "entropy_1", "entropy_2", "median_entropy", "num_uncertain",
                               "least_confident"]
    assert t["entropy_1"].tolist() == [0.9, 0.002] and t["entropy_2"].tolist() == [0.5, 0.0005]
    assert t["num_uncertain"].tolist() == [3, 1] and t["least_confident"].tolist() == [2, 1]
    with pytest.raises(ValueError, match="shape"):
        pc.entropy_collapse(H, [1.0])


# ---------------------------------------------------------------------------------------------- first layer

def test_first_layer_gram_matches_dense_jacobians_and_is_an_outer_product_with_x():
    net, x, _ = tiny_mlp()
    gram = fl.first_layer_gram(net, x, chunk_size=4)
    J = dense_first_layer_jacobians(net, x)
    torch.testing.assert_close(gram, J @ J.transpose(1, 2), rtol=1e-10, atol=1e-12)
    # ∂z_k/∂W₁ = b_k xᵀ: every row of J^μ, reshaped hidden×input, is rank one with right factor x^μ
    for mu in range(x.shape[0]):
        for k in range(J.shape[1]):
            M = J[mu, k].reshape(7, 12)
            if M.norm() > 0:
                assert fl.rank_one_share(M.numpy()) == pytest.approx(1.0, abs=1e-12)
                assert abs(fl.cosine(np.linalg.svd(M.numpy())[2][0], x[mu].numpy())) == pytest.approx(1.0)


def test_g_term_trace_shares_match_dense_traces():
    net, x, _ = tiny_mlp()
    gram = fl.first_layer_gram(net, x)
    z = pc.sample_logits(net, x)
    J = dense_first_layer_jacobians(net, x)
    beta = 3.7
    p = torch.softmax(beta * z, -1)
    traces = torch.stack([torch.trace(J[m].T @ (torch.diag(p[m]) - torch.outer(p[m], p[m])) @ J[m])
                          for m in range(x.shape[0])])
    np.testing.assert_allclose(fl.g_term_trace_shares(gram, z, beta), (traces / traces.sum()).numpy(), rtol=1e-9)
    # the single-sample top eigenvalue of β² Jᵀ(diag p − ppᵀ)J
    m = 2
    G = beta**2 * J[m].T @ (torch.diag(p[m]) - torch.outer(p[m], p[m])) @ J[m]
    assert fl.single_sample_top_eigenvalue(gram, z, beta, m) == pytest.approx(
        float(torch.linalg.eigvalsh(G)[-1]), rel=1e-9)


def test_g_term_trace_shares_concentrate_on_the_smallest_logit_gap_at_huge_beta():
    net, x, _ = tiny_mlp(n=12)
    gram = fl.first_layer_gram(net, x)
    z = pc.sample_logits(net, x)
    top2 = torch.topk(z, 2, dim=-1).values
    gap = top2[:, 0] - top2[:, 1]
    shares = fl.g_term_trace_shares(gram, z, 1e12)  # p one-hot to far below float64's tiniest number
    assert np.isfinite(shares).all() and shares.sum() == pytest.approx(1.0)
    assert int(shares.argmax()) == int(gap.argmin()) and shares.max() == pytest.approx(1.0)


def test_gram_and_shares_bad_input():
    net, x, _ = tiny_mlp()
    gram = fl.first_layer_gram(net, x)
    z = pc.sample_logits(net, x)
    with pytest.raises(ValueError, match="gram must be"):
        fl.g_term_trace_shares(gram[:, :2], z, 1.0)
    with pytest.raises(ValueError, match="beta"):
        fl.g_term_trace_shares(gram, z, 0.0)
    with pytest.raises(ValueError, match="out of range"):
        fl.single_sample_top_eigenvalue(gram, z, 1.0, 9)
    with pytest.raises(ValueError, match="exactly one"):
        fl.first_layer_gram(net, x, parameter="7")
    with pytest.raises(ValueError, match="inputs"):
        fl.first_layer_gram(net, torch.zeros(0, 12))


def test_first_layer_eigenpairs_match_the_dense_hessian_block():
    net, x, y = tiny_mlp()
    alpha = 2.5
    values, matrix = fl.first_layer_eigenpairs(net, x, y, alpha, k=2, generator=1)
    assert matrix.shape == (7, 12)
    scaled = models.scale_parameters(net, alpha)
    W = scaled[1].weight.detach()

    def loss(w):
        out = torch.func.functional_call(scaled, {**dict(scaled.named_parameters()), "1.weight": w}, (x,))
        return losses.cross_entropy(out, y)

    H = torch.autograd.functional.hessian(loss, W).reshape(W.numel(), W.numel())
    lam, vec = torch.linalg.eigh(H)
    np.testing.assert_allclose(values, lam.flip(0)[:2].numpy(), rtol=1e-7)
    assert abs(fl.cosine(matrix, vec[:, -1].numpy())) == pytest.approx(1.0, abs=1e-7)


def test_first_layer_h_term_vanishes_for_relu_but_not_for_tanh():
    net, x, y = tiny_mlp()
    assert fl.h_term_block_ratio(net, x, y, 3.0) == 0.0
    g = torch.Generator().manual_seed(0)
    smooth = nn.Sequential(nn.Linear(12, 7, bias=False), nn.Tanh(), nn.Linear(7, 4, bias=False)).double()
    models.kaiming_init_(smooth, generator=g)
    assert fl.h_term_block_ratio(smooth, x, y, 1.0) > 1e-3
    with pytest.raises(ValueError, match="num_probes"):
        fl.h_term_block_ratio(net, x, y, 1.0, num_probes=0)


def test_eigenvector_image_rank_one_and_cosine():
    u, v = np.array([1.0, -2.0, 0.5]), np.arange(1.0, 7.0)
    M = np.outer(u, v)
    np.testing.assert_allclose(fl.eigenvector_image(M, (2, 3)), (u.mean() * v).reshape(2, 3))
    assert abs(fl.cosine(fl.eigenvector_image(M, (6,), reduce="svd"), v)) == pytest.approx(1.0)
    assert fl.rank_one_share(M) == pytest.approx(1.0)
    assert fl.rank_one_share(np.eye(4)) == pytest.approx(0.25)
    assert fl.cosine([1, 0], [0, 2]) == 0.0 and fl.cosine([1, 1], [-2, -2]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="matrix must be"):
        fl.eigenvector_image(M, (5,))
    with pytest.raises(ValueError, match="reduce"):
        fl.eigenvector_image(M, (6,), reduce="max")
    with pytest.raises(ValueError, match="zero"):
        fl.cosine([0, 0], [1, 1])
    with pytest.raises(ValueError, match="size"):
        fl.cosine([1, 0], [1, 1, 1])


def plant_uncertain_sample(net, x, ratio=0.1):
    """Replace x[0] by a point between two differently classified samples whose top-2 logit gap is
    below ``ratio`` times every other sample's gap (bisection on the segment)."""
    with torch.no_grad():
        z = net(x)
        pred = z.argmax(-1)
        j = int((pred != pred[0]).nonzero()[0])
        a, b = x[0].clone(), x[j].clone()

        def gap(v):
            top = torch.topk(net(v[None])[0], 2).values
            return float(top[0] - top[1])

        others = torch.topk(z[1:], 2, dim=-1).values
        target = ratio * float((others[:, 0] - others[:, 1]).min())
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            v = (1 - mid) * a + mid * b
            if gap(v) < target:
                break
            if int(net(v[None]).argmax()) == int(pred[0]):
                lo = mid
            else:
                hi = mid
        x = x.clone()
        x[0] = v
    return x


def test_eigenvector_images_find_the_least_confident_sample_when_it_dominates():
    net, x, y = tiny_mlp(widths=(20, 16, 12, 5), n=15)
    x = plant_uncertain_sample(net, x)
    z = pc.sample_logits(net, x)
    top2 = torch.topk(z, 2, dim=-1).values
    gap = top2[:, 0] - top2[:, 1]
    assert int(gap.argmin()) == 0
    # β with e^{-β·gap} ≈ 1e-6 for the runner-up: every other sample has collapsed
    beta = math.log(1e6) / float(torch.sort(gap).values[1])
    alpha = beta ** (1 / 3)
    res = pc.eigenvector_images(net, x, y, [0.5, alpha], progress=False)
    t = res.table
    assert res.images.shape == (2, 20) and res.parameter == "1.weight"
    late = t.iloc[-1]
    assert late["least_confident"] == 0 == late["dominant_sample"] == late["best_match"]
    assert late["dominant_share"] > 0.99 and late["num_uncertain"] == 1
    assert late["cos_least_confident"] > 0.999 and late["rank_one"] > 0.999
    assert late["lambda_1_single_sample"] == pytest.approx(late["lambda_1"], rel=1e-2)
    assert late["lambda_2"] < 0.05 * late["lambda_1"]
    assert res.images[-1] @ x[int(late["least_confident"])].numpy() > 0  # oriented
    early = t.iloc[0]
    assert early["cos_least_confident"] < 0.99 and early["num_uncertain"] == 15


# ---------------------------------------------------------------------------------------------- profiles

def test_profiles_have_the_same_keys_and_the_paper_setting():
    quick, paper = settings("appendix_d", "quick"), settings("appendix_d", "paper")
    assert set(quick) == set(paper)
    assert paper.model["arch"] == "lenet_300_100" and paper.model["dataset"] == "fashion_mnist"
    assert paper.subspace_dim == 50 and paper.device == "cuda"
    assert set(pc.options(paper)) == set(pc.RUN_OPTIONS)


def test_paper_profile_code_path_end_to_end_on_a_synthetic_stand_in():
    """The paper profile's settings and driver, with Fashion-MNIST replaced by 784-dim Gaussian images."""
    cfg = settings("appendix_d", "paper", device="cpu")
    spec = {**cfg.model, "dataset": "gaussian", "num_samples": None,
            "data_options": {"shape": (1, 28, 28), "num_samples": 12}}
    setting = build(spec, seed=cfg.seed)
    assert setting.num_params == 266_200 and setting.inputs.shape == (12, 1, 28, 28)
    opts = {**pc.options(cfg), "subspace_dim": 8, "entropy_alphas": cfg.entropy_alphas[::8], "gram_chunk_size": 4,
            "chunk_size": 6, "num_images": 2}
    exp = pc.run(setting, **opts, seed=cfg.seed, progress=False)
    assert len(exp.sweep) == len(cfg.alphas)
    assert {"pc_hessian", "pc_g_term", "dominant_share", "num_uncertain"} <= set(exp.sweep.columns)
    assert exp.eigen.images.shape == (2, 1, 28, 28)
    assert exp.image_alphas[-1] == pytest.approx(exp.reference_alpha)
    assert exp.h_term_ratio == 0.0
    last = exp.eigen.table.iloc[-1]
    # at the reference α the G-term has collapsed onto (at most) one sample: the image is that sample
    assert last["dominant_share"] > 0.9
    assert last["cos_best_match_sample"] > 0.99
    assert last["best_match"] == last["dominant_sample"]


def test_plateau_summary_numbers():
    t = pd.DataFrame({"alpha": [1.0, 2.0, 4.0, 8.0, 16.0],
                      "pc_hessian": [3.0, 1.02, 0.97, 0.3, 0.3],
                      "pc_g_term": [3.5, 1.05, 1.001, 1.0, 1.0]})
    r = pc.plateau_summary(t, plateau_tol=0.05, g_plateau_tol=0.01)
    assert (r["hessian_lo"], r["hessian_hi"], r["hessian_points_near_1"]) == (2.0, 4.0, 2)
    assert (r["pc_hessian_closest_to_1"], r["alpha_closest_to_1"], r["pc_g_term_there"]) == (1.02, 2.0, 1.05)
    assert (r["g_term_lo"], r["g_term_hi"]) == (4.0, 16.0)
    r = pc.plateau_summary(t.assign(pc_hessian=[3.0, 1.2, 0.5, 0.3, 0.3]))
    assert math.isnan(r["hessian_lo"]) and r["hessian_points_near_1"] == 0 and r["pc_hessian_closest_to_1"] == 1.2
