"""Estimating σ_c² and σ_e² of the random logit model from a network's logit gradients.

The random model (Fort & Ganguli 2019, Eq. 14–15; Vysogorets et al. 2024, §4) writes the
logit gradients as ∂z_k^μ/∂θ = c_k + e_k^μ. Given the Jacobian projected on a subspace,
``projected_jacobian[μ, k, :] = Rᵀ ∇_θ z_k(X^μ)`` (N × K × d, i.e. JR per sample), this module
estimates the *per-coordinate* variances

    σ_c² = (1/(K d)) Σ_k ‖c_k‖²,                       c_k = a mean of J[:, k, :] over samples,
    σ_e² = (1/(N K d)) Σ_μ Σ_k ‖J[μ, k, :] − c_k‖²,

which are the σ's of Eq. 7–8 when ``d`` there is the same dimension (the subspace dimension;
see :mod:`.expected_g_term`). σ_c² is the uncentred second moment of the entries of C, as the
model has c_k ~ N(0, σ_c² I_d) and ‖c_k‖² = dσ_c². Which mean c_k is (``grouping``):

* ``"label"`` — Fort & Ganguli's Eq. 15: c_k = (1/N_k) Σ_{μ: y^μ = k} ∂z_k^μ/∂θ, the mean of
  logit k's gradient over the samples *labelled* k; the residuals J[μ, k] − c_k are still taken
  for every (μ, k). The default when ``labels`` are given.
* ``"all"`` — c_k = (1/N) Σ_μ ∂z_k^μ/∂θ, the mean over *all* samples of logit k's gradient:
  the main paper's random model read literally (residuals of mean zero, as Eq. 7 assumes).
  The default without labels.

On a real network the two differ: inputs of one class look alike, so logit k's gradients are
more aligned within class k (q^SLSC = 0.40 > q^SL = 0.24 below) and ``"label"`` finds a larger
σ_c² (and, residuals being taken about class-conditional means, a larger σ_e²). On the bias-free 64-300-100-10 MLP at initialisation on digits (512 samples, d = 50
orthonormal directions, tests/test_random_logit_network.py) the estimates are σ_c² = 3.68e-3,
σ_e² = 8.52e-3 (``"label"``) and 2.04e-3, 7.03e-3 (``"all"``), and Eq. 8 with them gives
5.95 and 6.37 for a true projected G-term curvature of 5.85 (α ≤ 0.3), 5.65 and 6.17 for 5.51
(α = 1): Fort & Ganguli's class-conditional means describe the bulk better.

Both are plug-in estimates: E‖ĉ_k‖² exceeds ‖c_k‖² by dσ_e²/N (or dσ_e²/N_k), a relative bias
σ_e²/(Nσ_c²), negligible for hundreds of samples; with ``"label"`` the residuals are inflated
by about 1 + 1/N_k for the same reason.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ._checks import as_float_tensor

__all__ = ["SigmaEstimate", "estimate_sigmas", "check_jacobian", "check_labels", "mean_geometry"]


class SigmaEstimate(NamedTuple):
    """Estimated σ_c², σ_e² (per-coordinate variances), the class means c_k (K × d) and d.

    Parameters
    ----------
    sigma_c2 : float
        σ_c² = (1/(K d)) Σ_k ‖c_k‖².
    sigma_e2 : float
        σ_e² = (1/(N K d)) Σ_μ Σ_k ‖J[μ, k, :] − c_k‖².
    class_means : torch.Tensor
        The c_k, K × d.
    dim : int
        d.
    """

    sigma_c2: float
    sigma_e2: float
    class_means: torch.Tensor
    dim: int

    @property
    def snr(self) -> float:
        """σ_c²/σ_e², Fort & Ganguli's SNR (q^SL ≈ SNR/(SNR + 1) in high dimension)."""
        return self.sigma_c2 / self.sigma_e2 if self.sigma_e2 > 0 else float("inf")


def check_jacobian(projected_jacobian, name: str = "projected_jacobian") -> torch.Tensor:
    """Validate an N × K × d tensor of logit gradients with N ≥ 2, K ≥ 2 and finite entries.

    Parameters
    ----------
    projected_jacobian : tensor or array-like
        The logit gradients.
    name : str
        The argument's name, for the message.

    Returns
    -------
    torch.Tensor
    """
    j = as_float_tensor(projected_jacobian, name)
    if j.ndim != 3 or j.shape[0] < 2 or j.shape[1] < 2 or j.shape[2] < 1:
        raise ValueError(f"{name} must be N × K × d (N ≥ 2 samples, K ≥ 2 logits), got shape {tuple(j.shape)}")
    if not torch.isfinite(j).all():
        raise ValueError(f"{name} has non-finite entries")
    return j


def check_labels(labels, num_samples: int, num_classes: int) -> torch.Tensor:
    """Validate N integer labels in [0, K) and return them as a long tensor.

    Parameters
    ----------
    labels : tensor or array-like
        The labels.
    num_samples : int
        N.
    num_classes : int
        K.

    Returns
    -------
    torch.Tensor
    """
    y = torch.as_tensor(labels)
    if y.shape != (num_samples,) or y.is_floating_point() or y.is_complex():
        raise ValueError(f"labels must be {num_samples} integers, got shape {tuple(y.shape)} ({y.dtype})")
    if (y < 0).any() or (y >= num_classes).any():
        raise ValueError(f"labels must lie in [0, {num_classes})")
    return y.long()


def estimate_sigmas(projected_jacobian, labels=None, *, grouping: str | None = None) -> SigmaEstimate:
    """Estimate σ_c² and σ_e² from logit gradients N × K × d (see the module docstring).

    Parameters
    ----------
    projected_jacobian : tensor or array-like
        JR per sample, N × K × d (:func:`goldilocks_core.curvature.projected_jacobian`).
    labels : tensor or array-like, optional
        N integers in [0, K).
    grouping : {"label", "all"}, optional
        ``"label"`` (the default when ``labels`` are given): c_k = mean of ∂z_k/∂θ over the
        samples labelled k (Fort & Ganguli Eq. 15); every class must be present.
        ``"all"`` (the default without labels): c_k = mean over all samples.

    Returns
    -------
    SigmaEstimate
    """
    j = check_jacobian(projected_jacobian)
    n, k, d = j.shape
    if grouping is None:
        grouping = "all" if labels is None else "label"
    if grouping == "all":
        means = j.mean(0)
    elif grouping == "label":
        if labels is None:
            raise ValueError("grouping='label' needs labels")
        y = check_labels(labels, n, k)
        onehot = torch.nn.functional.one_hot(y, k).to(j.dtype)  # (N, K)
        counts = onehot.sum(0)
        if (counts == 0).any():
            missing = torch.nonzero(counts == 0).flatten().tolist()
            raise ValueError(f"grouping='label' needs every class among the labels; missing {missing}")
        means = torch.einsum("nk,nkd->kd", onehot, j) / counts[:, None]
    else:
        raise ValueError(f"grouping must be 'all' or 'label', got {grouping!r}")
    sigma_c2 = (means**2).sum(-1).mean() / d
    sigma_e2 = ((j - means) ** 2).mean()
    return SigmaEstimate(float(sigma_c2), float(sigma_e2), means, d)


def mean_geometry(class_means) -> dict[str, float]:
    """How far the class means c_k (K × d) are from the random model's (Eq. 7): orthogonal, equal length.

    Parameters
    ----------
    class_means : array-like, K × d
        The rows c_k, e.g. :attr:`SigmaEstimate.class_means`.

    Returns
    -------
    dict
        ``max_abs_cos``: the largest |cos(c_k, c_l)|, k ≠ l (0 for orthogonal means);
        ``norm_ratio``: max_k ‖c_k‖ / min_k ‖c_k‖ (1 for equal lengths).
    """
    c = as_float_tensor(class_means, "class_means")
    if c.ndim != 2 or c.shape[0] < 2:
        raise ValueError(f"class_means must be K × d with K ≥ 2, got shape {tuple(c.shape)}")
    norms = c.norm(dim=1)
    if not torch.isfinite(c).all() or (norms == 0).any():
        raise ValueError("class_means must be finite and non-zero")
    unit = c / norms[:, None]
    cos = unit @ unit.T - torch.eye(c.shape[0], dtype=c.dtype)
    return {"max_abs_cos": float(cos.abs().max()), "norm_ratio": float(norms.max() / norms.min())}
