"""The projected Hessian of an α-scaled network at temperature T, split by Gauss–Newton.

Vysogorets et al. (2024), Eq. 4–5: for a homogeneous network (f_{αθ} = α^L f_θ) at
θ' = αθ with softmax temperature T, and β = α^L/T,

    H' = α^{2L−2}/T² G*(p) + α^{L−2}/T H*(p) = α⁻² β² [G*(p) + β⁻¹ H*(p)],   p = σ(βz),

where z = f_θ(x) are the *unscaled* logits, G*(p) = (1/N) Σ_n J_nᵀ(diag p_n − p_n p_nᵀ)J_n
and H*(p) = (1/N) Σ_n Σ_k (p − y)_nk ∇²z_nk, both of the unscaled network and projected
on the basis R (H_d = RᵀH'R, the Hessian of θ̂ ↦ ℓ(θ' + Rθ̂) at 0). Positive curvature
and local convexity are scale invariant, so they depend on β alone (Eq. 5; Fig. 1).

What a :class:`Decomposition` holds (all float64):

* ``hessian``, ``g_term``, ``h_term`` — RᵀH'R and its two terms at the TRUE scale of the
  α-scaled network at temperature T, i.e. α⁻²β²RᵀG*R and α⁻²βRᵀH*R. They are finite
  wherever the true values fit in float64 (all of α ∈ [10⁻³, 10³], T ∈ [10⁻¹⁵, 10¹⁵]
  for L ≤ 5); beyond that they overflow to ±inf or underflow to 0.
* ``*_normalized`` with ``log10_*_scale``: the same matrices as an O(1) matrix times
  10^scale (``g_term == 10**log10_g_term_scale * g_term_normalized``); always finite.
  ``hessian_normalized`` is the bracket [β G* + H*] with the larger of the two
  coefficients scaled to one. Every metric is computed on these well-scaled matrices.

``precision`` is the dtype the projected Jacobian was computed in (float32 on CUDA by
default); the d×d matrices are accumulated in float64 either way, and local convexity
treats eigenvalues below :func:`.metrics.zero_tolerance` of that precision as zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..models import inverse_temperature, resolve_degree
from . import metrics as _m
from .engine import Projection, accumulate

__all__ = ["Decomposition", "decompose", "inverse_temperature", "resolve_degree", "assemble"]

_LN10 = math.log(10.0)


def _pow10(x: float) -> float:
    """10**x in float64 without OverflowError (inf above, 0 below the range)."""
    if x > 308.3:
        return math.inf
    if x < -330.0:
        return 0.0
    return 10.0**x


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else -math.inf


def _times_pow10(M: torch.Tensor, scale: float) -> torch.Tensor:
    """M·10^scale in float64; exact zeros stay zero even when 10^scale overflows."""
    factor = _pow10(scale)
    return torch.where(M == 0, torch.zeros_like(M), M * factor)


@dataclass(frozen=True, eq=False)
class Decomposition:
    r"""The projected Hessian RᵀH'R = G-term + H-term of the α-scaled network at temperature T.

    Returned by :func:`decompose` and :func:`~goldilocks_core.curvature.sweep_decompositions`
    (one record per point); see the module docstring for the scales. With β = α^L/T (Eq. 5),

    :math:`R^\top H' R = \alpha^{-2}\beta^2\,[R^\top G^*(p) R + \beta^{-1} R^\top H^*(p) R]`,
    :math:`p = \sigma(\beta z)`,

    where :math:`G^*(p) = J^\top(\mathrm{diag}\,p - pp^\top)J` and
    :math:`H^*(p) = \sum_k (p - y)_k \nabla^2 z_k` belong to the unscaled network.
    All matrices are float64 and d×d; the scale-invariant metrics (:attr:`pc_hessian`,
    :meth:`metrics`) are computed on the ``*_normalized`` matrices, so they are finite at
    any α and T.

    Parameters
    ----------
    alpha, temperature : float
        The scale α of the parameters θ' = αθ and the softmax temperature T.
    beta : float
        The inverse temperature β = α^L/T seen by the unscaled logits (Eq. 5).
    degree : int
        L, the homogeneity degree of the network.
    num_samples : int
        N, the number of samples the loss averages over.
    hessian, g_term, h_term : torch.Tensor
        RᵀH'R and its two terms, α⁻²β²RᵀG*R (PSD) and α⁻²βRᵀH*R, at the true scale; they
        overflow to ±inf or underflow to 0 where the true values leave the float64 range.
    hessian_normalized, g_term_normalized, h_term_normalized : torch.Tensor
        The same matrices as O(1) matrices: ``g_term == 10**log10_g_term_scale *
        g_term_normalized`` (likewise for the others); always finite.
        ``hessian_normalized`` is the bracket [β G* + H*] with the larger coefficient scaled to one.
    log10_hessian_scale, log10_g_term_scale, log10_h_term_scale : float
        The base-10 logarithms of the scales of the normalised matrices.
    loss : float
        The mean temperature cross-entropy of the α-scaled model (Eq. 1).
    mean_entropy : float
        The mean softmax entropy of σ(βz), in nats.
    grad : torch.Tensor
        Rᵀ∇_{θ'}ℓ at θ' = αθ, shape ``(d,)``, at the true scale.
    grad_normalized : torch.Tensor
        The gradient as an O(1) vector.
    log10_grad_scale : float
        ``grad == 10**log10_grad_scale * grad_normalized``.
    precision : torch.dtype
        The dtype the projected Jacobian was computed in; it sets the tolerance of local
        convexity for the Hessian and the H-term (:func:`~goldilocks_core.curvature.zero_tolerance`).
    """

    alpha: float
    temperature: float
    beta: float  # α^L / T
    degree: int  # L
    num_samples: int
    hessian: torch.Tensor  # (d, d) true scale
    g_term: torch.Tensor  # (d, d) true scale, PSD
    h_term: torch.Tensor  # (d, d) true scale
    hessian_normalized: torch.Tensor
    g_term_normalized: torch.Tensor
    h_term_normalized: torch.Tensor
    log10_hessian_scale: float
    log10_g_term_scale: float
    log10_h_term_scale: float
    loss: float  # mean temperature cross-entropy of the α-scaled model (Eq. 1)
    mean_entropy: float  # mean softmax entropy of σ(βz), nats
    grad: torch.Tensor  # (d,) Rᵀ∇_{θ'}ℓ at θ' = αθ, true scale
    grad_normalized: torch.Tensor
    log10_grad_scale: float
    precision: torch.dtype = torch.float64  # dtype of the Jacobian (sets the local-convexity tolerance)

    # -- scale-invariant metrics (on the normalized matrices) -------------------------
    @property
    def log10_beta(self) -> float:
        """The base-10 logarithm of β = α^L/T."""
        return math.log10(self.beta)

    @property
    def pc_hessian(self) -> float:
        r"""Positive curvature of the Hessian, :math:`\mathrm{Tr}(H)/\lVert H\rVert_F` (Eq. 2)."""
        return float(_m.positive_curvature(self.hessian_normalized))

    @property
    def pc_g_term(self) -> float:
        r"""Positive curvature :math:`\mathrm{Tr}(G)/\lVert G\rVert_F` of the G-term (Eq. 2)."""
        return float(_m.positive_curvature(self.g_term_normalized))

    @property
    def pc_h_term(self) -> float:
        """Positive curvature of the H-term (Eq. 2), which may be negative."""
        return float(_m.positive_curvature(self.h_term_normalized))

    @property
    def positive_curvature(self) -> float:
        """Alias of :attr:`pc_hessian`."""
        return self.pc_hessian

    @property
    def grad_norm(self) -> float:
        """The norm of the projected gradient ‖Rᵀ∇ℓ‖ at the true scale (may over- or underflow)."""
        return _pow10(self.log10_grad_norm)

    @property
    def log10_grad_norm(self) -> float:
        """The base-10 logarithm of the projected gradient's norm; finite unless the gradient is 0."""
        return self.log10_grad_scale + _log10(float(self.grad_normalized.norm()))

    def _lc_precision(self, name: str) -> torch.dtype:
        """The precision that sets the local-convexity tolerance of term ``name``.

        The G-term is B̃ᵀB̃ formed and accumulated in float64 from rows B̃ (PSD by
        construction): its zero eigenvalues are structural (rows of zero weight, each
        sample's null vector of diag p − ppᵀ) and come out at float64 round-off whatever
        JR's dtype, so float64's tolerance applies. The Hessian and the H-term carry the
        Jacobian's rounding: d·ε of ``precision``.
        """
        return torch.float64 if name == "g_term" else self.precision

    def metrics(self) -> dict[str, float]:
        """Every scalar summary of this point: one row of :func:`sweep`'s table.

        Returns
        -------
        dict of str to float
            ``alpha, temperature, beta, log10_beta``; for each of ``hessian``, ``g_term`` and
            ``h_term``: ``pc_*`` (positive curvature, Eq. 2), ``lc_*`` (local convexity),
            ``norm_*`` (max|λ| at the true scale), ``log10_norm_*`` and ``lmax_*`` (λ_max at the
            true scale); then ``loss, mean_entropy, grad_norm, log10_grad_norm``.
        """
        row = {
            "alpha": self.alpha, "temperature": self.temperature, "beta": self.beta,
            "log10_beta": self.log10_beta,
        }
        parts = {
            "hessian": (self.hessian_normalized, self.log10_hessian_scale),
            "g_term": (self.g_term_normalized, self.log10_g_term_scale),
            "h_term": (self.h_term_normalized, self.log10_h_term_scale),
        }
        per = {}
        for name, (M, scale) in parts.items():
            lam = torch.linalg.eigvalsh(M)
            norm, lmax = float(lam.abs().max()), float(lam[-1])
            per[name] = {
                "pc": float(_m.positive_curvature(M)),
                "lc": float(_m.local_convexity(M, precision=self._lc_precision(name))),
                "norm": _pow10(scale + _log10(norm)) if norm > 0 else 0.0,
                "log10_norm": scale + _log10(norm),
                "lmax": math.copysign(_pow10(scale + _log10(abs(lmax))), lmax) if lmax != 0 else 0.0,
            }
        for key in ("pc", "lc", "norm", "log10_norm", "lmax"):
            for name in parts:
                row[f"{key}_{name}"] = per[name][key]
        row.update(loss=self.loss, mean_entropy=self.mean_entropy, grad_norm=self.grad_norm,
                   log10_grad_norm=self.log10_grad_norm)
        return row

    def __repr__(self) -> str:
        d = self.hessian.shape[0]
        return (f"Decomposition(alpha={self.alpha:g}, temperature={self.temperature:g}, beta={self.beta:g}, "
                f"L={self.degree}, d={d}, N={self.num_samples}, pc_hessian={self.pc_hessian:.4g}, "
                f"pc_g_term={self.pc_g_term:.4g}, loss={self.loss:.4g})")


def assemble(projection: Projection, alpha: float, temperature: float, beta: float, degree: int,
             num_samples: int) -> Decomposition:
    r"""Apply the prefactors of Eq. 5 to the unscaled G-term and H-term of one β.

    The G-term is multiplied by α⁻²β² and the H-term by α⁻²β, in log10 so that no scale
    overflows: :math:`R^\top H' R = \alpha^{-2}\beta^2\,[R^\top G^* R + \beta^{-1} R^\top H^* R]`.

    Parameters
    ----------
    projection : Projection
        The unscaled Ĝ, Ĥ, gradient and their scales at β (from :func:`~goldilocks_core.curvature.engine.accumulate`).
    alpha, temperature : float
        α and T of the point.
    beta : float
        β = α^L/T, the inverse temperature ``projection`` was computed at.
    degree : int
        L, the homogeneity degree.
    num_samples : int
        N, recorded in the result.

    Returns
    -------
    Decomposition
        The matrices at the true and at a normalised scale, and the scalar summaries.
    """
    st = projection.stats
    la, lb = math.log10(alpha), math.log10(beta)
    lg = -2 * la + 2 * lb + st.log_g_scale / _LN10
    lh = -2 * la + lb + st.log_h_scale / _LN10
    G, H = projection.g_hat, projection.h_hat
    top = max(lg, lh)
    if top == -math.inf:
        M = torch.zeros_like(G)
    else:
        M = _pow10(lg - top) * G + _pow10(lh - top) * H
    M = 0.5 * (M + M.T)
    lgrad = -la + lb + st.log_h_scale / _LN10
    return Decomposition(
        alpha=float(alpha), temperature=float(temperature), beta=float(beta), degree=int(degree),
        num_samples=int(num_samples),
        hessian=_times_pow10(M, top), g_term=_times_pow10(G, lg), h_term=_times_pow10(H, lh),
        hessian_normalized=M, g_term_normalized=G, h_term_normalized=H,
        log10_hessian_scale=top, log10_g_term_scale=lg, log10_h_term_scale=lh,
        loss=st.loss, mean_entropy=st.mean_entropy,
        grad=_times_pow10(projection.grad_hat, lgrad), grad_normalized=projection.grad_hat,
        log10_grad_scale=lgrad, precision=projection.precision,
    )


def decompose(
    model: nn.Module,
    inputs,
    targets,
    basis: torch.Tensor,
    *,
    alpha: float = 1.0,
    temperature: float = 1.0,
    chunk_size: int | None = None,
    degree: int | None = None,
    dtype: torch.dtype | None = None,
    method: str = "auto",
    progress: bool = False,
) -> Decomposition:
    r"""Split the projected Hessian of the α-scaled network at temperature T into G-term and H-term.

    Computes :math:`R^\top H' R = \alpha^{-2}\beta^2\,[R^\top G^*(p) R + \beta^{-1} R^\top H^*(p) R]`
    (Eq. 4–5) of :math:`f_{\alpha\theta}` on ``(inputs, targets)``, with
    :math:`\beta = \alpha^L/T`, :math:`p = \sigma(\beta z)`, the G-term
    :math:`G^*(p) = J^\top(\mathrm{diag}\,p - pp^\top)J` and the H-term
    :math:`H^*(p) = \sum_k (p - y)_k \nabla^2 z_k` of the unscaled network.

    Parameters
    ----------
    model : nn.Module
        The unscaled network θ; α scales every parameter, T divides the logits.
    inputs, targets : torch.Tensor
        Data (N, …) and N integer class labels.
    basis : torch.Tensor
        R (P×d) of full column rank, e.g. :func:`goldilocks_core.subspace.random_basis`;
        an all-zero or rank-deficient basis is a ``ValueError``
        (:func:`goldilocks_core.subspace.check_basis`).
    alpha, temperature : float
        α > 0 and T > 0; β = α^L/T.
    chunk_size : int, optional
        Samples per chunk (default: sized to a fixed memory budget).
    degree : int, optional
        L for models that :func:`models.homogeneity_degree` cannot inspect; for one it
        can, a different ``degree`` is a ``ValueError`` (:func:`models.resolve_degree`).
    dtype : torch.dtype, optional
        Working precision of the Jacobian: float64 on the CPU, float32 on CUDA by default.
        The d×d products are accumulated in float64 either way.
    method : {"auto", "layerwise", "hvp"}
        The H-term engine (see :mod:`goldilocks_core.curvature`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    Decomposition
        Float64 matrices at the true and at a normalised scale, and the scalar summaries.

    Examples
    --------
    A two-layer ReLU network (L = 2) at α = 2 and T = 1, so β = α²/T = 4:

    >>> import torch
    >>> from goldilocks_core.curvature import decompose
    >>> from goldilocks_core.models import mlp, num_parameters
    >>> from goldilocks_core.subspace import random_basis
    >>> g = torch.Generator().manual_seed(0)
    >>> model = mlp([4, 8, 3], generator=g, dtype=torch.float64)
    >>> x = torch.randn(32, 4, generator=g, dtype=torch.float64)
    >>> y = torch.randint(0, 3, (32,), generator=g)
    >>> R = random_basis(num_parameters(model), 5, generator=g)
    >>> dec = decompose(model, x, y, R, alpha=2.0)
    >>> dec.beta, tuple(dec.hessian.shape)
    (4.0, (5, 5))
    >>> torch.allclose(dec.hessian, dec.g_term + dec.h_term)
    True
    >>> round(dec.pc_hessian, 3), round(dec.pc_g_term, 3)
    (1.473, 1.658)
    """
    L = resolve_degree(model, degree, alpha=alpha)
    beta = inverse_temperature(alpha, temperature, L)
    (projection,) = accumulate(model, inputs, targets, basis, [beta], chunk_size=chunk_size,
                               dtype=dtype, method=method, progress=progress, desc="decompose")
    n = inputs.shape[0] if hasattr(inputs, "shape") else len(inputs)
    return assemble(projection, float(alpha), float(temperature), beta, L, n)

