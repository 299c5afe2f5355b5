"""The first layer of a bias-free network near collapse (App. D of Vysogorets, Dawid, Kempe, 2024).

The first-layer Jacobian of sample μ is ∂z^μ/∂W₁ = b_k^μ (x^μ)ᵀ, an outer product with the
input, so the first layer's Hessian block carries the inputs themselves. Measured here: the
Gram matrices Θ^μ = J^μ J^μᵀ (:func:`first_layer_gram`), each sample's share of Tr(G)
(:func:`g_term_trace_shares`), one sample's top G-term eigenvalue through the centred factor
(:func:`single_sample_top_eigenvalue`), the block's eigenpairs
(:func:`first_layer_eigenpairs`), the top eigenvector as an image (:func:`eigenvector_image`,
:func:`rank_one_share`) and the first-layer H-term, which vanishes for ReLU networks
(:func:`h_term_block_ratio`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from .. import estimators
from ..losses import centred_softmax_factor
from ..progress import progress_bar
from ..validation import check_positive

__all__ = [
    "first_weight_name",
    "first_layer_gram",
    "g_term_trace_shares",
    "single_sample_top_eigenvalue",
    "first_layer_eigenpairs",
    "eigenvector_image",
    "rank_one_share",
    "cosine",
    "h_term_block_ratio",
]


def _chunk(chunk_size: int | None, n: int) -> int:
    if chunk_size is None:
        return max(n, 1)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return chunk_size


def _check_inputs(inputs) -> torch.Tensor:
    x = torch.as_tensor(inputs)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"inputs must have shape (N, ...) with N ≥ 1, got {tuple(x.shape)}")
    return x


# --------------------------------------------------------------------------------------------
# the first layer


def first_weight_name(model: nn.Module, parameter: str | None = None) -> str:
    """The name of the chosen trainable parameter (default: the first, W₁ of a bias-free net)."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("the model has no trainable parameters")
    if parameter is None:
        return names[0]
    hits = [n for n in names if n == parameter or n.startswith(f"{parameter}.")]
    if len(hits) != 1:
        raise ValueError(f"parameter {parameter!r} must name exactly one trainable tensor; known: {', '.join(names)}")
    return hits[0]


def first_layer_gram(model: nn.Module, inputs, *, parameter: str | None = None, chunk_size: int = 64,
                     progress: bool = False) -> torch.Tensor:
    """Θ^μ = J^μ J^μᵀ (N×K×K), J^μ = ∂z^μ/∂W the logit Jacobian of one parameter tensor.

    The per-sample G-term of that block is J^μᵀ(diag p^μ − p^μp^μᵀ)J^μ; everything about
    its size needs only Θ^μ (see :func:`g_term_trace_shares`). J^μ is formed per chunk of
    ``chunk_size`` samples by ``vmap(jacrev)``, never for the whole data set.
    """
    x = _check_inputs(inputs)
    name = first_weight_name(model, parameter)
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = dict(model.named_buffers())
    weight = params[name]

    def logits_one(w, xi):
        return functional_call(model, ({**params, name: w}, buffers), (xi.unsqueeze(0),))[0]

    jac = vmap(jacrev(logits_one), in_dims=(None, 0))
    step = _chunk(chunk_size, x.shape[0])
    out = []
    for i in progress_bar(range(0, x.shape[0], step), enabled=progress, desc="first-layer Gram"):
        J = jac(weight, x[i:i + step]).detach()
        J = J.reshape(J.shape[0], J.shape[1], -1)
        out.append(J @ J.transpose(1, 2))
    return torch.cat(out)


def _pairwise(gram: torch.Tensor) -> torch.Tensor:
    """D_kl = ‖J_k − J_l‖² = Θ_kk + Θ_ll − 2Θ_kl ≥ 0 (rounding clipped)."""
    d = torch.diagonal(gram, dim1=-2, dim2=-1)
    return (d[..., :, None] + d[..., None, :] - 2.0 * gram).clamp_min(0.0)


def _check_gram_logits(gram, logits) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.as_tensor(gram)
    z = torch.as_tensor(logits).to(g)
    if g.ndim != 3 or g.shape[1] != g.shape[2] or z.shape != g.shape[:2]:
        raise ValueError(f"gram must be (N, K, K) and logits (N, K); got {tuple(g.shape)} and {tuple(z.shape)}")
    return g, z


def g_term_trace_shares(gram, logits, beta: float) -> np.ndarray:
    """Each sample's share Tr(G^μ)/Σ_ν Tr(G^ν) of the G-term's trace at inverse temperature β.

    With Σ_k p_k = 1, diag p − ppᵀ = ½ Σ_{k,l} p_k p_l (e_k − e_l)(e_k − e_l)ᵀ, so

        Tr(G^μ) = Tr[(diag p − ppᵀ) Θ^μ] = ½ Σ_{k,l} p_k p_l ‖J_k − J_l‖²,

    a sum of non-negative terms evaluated in log space (log-softmax, log-sum-exp): no
    cancellation, no underflow when p^μ is one-hot to within 10⁻³⁰⁰.
    """
    g, z = _check_gram_logits(gram, logits)
    beta = check_positive("beta", beta)
    logp = torch.log_softmax(beta * z.double(), dim=-1)
    D = _pairwise(g.double())
    terms = logp[:, :, None] + logp[:, None, :] + torch.log(D)
    log_trace = torch.logsumexp(terms.reshape(terms.shape[0], -1), dim=-1)
    if not torch.isfinite(log_trace).any():
        raise ValueError("every sample has a zero G-term (all logit gradients coincide)")
    return torch.softmax(log_trace, dim=0).cpu().numpy()


def single_sample_top_eigenvalue(gram, logits, beta: float, index: int) -> float:
    """λ_max of β² J^μᵀ(diag p^μ − p^μp^μᵀ)J^μ for one sample μ = ``index``.

    Equals λ_max of the K×K matrix β² S Θ^μ Sᵀ with the centred factor
    S = diag(√p)(I − 1pᵀ) (SᵀS = diag p − ppᵀ), as the non-zero spectra of AᵀA and AAᵀ agree.
    """
    g, z = _check_gram_logits(gram, logits)
    beta = check_positive("beta", beta)
    if not -g.shape[0] <= index < g.shape[0]:
        raise ValueError(f"index {index} out of range for {g.shape[0]} samples")
    p = torch.softmax(beta * z[index].double(), dim=-1)
    S = centred_softmax_factor(p)
    M = S @ g[index].double() @ S.T
    return float(beta**2 * torch.linalg.eigvalsh(0.5 * (M + M.T))[-1])


def first_layer_eigenpairs(model: nn.Module, inputs, targets, alpha: float, *, k: int = 2,
                           parameter: str | None = None, temperature: float = 1.0, term: str = "hessian",
                           chunk_size: int | None = None, tol: float = 1e-8, generator=0):
    """The ``k`` largest eigenvalues (descending) and the top eigenvector of one block of H(α, T).

    The block is the Hessian (or ``term``) restricted to the parameter tensor ``parameter``
    (default the first weight W₁), built by
    :func:`goldilocks_core.estimators.hessian_operator` and solved by Lanczos
    (:func:`goldilocks_core.estimators.top_eigenvalues`). Returns ``(values, matrix)`` with
    the unit eigenvector reshaped as the tensor (e.g. hidden×input for a ``Linear``).
    """
    name = first_weight_name(model, parameter)
    shape = dict(model.named_parameters())[name].shape
    op = estimators.hessian_operator(model, inputs, targets, alpha=alpha, temperature=temperature, term=term,
                                     chunk_size=chunk_size, parameters=[name])
    values, vectors = estimators.top_eigenvalues(op, k=k, which="LA", tol=tol, return_eigenvectors=True,
                                                 generator=generator)
    return np.asarray(values), np.asarray(vectors[:, 0]).reshape(tuple(shape))


def eigenvector_image(matrix, input_shape: Sequence[int], *, reduce: str = "mean") -> np.ndarray:
    """A first-layer eigenvector (hidden×input) as one input-shaped image.

    ``reduce="mean"`` averages the rows (hidden units), as in Fig. 10; ``"svd"`` takes the
    top right singular vector (the exact input direction when the matrix is rank one).
    """
    V = np.asarray(matrix, dtype=float)
    size = int(np.prod(input_shape))
    if V.ndim != 2 or V.shape[1] != size:
        raise ValueError(f"matrix must be (hidden, {size}) for inputs of shape {tuple(input_shape)}, got {V.shape}")
    if reduce == "mean":
        v = V.mean(axis=0)
    elif reduce == "svd":
        v = np.linalg.svd(V, full_matrices=False)[2][0]
    else:
        raise ValueError(f"reduce must be 'mean' or 'svd', got {reduce!r}")
    return v.reshape(tuple(input_shape))


def rank_one_share(matrix) -> float:
    """σ₁²/Σσ_i² of a matrix: 1 exactly when it is an outer product u vᵀ."""
    s = np.linalg.svd(np.asarray(matrix, dtype=float), compute_uv=False)
    total = float((s**2).sum())
    if total == 0:
        raise ValueError("the matrix is zero")
    return float(s[0] ** 2 / total)


def cosine(u, v) -> float:
    """uᵀv/(‖u‖‖v‖) of two arrays of the same size (flattened)."""
    a = np.asarray(u, dtype=float).reshape(-1)
    b = np.asarray(v, dtype=float).reshape(-1)
    if a.size != b.size:
        raise ValueError(f"arrays differ in size: {a.size} vs {b.size}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("cosine of a zero vector is undefined")
    return float(a @ b / (na * nb))


def h_term_block_ratio(model: nn.Module, inputs, targets, alpha: float, *, parameter: str | None = None,
                       temperature: float = 1.0, num_probes: int = 3, chunk_size: int | None = None,
                       generator=0) -> float:
    """‖H-term block · V‖_F / ‖Hessian block · V‖_F for random Gaussian probes V.

    For a bias-free ReLU network the logits are piecewise *linear* in W₁ (the other layers
    held fixed), so ∇²_{W₁} z_k = 0 almost everywhere and the first-layer block of the
    H-term vanishes: that block of the Hessian is pure G-term, and the ratio is 0.
    """
    name = first_weight_name(model, parameter)
    ops = {term: estimators.hessian_operator(model, inputs, targets, alpha=alpha, temperature=temperature,
                                             term=term, chunk_size=chunk_size, parameters=[name])
           for term in ("h_term", "hessian")}
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"num_probes must be an integer ≥ 1, got {num_probes!r}")
    V = np.random.default_rng(generator).standard_normal((ops["hessian"].shape[0], num_probes))
    h, full = ops["h_term"].matmat(V), ops["hessian"].matmat(V)
    denom = np.linalg.norm(full)
    if denom == 0:
        raise ValueError("the Hessian block is zero on the probes")
    return float(np.linalg.norm(h) / denom)


